"""Policy evaluation as AWS documents it ("Policy evaluation logic" in the IAM User Guide).

`evaluate(request, policies)` is pure: it reads an `EvaluationRequest` (principal, action, resource,
accounts, the request context exactly as given) and a `PolicySet`, and returns a `Decision`:

1. `sts:GetCallerIdentity` is always allowed, even under an explicit Deny (STS documents this).
2. An applicable Deny in any policy (SCP, RCP, resource-based, identity-based, permissions boundary,
   session policy) gives `ExplicitlyDenied`. A statement that does not match is not applicable, never
   a deny. A Deny whose condition uses an unknown operator applies (fail closed); an Allow with one
   does not.
3. SCPs (the principal's account; never for AWS service principals): at least one must allow.
   RCPs (the resource's account): `RCPFullAWSAccess` is implicit, only their Denies count.
4. Same account (`resource_account` absent or equal to the principal's account): a role trust
   policy or a KMS key policy must allow the caller (naming it, its role or its account) even then;
   allowed when
   - a resource-based policy names the caller directly (user, session, `*`): not limited by
     boundaries or session policies;
   - a resource-based policy names the caller's role (for a session) or a role caller by its ARN,
     and every boundary and session policy level allows too;
   - an identity-based policy allows and every boundary and session policy level allows.
   A resource-based policy that names only the account delegates to identity policies.
5. Cross account: an identity-based policy (within boundaries and session policies) and a
   resource-based policy naming the caller, its role or its account must both allow.
6. AWS service principals have no identity policies: the resource (trust) policy alone decides.
7. The root user of an account has every permission of its account: identity policies, boundaries and
   session policies do not limit it (SCPs and explicit denies still do).

The explanation (`Decision.explanation`) is computed on demand by a second, traced pass, so the hot
path pays nothing for it; `explain` computes decision and explanation in one traced pass, for callers
that always want both (the simulator).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal

from podid.policy.document import Policy, Statement
from podid.policy.principals import Caller, MatchKind, parse_caller
from podid.policy.wildcard import ContextValue

DecisionValue = Literal["Allowed", "ExplicitlyDenied", "ImplicitlyDenied"]
_EMPTY: Mapping[str, ContextValue] = {}
_RANK: dict[str, int] = {"account": 0, "role": 1, "wildcard": 2, "direct": 3}


@dataclass(frozen=True, slots=True)
class EvaluationRequest:
    """What is asked: who (principal), what (action), on what (resource), in which context."""

    principal: str
    action: str
    resource: str
    resource_account: str | None = None
    context: Mapping[str, str | Sequence[str]] = field(default_factory=dict)
    principal_account: str | None = None  # derived from the principal ARN when None


@dataclass(frozen=True, slots=True)
class PolicySet:
    """Every policy that applies to a request, by type."""

    identity: Sequence[Policy] = ()
    resource: Policy | None = None
    boundaries: Sequence[Policy] = ()
    session: Sequence[Policy] = ()
    scps: Sequence[Policy] = ()
    rcps: Sequence[Policy] = ()


@dataclass(frozen=True, eq=False)
class Decision:
    """The outcome. `deciding` names the policy type that decided ("identity", "resource",
    "boundary", "session", "scp", "rcp", or "always" for sts:GetCallerIdentity)."""

    decision: DecisionValue
    deciding: str
    request: EvaluationRequest = field(repr=False)
    policies: PolicySet = field(repr=False)

    @property
    def allowed(self) -> bool:
        return self.decision == "Allowed"

    @property
    def reason(self) -> str:
        """AWS's reason phrase, e.g. `because no identity-based policy allows the s3:X action`."""
        from podid.policy.messages import reason_phrase

        return reason_phrase(self.decision, self.deciding, self.request.action)

    @cached_property
    def explanation(self) -> dict[str, Any]:
        trace = _Trace()
        return trace.explanation(_run(self.request, self.policies, trace))


class _Trace:
    """What the traced pass records for the explanation."""

    def __init__(self) -> None:
        self.matched: list[dict[str, Any]] = []
        self.not_applicable: list[dict[str, Any]] = []
        self.errors: list[dict[str, Any]] = []
        self.ignored: list[str] = []
        self.principal: dict[str, Any] = {}
        self.same_account: bool | None = None

    def explanation(self, decision: Decision) -> dict[str, Any]:
        out: dict[str, Any] = {
            "decision": decision.decision,
            "deciding": decision.deciding,
            "reason": decision.reason,
            "principal": self.principal,
            "sameAccount": self.same_account,
            "matchedStatements": self.matched,
            "notApplicable": self.not_applicable,
        }
        if self.ignored:
            out["notConsidered"] = self.ignored
        if self.errors:
            out["errors"] = self.errors
        return out

    def record(
        self,
        ptype: str,
        pindex: int,
        st: Statement,
        why_not: str | None,
        detail: dict[str, Any] | None,
        match: MatchKind | None,
    ) -> None:
        entry: dict[str, Any] = {
            "policyType": ptype,
            "policyIndex": pindex,
            "statementIndex": st.index,
            "sid": st.sid,
            "effect": st.effect,
        }
        if why_not is None:
            if match is not None:
                entry["principalMatch"] = match
            self.matched.append(entry)
        else:
            entry["reason"] = why_not
            if detail:
                entry["detail"] = detail
            self.not_applicable.append(entry)


class _Eval:
    """Per-request state shared by the statement checks."""

    __slots__ = ("action", "caller", "context", "has_boundary", "resource")

    def __init__(
        self, action: str, resource: str, caller: Caller, context: Mapping[str, ContextValue]
    ) -> None:
        self.action = action
        self.resource = resource
        self.caller = caller
        self.context = context
        self.has_boundary = False


def _check(
    st: Statement, ev: _Eval, trace: _Trace | None
) -> tuple[str | None, dict[str, Any] | None, MatchKind | None]:
    """Why the statement does not apply (None when it applies), a detail, how the principal matched."""
    if not st.action.matches(ev.action):
        return "action", None, None
    if st.resource is not None and not st.resource.matches(ev.resource, ev.context):
        return "resource", None, None
    match: MatchKind | None = None
    if st.principal is not None:
        match = st.principal.match(ev.caller)
        # NotPrincipal + Deny always denies a principal with a permissions boundary (NotPrincipal page).
        if match is None and st.principal.negated and not st.allow and ev.has_boundary:
            match = "wildcard"
        if match is None:
            return "principal", None, None
    for cond in st.conditions:
        result = cond.evaluate(ev.context)
        if result is None:
            if trace is not None:
                trace.errors.append(
                    {
                        "statementIndex": st.index,
                        "sid": st.sid,
                        "operator": cond.operator.name,
                        "message": f"unknown condition operator {cond.operator.name}: fails closed",
                    }
                )
            if st.allow:
                return (
                    "condition",
                    {"operator": cond.operator.name, "key": cond.key, "unknownOperator": True},
                    None,
                )
            continue  # a Deny with an unknown operator applies: fail closed
        if not result:
            return "condition", {"operator": cond.operator.name, "key": cond.key}, None
    return None, None, match


def _scan(
    policy: Policy, ptype: str, pindex: int, ev: _Eval, trace: _Trace | None
) -> tuple[bool, bool, MatchKind | None]:
    """(some Allow applies, some Deny applies, best principal match of the applicable Allows)."""
    allow = False
    deny = False
    best: MatchKind | None = None
    candidates = policy.candidates(ev.action)
    if trace is not None:
        seen = {st.index for st in candidates}
        for st in policy.statements:
            if st.index not in seen:
                trace.record(ptype, pindex, st, "action", None, None)
    for st in candidates:
        why_not, detail, match = _check(st, ev, trace)
        if trace is not None:
            trace.record(ptype, pindex, st, why_not, detail, match)
        if why_not is not None:
            continue
        if st.allow:
            allow = True
            if match is not None and (best is None or _RANK[match] > _RANK[best]):
                best = match
        else:
            deny = True
            if trace is None:
                break
    return allow, deny, best


def _lower(context: Mapping[str, ContextValue]) -> Mapping[str, ContextValue]:
    if not context:
        return _EMPTY
    return {k.lower(): v for k, v in context.items()}


def evaluate(request: EvaluationRequest, policies: PolicySet) -> Decision:
    """Decide a request against the policies that apply to it (see the module docstring)."""
    return _run(request, policies, None)


def _must_name_caller(resource: Policy | None, action: str) -> bool:
    """Role trust policies and KMS key policies must allow the caller (or its account) even in the
    same account: an identity policy alone is not enough (IAM User Guide, "Policy evaluation for
    requests within a single account")."""
    return resource is not None and (resource.kind == "trust" or action.startswith("kms:"))


def explain(request: EvaluationRequest, policies: PolicySet) -> Decision:
    """`evaluate`, with the explanation computed in the same (traced) pass.

    For callers that always want the explanation (the simulator): one pass instead of two. The
    traced pass reaches the same decision as the untraced one (it only goes on after a deny to
    record every statement).
    """
    trace = _Trace()
    decision = _run(request, policies, trace)
    # `explanation` is a cached_property: filling its slot in the instance dict is how it caches.
    decision.__dict__["explanation"] = trace.explanation(decision)
    return decision


def _run(request: EvaluationRequest, policies: PolicySet, trace: _Trace | None) -> Decision:
    action = request.action.lower()

    def done(value: DecisionValue, deciding: str) -> Decision:
        return Decision(value, deciding, request, policies)

    caller = parse_caller(request.principal)
    principal_account = request.principal_account or caller.account
    resource_account = request.resource_account or principal_account
    same_account = resource_account == principal_account
    is_service = caller.kind == "service"
    is_root = caller.kind == "root"
    if trace is not None:
        trace.principal = {"arn": request.principal, "kind": caller.kind, "account": principal_account}
        trace.same_account = same_account
    if action == "sts:getcalleridentity":
        return done("Allowed", "always")
    ev = _Eval(action, request.resource, caller, _lower(request.context))
    ev.has_boundary = bool(policies.boundaries) and not is_service and not is_root

    deny_in: str | None = None

    def note_deny(ptype: str) -> None:
        nonlocal deny_in
        if deny_in is None:
            deny_in = ptype

    def scan_all(ptype: str, group: Sequence[Policy]) -> tuple[bool, bool]:
        """(an Allow applies in some policy of the group, a Deny has applied so far)."""
        any_allow = False
        for i, p in enumerate(group):
            allow, deny, _ = _scan(p, ptype, i, ev, trace)
            any_allow = any_allow or allow
            if deny:
                note_deny(ptype)
                if trace is None:
                    return any_allow, True
        return any_allow, deny_in is not None

    # The order here is the order in which a deny is reported when several policy types deny.
    scp_allow = True
    if policies.scps:
        if is_service:
            if trace is not None:
                trace.ignored.append("serviceControlPolicies: SCPs do not apply to AWS service principals")
        else:
            scp_allow, stop = scan_all("scp", policies.scps)
            if stop and trace is None:
                return done("ExplicitlyDenied", "scp")
    if policies.rcps:
        _, stop = scan_all("rcp", policies.rcps)
        if stop and trace is None:
            return done("ExplicitlyDenied", deny_in or "rcp")
    res_match: MatchKind | None = None
    if policies.resource is not None:
        allow, deny, res_match = _scan(policies.resource, "resource", 0, ev, trace)
        if not allow:
            res_match = None
        if deny:
            note_deny("resource")
            if trace is None:
                return done("ExplicitlyDenied", deny_in or "resource")
    identity_allow = is_root
    boundary_ok = True
    session_ok = True
    if is_service:
        if trace is not None and (policies.identity or policies.boundaries or policies.session):
            trace.ignored.append("identity, boundary and session policies: an AWS service principal has none")
    else:
        if policies.identity:
            allow, stop = scan_all("identity", policies.identity)
            identity_allow = identity_allow or allow
            if stop and trace is None:
                return done("ExplicitlyDenied", deny_in or "identity")
        if policies.boundaries:
            allow, stop = scan_all("boundary", policies.boundaries)
            boundary_ok = allow or is_root
            if stop and trace is None:
                return done("ExplicitlyDenied", deny_in or "boundary")
        if policies.session:
            allow, stop = scan_all("session", policies.session)
            session_ok = allow or is_root
            if stop and trace is None:
                return done("ExplicitlyDenied", deny_in or "session")
    if deny_in is not None:
        return done("ExplicitlyDenied", deny_in)
    if not scp_allow:
        return done("ImplicitlyDenied", "scp")
    if is_service:
        return done("Allowed", "resource") if res_match is not None else done("ImplicitlyDenied", "resource")
    within = boundary_ok and session_ok
    if same_account:
        if res_match in ("direct", "wildcard"):
            return done("Allowed", "resource")
        if res_match == "role" and within:
            return done("Allowed", "resource")
        if res_match is None and _must_name_caller(policies.resource, action):
            return done("ImplicitlyDenied", "resource")
        if identity_allow and within:
            return done("Allowed", "identity")
        if identity_allow or res_match == "role":
            return done("ImplicitlyDenied", "boundary" if not boundary_ok else "session")
        return done("ImplicitlyDenied", "identity")
    if not identity_allow:
        return done("ImplicitlyDenied", "identity")
    if not boundary_ok:
        return done("ImplicitlyDenied", "boundary")
    if not session_ok:
        return done("ImplicitlyDenied", "session")
    if res_match is None:
        return done("ImplicitlyDenied", "resource")
    return done("Allowed", "identity")
