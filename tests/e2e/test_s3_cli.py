"""The aws CLI v1, as a separate process, against a live endpoint: the walkthrough's S3 commands.

`aws s3 ls` must succeed and `aws s3 mb` must fail with AccessDenied for a role that has only
AmazonS3ReadOnlyAccess; then the everyday commands users run next: cp of a 25 MiB file both ways
(multipart), sync both ways, rm --recursive, rb --force, presign fetched with a plain HTTP client,
and s3api put-bucket-policy / get-object-tagging.
"""

from __future__ import annotations

import json
import os
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.services.s3.s3_support import aws_cli, role_session

from podid.gateway.testing import RunningEndpoint, running_endpoint

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def ep(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningEndpoint]:
    with running_endpoint(tmp_path_factory.mktemp("s3-cli")) as endpoint:
        yield endpoint


def ok(ep: RunningEndpoint, *args: str, **kwargs: object) -> str:
    result = aws_cli(ep, *args, **kwargs)  # type: ignore[arg-type]
    assert result.returncode == 0, result.stderr
    return result.stdout


def buckets(ep: RunningEndpoint) -> list[str]:
    """Checks that need no CLI of their own go through boto3 (each CLI start costs about a second)."""
    return [b["Name"] for b in ep.boto3_client("s3").list_buckets()["Buckets"]]


def test_read_only_role_lists_but_cannot_make_buckets(ep: RunningEndpoint) -> None:
    ok(ep, "s3", "mb", "s3://walkthrough-demo")
    creds = role_session(ep, ["arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"])
    env = {
        "AWS_ACCESS_KEY_ID": creds["key"],
        "AWS_SECRET_ACCESS_KEY": creds["secret"],
        "AWS_SESSION_TOKEN": creds["token"],
    }
    assert "walkthrough-demo" in ok(ep, "s3", "ls", env=env)
    refused = aws_cli(ep, "s3", "mb", "s3://should-not-exist-bucket", env=env)
    assert refused.returncode != 0
    assert "An error occurred (AccessDenied) when calling the CreateBucket operation" in refused.stderr
    assert "because no identity-based policy allows the s3:CreateBucket action" in refused.stderr
    assert "should-not-exist-bucket" not in buckets(ep)


def test_cp_sync_rm_rb(ep: RunningEndpoint, tmp_path: Path) -> None:
    ok(ep, "s3", "mb", "s3://cli-bucket")
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(25 * 1024 * 1024))
    ok(ep, "s3", "cp", str(big), "s3://cli-bucket/big.bin")
    head = ep.boto3_client("s3").head_object(Bucket="cli-bucket", Key="big.bin")
    assert head["ContentLength"] == 25 * 1024 * 1024
    assert head["ETag"].endswith('-4"')  # multipart: 8 MiB parts
    ok(ep, "s3", "cp", "s3://cli-bucket/big.bin", str(tmp_path / "down.bin"))
    assert (tmp_path / "down.bin").read_bytes() == big.read_bytes()

    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    for i in range(4):
        (src / f"f{i}.txt").write_text(f"file {i}")
    (src / "sub" / "deep.txt").write_text("deep")
    # Written a minute before the upload: `sync` compares the local mtime with LastModified, which
    # has second precision (as on S3), so a file written in the second of its upload looks newer
    # than its copy and a later sync uploads it again.
    for path in src.rglob("*.txt"):
        os.utime(path, (path.stat().st_mtime - 60, path.stat().st_mtime - 60))
    ok(ep, "s3", "sync", str(src), "s3://cli-bucket/tree/")
    listing = ok(ep, "s3", "ls", "--recursive", "s3://cli-bucket/tree/")
    assert "tree/sub/deep.txt" in listing
    back = tmp_path / "back"
    ok(ep, "s3", "sync", "s3://cli-bucket/tree/", str(back))
    assert (back / "sub" / "deep.txt").read_text() == "deep"
    assert sorted(p.name for p in back.iterdir()) == ["f0.txt", "f1.txt", "f2.txt", "f3.txt", "sub"]
    assert "upload:" not in ok(ep, "s3", "sync", str(src), "s3://cli-bucket/tree/")  # nothing changed

    ok(ep, "s3", "rm", "--recursive", "s3://cli-bucket/tree/")
    assert ep.boto3_client("s3").list_objects_v2(Bucket="cli-bucket")["KeyCount"] == 1  # big.bin
    refused = aws_cli(ep, "s3", "rb", "s3://cli-bucket")
    assert "BucketNotEmpty" in refused.stderr
    ok(ep, "s3", "rb", "--force", "s3://cli-bucket")
    assert "cli-bucket" not in buckets(ep)


def test_presign_policy_and_tagging(ep: RunningEndpoint, tmp_path: Path) -> None:
    ok(ep, "s3", "mb", "s3://cli-extras")
    note = tmp_path / "note.txt"
    note.write_text("presigned content")
    ok(ep, "s3", "cp", str(note), "s3://cli-extras/note.txt")
    url = ok(ep, "s3", "presign", "s3://cli-extras/note.txt", "--expires-in", "300").strip()
    with urllib.request.urlopen(url) as response:
        assert response.read() == b"presigned content"
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:DeleteObject",
                "Resource": "arn:aws:s3:::cli-extras/*",
            }
        ],
    }
    ok(ep, "s3api", "put-bucket-policy", "--bucket", "cli-extras", "--policy", json.dumps(policy))
    assert (
        json.loads(json.loads(ok(ep, "s3api", "get-bucket-policy", "--bucket", "cli-extras"))["Policy"])
        == policy
    )
    refused = aws_cli(ep, "s3", "rm", "s3://cli-extras/note.txt")
    assert refused.returncode != 0
    assert "AccessDenied" in refused.stderr
    ok(
        ep, "s3api", "put-object-tagging", "--bucket", "cli-extras", "--key", "note.txt",
        "--tagging", "TagSet=[{Key=project,Value=podid}]",
    )  # fmt: skip
    tags = json.loads(ok(ep, "s3api", "get-object-tagging", "--bucket", "cli-extras", "--key", "note.txt"))
    assert tags["TagSet"] == [{"Key": "project", "Value": "podid"}]
