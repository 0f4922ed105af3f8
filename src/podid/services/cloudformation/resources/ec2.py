"""The EC2 networking types an EKS template declares, recorded with realistic ids and attributes.

podid has no EC2: a VPC, subnet, gateway, route table, route, security group, Elastic IP or NAT
gateway exists only as the stack's record of it. Ids have EC2's shapes (`vpc-` + 17 hex digits,
...), Ref and Fn::GetAtt give what AWS documents (a route's and a gateway attachment's physical ids
are CloudFormation's composite ones: `rtb-...|0.0.0.0/0`, `IGW|vpc-...`), and each create/delete is
authorized as the EC2 API call it stands for (`ec2:CreateVpc` on `arn:aws:ec2:<region>:<account>:vpc/*`,
...), so that a caller without EC2 permissions fails as on AWS. Elastic IPs get addresses from
TEST-NET-3 (203.0.113.0/24), which routes nowhere.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from podid.services.base import AuthzCheck
from podid.services.cloudformation.resources.base import Provisioned, ResourceContext, ResourceHandler


def ec2_id(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(9)[:17]}"


def _zone_id(zone: str) -> str:
    """`us-west-2a` -> `usw2-az1` (the shape of an AZ id)."""
    region, letter = zone[:-1], zone[-1:]
    parts = region.split("-")
    short = parts[0] + "".join(p[:1] for p in parts[1:-1]) + parts[-1] if len(parts) > 1 else region
    return f"{short}-az{max(ord(letter) - ord('a') + 1, 1)}"


Attributes = Callable[[ResourceContext, Mapping[str, Any], str, Mapping[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class Ec2Kind:
    type_name: str
    prefix: str
    noun: str  # the EC2 API noun: Vpc, Subnet, InternetGateway, ...
    arn_kind: str  # the ARN resource type: vpc, subnet, internet-gateway, ...
    properties: frozenset[str]
    required: tuple[str, ...]
    replace_on: frozenset[str]
    attributes: tuple[str, ...]
    describe: Attributes
    physical: Callable[[str, Mapping[str, Any]], str] = lambda new_id, props: new_id


def _vpc(
    ctx: ResourceContext, props: Mapping[str, Any], new_id: str, old: Mapping[str, Any]
) -> dict[str, Any]:
    return {
        "VpcId": new_id,
        "CidrBlock": props.get("CidrBlock", "10.0.0.0/16"),
        "CidrBlockAssociations": [old.get("CidrBlockAssociations", [ec2_id("vpc-cidr-assoc")])[0]],
        "DefaultNetworkAcl": old.get("DefaultNetworkAcl") or ec2_id("acl"),
        "DefaultSecurityGroup": old.get("DefaultSecurityGroup") or ec2_id("sg"),
        "Ipv6CidrBlocks": [],
    }


def _subnet(
    ctx: ResourceContext, props: Mapping[str, Any], new_id: str, old: Mapping[str, Any]
) -> dict[str, Any]:
    zone = str(props.get("AvailabilityZone") or f"{ctx.region}a")
    return {
        "SubnetId": new_id,
        "VpcId": props.get("VpcId"),
        "AvailabilityZone": zone,
        "AvailabilityZoneId": props.get("AvailabilityZoneId") or _zone_id(zone),
        "CidrBlock": props.get("CidrBlock", ""),
        "Ipv6CidrBlocks": [props["Ipv6CidrBlock"]] if props.get("Ipv6CidrBlock") else [],
        "NetworkAclAssociationId": old.get("NetworkAclAssociationId") or ec2_id("aclassoc"),
        "OutpostArn": props.get("OutpostArn", ""),
    }


def _destination(props: Mapping[str, Any]) -> str:
    for member in ("DestinationCidrBlock", "DestinationIpv6CidrBlock", "DestinationPrefixListId"):
        if props.get(member):
            return str(props[member])
    return ""


def _only(name: str) -> Attributes:
    def attributes(
        ctx: ResourceContext, props: Mapping[str, Any], new_id: str, old: Mapping[str, Any]
    ) -> dict[str, Any]:
        return {name: new_id}

    return attributes


def _security_group(
    ctx: ResourceContext, props: Mapping[str, Any], new_id: str, old: Mapping[str, Any]
) -> dict[str, Any]:
    return {"GroupId": new_id, "VpcId": props.get("VpcId", "")}


def _eip(
    ctx: ResourceContext, props: Mapping[str, Any], new_id: str, old: Mapping[str, Any]
) -> dict[str, Any]:
    address = old.get("PublicIp") or f"203.0.113.{secrets.randbelow(254) + 1}"
    return {"AllocationId": old.get("AllocationId") or new_id, "PublicIp": address}


def _none(
    ctx: ResourceContext, props: Mapping[str, Any], new_id: str, old: Mapping[str, Any]
) -> dict[str, Any]:
    return {}


_TAGS = frozenset({"Tags"})
KINDS: tuple[Ec2Kind, ...] = (
    Ec2Kind(
        "AWS::EC2::VPC",
        "vpc",
        "Vpc",
        "vpc",
        frozenset(
            {
                "CidrBlock",
                "EnableDnsHostnames",
                "EnableDnsSupport",
                "InstanceTenancy",
                "Ipv4IpamPoolId",
                "Ipv4NetmaskLength",
            }
        )
        | _TAGS,
        (),
        frozenset({"CidrBlock", "Ipv4IpamPoolId", "Ipv4NetmaskLength"}),
        (
            "VpcId",
            "CidrBlock",
            "CidrBlockAssociations",
            "DefaultNetworkAcl",
            "DefaultSecurityGroup",
            "Ipv6CidrBlocks",
        ),
        _vpc,
    ),
    Ec2Kind(
        "AWS::EC2::Subnet",
        "subnet",
        "Subnet",
        "subnet",
        frozenset(
            {
                "AssignIpv6AddressOnCreation",
                "AvailabilityZone",
                "AvailabilityZoneId",
                "CidrBlock",
                "EnableDns64",
                "EnableLniAtDeviceIndex",
                "Ipv4IpamPoolId",
                "Ipv4NetmaskLength",
                "Ipv6CidrBlock",
                "Ipv6IpamPoolId",
                "Ipv6Native",
                "Ipv6NetmaskLength",
                "MapPublicIpOnLaunch",
                "OutpostArn",
                "PrivateDnsNameOptionsOnLaunch",
                "VpcId",
            }
        )
        | _TAGS,
        ("VpcId",),
        frozenset(
            {"AvailabilityZone", "AvailabilityZoneId", "CidrBlock", "VpcId", "Ipv4IpamPoolId", "OutpostArn"}
        ),
        (
            "SubnetId",
            "VpcId",
            "AvailabilityZone",
            "AvailabilityZoneId",
            "CidrBlock",
            "Ipv6CidrBlocks",
            "NetworkAclAssociationId",
            "OutpostArn",
        ),
        _subnet,
    ),
    Ec2Kind(
        "AWS::EC2::InternetGateway",
        "igw",
        "InternetGateway",
        "internet-gateway",
        _TAGS,
        (),
        frozenset(),
        ("InternetGatewayId",),
        _only("InternetGatewayId"),
    ),
    Ec2Kind(
        "AWS::EC2::VPCGatewayAttachment",
        "igw-attach",
        "InternetGatewayAttachment",
        "vpc",
        frozenset({"InternetGatewayId", "VpcId", "VpnGatewayId"}),
        ("VpcId",),
        frozenset({"VpcId", "InternetGatewayId", "VpnGatewayId"}),
        (),
        _none,
        lambda new_id, props: f"{'IGW' if props.get('InternetGatewayId') else 'VGW'}|{props.get('VpcId')}",
    ),
    Ec2Kind(
        "AWS::EC2::RouteTable",
        "rtb",
        "RouteTable",
        "route-table",
        frozenset({"VpcId"}) | _TAGS,
        ("VpcId",),
        frozenset({"VpcId"}),
        ("RouteTableId",),
        _only("RouteTableId"),
    ),
    Ec2Kind(
        "AWS::EC2::Route",
        "r",
        "Route",
        "route-table",
        frozenset(
            {
                "CarrierGatewayId",
                "CoreNetworkArn",
                "DestinationCidrBlock",
                "DestinationIpv6CidrBlock",
                "DestinationPrefixListId",
                "EgressOnlyInternetGatewayId",
                "GatewayId",
                "InstanceId",
                "LocalGatewayId",
                "NatGatewayId",
                "NetworkInterfaceId",
                "RouteTableId",
                "TransitGatewayId",
                "VpcEndpointId",
                "VpcPeeringConnectionId",
            }
        ),
        ("RouteTableId",),
        frozenset(
            {"RouteTableId", "DestinationCidrBlock", "DestinationIpv6CidrBlock", "DestinationPrefixListId"}
        ),
        ("CidrBlock",),
        lambda ctx, props, new_id, old: {"CidrBlock": props.get("DestinationCidrBlock", "")},
        lambda new_id, props: f"{props.get('RouteTableId')}|{_destination(props)}",
    ),
    Ec2Kind(
        "AWS::EC2::SubnetRouteTableAssociation",
        "rtbassoc",
        "RouteTableAssociation",
        "route-table",
        frozenset({"RouteTableId", "SubnetId"}),
        ("RouteTableId", "SubnetId"),
        frozenset({"SubnetId"}),
        ("Id",),
        _only("Id"),
    ),
    Ec2Kind(
        "AWS::EC2::SecurityGroup",
        "sg",
        "SecurityGroup",
        "security-group",
        frozenset({"GroupDescription", "GroupName", "SecurityGroupEgress", "SecurityGroupIngress", "VpcId"})
        | _TAGS,
        ("GroupDescription",),
        frozenset({"GroupDescription", "GroupName", "VpcId"}),
        ("GroupId", "VpcId"),
        _security_group,
    ),
    Ec2Kind(
        "AWS::EC2::SecurityGroupIngress",
        "sgr",
        "SecurityGroupIngress",
        "security-group",
        frozenset(
            {
                "CidrIp",
                "CidrIpv6",
                "Description",
                "FromPort",
                "GroupId",
                "GroupName",
                "IpProtocol",
                "SourcePrefixListId",
                "SourceSecurityGroupId",
                "SourceSecurityGroupName",
                "SourceSecurityGroupOwnerId",
                "ToPort",
            }
        ),
        ("IpProtocol",),
        frozenset(
            {"CidrIp", "CidrIpv6", "FromPort", "GroupId", "IpProtocol", "SourceSecurityGroupId", "ToPort"}
        ),
        ("Id",),
        _only("Id"),
    ),
    Ec2Kind(
        "AWS::EC2::EIP",
        "eipalloc",
        "Address",
        "elastic-ip",
        frozenset({"Domain", "InstanceId", "NetworkBorderGroup", "PublicIpv4Pool", "TransferAddress"})
        | _TAGS,
        (),
        frozenset({"Domain", "NetworkBorderGroup", "PublicIpv4Pool"}),
        ("AllocationId", "PublicIp"),
        _eip,
    ),
    Ec2Kind(
        "AWS::EC2::NatGateway",
        "nat",
        "NatGateway",
        "natgateway",
        frozenset({"AllocationId", "ConnectivityType", "PrivateIpAddress", "SubnetId"}) | _TAGS,
        ("SubnetId",),
        frozenset({"AllocationId", "ConnectivityType", "PrivateIpAddress", "SubnetId"}),
        ("NatGatewayId",),
        _only("NatGatewayId"),
    ),
)


class RecordedEc2(ResourceHandler):
    """One EC2 type, recorded in the stack (its `kind` says which)."""

    def __init__(self, kind: Ec2Kind) -> None:
        self.kind = kind
        self.type_name = kind.type_name  # type: ignore[misc]
        self.properties = kind.properties  # type: ignore[misc]
        self.required = kind.required  # type: ignore[misc]
        self.replace_on = kind.replace_on  # type: ignore[misc]
        self.attributes = frozenset(kind.attributes)  # type: ignore[misc]

    def _arn(self, ctx: ResourceContext, resource_id: str) -> str:
        return f"arn:aws:ec2:{ctx.region}:{ctx.account}:{self.kind.arn_kind}/{resource_id}"

    def create(self, ctx: ResourceContext, props: Mapping[str, Any]) -> Provisioned:
        verb = "Attach" if self.kind.noun.endswith("Attachment") else "Create"
        noun = self.kind.noun.removesuffix("Attachment")
        if self.kind.noun == "Address":
            verb, noun = "Allocate", "Address"
        if self.kind.noun == "RouteTableAssociation":
            verb, noun = "Associate", "RouteTable"
        if self.kind.noun == "SecurityGroupIngress":
            verb, noun = "Authorize", "SecurityGroupIngress"
        ctx.authorize(AuthzCheck(f"ec2:{verb}{noun}", self._arn(ctx, "*")))
        new_id = ec2_id(self.kind.prefix)
        physical = self.kind.physical(new_id, props)
        return Provisioned(physical, self.kind.describe(ctx, props, new_id, {}))

    def update(
        self, ctx: ResourceContext, current: Provisioned, old: Mapping[str, Any], new: Mapping[str, Any]
    ) -> Provisioned:
        first = self.kind.attributes[0] if self.kind.attributes else ""
        if first.endswith("Id"):
            own_id = str(current.attributes.get(first, current.physical_id))
        else:  # a composite physical id: `rtb-...|0.0.0.0/0`, `IGW|vpc-...`
            own_id = current.physical_id.split("|")[0]
        only_tags = all(old.get(k) == new.get(k) for k in set(old) | set(new) if k != "Tags")
        action = {
            "Route": "ec2:ReplaceRoute",
            "RouteTableAssociation": "ec2:ReplaceRouteTableAssociation",
        }.get(self.kind.noun, f"ec2:Modify{self.kind.noun}Attribute")
        ctx.authorize(AuthzCheck("ec2:CreateTags" if only_tags else action, self._arn(ctx, own_id)))
        return Provisioned(current.physical_id, self.kind.describe(ctx, new, own_id, current.attributes))

    def delete(self, ctx: ResourceContext, current: Provisioned, props: Mapping[str, Any]) -> None:
        verb = "Detach" if self.kind.noun.endswith("Attachment") else "Delete"
        noun = self.kind.noun.removesuffix("Attachment")
        if self.kind.noun == "Address":
            verb, noun = "Release", "Address"
        if self.kind.noun == "RouteTableAssociation":
            verb, noun = "Disassociate", "RouteTable"
        if self.kind.noun == "SecurityGroupIngress":
            verb, noun = "Revoke", "SecurityGroupIngress"
        ctx.authorize(AuthzCheck(f"ec2:{verb}{noun}", self._arn(ctx, current.physical_id.split("|")[0])))


def ec2_handlers() -> list[ResourceHandler]:
    return [RecordedEc2(kind) for kind in KINDS]
