"""`CloudFormationProvider`: the query-protocol operations of botocore's `cloudformation` model.

Authorization of the API itself: `cloudformation:<Operation>` on the stack's ARN
(`arn:aws:cloudformation:<region>:<account>:stack/<name>/*`, or the ARN given), `*` for
ListStacks, ValidateTemplate and GetTemplateSummary of a template body. The resources a stack
provisions are then authorized one by one with the same caller (see `resources.base`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, ClassVar

from podid.errors import ValidationError
from podid.services.base import AuthzCheck, Call, Params, Provider, Result, operation
from podid.services.cloudformation.domain import CloudFormationDomain, stack_missing
from podid.services.cloudformation.model import ChangeSet, Stack
from podid.services.cloudformation.parameters import MASK, inputs_from_api, no_echo
from podid.services.cloudformation.plan import required_capability
from podid.services.cloudformation.template import load_template

DRIFT = {"StackResourceDriftStatus": "NOT_CHECKED"}


def _stack_arn(call: Call, name: object) -> str:
    text = str(name or "")
    if text.startswith("arn:"):
        return text
    return f"arn:aws:cloudformation:{call.region}:{call.account}:stack/{text or '*'}/*"


def _stack_check(action: str, member: str = "StackName") -> Any:
    def authz(call: Call, params: Params) -> Sequence[AuthzCheck]:
        target = params.get(member)
        resource = _stack_arn(call, target) if target else "*"
        return (AuthzCheck(f"cloudformation:{action}", resource),)

    return authz


def _change_set_check(action: str) -> Any:
    def authz(call: Call, params: Params) -> Sequence[AuthzCheck]:
        name = str(params.get("ChangeSetName") or "")
        if name.startswith("arn:"):
            resource = name
        else:
            resource = _stack_arn(call, params.get("StackName"))
        return (AuthzCheck(f"cloudformation:{action}", resource),)

    return authz


def _template_text(params: Params) -> str | None:
    if params.get("TemplateURL"):
        raise ValidationError(
            "podid reads templates from TemplateBody only: TemplateURL is not supported (pass the template "
            "inline, e.g. `aws cloudformation deploy` without --s3-bucket)."
        )
    body = params.get("TemplateBody")
    return str(body) if body is not None else None


def _no_role(params: Params) -> None:
    if params.get("RoleARN"):
        raise ValidationError(
            "podid does not assume stack service roles (RoleARN): CloudFormation acts with the caller's "
            "permissions; omit the role."
        )


class CloudFormationProvider(Provider):
    service_name: ClassVar[str] = "cloudformation"

    def __init__(self, domain: CloudFormationDomain) -> None:
        self.domain = domain

    def _stack(self, call: Call, name: str) -> Stack:
        return self.domain.get_stack(call.account, call.region, name)

    # --- rendering -------------------------------------------------------------------------------
    @staticmethod
    def _parameters(stack_params: dict[str, str], masked: Sequence[str]) -> list[dict[str, str]]:
        return [
            {"ParameterKey": k, "ParameterValue": MASK if k in masked else v} for k, v in stack_params.items()
        ]

    def render_stack(self, stack: Stack) -> dict[str, Any]:
        out: dict[str, Any] = {
            "StackId": stack.stack_id,
            "StackName": stack.name,
            "Parameters": self._parameters(stack.parameters, stack.no_echo),
            "CreationTime": stack.created,
            "StackStatus": stack.status,
            "DisableRollback": stack.disable_rollback,
            "NotificationARNs": list(stack.notification_arns),
            "Capabilities": list(stack.capabilities),
            "Outputs": list(stack.outputs),
            "Tags": list(stack.tags),
            "EnableTerminationProtection": stack.termination_protection,
            "DriftInformation": {"StackDriftStatus": "NOT_CHECKED"},
        }
        optional = {
            "ChangeSetId": stack.change_set_id,
            "Description": stack.description,
            "LastUpdatedTime": stack.updated,
            "DeletionTime": stack.deleted,
            "StackStatusReason": stack.status_reason,
        }
        out.update({k: v for k, v in optional.items() if v is not None})
        return out

    # --- stacks ----------------------------------------------------------------------------------
    @operation("CreateStack", authz=_stack_check("CreateStack"))
    def create_stack(self, call: Call, params: Params) -> Result:
        _no_role(params)
        text = _template_text(params)
        if text is None:
            raise ValidationError("Either Template URL or Template Body must be specified.")
        on_failure = params.get("OnFailure")
        if on_failure and params.get("DisableRollback") is not None:
            raise ValidationError("You can specify either DisableRollback or OnFailure, but not both.")
        if on_failure is None:
            on_failure = "DO_NOTHING" if params.get("DisableRollback") else "ROLLBACK"
        stack = self.domain.create_stack(
            call,
            params["StackName"],
            text,
            inputs_from_api(params.get("Parameters")),
            capabilities=params.get("Capabilities") or [],
            tags=params.get("Tags") or [],
            on_failure=on_failure,
            notification_arns=params.get("NotificationARNs") or [],
            termination_protection=bool(params.get("EnableTerminationProtection")),
            token=params.get("ClientRequestToken"),
        )
        return {"StackId": stack.stack_id}

    @operation("UpdateStack", authz=_stack_check("UpdateStack"))
    def update_stack(self, call: Call, params: Params) -> Result:
        _no_role(params)
        text = _template_text(params)
        if text is None and not params.get("UsePreviousTemplate"):
            raise ValidationError("Either Template URL or Template Body must be specified.")
        if text is not None and params.get("UsePreviousTemplate"):
            raise ValidationError(
                "You cannot specify both usePreviousTemplate and Template Body/Template URL."
            )
        stack = self.domain.update_stack(
            call,
            params["StackName"],
            text,
            inputs_from_api(params.get("Parameters")),
            capabilities=params.get("Capabilities") or [],
            tags=params.get("Tags"),
            disable_rollback=bool(params.get("DisableRollback")),
            token=params.get("ClientRequestToken"),
        )
        return {"StackId": stack.stack_id}

    @operation("DeleteStack", authz=_stack_check("DeleteStack"))
    def delete_stack(self, call: Call, params: Params) -> Result:
        _no_role(params)
        self.domain.delete_stack(
            call,
            params["StackName"],
            retain=params.get("RetainResources") or [],
            token=params.get("ClientRequestToken"),
        )
        return {}

    @operation("DescribeStacks", authz=_stack_check("DescribeStacks"))
    def describe_stacks(self, call: Call, params: Params) -> Result:
        name = params.get("StackName")
        if name:
            return {"Stacks": [self.render_stack(self._stack(call, name))]}
        live = [s for s in self.domain.stacks(call.account, call.region) if s.active]
        return {"Stacks": [self.render_stack(s) for s in live]}

    @operation("ListStacks", action="cloudformation:ListStacks")
    def list_stacks(self, call: Call, params: Params) -> Result:
        wanted = set(params.get("StackStatusFilter") or [])
        out: list[dict[str, Any]] = []
        for stack in self.domain.stacks(call.account, call.region):
            if wanted and stack.status not in wanted:
                continue
            summary: dict[str, Any] = {
                "StackId": stack.stack_id,
                "StackName": stack.name,
                "CreationTime": stack.created,
                "StackStatus": stack.status,
                "DriftInformation": {"StackDriftStatus": "NOT_CHECKED"},
            }
            optional = {
                "TemplateDescription": stack.description,
                "LastUpdatedTime": stack.updated,
                "DeletionTime": stack.deleted,
                "StackStatusReason": stack.status_reason,
            }
            summary.update({k: v for k, v in optional.items() if v is not None})
            out.append(summary)
        return {"StackSummaries": out}

    @operation("DescribeStackEvents", authz=_stack_check("DescribeStackEvents"))
    def describe_stack_events(self, call: Call, params: Params) -> Result:
        stack = self._stack(call, params["StackName"])
        return {"StackEvents": list(reversed(stack.events))}

    def _resource(self, stack: Stack, logical_id: str) -> Any:
        record = stack.resources.get(logical_id)
        if record is None:
            raise ValidationError(f"Resource {logical_id} does not exist for stack {stack.name}")
        return record

    @operation("DescribeStackResource", authz=_stack_check("DescribeStackResource"))
    def describe_stack_resource(self, call: Call, params: Params) -> Result:
        stack = self._stack(call, params["StackName"])
        record = self._resource(stack, params["LogicalResourceId"])
        detail: dict[str, Any] = {
            "StackName": stack.name,
            "StackId": stack.stack_id,
            "LogicalResourceId": record.logical_id,
            "ResourceType": record.type,
            "LastUpdatedTimestamp": record.updated,
            "ResourceStatus": record.status,
            "DriftInformation": DRIFT,
        }
        if record.physical_id:
            detail["PhysicalResourceId"] = record.physical_id
        if record.status_reason:
            detail["ResourceStatusReason"] = record.status_reason
        return {"StackResourceDetail": detail}

    @operation("DescribeStackResources", authz=_stack_check("DescribeStackResources"))
    def describe_stack_resources(self, call: Call, params: Params) -> Result:
        name, physical = params.get("StackName"), params.get("PhysicalResourceId")
        if not name and not physical:
            raise ValidationError("Either StackName or PhysicalResourceId must be specified.")
        if name:
            stack = self._stack(call, name)
        else:
            owner = next(
                (
                    s
                    for s in self.domain.stacks(call.account, call.region)
                    if s.active and any(r.physical_id == physical for r in s.resources.values())
                ),
                None,
            )
            if owner is None:
                raise stack_missing(str(physical))
            stack = owner
        wanted = params.get("LogicalResourceId")
        out = []
        for record in stack.resources.values():
            if wanted and record.logical_id != wanted:
                continue
            item: dict[str, Any] = {
                "StackName": stack.name,
                "StackId": stack.stack_id,
                "LogicalResourceId": record.logical_id,
                "ResourceType": record.type,
                "Timestamp": record.updated,
                "ResourceStatus": record.status,
                "DriftInformation": DRIFT,
            }
            if record.physical_id:
                item["PhysicalResourceId"] = record.physical_id
            if record.status_reason:
                item["ResourceStatusReason"] = record.status_reason
            out.append(item)
        return {"StackResources": out}

    @operation("ListStackResources", authz=_stack_check("ListStackResources"))
    def list_stack_resources(self, call: Call, params: Params) -> Result:
        stack = self._stack(call, params["StackName"])
        out = []
        for record in stack.resources.values():
            item: dict[str, Any] = {
                "LogicalResourceId": record.logical_id,
                "ResourceType": record.type,
                "LastUpdatedTimestamp": record.updated,
                "ResourceStatus": record.status,
                "DriftInformation": DRIFT,
            }
            if record.physical_id:
                item["PhysicalResourceId"] = record.physical_id
            if record.status_reason:
                item["ResourceStatusReason"] = record.status_reason
            out.append(item)
        return {"StackResourceSummaries": out}

    # --- templates -------------------------------------------------------------------------------
    @operation("GetTemplate", authz=_stack_check("GetTemplate"))
    def get_template(self, call: Call, params: Params) -> Result:
        change_set_name = params.get("ChangeSetName")
        if change_set_name:
            change_set = self.domain.find_change_set(
                call.account, call.region, change_set_name, params.get("StackName")
            )
            body = change_set.template
        else:
            name = params.get("StackName")
            if not name:
                raise ValidationError("Either StackName or ChangeSetName must be specified.")
            body = self._stack(call, name).template
        return {"TemplateBody": body, "StagesAvailable": ["Original", "Processed"]}

    def _summary_source(self, call: Call, params: Params) -> str:
        text = _template_text(params)
        if text is not None:
            return text
        name = params.get("StackName")
        if not name:
            raise ValidationError("Either Template URL or Template Body must be specified.")
        return self._stack(call, name).template

    def _describe_parameters(
        self, text: str, *, summary: bool
    ) -> tuple[Any, list[dict[str, Any]], dict[str, Any]]:
        template = load_template(text)
        out: list[dict[str, Any]] = []
        for key, decl in template.parameters.items():
            item: dict[str, Any] = {"ParameterKey": key, "NoEcho": no_echo(decl)}
            if "Default" in decl:
                default = decl["Default"]
                item["DefaultValue"] = (
                    ",".join(map(str, default)) if isinstance(default, list) else str(default)
                )
            if decl.get("Description") is not None:
                item["Description"] = str(decl["Description"])
            if summary:
                item["ParameterType"] = str(decl["Type"])
                if decl.get("AllowedValues") is not None:
                    item["ParameterConstraints"] = {"AllowedValues": [str(v) for v in decl["AllowedValues"]]}
            out.append(item)
        needed, types = required_capability(template, list(template.resources), self.domain.handlers)
        caps: dict[str, Any] = {}
        if needed is not None:
            caps = {
                "Capabilities": [needed],
                "CapabilitiesReason": f"The following resource(s) require capabilities: [{', '.join(types)}]",
            }
        return template, out, caps

    @operation("ValidateTemplate", action="cloudformation:ValidateTemplate")
    def validate_template(self, call: Call, params: Params) -> Result:
        text = _template_text(params)
        if text is None:
            raise ValidationError("Either Template URL or Template Body must be specified.")
        template, parameters, caps = self._describe_parameters(text, summary=False)
        result: dict[str, Any] = {"Parameters": parameters, "DeclaredTransforms": [], **caps}
        if template.description is not None:
            result["Description"] = template.description
        return result

    @operation("GetTemplateSummary", authz=_stack_check("GetTemplateSummary"))
    def get_template_summary(self, call: Call, params: Params) -> Result:
        text = self._summary_source(call, params)
        template, parameters, caps = self._describe_parameters(text, summary=True)
        result: dict[str, Any] = {
            "Parameters": parameters,
            "ResourceTypes": sorted({str(d["Type"]) for d in template.resources.values()}),
            "Version": str(template.body.get("AWSTemplateFormatVersion", "2010-09-09")),
            "DeclaredTransforms": [],
            **caps,
        }
        if template.description is not None:
            result["Description"] = template.description
        if "Metadata" in template.body:
            result["Metadata"] = json.dumps(template.body["Metadata"])
        return result

    # --- change sets -----------------------------------------------------------------------------
    @operation("CreateChangeSet", authz=_stack_check("CreateChangeSet"))
    def create_change_set(self, call: Call, params: Params) -> Result:
        _no_role(params)
        text = _template_text(params)
        if text is None and not params.get("UsePreviousTemplate"):
            raise ValidationError("Either Template URL or Template Body must be specified.")
        raw = list(params.get("Parameters") or [])
        change_set = self.domain.create_change_set(
            call,
            params["StackName"],
            params["ChangeSetName"],
            params.get("ChangeSetType") or "UPDATE",
            text,
            inputs_from_api(raw),
            raw,
            capabilities=params.get("Capabilities") or [],
            tags=params.get("Tags") or [],
            description=params.get("Description"),
            notification_arns=params.get("NotificationARNs") or [],
        )
        return {"Id": change_set.change_set_id, "StackId": change_set.stack_id}

    def _change_set(self, call: Call, params: Params) -> ChangeSet:
        return self.domain.find_change_set(
            call.account, call.region, params["ChangeSetName"], params.get("StackName")
        )

    @operation("DescribeChangeSet", authz=_change_set_check("DescribeChangeSet"))
    def describe_change_set(self, call: Call, params: Params) -> Result:
        cs = self._change_set(call, params)
        stack = self.domain.find_stack(call.account, call.region, cs.stack_id)
        masked = stack.no_echo if stack is not None else []
        out: dict[str, Any] = {
            "ChangeSetName": cs.name,
            "ChangeSetId": cs.change_set_id,
            "StackId": cs.stack_id,
            "StackName": cs.stack_name,
            "Parameters": self._parameters(cs.resolved, masked),
            "CreationTime": cs.created,
            "ExecutionStatus": cs.execution_status,
            "Status": cs.status,
            "NotificationARNs": list(cs.notification_arns),
            "Capabilities": list(cs.capabilities),
            "Tags": list(cs.tags),
            "Changes": list(cs.changes),
            "IncludeNestedStacks": False,
        }
        if cs.description is not None:
            out["Description"] = cs.description
        if cs.status_reason:
            out["StatusReason"] = cs.status_reason
        return out

    @operation("ExecuteChangeSet", authz=_change_set_check("ExecuteChangeSet"))
    def execute_change_set(self, call: Call, params: Params) -> Result:
        cs = self._change_set(call, params)
        self.domain.execute_change_set(
            call,
            cs,
            disable_rollback=bool(params.get("DisableRollback")),
            token=params.get("ClientRequestToken"),
        )
        return {}

    @operation("DeleteChangeSet", authz=_change_set_check("DeleteChangeSet"))
    def delete_change_set(self, call: Call, params: Params) -> Result:
        self.domain.delete_change_set(self._change_set(call, params))
        return {}

    @operation("ListChangeSets", authz=_stack_check("ListChangeSets"))
    def list_change_sets(self, call: Call, params: Params) -> Result:
        stack = self._stack(call, params["StackName"])
        out = []
        for cs in self.domain.change_sets(stack):
            item: dict[str, Any] = {
                "StackId": cs.stack_id,
                "StackName": cs.stack_name,
                "ChangeSetId": cs.change_set_id,
                "ChangeSetName": cs.name,
                "ExecutionStatus": cs.execution_status,
                "Status": cs.status,
                "CreationTime": cs.created,
                "IncludeNestedStacks": False,
            }
            if cs.status_reason:
                item["StatusReason"] = cs.status_reason
            if cs.description is not None:
                item["Description"] = cs.description
            out.append(item)
        return {"Summaries": out}
