"""The shared half of the stack engine: resolving, creating and deleting one resource, outputs.

`EngineBase` holds what create, update and delete all use (see `engine.py` for the operations):
binding a plan's scope to the stack's resources and the account's exports, checking and
resolving a resource's properties, calling its handler under `_guard` (which turns every failure
into a `ResourceFailure` with CloudFormation's status reason), recording the events.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from podid.clock import Clock
from podid.errors import AwsError
from podid.services.base import AuthzCheck, Call
from podid.services.cloudformation.graph import creation_order
from podid.services.cloudformation.intrinsics import NO_VALUE, UNKNOWN, resolve, template_error
from podid.services.cloudformation.model import ResourceRecord, Stack, ts
from podid.services.cloudformation.plan import Plan
from podid.services.cloudformation.resources.base import (
    PropertyError,
    Provisioned,
    ResourceContext,
    ResourceHandler,
)

log = logging.getLogger(__name__)

Authorize = Callable[[Call, Sequence[AuthzCheck]], None]
# export name -> (value, exporting stack id, exporting stack name), or None
Exports = Callable[[str], tuple[str, str, str] | None]


REPLACING = "Requested update requires the creation of a new physical resource; hence creating one."


class ResourceFailure(Exception):
    def __init__(self, logical_id: str, reason: str) -> None:
        super().__init__(reason)
        self.logical_id = logical_id
        self.reason = reason


def handler_message(err: AwsError, service: str) -> str:
    if err.status == 403 or err.code.startswith("AccessDenied"):
        code = "AccessDenied"
    elif "AlreadyExists" in err.code or err.code == "ResourceInUseException":
        code = "AlreadyExists"
    elif err.code in ("NoSuchEntity", "ResourceNotFoundException", "NotFound", "NoSuchBucket"):
        code = "NotFound"
    elif err.code == "LimitExceeded" or "LimitExceeded" in err.code:
        code = "ServiceLimitExceeded"
    else:
        code = "InvalidRequest" if err.sender_fault else "GeneralServiceException"
    return (
        f'Resource handler returned message: "{err.message} (Service: {service}, Status Code: '
        f'{err.status}, Request ID: {uuid.uuid4()})" (RequestToken: {uuid.uuid4()}, HandlerErrorCode: {code})'
    )


class EngineBase:
    def __init__(
        self,
        handlers: Mapping[str, ResourceHandler],
        authorize: Authorize,
        clock: Clock,
        exports: Exports,
    ) -> None:
        self.handlers = handlers
        self.authorize = authorize
        self.clock = clock
        self.exports = exports

    # --- shared ----------------------------------------------------------------------------------
    def _now(self) -> str:
        return ts(self.clock.now())

    def bind(self, stack: Stack, plan: Plan) -> None:
        """Make the plan's scope read the stack's resources and the account's exports."""
        template = plan.template
        enabled = set(plan.order)

        def ref(name: str) -> Any:
            if name not in template.resources or name not in enabled:
                raise template_error(
                    f"Unresolved resource dependencies [{name}] in the Resources block of the template"
                )
            record = stack.resources.get(name)
            if record is None or record.physical_id is None:
                return UNKNOWN
            return record.ref_value

        def getatt(name: str, attribute: str) -> Any:
            if name not in template.resources or name not in enabled:
                raise template_error(f"instance of Fn::GetAtt references undefined resource {name}")
            record = stack.resources.get(name)
            if record is None or record.physical_id is None:
                return UNKNOWN
            if attribute not in record.attributes:
                raise template_error(
                    f"resource {name} does not support attribute type {attribute} in Fn::GetAtt"
                )
            return record.attributes[attribute]

        def import_value(name: str) -> Any:
            found = self.exports(name)
            if found is None:
                raise AwsError(f"No export named {name} found.", code="ValidationError", status=400)
            if name not in stack.imports:
                stack.imports.append(name)
            return found[0]

        plan.scope.ref = ref
        plan.scope.getatt = getatt
        plan.scope.import_value = import_value

    def _context(self, call: Call, stack: Stack, logical_id: str) -> ResourceContext:
        return ResourceContext(call, self.authorize, stack.name, stack.stack_id, logical_id)

    def _handler(self, logical_id: str, type_name: str) -> ResourceHandler:
        handler = self.handlers.get(type_name)
        if handler is None:
            raise ResourceFailure(
                logical_id,
                f"Resource type {type_name} is not supported by podid (supported: "
                f"{', '.join(sorted(self.handlers))})",
            )
        return handler

    def _properties(self, plan: Plan, logical_id: str, handler: ResourceHandler) -> dict[str, Any]:
        try:
            props = resolve(plan.declaration(logical_id).get("Properties") or {}, plan.scope)
            if props is NO_VALUE:
                props = {}
            handler.check(props)
        except PropertyError as err:
            raise ResourceFailure(
                logical_id,
                f"Properties validation failed for resource {logical_id} with message: [{err.message}]",
            ) from None
        except AwsError as err:
            raise ResourceFailure(logical_id, err.message) from None
        return dict(props)

    def _guard(
        self, logical_id: str, handler: ResourceHandler, action: Callable[[], Provisioned | None]
    ) -> Provisioned | None:
        try:
            return action()
        except PropertyError as err:
            raise ResourceFailure(
                logical_id,
                f"Properties validation failed for resource {logical_id} with message: [{err.message}]",
            ) from None
        except AwsError as err:
            service = handler.type_name.split("::")[1]
            raise ResourceFailure(logical_id, handler_message(err, service)) from None
        except Exception:
            log.exception("resource handler %s failed on %s", handler.type_name, logical_id)
            raise ResourceFailure(logical_id, "Internal Failure") from None

    def _record(
        self, plan: Plan, logical_id: str, props: dict[str, Any], made: Provisioned
    ) -> ResourceRecord:
        decl = plan.declaration(logical_id)
        return ResourceRecord(
            logical_id=logical_id,
            type=str(decl["Type"]),
            status="CREATE_COMPLETE",
            updated=self._now(),
            physical_id=made.physical_id,
            props=props,
            attributes=dict(made.attributes),
            ref=made.ref,
            depends=list(plan.graph.get(logical_id, [])),
            deletion_policy=str(decl.get("DeletionPolicy", "Delete")),
            replace_policy=str(decl.get("UpdateReplacePolicy", "Delete")),
        )

    def _create_one(
        self, call: Call, stack: Stack, plan: Plan, logical_id: str, token: str | None
    ) -> ResourceRecord:
        type_name = str(plan.declaration(logical_id)["Type"])
        now = self.clock.now()
        stack.event(now, logical_id, type_name, "CREATE_IN_PROGRESS", token=token)
        try:
            handler = self._handler(logical_id, type_name)
            props = self._properties(plan, logical_id, handler)
            ctx = self._context(call, stack, logical_id)
            made = self._guard(logical_id, handler, lambda: handler.create(ctx, props))
        except ResourceFailure as failure:
            stack.event(
                self.clock.now(), logical_id, type_name, "CREATE_FAILED", reason=failure.reason, token=token
            )
            raise
        assert made is not None
        record = self._record(plan, logical_id, props, made)
        stack.event(
            self.clock.now(),
            logical_id,
            type_name,
            "CREATE_IN_PROGRESS",
            physical_id=made.physical_id,
            reason="Resource creation Initiated",
            properties=json.dumps(props),
            token=token,
        )
        stack.event(
            self.clock.now(),
            logical_id,
            type_name,
            "CREATE_COMPLETE",
            physical_id=made.physical_id,
            token=token,
        )
        return record

    def _delete_one(
        self, call: Call, stack: Stack, record: ResourceRecord, token: str | None, *, retain: bool = False
    ) -> None:
        when = self.clock.now()
        if record.physical_id is None:
            return
        rolling_back = record.status == "ROLLBACK"  # RetainExceptOnCreate deletes what a failed create made
        policy = record.deletion_policy
        if retain or policy == "Retain" or (policy == "RetainExceptOnCreate" and not rolling_back):
            stack.event(
                when,
                record.logical_id,
                record.type,
                "DELETE_SKIPPED",
                physical_id=record.physical_id,
                token=token,
            )
            return
        stack.event(
            when,
            record.logical_id,
            record.type,
            "DELETE_IN_PROGRESS",
            physical_id=record.physical_id,
            token=token,
        )
        handler = self.handlers.get(record.type)
        if handler is not None:
            current = Provisioned(record.physical_id, record.attributes, record.ref)
            ctx = self._context(call, stack, record.logical_id)
            try:
                self._guard(record.logical_id, handler, lambda: handler.delete(ctx, current, record.props))
            except ResourceFailure as failure:
                record.status, record.status_reason = "DELETE_FAILED", failure.reason
                stack.event(
                    self.clock.now(),
                    record.logical_id,
                    record.type,
                    "DELETE_FAILED",
                    physical_id=record.physical_id,
                    reason=failure.reason,
                    token=token,
                )
                raise
        stack.event(
            self.clock.now(),
            record.logical_id,
            record.type,
            "DELETE_COMPLETE",
            physical_id=record.physical_id,
            token=token,
        )

    def _delete_all(
        self,
        call: Call,
        stack: Stack,
        records: Sequence[ResourceRecord],
        token: str | None,
        retain: frozenset[str] = frozenset(),
    ) -> list[str]:
        """Delete records in reverse dependency order; return the logical ids that failed."""
        by_id = {r.logical_id: r for r in records}
        graph = {r.logical_id: [d for d in r.depends if d in by_id] for r in records}
        order = list(reversed(creation_order(graph)))
        failed: list[str] = []
        blocked: set[str] = set()
        for logical_id in order:
            if logical_id in blocked:
                continue
            record = by_id[logical_id]
            try:
                self._delete_one(call, stack, record, token, retain=logical_id in retain)
            except ResourceFailure:
                failed.append(logical_id)
                blocked.update(_all_dependencies(graph, logical_id))
                continue
            stack.resources.pop(logical_id, None)
        return failed

    def outputs(self, stack: Stack, plan: Plan) -> list[dict[str, str]]:
        out: list[dict[str, str]] = []
        for key, decl in plan.template.outputs.items():
            cond = decl.get("Condition")
            if cond is not None and not plan.scope.condition(str(cond)):
                continue
            value = resolve(decl["Value"], plan.scope)
            entry = {"OutputKey": key, "OutputValue": _text(value)}
            if decl.get("Description") is not None:
                entry["Description"] = str(decl["Description"])
            export = decl.get("Export")
            if isinstance(export, dict) and "Name" in export:
                entry["ExportName"] = _text(resolve(export["Name"], plan.scope))
                owner = self.exports(entry["ExportName"])
                if owner is not None and owner[1] != stack.stack_id:
                    raise AwsError(
                        f"Export with name {entry['ExportName']} is already exported by stack {owner[2]}",
                        code="ValidationError",
                        status=400,
                    )
            out.append(entry)
        return out


def delete_reason(failed: Sequence[str]) -> str:
    return f"The following resource(s) failed to delete: [{', '.join(failed)}]. "


def _all_dependencies(graph: Mapping[str, list[str]], start: str) -> set[str]:
    seen: set[str] = set()
    stack = list(graph.get(start, []))
    while stack:
        node = stack.pop()
        if node not in seen:
            seen.add(node)
            stack.extend(graph.get(node, []))
    return seen


def _text(value: Any) -> str:
    if value is UNKNOWN:
        return ""
    if isinstance(value, list):
        return ",".join(_text(v) for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return json.dumps(value)
    return str(value)
