"""`podid agent` backed by the real podid endpoint (gateway + EKS Auth + STS) on 127.0.0.1.

The chain of the walkthrough: a node role allowed `eks-auth:AssumeRoleForPodIdentity`, a cluster,
a pod role trusting `pods.eks.amazonaws.com`, an association; the agent signs with the node role's
session, botocore's ContainerProvider and the aws CLI v1 (unmodified) get the pod role's credentials
from the agent, and `aws sts get-caller-identity` shows the association's role.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.credentials import ContainerProvider

from podid.gateway.testing import RunningEndpoint, running_endpoint
from tests.agent.agent_process import start_agent_process
from tests.agent.endpoint_world import ACCOUNT, CLUSTER, REGION, make_world, node_env, pod_token

pytestmark = pytest.mark.e2e

AWS = str(Path(sys.executable).with_name("aws"))


@pytest.fixture(scope="module")
def ep(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningEndpoint]:
    with running_endpoint(tmp_path_factory.mktemp("agent-e2e"), account_id=ACCOUNT, region=REGION) as running:
        yield running


@pytest.fixture(scope="module")
def world(ep: RunningEndpoint) -> dict[str, Any]:
    return make_world(ep)


async def test_container_provider_and_aws_cli_through_the_agent(
    ep: RunningEndpoint, world: dict[str, Any], tmp_path: Path
) -> None:
    agent = await start_agent_process(ep.url, env=node_env(world["node"]), node_env=False, cluster=CLUSTER)
    try:
        token_file = tmp_path / "token"
        token_file.write_text(pod_token(ep))
        container_env = {
            "AWS_CONTAINER_CREDENTIALS_FULL_URI": agent.credentials_url,
            "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": str(token_file),
        }
        creds = await asyncio.to_thread(lambda: ContainerProvider(environ=container_env).load())
        assert creds is not None
        assert creds.account_id == ACCOUNT
        frozen = await asyncio.to_thread(creds.get_frozen_credentials)
        assert frozen.access_key.startswith("ASIA")

        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("AWS_ACCESS", "AWS_SECRET", "AWS_SESSION"))
        }
        env.update(container_env)
        env["AWS_DEFAULT_REGION"] = REGION
        proc = await asyncio.create_subprocess_exec(
            AWS,
            "sts",
            "get-caller-identity",
            "--endpoint-url",
            ep.url,
            "--output",
            "json",
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(proc.communicate(), 120)
        assert proc.returncode == 0, err.decode()
        identity = json.loads(out)
        assert identity["Account"] == ACCOUNT
        assert identity["Arn"].startswith(f"arn:aws:sts::{ACCOUNT}:assumed-role/demo-app-role/eks-")
    finally:
        assert await agent.terminate() == 0


async def test_real_eks_auth_errors_pass_through(
    ep: RunningEndpoint, world: dict[str, Any], tmp_path: Path
) -> None:
    import aiohttp

    agent = await start_agent_process(ep.url, env=node_env(world["node"]), node_env=False, cluster=CLUSTER)
    try:
        # A token for a service account without an association.
        headers = {"Authorization": pod_token(ep, sa="no-association")}
        async with (
            aiohttp.ClientSession() as session,
            session.get(agent.credentials_url, headers=headers) as resp,
        ):
            body = await resp.text()
            assert resp.status in (400, 404), body
            assert resp.headers["Content-Type"] == "text/plain; charset=utf-8"
            assert body.startswith("[")
            assert body.endswith(", fault: client\n")
    finally:
        await agent.terminate()


async def test_rotated_node_credentials_from_the_shared_file(
    ep: RunningEndpoint, world: dict[str, Any], tmp_path: Path
) -> None:
    node = world["node"]
    shared = tmp_path / "credentials"
    shared.write_text(
        "[default]\n"
        f"aws_access_key_id = {node['AccessKeyId']}\n"
        f"aws_secret_access_key = {node['SecretAccessKey']}\n"
        f"aws_session_token = {node['SessionToken']}\n"
    )
    agent = await start_agent_process(
        ep.url,
        env={"AWS_SHARED_CREDENTIALS_FILE": str(shared)},
        node_env=False,
        cluster=CLUSTER,
        extra_args=["--rotate-credentials", "true"],
    )
    try:
        token_file = tmp_path / "token"
        token_file.write_text(pod_token(ep))
        container_env = {
            "AWS_CONTAINER_CREDENTIALS_FULL_URI": agent.credentials_url,
            "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": str(token_file),
        }
        creds = await asyncio.to_thread(lambda: ContainerProvider(environ=container_env).load())
        assert creds is not None
        assert creds.account_id == ACCOUNT
    finally:
        assert await agent.terminate() == 0
