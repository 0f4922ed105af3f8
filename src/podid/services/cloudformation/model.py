"""CloudFormation's stored objects: stacks (with their resources, outputs and events) and change sets.

Tables (keys carry account and region; a deleted stack stays, as AWS keeps it listable for 90 days):
  `cloudformation.stacks`      "<account>/<region>/<stack uuid>"      -> Stack
  `cloudformation.changesets`  "<account>/<region>/<change set uuid>" -> ChangeSet
"""

from __future__ import annotations

import copy
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

STACKS = "cloudformation.stacks"
CHANGE_SETS = "cloudformation.changesets"


def ts(value: datetime) -> str:
    return value.isoformat()


def from_ts(text: str) -> datetime:
    return datetime.fromisoformat(text)


@dataclass
class ResourceRecord:
    logical_id: str
    type: str
    status: str
    updated: str
    physical_id: str | None = None
    status_reason: str | None = None
    props: dict[str, Any] = field(default_factory=dict)  # the resolved properties last applied
    attributes: dict[str, Any] = field(default_factory=dict)
    ref: str | None = None
    depends: list[str] = field(default_factory=list)
    deletion_policy: str = "Delete"
    replace_policy: str = "Delete"  # UpdateReplacePolicy: what happens to a replaced resource
    description: str | None = None

    @property
    def ref_value(self) -> str | None:
        return self.ref if self.ref is not None else self.physical_id

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> ResourceRecord:
        return cls(**doc)


@dataclass
class Stack:
    stack_id: str
    name: str
    account: str
    region: str
    status: str
    created: str
    template: str = ""
    status_reason: str | None = None
    updated: str | None = None
    deleted: str | None = None
    description: str | None = None
    parameters: dict[str, str] = field(default_factory=dict)
    no_echo: list[str] = field(default_factory=list)
    capabilities: list[str] = field(default_factory=list)
    tags: list[dict[str, str]] = field(default_factory=list)
    notification_arns: list[str] = field(default_factory=list)
    disable_rollback: bool = False
    termination_protection: bool = False
    change_set_id: str | None = None
    resources: dict[str, ResourceRecord] = field(default_factory=dict)
    outputs: list[dict[str, str]] = field(default_factory=list)
    imports: list[str] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)

    @property
    def key(self) -> str:
        return f"{self.account}/{self.region}/{self.stack_id.rsplit('/', 1)[-1]}"

    @property
    def active(self) -> bool:
        return self.status != "DELETE_COMPLETE"

    def to_doc(self) -> dict[str, Any]:
        doc = asdict(self)
        doc["resources"] = [asdict(r) for r in self.resources.values()]
        return doc

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Stack:
        data = copy.deepcopy(doc)  # the store hands out its own (mutable) document
        data["resources"] = {r["logical_id"]: ResourceRecord.from_doc(r) for r in doc.get("resources", [])}
        return cls(**data)

    def event(
        self,
        when: datetime,
        logical_id: str,
        resource_type: str,
        status: str,
        *,
        physical_id: str | None = None,
        reason: str | None = None,
        properties: str | None = None,
        token: str | None = None,
    ) -> None:
        event: dict[str, Any] = {
            "EventId": str(uuid.uuid4()),
            "StackId": self.stack_id,
            "StackName": self.name,
            "LogicalResourceId": logical_id,
            "PhysicalResourceId": physical_id or "",
            "ResourceType": resource_type,
            "Timestamp": ts(when),
            "ResourceStatus": status,
        }
        if reason:
            event["ResourceStatusReason"] = reason
        if properties is not None:
            event["ResourceProperties"] = properties
        if token:
            event["ClientRequestToken"] = token
        self.events.append(event)

    def stack_event(
        self, when: datetime, status: str, reason: str | None = None, token: str | None = None
    ) -> None:
        self.status = status
        self.status_reason = reason
        self.event(
            when,
            self.name,
            "AWS::CloudFormation::Stack",
            status,
            physical_id=self.stack_id,
            reason=reason,
            token=token,
        )


@dataclass
class ChangeSet:
    change_set_id: str
    name: str
    stack_id: str
    stack_name: str
    account: str
    region: str
    change_set_type: str  # CREATE | UPDATE
    created: str
    template: str
    parameters: list[dict[str, Any]] = field(default_factory=list)  # the API's Parameters as given
    resolved: dict[str, str] = field(default_factory=dict)  # their values, for DescribeChangeSet
    capabilities: list[str] = field(default_factory=list)
    tags: list[dict[str, str]] = field(default_factory=list)
    notification_arns: list[str] = field(default_factory=list)
    description: str | None = None
    status: str = "CREATE_COMPLETE"
    status_reason: str | None = None
    execution_status: str = "AVAILABLE"
    changes: list[dict[str, Any]] = field(default_factory=list)

    @property
    def key(self) -> str:
        return f"{self.account}/{self.region}/{self.change_set_id.rsplit('/', 1)[-1]}"

    def to_doc(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> ChangeSet:
        return cls(**copy.deepcopy(doc))
