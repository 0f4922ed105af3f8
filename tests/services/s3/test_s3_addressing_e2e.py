"""Virtual-hosted-style requests (`Host: bucket.localhost:port`) and state surviving a restart."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import botocore.config
import pytest
from tests.services.s3.s3_support import make_bucket

from podid.gateway.testing import RunningEndpoint, running_endpoint


def test_virtual_hosted_style(ep: RunningEndpoint, monkeypatch: pytest.MonkeyPatch) -> None:
    real = socket.getaddrinfo

    def resolve(host: Any, *args: Any, **kwargs: Any) -> Any:
        # `<bucket>.localhost` names the endpoint (as it would with a wildcard DNS entry).
        if isinstance(host, str) and host.endswith(".localhost"):
            host = "127.0.0.1"
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    vhost = ep.boto3_client(
        "s3",
        endpoint_url=f"http://localhost:{ep.endpoint.port}",
        config=botocore.config.Config(s3={"addressing_style": "virtual"}),
    )
    seen: list[str] = []
    vhost.meta.events.register("before-send.s3", lambda request, **_: seen.append(request.url))
    bucket = make_bucket(vhost)
    vhost.put_object(Bucket=bucket, Key="dir/file.txt", Body=b"virtual")
    vhost.put_object(Bucket=bucket, Key=bucket, Body=b"key named like the bucket")
    assert vhost.get_object(Bucket=bucket, Key="dir/file.txt")["Body"].read() == b"virtual"
    assert vhost.get_object(Bucket=bucket, Key=bucket)["Body"].read() == b"key named like the bucket"
    assert [o["Key"] for o in vhost.list_objects_v2(Bucket=bucket)["Contents"]] == sorted(
        [bucket, "dir/file.txt"]
    )
    vhost.put_object_tagging(
        Bucket=bucket, Key="dir/file.txt", Tagging={"TagSet": [{"Key": "a", "Value": "b"}]}
    )
    vhost.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "dir/file.txt"}, {"Key": bucket}]})
    vhost.delete_bucket(Bucket=bucket)
    assert all(url.startswith(f"http://{bucket}.localhost:") for url in seen[1:])


def test_objects_survive_a_restart(tmp_path: Path) -> None:
    state = tmp_path / "state"
    with running_endpoint(state, ephemeral=False) as first:
        s3 = first.boto3_client("s3")
        bucket = make_bucket(s3)
        s3.put_object(Bucket=bucket, Key="kept", Body=b"durable", Metadata={"m": "1"})
        s3.put_object(Bucket=bucket, Key="replaced", Body=b"old")
        s3.put_object(Bucket=bucket, Key="replaced", Body=b"new")
        s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": [{"Key": "t", "Value": "v"}]})
    blobs = [p for p in (state / "s3" / "blobs").rglob("*") if p.is_file()]
    assert len(blobs) == 2  # the replaced object's old bytes are gone
    with running_endpoint(state, ephemeral=False) as second:
        s3 = second.boto3_client("s3")
        got = s3.get_object(Bucket=bucket, Key="kept")
        assert got["Body"].read() == b"durable"
        assert got["Metadata"] == {"m": "1"}
        assert s3.get_object(Bucket=bucket, Key="replaced")["Body"].read() == b"new"
        assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["kept", "replaced"]
        assert s3.get_bucket_tagging(Bucket=bucket)["TagSet"] == [{"Key": "t", "Value": "v"}]
