"""`CloudFormationDomain`: stacks and change sets per account and region, over the store.

The provider maps the wire operations onto these methods; the engine provisions. Stack names are
unique among a region's live stacks; a deleted stack stays readable by its ARN (and in ListStacks)
with `DELETE_COMPLETE`. Error messages are CloudFormation's:
- an unknown stack: ValidationError "Stack with id X does not exist";
- CreateStack on a live name: AlreadyExistsException "Stack [X] already exists";
- an update of a stack not in a stable state: "Stack:<id> is in <STATUS> state and can not be updated.";
- no change: "No updates are to be performed." (UpdateStack), a FAILED change set with "The
  submitted information didn't contain changes. Submit different information to create a change
  set." (what `aws cloudformation deploy` looks for);
- an unknown change set: ChangeSetNotFound 404 "ChangeSet [X] does not exist".

Service roles (`RoleARN`) are refused: podid's CloudFormation always acts with the caller's
permissions (a documented difference). Templates come from `TemplateBody` (`TemplateURL` is
refused likewise).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from podid.clock import Clock
from podid.errors import ClientError, ValidationError
from podid.services.base import AuthzCheck, Call
from podid.services.cloudformation.changes import preview
from podid.services.cloudformation.engine import StackEngine
from podid.services.cloudformation.model import CHANGE_SETS, STACKS, ChangeSet, Stack, ts
from podid.services.cloudformation.parameters import ParameterInput
from podid.services.cloudformation.plan import Plan, make_plan, pseudo_parameters, validate_capabilities
from podid.services.cloudformation.resources.base import ResourceHandler
from podid.store import Store

Authorize = Callable[[Call, Sequence[AuthzCheck]], None]

UPDATABLE = frozenset(
    {
        "CREATE_COMPLETE",
        "UPDATE_COMPLETE",
        "UPDATE_ROLLBACK_COMPLETE",
        "IMPORT_COMPLETE",
        "IMPORT_ROLLBACK_COMPLETE",
    }
)
NO_CHANGES = (
    "The submitted information didn't contain changes. Submit different information to create a change set."
)


class AlreadyExists(ClientError):
    code = "AlreadyExistsException"


class ChangeSetNotFound(ClientError):
    code = "ChangeSetNotFound"
    status = 404


class InvalidChangeSetStatus(ClientError):
    code = "InvalidChangeSetStatus"


def stack_missing(name: str) -> ValidationError:
    return ValidationError(f"Stack with id {name} does not exist")


class CloudFormationDomain:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        handlers: Mapping[str, ResourceHandler],
        authorize: Authorize,
    ) -> None:
        self.store = store
        self.clock = clock
        self.handlers = dict(handlers)
        self.authorize = authorize

    # --- lookups ---------------------------------------------------------------------------------
    def stacks(self, account: str, region: str) -> list[Stack]:
        found = [Stack.from_doc(doc) for _, doc in self.store.scan(STACKS, f"{account}/{region}/")]
        return sorted(found, key=lambda s: s.created, reverse=True)

    def find_stack(self, account: str, region: str, name_or_id: str) -> Stack | None:
        if name_or_id.startswith("arn:"):
            doc = self.store.get(STACKS, f"{account}/{region}/{name_or_id.rsplit('/', 1)[-1]}")
            stack = Stack.from_doc(doc) if doc is not None else None
            return stack if stack is not None and stack.stack_id == name_or_id else None
        for stack in self.stacks(account, region):
            if stack.name == name_or_id and stack.active:
                return stack
        return None

    def get_stack(self, account: str, region: str, name_or_id: str) -> Stack:
        stack = self.find_stack(account, region, name_or_id)
        if stack is None:
            raise stack_missing(name_or_id)
        return stack

    def save(self, stack: Stack) -> None:
        self.store.put(STACKS, stack.key, stack.to_doc())

    def export_lookup(self, account: str, region: str) -> Callable[[str], tuple[str, str, str] | None]:
        def lookup(name: str) -> tuple[str, str, str] | None:
            for stack in self.stacks(account, region):
                if not stack.active:
                    continue
                for output in stack.outputs:
                    if output.get("ExportName") == name:
                        return output["OutputValue"], stack.stack_id, stack.name
            return None

        return lookup

    def engine(self, call: Call) -> StackEngine:
        return StackEngine(
            self.handlers, self.authorize, self.clock, self.export_lookup(call.account, call.region)
        )

    def plan(
        self,
        call: Call,
        stack: Stack,
        text: str,
        given: Sequence[ParameterInput],
        capabilities: Sequence[str],
        previous: Mapping[str, str] | None = None,
    ) -> Plan:
        validate_capabilities(capabilities)
        pseudo = pseudo_parameters(
            call.account, call.region, stack.name, stack.stack_id, stack.notification_arns
        )
        return make_plan(
            text, given, previous=previous, capabilities=capabilities, handlers=self.handlers, pseudo=pseudo
        )

    def new_stack(self, call: Call, name: str, **fields: Any) -> Stack:
        stack_id = f"arn:aws:cloudformation:{call.region}:{call.account}:stack/{name}/{uuid.uuid4()}"
        return Stack(
            stack_id=stack_id,
            name=name,
            account=call.account,
            region=call.region,
            status="CREATE_IN_PROGRESS",
            created=ts(self.clock.now()),
            **fields,
        )

    # --- stacks ----------------------------------------------------------------------------------
    def create_stack(
        self,
        call: Call,
        name: str,
        text: str,
        given: Sequence[ParameterInput],
        *,
        capabilities: Sequence[str] = (),
        tags: Sequence[dict[str, str]] = (),
        on_failure: str = "ROLLBACK",
        notification_arns: Sequence[str] = (),
        termination_protection: bool = False,
        token: str | None = None,
    ) -> Stack:
        if self.find_stack(call.account, call.region, name) is not None:
            raise AlreadyExists(f"Stack [{name}] already exists")
        stack = self.new_stack(
            call,
            name,
            notification_arns=list(notification_arns),
            tags=list(tags),
            capabilities=list(capabilities),
            termination_protection=termination_protection,
            disable_rollback=on_failure == "DO_NOTHING",
        )
        plan = self.plan(call, stack, text, given, capabilities)
        self._adopt(stack, plan)
        self.engine(call).create(call, stack, plan, on_failure=on_failure, token=token)
        self.save(stack)
        return stack

    @staticmethod
    def _adopt(stack: Stack, plan: Plan) -> None:
        stack.template = plan.text
        stack.description = plan.template.description
        stack.parameters = dict(plan.values)
        stack.no_echo = list(plan.no_echo)

    def updatable(self, stack: Stack) -> None:
        if stack.status not in UPDATABLE:
            raise ValidationError(
                f"Stack:{stack.stack_id} is in {stack.status} state and can not be updated."
            )

    def update_stack(
        self,
        call: Call,
        name: str,
        text: str | None,
        given: Sequence[ParameterInput],
        *,
        capabilities: Sequence[str] = (),
        tags: Sequence[dict[str, str]] | None = None,
        disable_rollback: bool = False,
        token: str | None = None,
    ) -> Stack:
        stack = self.get_stack(call.account, call.region, name)
        self.updatable(stack)
        body = stack.template if text is None else text
        plan = self.plan(call, stack, body, given, capabilities, stack.parameters)
        if (
            body == stack.template
            and plan.values == stack.parameters
            and (tags is None or list(tags) == stack.tags)
        ):
            raise ValidationError("No updates are to be performed.")
        self._apply_update(call, stack, plan, capabilities, tags, disable_rollback, token)
        return stack

    def _apply_update(
        self,
        call: Call,
        stack: Stack,
        plan: Plan,
        capabilities: Sequence[str],
        tags: Sequence[dict[str, str]] | None,
        disable_rollback: bool,
        token: str | None,
    ) -> None:
        previous = (
            stack.template,
            stack.description,
            dict(stack.parameters),
            list(stack.no_echo),
            list(stack.capabilities),
        )
        self._adopt(stack, plan)
        stack.capabilities = list(capabilities)
        if tags is not None:
            stack.tags = list(tags)
        self.engine(call).update(call, stack, plan, disable_rollback=disable_rollback, token=token)
        if stack.status == "UPDATE_ROLLBACK_COMPLETE":
            stack.template, stack.description, stack.parameters, stack.no_echo, stack.capabilities = previous
        self.save(stack)

    def delete_stack(
        self, call: Call, name: str, *, retain: Sequence[str] = (), token: str | None = None
    ) -> None:
        stack = self.find_stack(call.account, call.region, name)
        if stack is None or not stack.active:
            return  # DeleteStack of a stack that does not exist succeeds, as on AWS
        if stack.termination_protection:
            raise ValidationError(
                f"Stack [{stack.name}] cannot be deleted while TerminationProtection is enabled"
            )
        if retain and stack.status != "DELETE_FAILED":
            raise ValidationError(
                "Invalid operation on stack: RetainResources can only be specified when the stack is in the "
                "DELETE_FAILED state"
            )
        for output in stack.outputs:
            export = output.get("ExportName")
            users = [
                s.name
                for s in self.stacks(call.account, call.region)
                if s.active and export in s.imports and s.stack_id != stack.stack_id
            ]
            if export and users:
                stack.stack_event(self.clock.now(), "DELETE_IN_PROGRESS", "User Initiated", token)
                stack.stack_event(
                    self.clock.now(),
                    "DELETE_FAILED",
                    f"Export {export} cannot be deleted as it is in use by {users[0]}",
                    token,
                )
                self.save(stack)
                return
        self.engine(call).delete(call, stack, retain=retain, token=token)
        self.save(stack)
        for change_set in self.change_sets(stack):
            self.store.delete(CHANGE_SETS, change_set.key)

    # --- change sets -----------------------------------------------------------------------------
    def change_sets(self, stack: Stack) -> list[ChangeSet]:
        docs = self.store.scan(CHANGE_SETS, f"{stack.account}/{stack.region}/")
        found = [ChangeSet.from_doc(doc) for _, doc in docs if doc["stack_id"] == stack.stack_id]
        return sorted(found, key=lambda c: c.created)

    def find_change_set(
        self, account: str, region: str, name_or_arn: str, stack_name: str | None
    ) -> ChangeSet:
        if name_or_arn.startswith("arn:"):
            doc = self.store.get(CHANGE_SETS, f"{account}/{region}/{name_or_arn.rsplit('/', 1)[-1]}")
            if doc is not None and doc["change_set_id"] == name_or_arn:
                return ChangeSet.from_doc(doc)
            raise ChangeSetNotFound(f"ChangeSet [{name_or_arn}] does not exist")
        if not stack_name:
            raise ValidationError("StackName must be specified if ChangeSetName is not specified as an ARN.")
        stack = self.get_stack(account, region, stack_name)
        for change_set in self.change_sets(stack):
            if change_set.name == name_or_arn:
                return change_set
        raise ChangeSetNotFound(f"ChangeSet [{name_or_arn}] does not exist")

    def create_change_set(
        self,
        call: Call,
        stack_name: str,
        name: str,
        change_set_type: str,
        text: str | None,
        given: Sequence[ParameterInput],
        raw_parameters: Sequence[dict[str, Any]],
        *,
        capabilities: Sequence[str] = (),
        tags: Sequence[dict[str, str]] = (),
        description: str | None = None,
        notification_arns: Sequence[str] = (),
    ) -> ChangeSet:
        stack = self.find_stack(call.account, call.region, stack_name)
        if change_set_type == "CREATE":
            if stack is not None and stack.status != "REVIEW_IN_PROGRESS":
                raise AlreadyExists(
                    f"Stack [{stack_name}] already exists and cannot be created again with the "
                    f"changeSet [{name}]."
                )
            if text is None:
                raise ValidationError(
                    "UsePreviousTemplate cannot be used for a stack that does not exist yet"
                )
            if stack is None:
                stack = self.new_stack(
                    call, stack_name, tags=list(tags), notification_arns=list(notification_arns)
                )
                stack.status = "REVIEW_IN_PROGRESS"
                stack.stack_event(self.clock.now(), "REVIEW_IN_PROGRESS", "User Initiated")
                creating = True
            else:
                creating = False
        elif change_set_type == "UPDATE":
            if stack is None:
                raise stack_missing(stack_name)
            self.updatable(stack)
            creating = False
        else:
            raise ValidationError(f"podid does not support change sets of type {change_set_type}")
        if any(c.name == name for c in self.change_sets(stack)):
            raise AlreadyExists(f"ChangeSet [{name}] already exists")
        body = stack.template if text is None else text
        previous = stack.parameters if change_set_type == "UPDATE" else None
        plan = self.plan(call, stack, body, given, capabilities, previous)
        change_set = ChangeSet(
            change_set_id=f"arn:aws:cloudformation:{call.region}:{call.account}:changeSet/{name}/{uuid.uuid4()}",
            name=name,
            stack_id=stack.stack_id,
            stack_name=stack.name,
            account=call.account,
            region=call.region,
            change_set_type=change_set_type,
            created=ts(self.clock.now()),
            template=body,
            parameters=[dict(p) for p in raw_parameters],
            resolved=dict(plan.values),
            capabilities=list(capabilities),
            tags=list(tags),
            notification_arns=list(notification_arns),
            description=description,
        )
        lookup = self.export_lookup(call.account, call.region)
        change_set.changes = preview(
            stack, plan, self.handlers, lambda n: found[0] if (found := lookup(n)) else None
        )
        if change_set_type == "UPDATE" and not change_set.changes and self._same_outputs(stack, plan, tags):
            change_set.status, change_set.status_reason = "FAILED", NO_CHANGES
            change_set.execution_status = "UNAVAILABLE"
        if creating:
            self.save(stack)
        self.store.put(CHANGE_SETS, change_set.key, change_set.to_doc())
        return change_set

    @staticmethod
    def _same_outputs(stack: Stack, plan: Plan, tags: Sequence[dict[str, str]]) -> bool:
        from podid.services.cloudformation.template import parse_body

        old = parse_body(stack.template) if stack.template else {}
        same_outputs = (old.get("Outputs") or {}) == dict(plan.template.outputs)
        return same_outputs and plan.values == stack.parameters and (not tags or list(tags) == stack.tags)

    def execute_change_set(
        self, call: Call, change_set: ChangeSet, *, disable_rollback: bool = False, token: str | None = None
    ) -> Stack:
        if change_set.execution_status != "AVAILABLE":
            raise InvalidChangeSetStatus(
                f"ChangeSet [{change_set.change_set_id}] cannot be executed in its current execution "
                "status of "
                f"[{change_set.execution_status}]"
            )
        stack = self.get_stack(call.account, call.region, change_set.stack_id)
        given = [ParameterInput(k, v) for k, v in change_set.resolved.items()]
        if change_set.change_set_type == "CREATE":
            plan = self.plan(call, stack, change_set.template, given, change_set.capabilities)
            self._adopt(stack, plan)
            stack.capabilities = list(change_set.capabilities)
            stack.change_set_id = change_set.change_set_id
            stack.disable_rollback = disable_rollback
            self.engine(call).create(
                call, stack, plan, on_failure="DO_NOTHING" if disable_rollback else "ROLLBACK", token=token
            )
            self.save(stack)
        else:
            self.updatable(stack)
            plan = self.plan(
                call, stack, change_set.template, given, change_set.capabilities, stack.parameters
            )
            stack.change_set_id = change_set.change_set_id
            self._apply_update(
                call, stack, plan, change_set.capabilities, change_set.tags or None, disable_rollback, token
            )
        # executing a change set makes the stack's other change sets obsolete: AWS deletes them
        for other in self.change_sets(stack):
            if other.change_set_id != change_set.change_set_id:
                self.store.delete(CHANGE_SETS, other.key)
        failed = stack.status.endswith(("FAILED", "ROLLBACK_COMPLETE"))
        change_set.execution_status = "EXECUTE_FAILED" if failed else "EXECUTE_COMPLETE"
        self.store.put(CHANGE_SETS, change_set.key, change_set.to_doc())
        return stack

    def delete_change_set(self, change_set: ChangeSet) -> None:
        if change_set.execution_status == "EXECUTE_IN_PROGRESS":
            raise InvalidChangeSetStatus(f"Cannot delete ChangeSet in status {change_set.execution_status}")
        self.store.delete(CHANGE_SETS, change_set.key)
