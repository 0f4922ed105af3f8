"""Whatever JSON arrives, review() answers with an AdmissionReview and never raises; any patch applies."""

from __future__ import annotations

import base64
import json
from typing import Any

import jsonpatch
import kubernetes_validate  # type: ignore[import-untyped]
from hypothesis import given, settings
from hypothesis import strategies as st

from podid.webhook.config import StaticIdentities, StaticServiceAccounts, WebhookConfig
from podid.webhook.mutate import review
from tests.webhook.helpers import K8S_VERSION, LowRandom

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3)
    ),
    max_leaves=12,
)
names = st.sampled_from(["app", "sidecar", "eks-pod-identity-token", "AWS_REGION", "AWS_ROLE_ARN", ""])


def mostly(valid: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """The valid shape three times out of four, arbitrary JSON otherwise."""
    return st.one_of(valid, valid, valid, json_values)


env_entry = st.fixed_dictionaries({"name": names}, optional={"value": st.text(max_size=4)})
mount = st.fixed_dictionaries({"name": names}, optional={"mountPath": st.text(max_size=4)})
container = st.fixed_dictionaries(
    {"name": names},
    optional={"env": mostly(st.lists(env_entry, max_size=3)), "volumeMounts": st.lists(mount, max_size=2)},
)
metadata = st.fixed_dictionaries(
    {},
    optional={
        "labels": st.none() | st.dictionaries(st.text(max_size=5), st.text(max_size=3), max_size=2),
        "annotations": st.dictionaries(
            st.sampled_from(["eks.amazonaws.com/skip-containers", "eks.amazonaws.com/token-expiration"]),
            st.text(max_size=6),
        ),
    },
)
spec = st.fixed_dictionaries(
    {"serviceAccountName": mostly(st.sampled_from(["sa", "irsa", "none"]))},
    optional={
        "containers": mostly(st.lists(container, min_size=1, max_size=3)),
        "initContainers": st.lists(container, max_size=2),
        "volumes": st.none() | st.lists(st.fixed_dictionaries({"name": names}), max_size=2) | json_values,
        "nodeSelector": st.dictionaries(st.just("kubernetes.io/os"), st.sampled_from(["linux", "windows"])),
    },
)
pod = st.fixed_dictionaries({}, optional={"metadata": st.none() | mostly(metadata), "spec": mostly(spec)})
reviews = mostly(
    st.fixed_dictionaries(
        {
            "request": st.fixed_dictionaries(
                {"uid": st.text(max_size=5), "namespace": st.just("ns"), "object": pod}
            )
        },
        optional={"apiVersion": st.just("admission.k8s.io/v1"), "kind": st.just("AdmissionReview")},
    )
)

ACCOUNTS = StaticServiceAccounts()
ACCOUNTS.put("ns", "irsa", {"eks.amazonaws.com/role-arn": "arn:aws:iam::111122223333:role/r"})


@settings(max_examples=300, deadline=None)
@given(reviews)
def test_review_never_raises_and_patches_apply(body: Any) -> None:
    answer = review(
        body, WebhookConfig(region="r"), StaticIdentities({("ns", "sa")}), ACCOUNTS, rng=LowRandom()
    )
    assert answer["kind"] == "AdmissionReview"
    response = answer["response"]
    assert isinstance(response["allowed"], bool)
    if not response["allowed"]:
        assert response["status"]["message"]
    if "patch" in response:
        ops = json.loads(base64.b64decode(response["patch"]))
        jsonpatch.apply_patch(body["request"]["object"], ops)


valid_container = st.fixed_dictionaries(
    {"name": st.sampled_from(["app", "sidecar", "init"]), "image": st.just("busybox")},
    optional={
        "env": st.lists(
            st.fixed_dictionaries(
                {
                    "name": st.sampled_from(
                        ["AWS_REGION", "AWS_ROLE_ARN", "AWS_CONTAINER_CREDENTIALS_FULL_URI", "X"]
                    )
                },
                optional={"value": st.text(max_size=4)},
            ),
            max_size=3,
        ),
        "volumeMounts": st.lists(
            st.fixed_dictionaries(
                {
                    "name": st.sampled_from(["eks-pod-identity-token", "aws-iam-token", "data"]),
                    "mountPath": st.just("/m"),
                }
            ),
            max_size=1,
        ),
    },
)
valid_pod = st.fixed_dictionaries(
    {
        "apiVersion": st.just("v1"),
        "kind": st.just("Pod"),
        "metadata": st.fixed_dictionaries(
            {"name": st.just("p")},
            optional={
                "labels": st.dictionaries(st.sampled_from(["app", "tier"]), st.just("x"), max_size=2),
                "annotations": st.dictionaries(
                    st.sampled_from(
                        ["eks.amazonaws.com/skip-containers", "eks.amazonaws.com/token-expiration"]
                    ),
                    st.sampled_from(["app", "sidecar,init", "0", "3600", "86400", "x"]),
                ),
            },
        ),
        "spec": st.fixed_dictionaries(
            {
                "serviceAccountName": st.sampled_from(["sa", "irsa", "none"]),
                "containers": st.lists(valid_container, min_size=1, max_size=2),
            },
            optional={
                "initContainers": st.lists(valid_container, max_size=1),
                "volumes": st.lists(
                    st.fixed_dictionaries(
                        {"name": st.sampled_from(["data", "eks-pod-identity-token"]), "emptyDir": st.just({})}
                    ),
                    max_size=1,
                ),
                "nodeSelector": st.dictionaries(
                    st.just("kubernetes.io/os"), st.sampled_from(["linux", "windows"])
                ),
            },
        ),
    }
)


@settings(max_examples=40, deadline=None)
@given(valid_pod)
def test_schema_valid_pods_stay_schema_valid(pod_object: dict[str, Any]) -> None:
    body = {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {"uid": "u", "namespace": "ns", "object": pod_object},
    }
    answer = review(
        body, WebhookConfig(region="r"), StaticIdentities({("ns", "sa")}), ACCOUNTS, rng=LowRandom()
    )
    response = answer["response"]
    assert response["allowed"] is True
    if pod_object["spec"]["serviceAccountName"] == "none":
        assert "patch" not in response
        return
    ops = json.loads(base64.b64decode(response["patch"]))
    patched = jsonpatch.apply_patch(pod_object, ops)
    kubernetes_validate.validate(patched, K8S_VERSION, strict=True)
    pod_identity = pod_object["spec"]["serviceAccountName"] == "sa"
    labels = patched["metadata"].get("labels", {})
    assert (labels.get("eks.amazonaws.com/pod-identity") == "enabled") is pod_identity
