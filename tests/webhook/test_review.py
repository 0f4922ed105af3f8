"""review(): real AdmissionReview JSON in, the expected AdmissionReview response out.

Expected patches are literal JSON (tests/webhook/cases/*.json, or the exact byte strings of the
reference and of the real webhook's test data below); every patch is applied with the `jsonpatch`
library and the result validated as a Kubernetes Pod with `kubernetes-validate` (strict schema).
"""

from __future__ import annotations

import base64
import json
import random
from typing import Any

import jsonpatch
import pytest

from podid.webhook.config import (
    IdentityLookupError,
    StaticIdentities,
    StaticServiceAccounts,
    WebhookConfig,
)
from podid.webhook.mutate import review
from tests.webhook.helpers import LowRandom, apply_and_validate, case_names, load_case


def _run_case(case: dict[str, Any]) -> dict[str, Any]:
    config = WebhookConfig(**case["config"])
    identities = StaticIdentities({(ns, sa) for ns, sa in case["associations"]})
    accounts = StaticServiceAccounts(
        {(sa["metadata"]["namespace"], sa["metadata"]["name"]): sa for sa in case.get("serviceAccounts", [])}
    )
    return review(case["review"], config, identities, accounts, rng=LowRandom())


@pytest.mark.parametrize("name", case_names())
def test_case(name: str) -> None:
    case = load_case(name)
    answer = _run_case(case)
    assert answer["apiVersion"] == "admission.k8s.io/v1"
    assert answer["kind"] == "AdmissionReview"
    response = answer["response"]
    assert response["uid"] == case["review"]["request"]["uid"]
    assert response["allowed"] is case["expected"]["allowed"]
    expected_patch = case["expected"]["patch"]
    if expected_patch is None:
        assert "patch" not in response
        assert "patchType" not in response
        return
    assert response["patchType"] == "JSONPatch"
    assert list(response) == ["uid", "allowed", "patch", "patchType"]  # Go's field order
    patch = json.loads(base64.b64decode(response["patch"]))
    assert patch == expected_patch
    # Key order inside containers follows Go's struct order, so the bytes match as well.
    assert [list(c) for c in _containers(patch)] == [list(c) for c in _containers(expected_patch)]
    apply_and_validate(case["review"]["request"]["object"], patch)


def _containers(patch: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        c for op in patch if op["path"] in ("/spec/containers", "/spec/initContainers") for c in op["value"]
    ]


def _review_of(pod: dict[str, Any], namespace: str = "default", uid: str = "u-1") -> dict[str, Any]:
    return {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": uid,
            "kind": {"group": "", "version": "v1", "kind": "Pod"},
            "resource": {"group": "", "version": "v1", "resource": "pods"},
            "namespace": namespace,
            "operation": "CREATE",
            "object": pod,
        },
    }


RAW_POD_WITHOUT_VOLUMES = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "balajilovesoreos", "annotations": {"testing.eks.amazonaws.com/skip": "false"}},
    "spec": {
        "containers": [{"image": "amazonlinux", "name": "balajilovesoreos"}],
        "serviceAccountName": "default",
    },
}

CUSTOM_FLAGS = WebhookConfig(
    audience="con-creds-aud",
    mount_path="/con-creds-mount-path",
    volume_name="con-creds-volume-name",
    token_path="con-creds-token-path",
    full_uri="con-creds-uri",
    regional_sts=False,
)


def _patch_bytes(answer: dict[str, Any]) -> bytes:
    return base64.b64decode(answer["response"]["patch"])


def test_reference_exact_patch_bytes() -> None:
    """Reference §4.3's exact patch (real test rawPodWithoutVolumes, custom flag values), byte for byte."""
    expected = (
        b'[{"op":"add","path":"/metadata/labels","value":{"eks.amazonaws.com/pod-identity":"enabled"}},'
        b'{"op":"add","path":"/spec/volumes","value":[{"name":"con-creds-volume-name","projected":{"sources":'
        b'[{"serviceAccountToken":{"audience":"con-creds-aud","expirationSeconds":79200,"path":"con-creds-token-path"}}]}}]},'
        b'{"op":"add","path":"/spec/containers","value":[{"name":"balajilovesoreos","image":"amazonlinux","env":'
        b'[{"name":"AWS_CONTAINER_CREDENTIALS_FULL_URI","value":"con-creds-uri"},'
        b'{"name":"AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE","value":"/con-creds-mount-path/con-creds-token-path"}],'
        b'"resources":{},"volumeMounts":[{"name":"con-creds-volume-name","readOnly":true,"mountPath":"/con-creds-mount-path"}]}]}]'
    )
    identities = StaticIdentities({("default", "default")})
    answer = review(_review_of(RAW_POD_WITHOUT_VOLUMES), CUSTOM_FLAGS, identities, rng=LowRandom())
    assert _patch_bytes(answer) == expected
    apply_and_validate(RAW_POD_WITHOUT_VOLUMES, json.loads(expected))


def test_real_test_needs_all_exact_bytes() -> None:
    """The real webhook's rawPodNeedsAll: SA annotations (regional STS, 10000 s) and region cn-north-1."""
    expected = (
        b'[{"op":"add","path":"/metadata/labels","value":{"eks.amazonaws.com/pod-identity":"enabled"}},'
        b'{"op":"add","path":"/spec/volumes","value":[{"name":"con-creds-volume-name","projected":{"sources":'
        b'[{"serviceAccountToken":{"audience":"con-creds-aud","expirationSeconds":10000,"path":"con-creds-token-path"}}]}}]},'
        b'{"op":"add","path":"/spec/containers","value":[{"name":"balajilovesoreos","image":"amazonlinux","env":'
        b'[{"name":"AWS_STS_REGIONAL_ENDPOINTS","value":"regional"},{"name":"AWS_DEFAULT_REGION","value":"cn-north-1"},'
        b'{"name":"AWS_REGION","value":"cn-north-1"},{"name":"AWS_CONTAINER_CREDENTIALS_FULL_URI","value":"con-creds-uri"},'
        b'{"name":"AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE","value":"/con-creds-mount-path/con-creds-token-path"}],'
        b'"resources":{},"volumeMounts":[{"name":"con-creds-volume-name","readOnly":true,"mountPath":"/con-creds-mount-path"}]}]}]'
    )
    config = WebhookConfig(**{**CUSTOM_FLAGS.__dict__, "region": "cn-north-1"})
    accounts = StaticServiceAccounts()
    accounts.put(
        "default",
        "default",
        {"eks.amazonaws.com/sts-regional-endpoints": "true", "eks.amazonaws.com/token-expiration": "10000"},
    )
    identities = StaticIdentities({("default", "default")})
    answer = review(_review_of(RAW_POD_WITHOUT_VOLUMES), config, identities, accounts, rng=LowRandom())
    assert _patch_bytes(answer) == expected


def test_irsa_reference_exact_bytes() -> None:
    """IRSA reference §3.4's exact patch: default flags (no region, regional STS off)."""
    expected = (
        b'[{"op":"add","path":"/spec/volumes","value":[{"name":"aws-iam-token","projected":{"sources":'
        b'[{"serviceAccountToken":{"audience":"sts.amazonaws.com","expirationSeconds":86400,"path":"token"}}]}}]},'
        b'{"op":"add","path":"/spec/containers","value":[{"name":"balajilovesoreos","image":"amazonlinux","env":'
        b'[{"name":"AWS_ROLE_ARN","value":"arn:aws:iam::111122223333:role/s3-reader"},'
        b'{"name":"AWS_WEB_IDENTITY_TOKEN_FILE","value":"/var/run/secrets/eks.amazonaws.com/serviceaccount/token"}],'
        b'"resources":{},"volumeMounts":[{"name":"aws-iam-token","readOnly":true,'
        b'"mountPath":"/var/run/secrets/eks.amazonaws.com/serviceaccount"}]}]}]'
    )
    accounts = StaticServiceAccounts()
    accounts.put(
        "default", "default", {"eks.amazonaws.com/role-arn": "arn:aws:iam::111122223333:role/s3-reader"}
    )
    answer = review(
        _review_of(RAW_POD_WITHOUT_VOLUMES),
        WebhookConfig(regional_sts=False),
        StaticIdentities(),
        accounts,
        rng=LowRandom(),
    )
    assert _patch_bytes(answer) == expected


def test_without_service_account_source_irsa_is_not_applied() -> None:
    case = load_case("irsa_annotation_no_association")
    answer = review(case["review"], WebhookConfig(), StaticIdentities())
    assert answer["response"] == {"uid": "c2d9a4f0-1111-4e6b-8a0d-000000000010", "allowed": True}


def test_jitter_range_with_a_real_rng() -> None:
    identities = StaticIdentities({("default", "default")})
    seen = set()
    rng = random.Random(7)
    for _ in range(200):
        answer = review(_review_of(RAW_POD_WITHOUT_VOLUMES), WebhookConfig(), identities, rng=rng)
        patch = json.loads(_patch_bytes(answer))
        seconds = patch[1]["value"][0]["projected"]["sources"][0]["serviceAccountToken"]["expirationSeconds"]
        assert 79200 <= seconds <= 86400
        seen.add(seconds)
    assert len(seen) > 100  # spread over the interval, not a constant


def test_token_expiration_flag_below_minimum_is_raised() -> None:
    assert WebhookConfig(token_expiration=30).token_expiration == 600


def test_pod_without_service_account_name_uses_default() -> None:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p"},
        "spec": {"containers": [{"name": "c"}]},
    }
    answer = review(
        _review_of(pod), WebhookConfig(), StaticIdentities({("default", "default")}), rng=LowRandom()
    )
    assert answer["response"]["allowed"] is True
    assert "patch" in answer["response"]


def test_pod_without_metadata_gets_an_applicable_label_op() -> None:
    pod = {"spec": {"serviceAccountName": "sa", "containers": [{"name": "a"}]}}
    answer = review(_review_of(pod, "ns"), WebhookConfig(), StaticIdentities({("ns", "sa")}), rng=LowRandom())
    ops = json.loads(_patch_bytes(answer))
    assert ops[0] == {
        "op": "add",
        "path": "/metadata",
        "value": {"labels": {"eks.amazonaws.com/pod-identity": "enabled"}},
    }
    assert jsonpatch.apply_patch(pod, ops)["metadata"] == {
        "labels": {"eks.amazonaws.com/pod-identity": "enabled"}
    }


def test_pod_without_containers_and_no_association_is_admitted_unchanged() -> None:
    answer = review(_review_of({"metadata": {"name": "p"}}, "ns"), WebhookConfig(), StaticIdentities())
    assert answer["response"] == {"uid": "u-1", "allowed": True}


def test_v1beta1_review_is_answered_in_v1beta1() -> None:
    body = _review_of(RAW_POD_WITHOUT_VOLUMES, uid="beta-uid")
    body["apiVersion"] = "admission.k8s.io/v1beta1"
    answer = review(body, WebhookConfig(), StaticIdentities())
    assert answer == {
        "apiVersion": "admission.k8s.io/v1beta1",
        "kind": "AdmissionReview",
        "response": {"uid": "beta-uid", "allowed": True},
    }


class FailingIdentities:
    def has_association(self, namespace: str, service_account: str) -> bool:
        raise IdentityLookupError("EKS API at http://127.0.0.1:1 unreachable")


def test_lookup_failure_admits_unchanged_with_warning() -> None:
    answer = review(_review_of(RAW_POD_WITHOUT_VOLUMES, uid="w"), WebhookConfig(), FailingIdentities())
    response = answer["response"]
    assert response["uid"] == "w"
    assert response["allowed"] is True
    assert "patch" not in response
    assert "unreachable" in response["warnings"][0]


@pytest.mark.parametrize(
    ("body", "uid", "message"),
    [
        ([1, 2], "", "bad content: the AdmissionReview must be a JSON object"),
        (
            {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview"},
            "",
            "the AdmissionReview has no request",
        ),
        (
            {"apiVersion": "v1", "kind": "AdmissionReview", "request": {}},
            "",
            "unsupported AdmissionReview apiVersion",
        ),
        ({"apiVersion": "admission.k8s.io/v1", "kind": "Pod", "request": {}}, "", "unsupported kind 'Pod'"),
        ({"request": {"uid": "x1", "object": "pod"}}, "x1", "request.object must be a JSON object"),
        (
            {"request": {"uid": "x2", "object": {"spec": {"containers": "app"}}}},
            "x2",
            "spec.containers must be an array of containers, got string",
        ),
        (
            {
                "request": {
                    "uid": "x3",
                    "object": {"spec": {"containers": [{"name": "a", "env": [{"name": 5}]}]}},
                }
            },
            "x3",
            "spec.containers[0].env[0].name must be a string",
        ),
        (
            {"request": {"uid": "x4", "object": {"metadata": {"annotations": {"a": 1}}, "spec": {}}}},
            "x4",
            "metadata.annotations must be an object of strings",
        ),
        ({"request": {"uid": "x5", "object": {"spec": []}}}, "x5", "spec must be an object, got array"),
        ({"request": {"uid": "x6", "object": {"metadata": {}}}}, "x6", "spec.containers: Required value"),
        (
            {"request": {"uid": "x7", "object": {"metadata": {}, "spec": {"containers": []}}}},
            "x7",
            "spec.containers: Required value",
        ),
    ],
)
def test_malformed_reviews_get_a_clear_status_message(body: Any, uid: str, message: str) -> None:
    answer = review(body, WebhookConfig(), StaticIdentities({("default", "default")}))
    response = answer["response"]
    assert response["allowed"] is False
    assert response["uid"] == uid
    assert message in response["status"]["message"]
    assert "patch" not in response
