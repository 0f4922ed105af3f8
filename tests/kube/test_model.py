"""Pure helpers: kinds and aliases, names, HumanDuration, label selectors."""

from __future__ import annotations

import random
import re
from datetime import timedelta

import pytest

from podid.kube.model import (
    SelectorError,
    UnknownResourceType,
    human_duration,
    kind_for,
    match_labels_selector,
    matches,
    parse_selector,
    pod_template_hash,
    random_suffix,
    safe_encode,
)


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("pod", "Pod"),
        ("pods", "Pod"),
        ("po", "Pod"),
        ("Pod", "Pod"),
        ("deployment", "Deployment"),
        ("deployments", "Deployment"),
        ("deploy", "Deployment"),
        ("deployment.apps", "Deployment"),
        ("replicaset", "ReplicaSet"),
        ("rs", "ReplicaSet"),
        ("daemonset", "DaemonSet"),
        ("ds", "DaemonSet"),
        ("serviceaccount", "ServiceAccount"),
        ("sa", "ServiceAccount"),
        ("namespace", "Namespace"),
        ("ns", "Namespace"),
        ("cm", "ConfigMap"),
        ("secrets", "Secret"),
        ("no", "Node"),
    ],
)
def test_type_aliases(name: str, kind: str) -> None:
    assert kind_for(name).kind == kind


def test_unknown_type() -> None:
    with pytest.raises(UnknownResourceType, match='the server doesn\'t have a resource type "svc"'):
        kind_for("svc")
    with pytest.raises(UnknownResourceType):
        kind_for("pods.apps")


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (-5, "<invalid>"),
        (0, "0s"),
        (59, "59s"),
        (119, "119s"),
        (120, "2m"),
        (125, "2m5s"),
        (600, "10m"),
        (3 * 3600 - 1, "179m"),
        (3 * 3600, "3h"),
        (3 * 3600 + 60, "3h1m"),
        (8 * 3600, "8h"),
        (47 * 3600, "47h"),
        (48 * 3600, "2d"),
        (49 * 3600, "2d1h"),
        (8 * 86400, "8d"),
        (800 * 86400, "2y70d"),
        (9 * 365 * 86400, "9y"),
    ],
)
def test_human_duration(seconds: int, text: str) -> None:
    assert human_duration(timedelta(seconds=seconds)) == text


def test_generated_names_use_kubernetes_alphabet() -> None:
    rng = random.Random(7)
    suffix = random_suffix(rng)
    assert re.fullmatch("[bcdfghjklmnpqrstvwxz2456789]{5}", suffix)
    # digits map onto "456789bcdf": why real hashes look like 78c6cf97f4
    assert safe_encode("0123456789") == "456789bcdf"
    tmpl = {"metadata": {"labels": {"app": "a"}}, "spec": {"containers": [{"name": "c"}]}}
    value = pod_template_hash(tmpl)
    assert re.fullmatch("[456789bcdf]{1,10}", value)
    assert pod_template_hash(tmpl) == value  # stable
    assert pod_template_hash(tmpl, collision_count=1) != value


def test_selectors() -> None:
    labels = {"app": "web", "tier": "front", "env": "prod"}
    assert matches(parse_selector("app=web"), labels)
    assert matches(parse_selector("app==web,tier"), labels)
    assert not matches(parse_selector("app!=web"), labels)
    assert matches(parse_selector("missing!=x"), labels)  # != matches objects without the label
    assert matches(parse_selector("env in (dev, prod),!canary"), labels)
    assert not matches(parse_selector("env notin (prod)"), labels)
    assert matches(
        parse_selector("app.kubernetes.io/name=eks-pod-identity-agent"),
        {"app.kubernetes.io/name": "eks-pod-identity-agent"},
    )
    with pytest.raises(SelectorError):
        parse_selector("bad key=1")


def test_label_selector_objects() -> None:
    selector = {
        "matchLabels": {"app": "a"},
        "matchExpressions": [
            {"key": "tier", "operator": "In", "values": ["x", "y"]},
            {"key": "gone", "operator": "DoesNotExist"},
        ],
    }
    assert match_labels_selector(selector, {"app": "a", "tier": "x"})
    assert not match_labels_selector(selector, {"app": "a", "tier": "z"})
    assert not match_labels_selector(selector, {"app": "a", "tier": "x", "gone": "1"})
    assert not match_labels_selector({"matchExpressions": [{"key": "k", "operator": "Bogus"}]}, {"k": "v"})
