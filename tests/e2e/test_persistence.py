"""State survives `podid serve` restarts and SIGKILL: every acknowledged write is on disk
(roles, policies, users and their access keys, which must still authenticate).

A real `podid serve` process (SQLite WAL store in the test's state directory) is driven with boto3;
after SIGTERM or `kill -9` a new process on the same state directory must show the same account,
admin keys, roles, policies, users and keys, and still accept session tokens minted before.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import BotoCoreError, ClientError
from tests.e2e.serve_support import Credentials, ServeProcess

pytestmark = pytest.mark.e2e

READ_ONLY = "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"


def trust(account: str) -> str:
    statement = {
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
        "Action": "sts:AssumeRole",
    }
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def allow(action: str) -> str:
    return json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": action, "Resource": "*"}]}
    )


def test_restart_keeps_roles_policies_users_and_keys(tmp_path: Path) -> None:
    state = tmp_path / "state"
    with ServeProcess(state) as first:
        account, admin = first.account_id, first.admin
        iam = first.client("iam")
        iam.create_role(
            RoleName="app", Path="/apps/", AssumeRolePolicyDocument=trust(account), MaxSessionDuration=7200
        )
        iam.attach_role_policy(RoleName="app", PolicyArn=READ_ONLY)
        iam.put_role_policy(
            RoleName="app", PolicyName="inline", PolicyDocument=allow("sts:GetCallerIdentity")
        )
        iam.tag_role(RoleName="app", Tags=[{"Key": "team", "Value": "a"}])
        policy_arn = iam.create_policy(PolicyName="custom", PolicyDocument=allow("s3:ListBucket"))["Policy"][
            "Arn"
        ]
        iam.create_policy_version(PolicyArn=policy_arn, PolicyDocument=allow("s3:*"), SetAsDefault=True)
        iam.attach_role_policy(RoleName="app", PolicyArn=policy_arn)
        iam.create_user(UserName="worker")
        key = iam.create_access_key(UserName="worker")["AccessKey"]
        worker = Credentials(key["AccessKeyId"], key["SecretAccessKey"])
        iam.put_user_policy(UserName="worker", PolicyName="assume", PolicyDocument=allow("sts:AssumeRole"))
        session = first.client("sts", worker).assume_role(
            RoleArn=f"arn:aws:iam::{account}:role/apps/app",
            RoleSessionName="before-restart",
            DurationSeconds=3600,
        )["Credentials"]
        role_before = iam.get_role(RoleName="app")["Role"]
        # deletions are writes too
        revoked = iam.create_access_key(UserName="worker")["AccessKey"]
        iam.delete_access_key(UserName="worker", AccessKeyId=revoked["AccessKeyId"])
        iam.create_role(RoleName="gone", AssumeRolePolicyDocument=trust(account))
        iam.delete_role(RoleName="gone")
        assert first.terminate() == 0

    with ServeProcess(state) as second:
        assert second.account_id == account
        assert second.admin == admin  # the administrator's keys are stable across restarts
        iam = second.client("iam")
        assert iam.get_role(RoleName="app")["Role"] == role_before
        attached = iam.list_attached_role_policies(RoleName="app")["AttachedPolicies"]
        assert sorted(p["PolicyArn"] for p in attached) == sorted([READ_ONLY, policy_arn])
        assert iam.list_role_policies(RoleName="app")["PolicyNames"] == ["inline"]
        assert iam.list_role_tags(RoleName="app")["Tags"] == [{"Key": "team", "Value": "a"}]
        policy = iam.get_policy(PolicyArn=policy_arn)["Policy"]
        assert (policy["DefaultVersionId"], policy["AttachmentCount"]) == ("v2", 1)
        assert [v["VersionId"] for v in iam.list_policy_versions(PolicyArn=policy_arn)["Versions"]] == [
            "v2",
            "v1",
        ]
        keys = iam.list_access_keys(UserName="worker")["AccessKeyMetadata"]
        assert [k["AccessKeyId"] for k in keys] == [worker.access_key_id]
        with pytest.raises(ClientError) as err:
            second.client(
                "sts", Credentials(revoked["AccessKeyId"], revoked["SecretAccessKey"])
            ).get_caller_identity()
        assert err.value.response["Error"]["Code"] == "InvalidClientTokenId"
        with pytest.raises(ClientError) as err:
            iam.get_role(RoleName="gone")
        assert err.value.response["Error"]["Code"] == "NoSuchEntity"
        # the user's key and the session minted before the restart still authenticate
        me = second.client("sts", worker).get_caller_identity()
        assert me["Arn"] == f"arn:aws:iam::{account}:user/worker"
        temp = Credentials(session["AccessKeyId"], session["SecretAccessKey"], session["SessionToken"])
        assert second.client("sts", temp).get_caller_identity()["Arn"] == (
            f"arn:aws:sts::{account}:assumed-role/app/before-restart"
        )


WRITERS = 4
PER_WRITER = 60  # bounded: at most 240 writes
KILL_AFTER = 40  # acknowledged writes before kill -9


Write = tuple[str, str, str]  # (kind, name, access key id:secret for kind "key")


def _writer(serve: ServeProcess, index: int, acked: list[Write], lock: threading.Lock) -> None:
    iam = serve.client("iam", connect_timeout=2, read_timeout=10)
    account = serve.account_id
    for i in range(PER_WRITER):
        name = f"w{index}-{i}"
        try:
            if i % 3 == 0:
                iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust(account))
                done: Write = ("role", name, "")
            elif i % 3 == 1:
                iam.create_policy(PolicyName=name, PolicyDocument=allow("s3:GetObject"))
                done = ("policy", name, "")
            else:
                iam.create_user(UserName=name)
                with lock:
                    acked.append(("user", name, ""))
                key = iam.create_access_key(UserName=name)["AccessKey"]
                done = ("key", name, f"{key['AccessKeyId']}:{key['SecretAccessKey']}")
        except (BotoCoreError, ClientError):
            return  # the server died mid-request: this write was never acknowledged
        with lock:
            acked.append(done)


def _listed(iam: Any) -> set[Write]:
    roles = {
        ("role", r["RoleName"], "")
        for page in iam.get_paginator("list_roles").paginate()
        for r in page["Roles"]
    }
    policies = {
        ("policy", p["PolicyName"], "")
        for page in iam.get_paginator("list_policies").paginate(Scope="Local")
        for p in page["Policies"]
    }
    users = {
        ("user", u["UserName"], "")
        for page in iam.get_paginator("list_users").paginate()
        for u in page["Users"]
    }
    return roles | policies | users


def test_sigkill_during_a_burst_of_writes_loses_no_acknowledged_write(tmp_path: Path) -> None:
    state = tmp_path / "state"
    first = ServeProcess(state).start()
    acked: list[Write] = []
    lock = threading.Lock()
    threads = [threading.Thread(target=_writer, args=(first, i, acked, lock)) for i in range(WRITERS)]
    try:
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 60
        while len(acked) < KILL_AFTER and time.monotonic() < deadline:
            time.sleep(0.005)
        assert first.proc is not None
        os.kill(first.proc.pid, signal.SIGKILL)
        with lock:
            killed_after = list(acked)
    finally:
        first.kill()
        for thread in threads:
            thread.join(timeout=30)
    assert len(killed_after) >= KILL_AFTER, "the burst was too slow to reach the kill point"
    assert len(acked) < WRITERS * PER_WRITER, "the kill came after the burst: nothing was in flight"

    with ServeProcess(state) as second:
        iam = second.client("iam")
        present = _listed(iam)
        missing = [write for write in acked if write[0] != "key" and write not in present]
        assert missing == []
        keys = [write for write in acked if write[0] == "key"]
        assert keys, "no access key was acknowledged before the kill"
        for _, user, pair in keys:
            key_id, secret = pair.split(":", 1)
            listed = iam.list_access_keys(UserName=user)["AccessKeyMetadata"]
            assert [k["AccessKeyId"] for k in listed] == [key_id]
            me = second.client("sts", Credentials(key_id, secret)).get_caller_identity()
            assert me["Arn"] == f"arn:aws:iam::{second.account_id}:user/{user}"
        # the database is healthy: new writes work
        iam.create_role(RoleName="after-kill", AssumeRolePolicyDocument=trust(second.account_id))
        assert iam.get_role(RoleName="after-kill")["Role"]["RoleName"] == "after-kill"
