"""Running a stack operation: create, update (with replacement and rollback), delete.

Everything runs within the API call that starts it, so a stack reaches its final status before the
response (the aws CLI's waiters succeed at their first poll); the events record every transition
as CloudFormation reports them (`CREATE_IN_PROGRESS`, `CREATE_COMPLETE`, `CREATE_FAILED`,
`ROLLBACK_IN_PROGRESS`, ... newest first on the wire).

- Create: resources in dependency order; the first failure stops the walk, and unless rollback is
  disabled everything created is deleted in reverse order (`ROLLBACK_COMPLETE`).
- Update: per resource, no change / update in place / replacement (a new physical resource first,
  the old one deleted in the cleanup phase) by the handler's `replace_on`; a custom-named resource
  that needs replacing fails as on AWS. A failure rolls back every step done, in reverse
  (`UPDATE_ROLLBACK_COMPLETE`).
- Delete: reverse dependency order; `DeletionPolicy: Retain` (or RetainResources) skips a resource;
  a failure leaves the stack `DELETE_FAILED` with the resources that could not be deleted.

A resource failure's status reason follows CloudFormation's forms: "Resource handler returned
message: ..." for an error of the service, "Properties validation failed for resource X with
message: [...]" for a property the type refuses, and for a type podid does not provision
"Resource type T is not supported by podid".
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, replace

from podid.errors import AwsError
from podid.services.base import Call
from podid.services.cloudformation.engine_base import (
    REPLACING,
    EngineBase,
    ResourceFailure,
    delete_reason,
)
from podid.services.cloudformation.model import ResourceRecord, Stack
from podid.services.cloudformation.plan import Plan
from podid.services.cloudformation.resources.base import Provisioned


@dataclass
class _Step:
    kind: str  # add | replace | modify
    logical_id: str
    before: ResourceRecord | None


class StackEngine(EngineBase):
    # --- create ----------------------------------------------------------------------------------
    def create(
        self, call: Call, stack: Stack, plan: Plan, *, on_failure: str, token: str | None = None
    ) -> None:
        """Provision a new stack; `on_failure` is ROLLBACK, DO_NOTHING or DELETE."""
        self.bind(stack, plan)
        stack.stack_event(self.clock.now(), "CREATE_IN_PROGRESS", "User Initiated", token)
        try:
            for logical_id in plan.order:
                stack.resources[logical_id] = self._create_one(call, stack, plan, logical_id, token)
            stack.outputs = self.outputs(stack, plan)
        except (ResourceFailure, AwsError) as failure:
            self._create_failed(call, stack, failure, on_failure, token)
            return
        stack.stack_event(self.clock.now(), "CREATE_COMPLETE", None, token)

    def _create_failed(
        self, call: Call, stack: Stack, failure: Exception, on_failure: str, token: str | None
    ) -> None:
        if isinstance(failure, ResourceFailure):
            reason = f"The following resource(s) failed to create: [{failure.logical_id}]. "
        else:
            reason = (failure.message if isinstance(failure, AwsError) else str(failure)).rstrip(". ") + ". "
        if on_failure == "DO_NOTHING":
            stack.stack_event(self.clock.now(), "CREATE_FAILED", reason, token)
            return
        if on_failure == "DELETE":
            stack.stack_event(
                self.clock.now(), "DELETE_IN_PROGRESS", reason + "Delete requested by user.", token
            )
            failed = self._delete_all(call, stack, list(stack.resources.values()), token)
            if failed:
                stack.stack_event(self.clock.now(), "DELETE_FAILED", delete_reason(failed), token)
            else:
                stack.deleted = self._now()
                stack.stack_event(self.clock.now(), "DELETE_COMPLETE", None, token)
            return
        stack.stack_event(
            self.clock.now(), "ROLLBACK_IN_PROGRESS", reason + "Rollback requested by user.", token
        )
        for record in stack.resources.values():
            record.status = "ROLLBACK"
        failed = self._delete_all(call, stack, list(stack.resources.values()), token)
        if failed:
            stack.stack_event(self.clock.now(), "ROLLBACK_FAILED", delete_reason(failed), token)
        else:
            stack.stack_event(self.clock.now(), "ROLLBACK_COMPLETE", None, token)

    # --- update ----------------------------------------------------------------------------------
    def update(
        self,
        call: Call,
        stack: Stack,
        plan: Plan,
        *,
        disable_rollback: bool = False,
        token: str | None = None,
    ) -> None:
        before = {k: replace(v) for k, v in stack.resources.items()}
        self.bind(stack, plan)
        stack.updated = self._now()
        stack.stack_event(self.clock.now(), "UPDATE_IN_PROGRESS", "User Initiated", token)
        steps: list[_Step] = []
        superseded: list[ResourceRecord] = []
        try:
            for logical_id in plan.order:
                current = stack.resources.get(logical_id)
                if current is None:
                    stack.resources[logical_id] = self._create_one(call, stack, plan, logical_id, token)
                    steps.append(_Step("add", logical_id, None))
                    continue
                step = self._update_one(call, stack, plan, current, token)
                if step is not None:
                    steps.append(step)
                    if step.kind == "replace" and step.before is not None:
                        superseded.append(step.before)
            stack.outputs = self.outputs(stack, plan)
        except (ResourceFailure, AwsError) as failure:
            self._rollback_update(call, stack, steps, before, failure, disable_rollback, token)
            return
        stack.stack_event(self.clock.now(), "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS", None, token)
        removed = [r for name, r in before.items() if name not in plan.order]
        for record in removed:
            stack.resources[record.logical_id] = record
        self._delete_all(call, stack, removed, token)
        for old in reversed(superseded):  # dependents first
            # AWS leaves a replaced resource it cannot delete, and the update stands
            with contextlib.suppress(ResourceFailure):
                self._delete_one(call, stack, old, token, retain=old.replace_policy == "Retain")
        stack.stack_event(self.clock.now(), "UPDATE_COMPLETE", None, token)

    def _update_one(
        self, call: Call, stack: Stack, plan: Plan, current: ResourceRecord, token: str | None
    ) -> _Step | None:
        logical_id = current.logical_id
        decl = plan.declaration(logical_id)
        type_name = str(decl["Type"])
        try:
            handler = self._handler(logical_id, type_name)
            props = self._properties(plan, logical_id, handler)
        except ResourceFailure as failure:
            stack.event(
                self.clock.now(),
                logical_id,
                type_name,
                "UPDATE_FAILED",
                physical_id=current.physical_id,
                reason=failure.reason,
                token=token,
            )
            raise
        policy = str(decl.get("DeletionPolicy", "Delete"))
        depends = list(plan.graph.get(logical_id, []))
        if current.type == type_name and props == current.props:
            current.deletion_policy, current.depends = policy, depends
            current.replace_policy = str(decl.get("UpdateReplacePolicy", "Delete"))
            return None
        replacing = current.type != type_name or bool(handler.needs_replacement(current.props, props))
        before = replace(current)
        if replacing:
            name_prop = handler.name_property
            if (
                name_prop
                and props.get(name_prop) is not None
                and props.get(name_prop) == current.props.get(name_prop)
            ):
                reason = (
                    "CloudFormation cannot update a stack when a custom-named resource requires replacing. "
                    f"Rename {props[name_prop]} and update the stack again."
                )
                stack.event(
                    self.clock.now(),
                    logical_id,
                    type_name,
                    "UPDATE_FAILED",
                    physical_id=current.physical_id,
                    reason=reason,
                    token=token,
                )
                raise ResourceFailure(logical_id, reason)
            stack.event(
                self.clock.now(),
                logical_id,
                type_name,
                "UPDATE_IN_PROGRESS",
                physical_id=current.physical_id,
                reason=REPLACING,
                token=token,
            )
            ctx = self._context(call, stack, logical_id)
            try:
                made = self._guard(logical_id, handler, lambda: handler.create(ctx, props))
            except ResourceFailure as failure:
                stack.event(
                    self.clock.now(),
                    logical_id,
                    type_name,
                    "UPDATE_FAILED",
                    physical_id=current.physical_id,
                    reason=failure.reason,
                    token=token,
                )
                raise
            assert made is not None
            record = self._record(plan, logical_id, props, made)
            record.status = "UPDATE_COMPLETE"
            stack.resources[logical_id] = record
            stack.event(
                self.clock.now(),
                logical_id,
                type_name,
                "UPDATE_IN_PROGRESS",
                physical_id=made.physical_id,
                reason="Resource creation Initiated",
                token=token,
            )
            stack.event(
                self.clock.now(),
                logical_id,
                type_name,
                "UPDATE_COMPLETE",
                physical_id=made.physical_id,
                token=token,
            )
            return _Step("replace", logical_id, before)
        stack.event(
            self.clock.now(),
            logical_id,
            type_name,
            "UPDATE_IN_PROGRESS",
            physical_id=current.physical_id,
            token=token,
        )
        ctx = self._context(call, stack, logical_id)
        existing = Provisioned(current.physical_id or "", current.attributes, current.ref)
        try:
            made = self._guard(
                logical_id, handler, lambda: handler.update(ctx, existing, current.props, props)
            )
        except ResourceFailure as failure:
            stack.event(
                self.clock.now(),
                logical_id,
                type_name,
                "UPDATE_FAILED",
                physical_id=current.physical_id,
                reason=failure.reason,
                token=token,
            )
            raise
        assert made is not None
        current.props, current.attributes = props, dict(made.attributes)
        current.status, current.updated, current.status_reason = "UPDATE_COMPLETE", self._now(), None
        current.deletion_policy, current.depends = policy, depends
        current.replace_policy = str(decl.get("UpdateReplacePolicy", "Delete"))
        stack.event(
            self.clock.now(),
            logical_id,
            type_name,
            "UPDATE_COMPLETE",
            physical_id=current.physical_id,
            token=token,
        )
        return _Step("modify", logical_id, before)

    def _rollback_update(
        self,
        call: Call,
        stack: Stack,
        steps: list[_Step],
        before: dict[str, ResourceRecord],
        failure: Exception,
        disable_rollback: bool,
        token: str | None,
    ) -> None:
        if isinstance(failure, ResourceFailure):
            verb = "create" if failure.logical_id not in before else "update"
            reason = f"The following resource(s) failed to {verb}: [{failure.logical_id}]. "
        else:
            reason = (failure.message if isinstance(failure, AwsError) else str(failure)).rstrip(". ") + ". "
        if disable_rollback:
            stack.stack_event(self.clock.now(), "UPDATE_FAILED", reason, token)
            return
        stack.stack_event(self.clock.now(), "UPDATE_ROLLBACK_IN_PROGRESS", reason, token)
        ok = True
        for step in reversed(steps):
            now_record = stack.resources.get(step.logical_id)
            try:
                if step.kind in ("add", "replace") and now_record is not None:
                    now_record.status = "ROLLBACK"
                    self._delete_one(call, stack, now_record, token)
                    if step.before is not None:
                        stack.resources[step.logical_id] = step.before
                    else:
                        stack.resources.pop(step.logical_id, None)
                elif step.kind == "modify" and now_record is not None and step.before is not None:
                    self._revert(call, stack, now_record, step.before, token)
            except ResourceFailure:
                ok = False
        if not ok:
            stack.stack_event(self.clock.now(), "UPDATE_ROLLBACK_FAILED", reason, token)
            return
        stack.stack_event(self.clock.now(), "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS", None, token)
        stack.stack_event(self.clock.now(), "UPDATE_ROLLBACK_COMPLETE", None, token)

    def _revert(
        self, call: Call, stack: Stack, now_record: ResourceRecord, old: ResourceRecord, token: str | None
    ) -> None:
        handler = self._handler(old.logical_id, old.type)
        stack.event(
            self.clock.now(),
            old.logical_id,
            old.type,
            "UPDATE_IN_PROGRESS",
            physical_id=old.physical_id,
            token=token,
        )
        ctx = self._context(call, stack, old.logical_id)
        existing = Provisioned(now_record.physical_id or "", now_record.attributes, now_record.ref)
        try:
            self._guard(
                old.logical_id, handler, lambda: handler.update(ctx, existing, now_record.props, old.props)
            )
        except ResourceFailure as failure:
            stack.event(
                self.clock.now(),
                old.logical_id,
                old.type,
                "UPDATE_FAILED",
                physical_id=old.physical_id,
                reason=failure.reason,
                token=token,
            )
            raise
        stack.resources[old.logical_id] = old
        stack.event(
            self.clock.now(),
            old.logical_id,
            old.type,
            "UPDATE_COMPLETE",
            physical_id=old.physical_id,
            token=token,
        )

    # --- delete ----------------------------------------------------------------------------------
    def delete(
        self, call: Call, stack: Stack, *, retain: Sequence[str] = (), token: str | None = None
    ) -> None:
        stack.stack_event(self.clock.now(), "DELETE_IN_PROGRESS", "User Initiated", token)
        failed = self._delete_all(call, stack, list(stack.resources.values()), token, frozenset(retain))
        if failed:
            stack.stack_event(self.clock.now(), "DELETE_FAILED", delete_reason(failed), token)
            return
        stack.deleted = self._now()
        stack.stack_event(self.clock.now(), "DELETE_COMPLETE", None, token)
