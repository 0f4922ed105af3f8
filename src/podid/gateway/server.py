"""The HTTP transport of the endpoint: aiohttp in, `HttpRequest` to the pipeline, `HttpResponse` out.

This is the only module of the gateway that knows aiohttp. Extra routes (the clusters' OIDC
discovery documents, the local runtime's kube API) are mounted beside the catch-all AWS route by
whoever assembles the endpoint.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import BinaryIO, Protocol, runtime_checkable

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_protocol import RequestPayloadError

from podid.errors import ClientError
from podid.gateway.detect import SIGNING_NAMES
from podid.gateway.pipeline import Pipeline
from podid.wire.http import Headers, HttpRequest, HttpResponse
from podid.wire.sigv4 import credential_scope

log = logging.getLogger(__name__)

STREAM_CHUNK = 1024 * 1024

RouteHook = Callable[[web.Application], None]


# Query parameters that do not make an S3 PUT/POST a configuration request (whose small XML body the
# wire layer must parse): object uploads, parts (`x-id=PutObject` as the Go and Java SDKs send), and
# signature parameters.
_S3_UPLOAD_QUERY = frozenset({"partNumber", "uploadId", "x-id", "AWSAccessKeyId", "Signature", "Expires"})


def _is_s3_upload(request: web.Request, headers: Headers) -> bool:
    """S3 requests with a body that may be large are streamed to the provider, never buffered.

    Configuration requests (`?delete`, `?tagging`, `?policy`, ...) carry small XML bodies that the
    wire layer parses and validates before dispatch: those are buffered.
    """
    if request.method not in ("PUT", "POST"):
        return False
    auth = headers.get("authorization")
    if auth is not None and "/s3/" not in auth and not auth.lstrip().startswith("AWS "):
        # Cheap exact pre-check: a scope naming s3 has "/s3/" in its Credential, SigV2 is "AWS ...".
        return False
    if any(k not in _S3_UPLOAD_QUERY and not k.lower().startswith("x-amz-") for k in request.query):
        return False
    probe = HttpRequest(method=request.method, path=request.path, query=request.query_string, headers=headers)
    scope = credential_scope(probe)
    if scope is not None:
        return SIGNING_NAMES.get(scope.service) == "s3"
    return False


@runtime_checkable
class FileStream(Protocol):
    """A response stream backed by an open file (S3's `BlobReader`): sent with the event loop's
    `sendfile` (sendfile(2) on plain sockets, read-and-write on TLS) instead of chunk by chunk."""

    def file_range(self) -> tuple[BinaryIO, int, int]: ...

    def close(self) -> None: ...


class IncompleteBody(ClientError):
    """A request body aiohttp could not read in full (truncated, broken chunked framing).

    S3's error for a body shorter than its Content-Length; podid sends it for every service (the
    other services' answer to a broken body is not documented).
    """

    code = "IncompleteBody"


def _incomplete() -> IncompleteBody:
    return IncompleteBody(
        "You did not provide the number of bytes specified by the Content-Length HTTP header."
    )


async def _iter_body(request: web.Request) -> AsyncIterator[bytes]:
    try:
        async for chunk in request.content.iter_chunked(STREAM_CHUNK):
            yield chunk
    except (RequestPayloadError, HttpProcessingError, ConnectionResetError):
        raise _incomplete() from None


class BodyUnreadable(Exception):
    """The body of `request` (given without it) could not be read; answered by `Pipeline.refuse`."""

    def __init__(self, request: HttpRequest) -> None:
        super().__init__("request body unreadable")
        self.request = request


async def to_http_request(request: web.Request) -> HttpRequest:
    raw = request.raw_path
    path, _, query = raw.partition("?")
    headers = Headers((k.decode("latin-1"), v.decode("latin-1")) for k, v in request.raw_headers)
    remote = request.remote or "127.0.0.1"
    scheme = (
        "https"
        if request.transport is not None and request.transport.get_extra_info("sslcontext")
        else "http"
    )
    if _is_s3_upload(request, headers) and request.body_exists:
        return HttpRequest(
            method=request.method,
            path=path,
            query=query,
            headers=headers,
            stream=_iter_body(request),
            remote=remote,
            scheme=scheme,
        )
    try:
        body = await request.read()
    except (RequestPayloadError, HttpProcessingError, ConnectionResetError):
        bare = HttpRequest(method=request.method, path=path, query=query, headers=headers, remote=remote)
        raise BodyUnreadable(bare) from None
    return HttpRequest(
        method=request.method,
        path=path,
        query=query,
        headers=headers,
        body=body,
        remote=remote,
        scheme=scheme,
    )


async def send_http_response(request: web.Request, response: HttpResponse) -> web.StreamResponse:
    if response.stream is None:
        out = web.Response(status=response.status, body=response.body)
        for name, value in response.headers:
            out.headers.add(name, value)
        return out
    stream = web.StreamResponse(status=response.status)
    for name, value in response.headers:
        stream.headers.add(name, value)
    if response.header("content-length") is None:
        stream.enable_chunked_encoding()
    await stream.prepare(request)
    try:
        if response.body:
            await stream.write(response.body)
        transport = request.transport
        if isinstance(response.stream, FileStream) and not stream.chunked and transport is not None:
            handle, offset, count = response.stream.file_range()
            try:
                await asyncio.get_running_loop().sendfile(transport, handle, offset, count)
            finally:
                response.stream.close()
        else:
            async for chunk in response.stream:
                await stream.write(chunk)
        await stream.write_eof()
    except ConnectionError:
        # The client went away mid-body (a download cut short): not an error of the server. aiohttp
        # then finds the connection closed and only logs the access.
        log.debug("client disconnected while %s %s was being answered", request.method, request.path)
    return stream


def make_app(pipeline: Pipeline, extra_routes: list[RouteHook] | None = None) -> web.Application:
    """The aiohttp application: extra routes first, then every other request to the pipeline."""
    # A 1 MiB request read buffer (aiohttp's default 64 KiB pauses the socket every 128 KiB of a
    # streamed upload): 64 MiB PutObject ~40% faster; a connection buffers at most 2 MiB of a body.
    app = web.Application(client_max_size=1024**4, handler_args={"read_bufsize": 2**20})

    async def handle(request: web.Request) -> web.StreamResponse:
        try:
            http_request = await to_http_request(request)
        except BodyUnreadable as unreadable:
            return await send_http_response(request, pipeline.refuse(unreadable.request, _incomplete()))
        response = await pipeline.handle(http_request)
        return await send_http_response(request, response)

    for hook in extra_routes or []:
        hook(app)
    app.router.add_route("*", "/{tail:.*}", handle)
    return app


Starter = Callable[[], Awaitable[None]]
