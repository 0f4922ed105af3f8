"""The EKS Auth client: `AssumeRoleForPodIdentity` over aiohttp, SigV4-signed with the node's credentials.

Node credentials come from botocore's standard chain (environment, profile, container, instance
metadata), so the same agent runs on a real node. With `rotate=True` they are reloaded from the shared
credentials file (`AWS_SHARED_CREDENTIALS_FILE`, profile `AWS_PROFILE` or `default`) every minute,
like the real agent's `--rotate-credentials`; the local runtime hands node credentials to each agent
that way.

Transport as the real agent's (aws-sdk-go-v2 with a custom `http.Client`, reference §3.3): 1 s per
attempt (0.5 s to connect), at most 3 attempts, exponential backoff with full jitter capped at 20 s,
retrying 500/502/503/504, throttling and timeout error codes and connection failures, guarded by the
SDK's client-side retry token bucket (500 tokens, 5 per retry, 10 per timeout retry, 1 back per
success). One deliberate difference: at most `max_in_flight` (32) attempts are on the wire at once
and the per-attempt timeout starts when an attempt gets its slot, so a pod-start storm queues
instead of timing out all at once (the Go agent fires every call at once, each timed from its
start). Errors are `UpstreamError` (EKS Auth answered) or `FetchError` (it did not); texts follow
the Go SDK's `operation error EKS Auth: AssumeRoleForPodIdentity, ...` shape, approximately for the
transport part (Go's dialer messages cannot be reproduced byte for byte).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, NamedTuple
from urllib.parse import quote

import aiohttp
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest

from podid.agent.metrics import AgentMetrics
from podid.agent.model import CredentialRequest, Credentials, FetchError, UpstreamError, epoch_seconds_to_utc

log = logging.getLogger("podid.agent.eksauth")

RETRYABLE_STATUSES = frozenset({500, 502, 503, 504})
THROTTLE_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "TransactionInProgressException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "LimitExceededException",
        "RequestThrottled",
        "SlowDown",
        "PriorRequestNotComplete",
        "EC2ThrottledException",
    }
)
TIMEOUT_CODES = frozenset({"RequestTimeout", "RequestTimeoutException"})
OPERATION = "operation error EKS Auth: AssumeRoleForPodIdentity"


class FrozenCredentials(NamedTuple):
    access_key: str
    secret_key: str
    token: str | None


class NodeCredentials:
    """The credentials the agent signs with; `load()` and `reload()` block (run them in a thread)."""

    def __init__(self, *, rotate: bool = False) -> None:
        self.rotate = rotate
        self._source: Any = None  # a botocore Credentials object (possibly refreshable)
        self._static: FrozenCredentials | None = None

    @classmethod
    def static(cls, access_key: str, secret_key: str, token: str | None = None) -> NodeCredentials:
        node = cls()
        node._static = FrozenCredentials(access_key, secret_key, token)
        return node

    def load(self) -> bool:
        """Resolve botocore's standard credential chain; True if credentials were found."""
        import botocore.session

        found = botocore.session.Session().get_credentials()
        if found is not None:
            self._source = found
        return self._source is not None or self._static is not None

    def reload(self) -> bool:
        """Re-read the shared credentials file (the `--rotate-credentials` path)."""
        from botocore.credentials import SharedCredentialProvider

        path = os.path.expanduser(os.environ.get("AWS_SHARED_CREDENTIALS_FILE", "~/.aws/credentials"))
        profile = os.environ.get("AWS_PROFILE") or "default"
        found = SharedCredentialProvider(creds_filename=path, profile_name=profile).load()
        if found is None:
            log.warning("no credentials for profile %s in %s; keeping the previous ones", profile, path)
            return False
        self._source = found
        return True

    def frozen(self) -> FrozenCredentials | None:
        if self._static is not None:
            return self._static
        if self._source is None:
            return None
        ro = self._source.get_frozen_credentials()
        return FrozenCredentials(ro.access_key, ro.secret_key, ro.token)


class RetryQuota:
    """aws-sdk-go-v2's client-side retry token bucket."""

    def __init__(self, capacity: int = 500, retry_cost: int = 5, timeout_cost: int = 10) -> None:
        self.capacity = capacity
        self.available = capacity
        self.retry_cost = retry_cost
        self.timeout_cost = timeout_cost

    def take(self, timeout: bool) -> int:
        cost = self.timeout_cost if timeout else self.retry_cost
        if cost > self.available:
            return 0
        self.available -= cost
        return cost

    def give_back(self, amount: int) -> None:
        self.available = min(self.capacity, self.available + amount)


def sdk_backoff(attempt: int) -> float:
    """Exponential backoff with full jitter, capped at 20 s (attempt is 1 for the first retry)."""
    return random.random() * min(20.0, float(1 << min(attempt, 10)))


def default_endpoint_for_region(region: str) -> str:
    """The real EKS Auth endpoint (dual-stack `api.aws`); only used when the user asks for it."""
    return f"https://eks-auth.{region}.api.aws"


class _Attempt(NamedTuple):
    credentials: Credentials | None
    error: Exception | None
    retryable: bool
    timeout: bool


class EksAuthClient:
    """A `CredentialRetriever` calling EKS Auth directly (no cache)."""

    def __init__(
        self,
        endpoint: str,
        region: str,
        node_credentials: NodeCredentials,
        *,
        attempt_timeout: float = 1.0,
        connect_timeout: float = 0.5,
        max_attempts: int = 3,
        backoff: Callable[[int], float] = sdk_backoff,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        metrics: AgentMetrics | None = None,
        max_in_flight: int = 32,
    ) -> None:
        self.endpoint = endpoint.rstrip("/")
        self.region = region
        self.node_credentials = node_credentials
        self.attempt_timeout = attempt_timeout
        self.connect_timeout = connect_timeout
        self.max_attempts = max_attempts
        self.backoff = backoff
        self.sleep = sleep
        self.metrics = metrics
        self.quota = RetryQuota()
        # At most this many attempts on the wire at once; the 1 s attempt timeout starts when an
        # attempt gets a slot, so a pod-start storm queues here instead of timing out en masse.
        self._slots = asyncio.Semaphore(max_in_flight)
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            # trust_env: honour HTTP(S)_PROXY like Go's ProxyFromEnvironment.
            connector = aiohttp.TCPConnector(limit=0, ttl_dns_cache=60)
            self._session = aiohttp.ClientSession(connector=connector, trust_env=True)
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def url_for(self, cluster_name: str) -> str:
        return f"{self.endpoint}/clusters/{quote(cluster_name, safe='')}/assume-role-for-pod-identity"

    def _signed_headers(self, url: str, body: bytes) -> dict[str, str]:
        creds = self.node_credentials.frozen()
        if creds is None:
            raise FetchError(
                f"unable to fetch credentials from EKS Auth: {OPERATION}, failed to sign request: "
                "failed to retrieve credentials: no node credentials found in the standard credential chain"
            )
        request = AWSRequest(
            method="POST",
            url=url,
            data=body,
            headers={"Content-Type": "application/json", "User-Agent": "podid-agent"},
        )
        SigV4Auth(creds, "eks-auth", self.region).add_auth(request)
        headers = {k: str(v) for k, v in request.headers.items()}
        headers["amz-sdk-invocation-id"] = str(uuid.uuid4())
        return headers

    async def get_credentials(self, request: CredentialRequest) -> Credentials:
        url = self.url_for(request.cluster_name)
        body = json.dumps({"token": request.token}, separators=(",", ":")).encode()
        attempt = 1
        exhausted = False
        while True:
            async with self._slots:
                started = time.perf_counter()
                result = await self._attempt(url, body)
            if self.metrics is not None:
                outcome = (
                    "success" if result.error is None else ("retryable" if result.retryable else "error")
                )
                self.metrics.observe_upstream(time.perf_counter() - started, outcome)
            if result.credentials is not None:
                self.quota.give_back(1)
                return result.credentials
            assert result.error is not None
            if not result.retryable:
                raise result.error
            if attempt >= self.max_attempts:
                exhausted = True
                break
            if self.quota.take(result.timeout) == 0:
                break
            await self.sleep(self.backoff(attempt))
            attempt += 1
        error = result.error
        if exhausted and isinstance(error, FetchError):
            # The Go SDK names the exhausted retry budget in the operation error.
            prefix = f"{OPERATION}, exceeded maximum number of attempts, {attempt}, "
            raise FetchError(error.message.replace(OPERATION + ", ", prefix, 1))
        raise error

    async def _attempt(self, url: str, body: bytes) -> _Attempt:
        headers = self._signed_headers(url, body)
        timeout = aiohttp.ClientTimeout(total=self.attempt_timeout, connect=self.connect_timeout)
        try:
            async with self._client().post(url, data=body, headers=headers, timeout=timeout) as resp:
                raw = await resp.read()
                status = resp.status
                request_id = resp.headers.get("x-amzn-RequestId", "")
                error_type = resp.headers.get("x-amzn-ErrorType", "")
        except TimeoutError:
            return _Attempt(
                None,
                self._transport_error(
                    url, "context deadline exceeded (Client.Timeout exceeded while awaiting headers)"
                ),
                True,
                True,
            )
        except aiohttp.ClientConnectorError as exc:
            # Go's dialer words it like strerror: "dial tcp H:P: connect: connection refused".
            code = exc.os_error.errno if exc.os_error is not None else None
            reason = os.strerror(code).lower() if code else str(exc)
            reason = f"dial tcp {exc.host}:{exc.port}: connect: {reason}"
            return _Attempt(None, self._transport_error(url, reason), True, False)
        except aiohttp.ClientError as exc:
            return _Attempt(None, self._transport_error(url, str(exc) or type(exc).__name__), True, False)
        if 200 <= status < 300:
            try:
                return _Attempt(_parse_success(raw), None, False, False)
            except FetchError as exc:
                return _Attempt(None, exc, False, False)
        error = _parse_error(status, raw, error_type, request_id)
        retryable = (
            status in RETRYABLE_STATUSES or error.code in THROTTLE_CODES or error.code in TIMEOUT_CODES
        )
        return _Attempt(None, error, retryable, error.code in TIMEOUT_CODES)

    def _transport_error(self, url: str, reason: str) -> FetchError:
        return FetchError(
            f"unable to fetch credentials from EKS Auth: {OPERATION}, https response error StatusCode: 0, "
            f'RequestID: , request send failed, Post "{url}": {reason}'
        )


def _sanitize_code(raw: str) -> str:
    """botocore / smithy: text before the first `:`, after the last `#`."""
    code = raw.split(":", 1)[0]
    return code.rsplit("#", 1)[-1].strip()


def _parse_error(status: int, raw: bytes, header_code: str, request_id: str) -> UpstreamError:
    code = _sanitize_code(header_code) if header_code else ""
    message = ""
    try:
        doc = json.loads(raw) if raw.strip() else {}
    except ValueError:
        doc = {}
    if isinstance(doc, dict):
        if not code:
            body_code = doc.get("code") or doc.get("Code") or doc.get("__type") or ""
            code = _sanitize_code(str(body_code)) if body_code else ""
        msg = doc.get("message") or doc.get("Message") or ""
        message = str(msg)
    code = code or "UnknownError"
    return UpstreamError(code, message or code, status, request_id)


def _parse_success(raw: bytes) -> Credentials:
    try:
        doc = json.loads(raw)
    except ValueError as exc:
        raise FetchError(
            f"unable to fetch credentials from EKS Auth: {OPERATION}, deserialization failed, "
            f"failed to decode response body, {exc}"
        ) from None
    if not isinstance(doc, dict):
        raise FetchError(f"unable to fetch credentials from EKS Auth: {OPERATION}, deserialization failed")
    creds = doc.get("credentials")
    user = doc.get("assumedRoleUser")
    if not isinstance(creds, dict) or not isinstance(user, dict):
        raise FetchError(f"invalid response from server: credentials or assumed role empty: {doc!r}")
    arn = str(user.get("arn", ""))
    parts = arn.split(":", 5)
    if len(parts) < 6 or parts[0] != "arn":
        raise FetchError(f"unable to parse arn from assumed role: arn: invalid prefix ({arn!r})")
    expiration = creds.get("expiration")
    if isinstance(expiration, bool) or not isinstance(expiration, (int, float)):
        raise FetchError(
            f"unable to fetch credentials from EKS Auth: {OPERATION}, deserialization failed, "
            f"expected Timestamp to be a JSON Number, got {type(expiration).__name__} instead"
        )
    association = doc.get("podIdentityAssociation")
    assoc_id = str(association.get("associationId", "")) if isinstance(association, dict) else ""
    return Credentials(
        access_key_id=str(creds.get("accessKeyId", "")),
        secret_access_key=str(creds.get("secretAccessKey", "")),
        session_token=str(creds.get("sessionToken", "")),
        account_id=parts[4],
        expiration=epoch_seconds_to_utc(float(expiration)),
        association_id=assoc_id,
    )
