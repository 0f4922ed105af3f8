"""Real clients (boto3, the aws CLI v1) against a tiny aiohttp server on 127.0.0.1 that answers with
the wire layer: it parses each request with `ServiceWire.parse` and answers with `serialize` or
`serialize_error`, so the clients' own parsers judge our bytes."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from aiohttp import web
from botocore.config import Config
from botocore.exceptions import ClientError

from podid.errors import AwsError
from podid.wire.http import Headers, HttpRequest, HttpResponse
from podid.wire.protocol import ServiceWire

Answer = Callable[[str, Mapping[str, Any]], Mapping[str, Any]]


@contextmanager
def wire_server(service: str, answer: Answer, seen: list[tuple[str, dict[str, Any]]]) -> Iterator[str]:
    """Serve `service` on an ephemeral loopback port in a background thread; yields the endpoint URL."""
    wire = ServiceWire.for_service(service)
    loop = asyncio.new_event_loop()
    started = threading.Event()
    holder: dict[str, Any] = {}

    async def handle(request: web.Request) -> web.Response:
        raw = HttpRequest(
            method=request.method,
            path=request.raw_path.split("?", 1)[0],
            query=request.query_string,
            headers=Headers(list(request.headers.items())),
            body=await request.read(),
        )
        operation = None
        try:
            parsed = wire.parse(raw)
            operation = parsed.operation
            seen.append((parsed.name, parsed.params))
            response: HttpResponse = wire.serialize(operation, answer(parsed.name, parsed.params), "req-42")
        except AwsError as exc:
            response = wire.serialize_error(exc, "req-42", operation)
        out = web.Response(status=response.status, body=response.body)
        for key, value in response.headers:
            out.headers[key] = value
        return out

    async def start() -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", handle)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        holder["runner"] = runner
        holder["port"] = runner.addresses[0][1]
        started.set()

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(start())
        loop.run_forever()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert started.wait(10)
    try:
        yield f"http://127.0.0.1:{holder['port']}"
    finally:
        asyncio.run_coroutine_threadsafe(holder["runner"].cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


def _client(service: str, endpoint: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name="us-west-2",
        aws_access_key_id="AKIAIOSFODNN7EXAMPLE",
        aws_secret_access_key="secret",
        config=Config(retries={"max_attempts": 1}, s3={"addressing_style": "path"}),
    )


WHEN = datetime(2026, 11, 28, 20, 0, 0, 123000, tzinfo=UTC)


def _sts_answer(op: str, params: Mapping[str, Any]) -> Mapping[str, Any]:
    if op == "GetCallerIdentity":
        return {
            "UserId": "AIDAEXAMPLE",
            "Account": "123456789012",
            "Arn": "arn:aws:iam::123456789012:user/admin",
        }
    raise AwsError(
        f"User: x is not authorized to perform: sts:AssumeRole on resource: {params['RoleArn']}",
        code="AccessDenied",
        status=403,
    )


def test_boto3_query_protocol() -> None:
    seen: list[tuple[str, dict[str, Any]]] = []
    with wire_server("sts", _sts_answer, seen) as endpoint:
        sts = _client("sts", endpoint)
        identity = sts.get_caller_identity()
        assert identity["Arn"] == "arn:aws:iam::123456789012:user/admin"
        assert identity["ResponseMetadata"]["RequestId"] == "req-42"
        with pytest.raises(ClientError) as info:
            sts.assume_role(
                RoleArn="arn:aws:iam::123456789012:role/r", RoleSessionName="s1", DurationSeconds=900
            )
    error = info.value.response
    assert error["Error"]["Code"] == "AccessDenied"
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert seen[1] == (
        "AssumeRole",
        {"RoleArn": "arn:aws:iam::123456789012:role/r", "RoleSessionName": "s1", "DurationSeconds": 900},
    )


def _eks_answer(op: str, params: Mapping[str, Any]) -> Mapping[str, Any]:
    if op == "DescribePodIdentityAssociation":
        raise AwsError(
            f"No pod identity association found for id {params['associationId']}.",
            code="ResourceNotFoundException",
            status=404,
            fields={"clusterName": params["clusterName"]},
        )
    return {
        "association": {
            "clusterName": params["clusterName"],
            "namespace": params["namespace"],
            "serviceAccount": params["serviceAccount"],
            "roleArn": params["roleArn"],
            "associationId": "a-abcdefghijklmnop1",
            "tags": {},
            "createdAt": WHEN,
            "disableSessionTags": False,
        }
    }


def test_boto3_rest_json_protocol() -> None:
    seen: list[tuple[str, dict[str, Any]]] = []
    with wire_server("eks", _eks_answer, seen) as endpoint:
        eks = _client("eks", endpoint)
        created = eks.create_pod_identity_association(
            clusterName="demo", namespace="default", serviceAccount="app", roleArn="arn:aws:iam::1:role/r"
        )
        assert created["association"]["createdAt"] == WHEN
        assert created["association"]["associationId"] == "a-abcdefghijklmnop1"
        with pytest.raises(eks.exceptions.ResourceNotFoundException) as info:
            eks.describe_pod_identity_association(clusterName="demo", associationId="a-x")
    assert info.value.response["Error"]["Message"] == "No pod identity association found for id a-x."
    assert info.value.response["clusterName"] == "demo"
    assert "clientRequestToken" in seen[0][1]  # botocore's idempotency token arrives as a body member


def _s3_answer(op: str, params: Mapping[str, Any]) -> Mapping[str, Any]:
    if op == "ListBuckets":
        return {"Buckets": [{"Name": "b1", "CreationDate": WHEN}], "Owner": {"ID": "abc"}}
    if op == "GetBucketLocation":
        return {"LocationConstraint": "eu-west-1"}
    if op == "PutObject":
        assert params["Body"] == b"hello"
        return {"ETag": '"5d41402abc4b2a76b9719d911017c592"'}
    raise AwsError(
        "The specified key does not exist.", code="NoSuchKey", status=404, fields={"Key": params["Key"]}
    )


def test_boto3_rest_xml_protocol() -> None:
    seen: list[tuple[str, dict[str, Any]]] = []
    with wire_server("s3", _s3_answer, seen) as endpoint:
        s3 = _client("s3", endpoint)
        buckets = s3.list_buckets()
        assert buckets["Buckets"] == [{"Name": "b1", "CreationDate": WHEN}]
        assert s3.get_bucket_location(Bucket="b1")["LocationConstraint"] == "eu-west-1"
        put = s3.put_object(Bucket="b1", Key="dir/k.txt", Body=b"hello")
        assert put["ETag"] == '"5d41402abc4b2a76b9719d911017c592"'
        with pytest.raises(s3.exceptions.NoSuchKey) as info:
            s3.get_object(Bucket="b1", Key="missing")
    assert info.value.response["Error"]["Key"] == "missing"
    assert info.value.response["ResponseMetadata"]["RequestId"] == "req-42"
    assert seen[2][1]["Key"] == "dir/k.txt"


def _logs_answer(op: str, params: Mapping[str, Any]) -> Mapping[str, Any]:
    if op == "DescribeLogGroups":
        return {"logGroups": [{"logGroupName": params.get("logGroupNamePrefix", "x"), "creationTime": 5}]}
    raise AwsError("The specified log group does not exist.", code="ResourceNotFoundException", status=400)


def test_boto3_json_protocol() -> None:
    seen: list[tuple[str, dict[str, Any]]] = []
    with wire_server("logs", _logs_answer, seen) as endpoint:
        logs = _client("logs", endpoint)
        groups = logs.describe_log_groups(logGroupNamePrefix="app")
        assert groups["logGroups"] == [{"logGroupName": "app", "creationTime": 5}]
        with pytest.raises(logs.exceptions.ResourceNotFoundException):
            logs.delete_log_group(logGroupName="nope")


def _aws_cli(endpoint: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env.update(
        {
            "AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE",
            "AWS_SECRET_ACCESS_KEY": "secret",
            "AWS_DEFAULT_REGION": "us-west-2",
        }
    )
    aws = str(Path(sys.executable).parent / "aws")
    return subprocess.run(
        [aws, "--endpoint-url", endpoint, "--output", "json", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_aws_cli_query_and_rest_json() -> None:
    seen: list[tuple[str, dict[str, Any]]] = []
    with wire_server("sts", _sts_answer, seen) as endpoint:
        done = _aws_cli(endpoint, "sts", "get-caller-identity")
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["Account"] == "123456789012"
        refused = _aws_cli(
            endpoint, "sts", "assume-role", "--role-arn", "arn:aws:iam::1:role/r", "--role-session-name", "s1"
        )
        assert refused.returncode != 0
        assert "An error occurred (AccessDenied) when calling the AssumeRole operation" in refused.stderr
    with wire_server("eks", _eks_answer, seen) as endpoint:
        done = _aws_cli(
            endpoint,
            "eks",
            "create-pod-identity-association",
            "--cluster-name",
            "demo",
            "--namespace",
            "default",
            "--service-account",
            "app",
            "--role-arn",
            "arn:aws:iam::1:role/r",
        )
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["association"]["namespace"] == "default"
