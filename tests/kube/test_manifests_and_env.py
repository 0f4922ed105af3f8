"""Manifest parsing and apply semantics; a container's command and environment."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from podid.clock import FakeClock
from podid.kube.containers import ContainerConfigError, container_env, resolve_command, venv_bin
from podid.kube.manifests import KubeError, apply_document, load_documents
from podid.kube.objects import ObjectStore
from podid.store import Store

TOKEN_FILE = "/var/run/secrets/pods.eks.amazonaws.com/serviceaccount/eks-pod-identity-token"


@pytest.fixture
def objects() -> ObjectStore:
    store = ObjectStore(Store(), FakeClock(), "111122223333/us-west-2/demo")
    apply_document(
        store, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "demo-ns"}}, "f", "default"
    )
    return store


def test_multi_document_yaml() -> None:
    docs = load_documents(
        "---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: a\n---\n---\n"
        "kind: List\napiVersion: v1\nitems:\n- {apiVersion: v1, kind: Namespace, "
        "metadata: {name: b}}\n",
        "f.yaml",
    )
    assert [d["metadata"]["name"] for d in docs] == ["a", "b"]
    with pytest.raises(KubeError, match=r"error parsing f\.yaml"):
        load_documents("a: [", "f.yaml")


def test_apply_created_unchanged_configured(objects: ObjectStore) -> None:
    sa = {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": "demo-sa", "namespace": "demo-ns"},
    }
    first = apply_document(objects, sa, "f", "default")
    assert (first.ref, first.action) == ("serviceaccount/demo-sa", "created")
    stored = objects.get("ServiceAccount", "demo-ns", "demo-sa")
    assert stored is not None
    meta = stored["metadata"]
    assert meta["uid"]
    assert meta["creationTimestamp"]
    assert meta["resourceVersion"]
    assert "kubectl.kubernetes.io/last-applied-configuration" in meta["annotations"]
    assert apply_document(objects, sa, "f", "default").action == "unchanged"
    changed = {**sa, "automountServiceAccountToken": False}
    assert apply_document(objects, changed, "f", "default").action == "configured"
    updated = objects.get("ServiceAccount", "demo-ns", "demo-sa")
    assert updated is not None
    assert updated["automountServiceAccountToken"] is False
    assert updated["metadata"]["uid"] == meta["uid"]
    assert int(updated["metadata"]["resourceVersion"]) > int(meta["resourceVersion"])


def test_apply_refusals(objects: ObjectStore) -> None:
    with pytest.raises(KubeError, match='no matches for kind "Service" in version "v1"'):
        apply_document(
            objects, {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}}, "f", "default"
        )
    with pytest.raises(KubeError, match='no matches for kind "Deployment" in version "v1"'):
        apply_document(
            objects, {"apiVersion": "v1", "kind": "Deployment", "metadata": {"name": "d"}}, "f", "x"
        )
    with pytest.raises(KubeError, match='namespaces "nope" not found'):
        apply_document(
            objects,
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "nope"}},
            "f",
            "default",
        )
    bad_selector = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "d", "namespace": "demo-ns"},
        "spec": {
            "selector": {"matchLabels": {"app": "x"}},
            "template": {"metadata": {"labels": {"app": "y"}}, "spec": {"containers": [{"name": "c"}]}},
        },
    }
    with pytest.raises(KubeError, match="`selector` does not match template `labels`"):
        apply_document(objects, bad_selector, "f", "default")
    with pytest.raises(KubeError, match="apiVersion not set"):
        apply_document(objects, {"kind": "Namespace", "metadata": {"name": "n"}}, "f", "default")
    with pytest.raises(KubeError, match="a lowercase RFC 1123 subdomain"):
        apply_document(
            objects, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "Bad_Name"}}, "f", ""
        )


def _pod(env: list[dict[str, Any]], **container: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "p", "namespace": "demo-ns", "uid": "u-1"},
        "spec": {
            "nodeName": "node-1",
            "serviceAccountName": "sa",
            "containers": [{"name": "c", "image": "busybox", "env": env, **container}],
        },
        "status": {"podIP": "169.254.3.2"},
    }


def test_environment_is_exactly_spec_injected_and_runtime_additions() -> None:
    objs = {
        ("ConfigMap", "demo-ns", "cm"): {"data": {"color": "blue"}},
        ("Secret", "demo-ns", "s"): {"data": {"pw": base64.b64encode(b"hunter2").decode()}},
    }
    pod = _pod(
        [
            {"name": "A", "value": "1"},
            {"name": "B", "value": "$(A)-two-$$(A)"},
            {"name": "COLOR", "valueFrom": {"configMapKeyRef": {"name": "cm", "key": "color"}}},
            {"name": "PW", "valueFrom": {"secretKeyRef": {"name": "s", "key": "pw"}}},
            {"name": "ME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            {"name": "AWS_CONTAINER_CREDENTIALS_FULL_URI", "value": "http://169.254.170.23/v1/credentials"},
            {
                "name": "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
                "value": "/var/run/secrets/pods.eks.amazonaws.com/serviceaccount/eks-pod-identity-token",
            },
        ]
    )
    container = pod["spec"]["containers"][0]
    env = container_env(
        pod,
        container,
        lambda k, ns, n: objs.get((k, ns, n)),
        endpoint_url="http://169.254.3.1:4566",
        agent_url=None,
        path_map={},
    )
    assert env == {
        "PATH": f"{venv_bin()}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "AWS_ENDPOINT_URL": "http://169.254.3.1:4566",
        "A": "1",
        "B": "1-two-$(A)",
        "COLOR": "blue",
        "PW": "hunter2",
        "ME": "p",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://169.254.170.23/v1/credentials",
        "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": TOKEN_FILE,
    }
    # the fallback without namespaces and mounts: the node's agent on loopback, volume paths rewritten
    env = container_env(
        pod,
        container,
        lambda k, ns, n: objs.get((k, ns, n)),
        endpoint_url="http://127.0.0.1:4566",
        agent_url="http://127.0.3.1:41234",
        path_map={"/var/run/secrets/pods.eks.amazonaws.com/serviceaccount": "/state/pods/u-1/vol"},
    )
    assert env["AWS_CONTAINER_CREDENTIALS_FULL_URI"] == "http://127.0.3.1:41234/v1/credentials"
    assert env["AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"] == "/state/pods/u-1/vol/eks-pod-identity-token"
    # spec values win over the runtime's
    pod2 = _pod([{"name": "AWS_ENDPOINT_URL", "value": "http://mine"}])
    assert (
        container_env(
            pod2,
            pod2["spec"]["containers"][0],
            lambda *a: None,
            endpoint_url="x",
            agent_url=None,
            path_map={},
        )["AWS_ENDPOINT_URL"]
        == "http://mine"
    )


def test_missing_references_are_config_errors() -> None:
    pod = _pod([{"name": "X", "valueFrom": {"configMapKeyRef": {"name": "nope", "key": "k"}}}])
    with pytest.raises(ContainerConfigError) as err:
        container_env(
            pod, pod["spec"]["containers"][0], lambda *a: None, endpoint_url="x", agent_url=None, path_map={}
        )
    assert err.value.reason == "CreateContainerConfigError"
    optional = _pod(
        [{"name": "X", "valueFrom": {"configMapKeyRef": {"name": "nope", "key": "k", "optional": True}}}]
    )
    env = container_env(
        optional,
        optional["spec"]["containers"][0],
        lambda *a: None,
        endpoint_url="x",
        agent_url=None,
        path_map={},
    )
    assert "X" not in env


def test_commands_from_images_and_specs() -> None:
    assert resolve_command({"image": "amazon/aws-cli:latest"}) == ["aws"]
    assert resolve_command({"image": "amazon/aws-cli:2.15.0", "args": ["s3", "ls"]}) == ["aws", "s3", "ls"]
    assert resolve_command({"image": "public.ecr.aws/aws-cli/aws-cli"}) == ["aws"]
    assert resolve_command({"image": "docker.io/library/busybox:1.36"}) == ["sh"]
    assert resolve_command({"image": "anything", "command": ["sleep"], "args": ["5"]}) == ["sleep", "5"]
    with pytest.raises(ContainerConfigError, match='no entrypoint for image "nginx"'):
        resolve_command({"image": "nginx"})


def test_reapply_merges_maps_three_way(objects: ObjectStore) -> None:
    cm: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "c", "namespace": "demo-ns", "labels": {"a": "1", "b": "2"}},
        "data": {"k": "v"},
    }
    apply_document(objects, cm, "f", "default")
    current = objects.get("ConfigMap", "demo-ns", "c")
    assert current is not None
    current["metadata"]["labels"]["added-by-controller"] = "yes"
    objects.update(current)
    changed = {**cm, "metadata": {**cm["metadata"], "labels": {"a": "1", "c": "3"}}}
    assert apply_document(objects, changed, "f", "default").action == "configured"
    after = objects.get("ConfigMap", "demo-ns", "c")
    assert after is not None
    assert after["metadata"]["labels"] == {"added-by-controller": "yes", "a": "1", "c": "3"}
