"""admit_pod (the runtime's in-process path) and the RFC 6902 applier, checked against `jsonpatch`."""

from __future__ import annotations

from typing import Any

import jsonpatch
import pytest

from podid.webhook.admit import AdmissionDenied, PatchError, admission_review_for, admit_pod, apply_patch
from podid.webhook.config import StaticIdentities, StaticServiceAccounts, WebhookConfig
from tests.webhook.helpers import LowRandom, assert_valid_pod, load_case

DOC: dict[str, Any] = {"a": {"b": [1, 2, 3], "c~d": "x", "e/f": "y"}, "list": []}


@pytest.mark.parametrize(
    "ops",
    [
        [{"op": "add", "path": "/a/b/1", "value": 9}],
        [{"op": "add", "path": "/a/b/-", "value": 9}],
        [{"op": "add", "path": "/list/0", "value": {"k": 1}}],
        [{"op": "add", "path": "/a/new", "value": [1]}],
        [{"op": "add", "path": "/a/c~0d", "value": "replaced by add"}],
        [{"op": "remove", "path": "/a/e~1f"}],
        [{"op": "replace", "path": "/a/b/0", "value": 0}],
        [{"op": "move", "from": "/a/b", "path": "/moved"}],
        [{"op": "copy", "from": "/a/b/2", "path": "/list/0"}],
        [{"op": "test", "path": "/a/c~0d", "value": "x"}, {"op": "remove", "path": "/list"}],
        [{"op": "add", "path": "", "value": {"whole": True}}],
    ],
)
def test_apply_patch_agrees_with_jsonpatch(ops: list[dict[str, Any]]) -> None:
    assert apply_patch(DOC, ops) == jsonpatch.apply_patch(DOC, ops)
    assert DOC["a"]["b"] == [1, 2, 3]  # the input is never modified


@pytest.mark.parametrize(
    "ops",
    [
        [{"op": "add", "path": "/missing/x", "value": 1}],
        [{"op": "add", "path": "/a/b/4", "value": 1}],
        [{"op": "add", "path": "/a/b/01", "value": 1}],
        [{"op": "remove", "path": "/a/nope"}],
        [{"op": "replace", "path": "/list/0", "value": 1}],
        [{"op": "test", "path": "/a/c~0d", "value": "other"}],
        [{"op": "frobnicate", "path": "/a"}],
        [{"op": "add", "path": "a", "value": 1}],
    ],
)
def test_apply_patch_rejects_what_jsonpatch_rejects(ops: list[dict[str, Any]]) -> None:
    with pytest.raises(PatchError):
        apply_patch(DOC, ops)
    with pytest.raises((jsonpatch.JsonPatchException, jsonpatch.JsonPointerException, KeyError, IndexError)):
        jsonpatch.apply_patch(DOC, ops)


def test_admit_pod_applies_the_webhook_patch() -> None:
    case = load_case("demo_app_pod_identity")
    pod = case["review"]["request"]["object"]
    accounts = StaticServiceAccounts()
    accounts.put("demo-ns", "demo-sa", {"eks.amazonaws.com/role-arn": "arn:aws:iam::111122223333:role/x"})
    admitted, answer = admit_pod(
        pod,
        "demo-ns",
        WebhookConfig(region="us-west-2"),
        StaticIdentities({("demo-ns", "demo-sa")}),
        accounts,
        rng=LowRandom(),
    )
    assert answer["response"]["allowed"] is True
    assert admitted["metadata"]["labels"]["eks.amazonaws.com/pod-identity"] == "enabled"
    env = {e["name"]: e["value"] for e in admitted["spec"]["containers"][0]["env"]}
    assert env == {
        "AWS_STS_REGIONAL_ENDPOINTS": "regional",
        "AWS_DEFAULT_REGION": "us-west-2",
        "AWS_REGION": "us-west-2",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://169.254.170.23/v1/credentials",
        "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": (
            "/var/run/secrets/pods.eks.amazonaws.com/serviceaccount/eks-pod-identity-token"
        ),
    }
    assert admitted["spec"]["volumes"][0]["projected"]["sources"][0]["serviceAccountToken"] == {
        "audience": "pods.eks.amazonaws.com",
        "expirationSeconds": 79200,
        "path": "eks-pod-identity-token",
    }
    assert_valid_pod(admitted)
    assert "labels" in pod["metadata"]
    assert "eks.amazonaws.com/pod-identity" not in pod["metadata"]["labels"]  # input untouched


def test_admit_pod_without_association_returns_an_equal_copy() -> None:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p"},
        "spec": {"containers": [{"name": "c"}]},
    }
    admitted, answer = admit_pod(pod, "default", WebhookConfig(), StaticIdentities())
    assert admitted == pod
    assert admitted is not pod
    assert answer["response"]["allowed"] is True


def test_admit_pod_malformed_is_denied_with_the_message() -> None:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p"},
        "spec": {"containers": {"name": "c"}},
    }
    with pytest.raises(AdmissionDenied, match=r"spec\.containers must be an array"):
        admit_pod(pod, "default", WebhookConfig(), StaticIdentities({("default", "default")}))


def test_admission_review_shape() -> None:
    review = admission_review_for({"metadata": {"name": "p"}}, "ns", uid="u")
    request = review["request"]
    assert review["apiVersion"] == "admission.k8s.io/v1"
    assert (request["uid"], request["namespace"], request["name"], request["operation"]) == (
        "u",
        "ns",
        "p",
        "CREATE",
    )
