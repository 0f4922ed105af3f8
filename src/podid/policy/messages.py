"""AWS's AccessDenied message text for a decision.

The form, from the IAM User Guide page "Access denied error messages":
`User: <principal ARN> is not authorized to perform: <action> on resource: <resource> <reason>`,
where the reason is `because no <policy type> allows the <action> action` for an implicit deny and
`with an explicit deny in <policy type>` for an explicit one. AWS writes "User:" for every kind of
principal (users, roles, sessions).

Choices where AWS varies by service (documented in docs/policy.md):
- S3 quotes the resource (`on resource: "arn:aws:s3:::b"`); IAM and STS do not
  (`on resource: arn:aws:iam::111122223333:role/r`). `quote_resource=None` quotes for `s3:` actions
  only; pass True/False to force.
- When the resource is empty or `*` (actions without resource-level permissions, e.g.
  `s3:ListAllMyBuckets`), the `on resource: ...` part is left out, as AWS does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from podid.policy.evaluate import Decision

_EXPLICIT: dict[str, str] = {
    "identity": "an identity-based policy",
    "resource": "a resource-based policy",
    "boundary": "a permissions boundary",
    "session": "a session policy",
    "scp": "a service control policy",
    "rcp": "a resource control policy",
}
_IMPLICIT: dict[str, str] = {
    "identity": "identity-based policy",
    "resource": "resource-based policy",
    "boundary": "permissions boundary",
    "session": "session policy",
    "scp": "service control policy",
    "rcp": "resource control policy",
}


def reason_phrase(decision: str, deciding: str, action: str) -> str:
    """`with an explicit deny in ...` / `because no ... allows the X action`; empty when allowed."""
    if decision == "ExplicitlyDenied":
        return f"with an explicit deny in {_EXPLICIT.get(deciding, 'a policy')}"
    if decision == "ImplicitlyDenied":
        return f"because no {_IMPLICIT.get(deciding, 'identity-based policy')} allows the {action} action"
    return ""


def access_denied_message(
    principal_arn: str,
    action: str,
    resource: str,
    decision: Decision,
    *,
    quote_resource: bool | None = None,
) -> str:
    """The AccessDenied message AWS sends for a denied decision (ValueError for an allowed one)."""
    if decision.allowed:
        raise ValueError("access_denied_message needs a denied decision")
    reason = reason_phrase(decision.decision, decision.deciding, action)
    if quote_resource is None:
        quote_resource = action.lower().startswith("s3:")
    head = f"User: {principal_arn} is not authorized to perform: {action}"
    if resource and resource != "*":
        shown = f'"{resource}"' if quote_resource else resource
        head += f" on resource: {shown}"
    return f"{head} {reason}"
