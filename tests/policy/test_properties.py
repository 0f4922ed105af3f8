"""Property-based tests (hypothesis) of the policy engine's invariants.

- Adding a Deny statement anywhere never turns a denied request into an allowed one, and an
  explicit deny stays explicit.
- Adding an Allow statement to a policy that applies never turns an allowed request into a denied
  one (new policies are added only where a new policy cannot restrict: identity policies).
- A Deny of everything added to any policy that applies to the caller always wins.
- The order of statements within a policy, and of policies within a type, does not matter.
- `explain` reaches the same decision as `evaluate`.
- Wildcard matching (actions, Resource ARNs, StringLike) agrees with reference matchers written
  here independently, as backtracking matchers over the rules the Resource and condition-operator
  pages state, on random patterns full of regex metacharacters.
"""

from __future__ import annotations

import json
import random
import re
from functools import cache
from typing import Any

from hypothesis import HealthCheck, assume, event, given, note, settings
from hypothesis import strategies as st

from podid.policy import EvaluationRequest, MalformedPolicyDocument, PolicySet, compile_policy, evaluate
from podid.policy.evaluate import explain
from podid.policy.wildcard import glob_regex, parse_template, resource_fragments

A = "111122223333"
B = "444455556666"

ACTIONS = [
    "s3:GetObject",
    "s3:PutObject",
    "s3:ListBucket",
    "ec2:RunInstances",
    "sts:AssumeRole",
    "kms:Decrypt",
]
ACTION_PATTERNS = [*ACTIONS, "s3:*", "s3:Get*", "*", "s3:?etObject", "ec2:*", "sts:*", "S3:getobject"]
RESOURCES = [
    "arn:aws:s3:::bucket/key",
    "arn:aws:s3:::bucket",
    "arn:aws:s3:::other/x",
    f"arn:aws:iam::{A}:role/app",
    f"arn:aws:kms:us-west-2:{A}:key/k1",
]
RESOURCE_PATTERNS = [
    "*",
    "arn:aws:s3:::bucket/*",
    "arn:aws:s3:::bucket",
    "arn:aws:s3:::*",
    "arn:aws:s3:::other/*",
    "arn:aws:iam::*:role/app",
    "arn:aws:kms:*:key/*",
    "arn:aws:s3:::bucket/${aws:PrincipalTag/team}",
]
PRINCIPALS = [
    f"arn:aws:sts::{A}:assumed-role/app/s1",
    f"arn:aws:sts::{A}:assumed-role/other/s2",
    f"arn:aws:iam::{A}:user/alice",
    f"arn:aws:iam::{A}:root",
    f"arn:aws:sts::{B}:assumed-role/ext/s",
    f"arn:aws:iam::{B}:user/bob",
    "pods.eks.amazonaws.com",
]
PRINCIPAL_ELEMENTS: list[Any] = [
    "*",
    {"AWS": "*"},
    {"AWS": A},
    {"AWS": f"arn:aws:iam::{B}:root"},
    {"AWS": f"arn:aws:iam::{A}:role/app"},
    {"AWS": f"arn:aws:sts::{A}:assumed-role/app/s1"},
    {"AWS": [f"arn:aws:iam::{A}:user/alice", f"arn:aws:iam::{A}:root"]},
    {"AWS": f"arn:aws:sts::{B}:assumed-role/ext/s"},
    {"Service": "pods.eks.amazonaws.com"},
]
CONDITIONS: list[dict[str, Any]] = [
    {"StringEquals": {"aws:PrincipalTag/team": "a"}},
    {"StringNotEquals": {"aws:PrincipalTag/team": "a"}},
    {"StringEqualsIfExists": {"aws:PrincipalTag/team": ["a", "b"]}},
    {"StringLike": {"s3:prefix": "${aws:PrincipalTag/team}/*"}},
    {"ForAnyValue:StringLike": {"aws:TagKeys": "t*"}},
    {"ForAllValues:StringEquals": {"aws:TagKeys": ["t1", "t2"]}},
    {"Null": {"aws:PrincipalTag/team": "true"}},
    {"Bool": {"aws:SecureTransport": "true"}},
    {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}},
    {"NotIpAddress": {"aws:SourceIp": ["10.0.0.0/8", "2001:db8::/32"]}},
    {"NumericLessThan": {"s3:max-keys": 10}},
    {"DateGreaterThan": {"aws:CurrentTime": "2026-01-01T00:00:00Z"}},
    {"ArnLike": {"aws:PrincipalArn": f"arn:aws:iam::{A}:role/*"}},
    {"StringEquals": {"aws:PrincipalAccount": A}, "BoolIfExists": {"aws:SecureTransport": "true"}},
    {"NoSuchOperator": {"aws:PrincipalTag/team": "a"}},  # unknown: fails closed
]
CONTEXT_VALUES: dict[str, list[Any]] = {
    "aws:PrincipalTag/team": ["a", "b", "c"],
    "s3:prefix": ["a/x", "b/y", "a"],
    "aws:TagKeys": [[], ["t1"], ["t1", "t2"], ["t1", "x"]],
    "aws:SecureTransport": ["true", "false"],
    "aws:SourceIp": ["10.1.2.3", "192.168.1.1", "2001:db8::1"],
    "s3:max-keys": ["5", "50"],
    "aws:CurrentTime": ["2025-06-01T00:00:00Z", "2026-11-28T12:00:00Z"],
    "aws:PrincipalArn": [f"arn:aws:iam::{A}:role/app", f"arn:aws:iam::{A}:user/alice"],
    "aws:PrincipalAccount": [A, B],
}

# kind -> (has Resource, has Principal)
SHAPES: dict[str, tuple[bool, bool]] = {
    "identity": (True, False),
    "boundary": (True, False),
    "session": (True, False),
    "scp": (True, False),
    "rcp": (True, True),
    "resource": (True, True),
    "trust": (False, True),
}
LISTS = ("identity", "boundaries", "session", "scps", "rcps")
LIST_KIND = {
    "identity": "identity",
    "boundaries": "boundary",
    "session": "session",
    "scps": "scp",
    "rcps": "rcp",
}

PolicyDoc = dict[str, Any]
Corpus = dict[str, Any]  # list name -> [PolicyDoc], "resource" -> PolicyDoc | None, "resource_kind"


# Random structures are built from one seeded `random.Random` per example: drawing each choice from
# hypothesis (nested composites, lists) costs ~100 ms an example; this keeps the tests at seconds.
Rnd = random.Random


def make_statement(rnd: Rnd, kind: str, effect: str | None = None) -> dict[str, Any]:
    has_resource, has_principal = SHAPES[kind]
    out: dict[str, Any] = {"Effect": effect or rnd.choice(["Allow", "Deny"])}
    if has_principal:
        # Trust policies take no NotPrincipal; RCPs name `*`.
        negated = kind not in ("rcp", "trust") and rnd.random() < 0.2
        element = "*" if kind == "rcp" else rnd.choice(PRINCIPAL_ELEMENTS)
        out["NotPrincipal" if negated else "Principal"] = (
            {"AWS": A} if negated and element == "*" else element
        )
    actions = ["sts:AssumeRole", "sts:TagSession", "sts:*", "*"] if kind == "trust" else ACTION_PATTERNS
    action_key = "NotAction" if kind != "trust" and rnd.random() < 0.2 else "Action"
    out[action_key] = rnd.sample(actions, rnd.randint(1, 3))
    if has_resource:
        resource_key = "NotResource" if rnd.random() < 0.2 else "Resource"
        out[resource_key] = rnd.sample(RESOURCE_PATTERNS, rnd.randint(1, 3))
    if rnd.random() < 0.35:
        out["Condition"] = rnd.choice(CONDITIONS)
    return out


def make_policy(rnd: Rnd, kind: str, effect: str | None = None) -> PolicyDoc:
    statements = [make_statement(rnd, kind, effect) for _ in range(rnd.randint(1, 4))]
    return {"Version": "2012-10-17", "Statement": statements}


def make_corpus(rnd: Rnd) -> Corpus:
    out: Corpus = {
        name: [make_policy(rnd, LIST_KIND[name]) for _ in range(rnd.randint(0, 2))] for name in LISTS
    }
    kind = rnd.choice(["resource", "trust"])
    out["resource_kind"] = kind
    out["resource"] = make_policy(rnd, kind) if rnd.random() < 0.7 else None
    return out


def make_request(rnd: Rnd) -> EvaluationRequest:
    keys = rnd.sample(sorted(CONTEXT_VALUES), rnd.randint(0, len(CONTEXT_VALUES)))
    return EvaluationRequest(
        principal=rnd.choice(PRINCIPALS),
        action=rnd.choice(ACTIONS),
        resource=rnd.choice(RESOURCES),
        resource_account=rnd.choice([None, A, B]),
        context={k: rnd.choice(CONTEXT_VALUES[k]) for k in keys},
    )


corpora = st.randoms(use_true_random=True).map(make_corpus)
requests = st.randoms(use_true_random=True).map(make_request)
changes = st.randoms(use_true_random=True)


@cache
def _compiled(text: str, kind: Any) -> Any:
    return compile_policy(text, kind, lenient_operators=True)


def policy_set(corpus: Corpus) -> PolicySet:
    def one(doc: PolicyDoc, kind: str) -> Any:
        return _compiled(json.dumps(doc), kind)

    groups = {name: tuple(one(d, LIST_KIND[name]) for d in corpus[name]) for name in LISTS}
    resource = corpus["resource"]
    return PolicySet(
        resource=None if resource is None else one(resource, corpus["resource_kind"]),
        **groups,
    )


def decide(request: EvaluationRequest, corpus: Corpus) -> str:
    return evaluate(request, policy_set(corpus)).decision


def _targets(corpus: Corpus) -> list[tuple[str, int]]:
    """Every existing policy: (list name or "resource", index)."""
    out = [(name, i) for name in LISTS for i in range(len(corpus[name]))]
    if corpus["resource"] is not None:
        out.append(("resource", 0))
    return out


def _with_statement(corpus: Corpus, target: tuple[str, int], stmt: dict[str, Any], at: int) -> Corpus:
    new = {k: (list(v) if isinstance(v, list) else v) for k, v in corpus.items()}
    name, index = target
    doc = corpus["resource"] if name == "resource" else corpus[name][index]
    statements = list(doc["Statement"])
    statements.insert(at % (len(statements) + 1), stmt)
    changed = {**doc, "Statement": statements}
    if name == "resource":
        new["resource"] = changed
    else:
        new[name][index] = changed
    return new


def _kind_of(corpus: Corpus, name: str) -> str:
    return str(corpus["resource_kind"]) if name == "resource" else LIST_KIND[name]


def _with_added(corpus: Corpus, rnd: Rnd, effect: str) -> Corpus:
    """The corpus with one more statement of `effect`: in an existing policy of any type, or in a new
    identity policy (a new boundary, session policy or SCP could restrict: not monotonic)."""
    targets = _targets(corpus)
    if not targets or rnd.random() < 0.3:
        return {**corpus, "identity": [*corpus["identity"], make_policy(rnd, "identity", effect)]}
    target = rnd.choice(targets)
    stmt = make_statement(rnd, _kind_of(corpus, target[0]), effect)
    return _with_statement(corpus, target, stmt, rnd.randint(0, 5))


SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(corpora, requests, changes)
def test_adding_a_deny_never_allows(corpus: Corpus, request: EvaluationRequest, rnd: Rnd) -> None:
    before = decide(request, corpus)
    after_corpus = _with_added(corpus, rnd, "Deny")
    note(f"after: {after_corpus}")
    after = decide(request, after_corpus)
    if before != "Allowed":
        assert after != "Allowed", (before, after)
    if before == "ExplicitlyDenied":
        assert after == "ExplicitlyDenied"


@SETTINGS
@given(corpora, requests, changes)
def test_adding_an_allow_never_denies(corpus: Corpus, request: EvaluationRequest, rnd: Rnd) -> None:
    before = decide(request, corpus)
    after_corpus = _with_added(corpus, rnd, "Allow")
    note(f"after: {after_corpus}")
    after = decide(request, after_corpus)
    if before == "Allowed":
        assert after == "Allowed", (before, after)
    if before == "ExplicitlyDenied":
        assert after == "ExplicitlyDenied"


def _deny_all(kind: str) -> dict[str, Any]:
    has_resource, has_principal = SHAPES[kind]
    out: dict[str, Any] = {"Effect": "Deny", "Action": "*"}
    if has_resource:
        out["Resource"] = "*"
    if has_principal:
        out["Principal"] = "*"
    return out


@SETTINGS
@given(corpora, requests, changes)
def test_an_applicable_explicit_deny_always_wins(
    corpus: Corpus, request: EvaluationRequest, rnd: Rnd
) -> None:
    service = "." in request.principal and not request.principal.startswith("arn:")
    # Identity-side policies and SCPs do not apply to AWS service principals.
    targets = [t for t in _targets(corpus) if not (service and t[0] not in ("resource", "rcps"))]
    assume(targets)
    target = rnd.choice(targets)
    stmt = _deny_all(_kind_of(corpus, target[0]))
    after = decide(request, _with_statement(corpus, target, stmt, rnd.randint(0, 5)))
    assert after == "ExplicitlyDenied"


@SETTINGS
@given(corpora, requests, changes)
def test_order_of_statements_and_policies_is_irrelevant(
    corpus: Corpus, request: EvaluationRequest, rnd: Any
) -> None:
    def shuffled_doc(doc: PolicyDoc) -> PolicyDoc:
        statements = list(doc["Statement"])
        rnd.shuffle(statements)
        return {**doc, "Statement": statements}

    shuffled: Corpus = dict(corpus)
    for name in LISTS:
        docs = [shuffled_doc(d) for d in corpus[name]]
        rnd.shuffle(docs)
        shuffled[name] = docs
    if corpus["resource"] is not None:
        shuffled["resource"] = shuffled_doc(corpus["resource"])
    assert decide(request, shuffled) == decide(request, corpus)


@SETTINGS
@given(corpora, requests)
def test_explain_agrees_with_evaluate(corpus: Corpus, request: EvaluationRequest) -> None:
    policies = policy_set(corpus)
    fast = evaluate(request, policies)
    traced = explain(request, policies)
    assert traced.decision == fast.decision
    assert traced.deciding == fast.deciding
    assert traced.explanation["decision"] == fast.decision
    assert fast.explanation == traced.explanation


# --- wildcard matching against reference matchers ------------------------------------------------


def reference_glob(pattern: str, text: str) -> bool:
    """`*` any run (colons included), `?` exactly one character, everything else literal."""

    @cache
    def m(i: int, j: int) -> bool:
        if i == len(pattern):
            return j == len(text)
        c = pattern[i]
        if c == "*":
            return m(i + 1, j) or (j < len(text) and m(i, j + 1))
        if j < len(text) and (c == "?" or c == text[j]):
            return m(i + 1, j + 1)
        return False

    return m(0, 0)


def reference_arn(pattern: str, text: str) -> bool:
    """The Resource element's rules: in the first five colon-separated parts of the pattern, `*` and
    `?` do not match `:`, except a `*` that ends its part (followed by `:` or the end), which may
    run across colons; after the pattern's fifth colon (the resource id) they match anything."""

    @cache
    def m(i: int, j: int, part: int) -> bool:
        if i == len(pattern):
            return j == len(text)
        c = pattern[i]
        if c == "*":
            free = part >= 5 or i + 1 == len(pattern) or pattern[i + 1] == ":"
            if m(i + 1, j, part):
                return True
            return j < len(text) and (free or text[j] != ":") and m(i, j + 1, part)
        if c == "?":
            return j < len(text) and (part >= 5 or text[j] != ":") and m(i + 1, j + 1, part)
        return j < len(text) and text[j] == c and m(i + 1, j + 1, part + (c == ":"))

    return m(0, 0, 0)


ALPHABET = "ab:/*?.+()[]{}^$|\\"
TEXT_ALPHABET = "ab:/.+()[]{}^$|\\*?"
patterns = st.text(alphabet=ALPHABET, max_size=12)
texts = st.text(alphabet=TEXT_ALPHABET, max_size=12)


@st.composite
def pattern_and_text(draw: st.DrawFn, pattern_strategy: st.SearchStrategy[str]) -> tuple[str, str]:
    """A pattern and a text that often matches it: the pattern with its wildcards filled in."""
    pattern = draw(pattern_strategy)
    if draw(st.booleans()):
        return pattern, draw(texts)
    out = []
    for ch in pattern:
        if ch == "*":
            out.append(draw(st.text(alphabet="ab:/.", max_size=4)))
        elif ch == "?":
            out.append(draw(st.sampled_from("ab:/.")))
        else:
            out.append(ch)
    return pattern, "".join(out)


@settings(max_examples=600, deadline=None)
@given(pattern_and_text(patterns))
def test_glob_agrees_with_reference(case: tuple[str, str]) -> None:
    pattern, text = case
    got = re.fullmatch(glob_regex(pattern), text, re.DOTALL) is not None
    assert got == reference_glob(pattern, text)


@settings(max_examples=600, deadline=None)
@given(pattern_and_text(patterns))
def test_resource_fragments_agree_with_reference(case: tuple[str, str]) -> None:
    pattern, text = case
    assume("${" not in pattern)
    fragments = resource_fragments(parse_template(pattern))
    regex = "".join(f for f in fragments if isinstance(f, str))
    got = re.fullmatch(regex, text, re.DOTALL) is not None
    assert got == reference_arn(pattern, text)


arn_patterns = st.builds(lambda tail: "arn:aws:s3:" + tail, st.text(alphabet="ab:/*?.+$", max_size=12))


def _allows(doc: dict[str, Any], action: str, resource: str, context: dict[str, Any] | None = None) -> bool:
    try:
        compiled = compile_policy(json.dumps(doc), "identity")
    except MalformedPolicyDocument:
        assume(False)
        raise
    request = EvaluationRequest(f"arn:aws:iam::{A}:user/alice", action, resource, A, context or {})
    return evaluate(request, PolicySet(identity=(compiled,))).allowed


@settings(max_examples=300, deadline=None)
@given(pattern_and_text(arn_patterns))
def test_engine_resource_matching_agrees_with_reference(case: tuple[str, str]) -> None:
    pattern, text = case
    doc = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": pattern}],
    }
    assert _allows(doc, "s3:GetObject", text) == (pattern == "*" or reference_arn(pattern, text))


action_patterns = st.builds(
    lambda a, b: f"{a}:{b}", st.text("sS3*?", min_size=1, max_size=3), st.text("gGeEtT*?", max_size=6)
)


@settings(max_examples=300, deadline=None)
@given(action_patterns, st.sampled_from(["s3:GetObject", "s3:Get", "S3:gettt", "ss3:e", "s:", "s3:"]))
def test_engine_action_matching_agrees_with_reference(pattern: str, action: str) -> None:
    doc = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": pattern, "Resource": "*"}]}
    assume(action.partition(":")[2] != "" and pattern.partition(":")[2] != "")
    assert _allows(doc, action, "*") == reference_glob(pattern.lower(), action.lower())


@settings(max_examples=300, deadline=None)
@given(pattern_and_text(patterns))
def test_string_like_agrees_with_reference(case: tuple[str, str]) -> None:
    pattern, text = case
    assume("${" not in pattern)
    doc = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "s3:GetObject",
                "Resource": "*",
                "Condition": {"StringLike": {"s3:prefix": pattern}},
            }
        ],
    }
    assert _allows(doc, "s3:GetObject", "*", {"s3:prefix": text}) == reference_glob(pattern, text)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=TEXT_ALPHABET, min_size=1, max_size=10), texts)
def test_variable_values_are_literal_text(value: str, other: str) -> None:
    """A variable's value never acts as a wildcard or a regex: it matches itself only."""
    doc = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/${aws:PrincipalTag/p}"}
        ],
    }
    context = {"aws:PrincipalTag/p": value}
    assert _allows(doc, "s3:GetObject", f"arn:aws:s3:::b/{value}", context)
    assert _allows(doc, "s3:GetObject", f"arn:aws:s3:::b/{other}", context) == (other == value)


# --- robustness: any document is a policy or IAM's error, never another exception ---------------

_ODD_VALUES: list[Any] = [
    None,
    True,
    0,
    1.5,
    "",
    "*",
    "Allow",
    "allow",
    "s3:*",
    "s3",
    "a:b:c",
    "arn:aws:s3:::b/*",
    "arn:x",
    "arn:aws:iam::111122223333:root",
    "111122223333",
    "${aws:username}",
    "2012-10-17",
    "2008-10-17",
    "not-a-date",
    "999.1.1.1/8",
    [],
    [None],
    ["*", 1],
    {},
    {"AWS": []},
    {"x": "y"},
    {"StringEquals": {}},
    {"ForAllValues:Null": {"aws:x": "true"}},
    {"DateLessThan": {"aws:CurrentTime": "1700000000"}},
]
_ODD_KEYS = [
    "Sid",
    "Effect",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Principal",
    "NotPrincipal",
    "Condition",
    "Version",
    "Id",
    "Statement",
    "x",
]


def _mutate(node: Any, rnd: Rnd) -> Any:
    """One random change somewhere in a JSON document: replace a value, drop or add a key."""
    if isinstance(node, dict) and node and rnd.random() < 0.9:
        key = rnd.choice(sorted(node))
        out = dict(node)
        choice = rnd.random()
        if choice < 0.2:
            del out[key]
        elif choice < 0.35:
            out[rnd.choice(_ODD_KEYS)] = rnd.choice(_ODD_VALUES)
        else:
            out[key] = _mutate(node[key], rnd)
        return out
    if isinstance(node, list) and node and rnd.random() < 0.9:
        i = rnd.randrange(len(node))
        return [*node[:i], _mutate(node[i], rnd), *node[i + 1 :]]
    return rnd.choice(_ODD_VALUES)


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(sorted(SHAPES)), changes, requests)
def test_any_document_is_a_policy_or_iams_error(kind: Any, rnd: Rnd, request: EvaluationRequest) -> None:
    from podid.policy import PolicySizeExceeded

    doc: Any = make_policy(rnd, kind)
    for _ in range(rnd.randint(0, 2)):
        doc = _mutate(doc, rnd)
    try:
        compiled = compile_policy(json.dumps(doc), kind, lenient_operators=rnd.random() < 0.5)
    except (MalformedPolicyDocument, PolicySizeExceeded) as err:
        refused: MalformedPolicyDocument | PolicySizeExceeded | None = err
    else:
        refused = None
    if refused is not None:
        assert refused.message  # IAM's message, never empty
        event(f"refused: {refused.message[:30]}")
        return
    event("parsed")
    # Whatever parsed evaluates without raising, in every position it can take.
    one = (compiled,)
    policies = {
        "identity": PolicySet(identity=one),
        "boundary": PolicySet(boundaries=one),
        "session": PolicySet(session=one),
        "scp": PolicySet(scps=one),
        "rcp": PolicySet(rcps=one),
    }.get(kind, PolicySet(resource=compiled))
    decision = explain(request, policies)
    assert decision.decision in ("Allowed", "ExplicitlyDenied", "ImplicitlyDenied")


def _as_case(corpus: Corpus, request: EvaluationRequest) -> dict[str, Any]:
    case: dict[str, Any] = {
        "request": {
            "principal": request.principal,
            "action": request.action,
            "resource": request.resource,
            "resourceAccount": request.resource_account,
            "context": dict(request.context),
        },
        "identityPolicies": corpus["identity"],
        "permissionBoundaries": corpus["boundaries"],
        "sessionPolicies": corpus["session"],
        "serviceControlPolicies": corpus["scps"],
        "resourceControlPolicies": corpus["rcps"],
    }
    if corpus["resource"] is not None:
        case["resourcePolicy"] = corpus["resource"]
    return case


@settings(max_examples=300, deadline=None)
@given(corpora, requests, changes)
def test_any_simulator_case_is_decided_or_a_case_error(
    corpus: Corpus, request: EvaluationRequest, rnd: Rnd
) -> None:
    from podid.policy.simulate import CaseError, simulate_case

    case: Any = _as_case(corpus, request)
    for _ in range(rnd.randint(0, 2)):
        case = _mutate(case, rnd)
    try:
        result = simulate_case(case)
    except CaseError as err:
        problem = str(err)
    else:
        problem = ""
    if problem:
        event("case error")
        return
    event("decided")
    assert result["decision"] in ("Allowed", "ExplicitlyDenied", "ImplicitlyDenied")
    json.dumps(result)  # the output is JSON
