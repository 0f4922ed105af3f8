"""Stacks through boto3 against a real endpoint: create, rollback, update in place and by replacement,
update rollback, delete, capabilities, exports, acting with the caller's permissions."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError
from tests.services.cloudformation.conftest import ACCOUNT, TRUST_EKS, TRUST_PODS, events, outputs, stack

ASSOCIATION_STACK = f"""
Parameters:
  ClusterName: {{Type: String}}
  Namespace: {{Type: String, Default: demo-ns}}
  UseSecond: {{Type: String, Default: "false", AllowedValues: ["true", "false"]}}
Conditions:
  Second: !Equals [!Ref UseSecond, "true"]
Resources:
  ClusterRole:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:{TRUST_EKS}
  Cluster:
    Type: AWS::EKS::Cluster
    Properties:
      Name: !Ref ClusterName
      RoleArn: !GetAtt ClusterRole.Arn
      ResourcesVpcConfig: {{SubnetIds: [subnet-1, subnet-2]}}
  FirstRole:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:{TRUST_PODS}
  SecondRole:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:{TRUST_PODS}
  Association:
    Type: AWS::EKS::PodIdentityAssociation
    Properties:
      ClusterName: !Ref Cluster
      Namespace: !Ref Namespace
      ServiceAccount: demo-sa
      RoleArn: !If [Second, !GetAtt SecondRole.Arn, !GetAtt FirstRole.Arn]
Outputs:
  AssociationId: {{Value: !GetAtt Association.AssociationId}}
  First: {{Value: !GetAtt FirstRole.Arn}}
  Second: {{Value: !GetAtt SecondRole.Arn}}
"""


def _params(**values: str) -> list[dict[str, str]]:
    return [{"ParameterKey": k, "ParameterValue": v} for k, v in values.items()]


def _error(call: Any) -> dict[str, str]:
    with pytest.raises(ClientError) as caught:
        call()
    error: dict[str, str] = caught.value.response["Error"]
    return error


def test_stack_with_an_unsupported_resource_rolls_back(cfn: Any, iam: Any) -> None:
    body = f"""
Resources:
  Role:
    Type: AWS::IAM::Role
    Properties:
      RoleName: rollback-probe
      AssumeRolePolicyDocument:{TRUST_PODS}
  Function:
    Type: AWS::Lambda::Function
    DependsOn: Role
    Properties: {{FunctionName: f}}
"""
    cfn.create_stack(StackName="bad-type", TemplateBody=body, Capabilities=["CAPABILITY_NAMED_IAM"])
    found = stack(cfn, "bad-type")
    assert found["StackStatus"] == "ROLLBACK_COMPLETE"
    assert "StackStatusReason" not in found  # the reason is on the ROLLBACK_IN_PROGRESS event
    history = events(cfn, "bad-type")
    assert (
        "bad-type",
        "ROLLBACK_IN_PROGRESS",
        "The following resource(s) failed to create: [Function]. Rollback requested by user.",
    ) in history
    failed = [e for e in history if e[1] == "CREATE_FAILED"]
    assert failed[0][0] == "Function"
    assert "Resource type AWS::Lambda::Function is not supported by podid" in failed[0][2]
    # the role created before the failure was deleted by the rollback, in reverse order
    assert ("Role", "DELETE_COMPLETE", "") in history
    assert _error(lambda: iam.get_role(RoleName="rollback-probe"))["Code"] == "NoSuchEntity"
    # a stack in ROLLBACK_COMPLETE cannot be updated, only deleted
    err = _error(lambda: cfn.update_stack(StackName="bad-type", TemplateBody=body))
    assert "is in ROLLBACK_COMPLETE state and can not be updated." in err["Message"]
    cfn.delete_stack(StackName="bad-type")
    assert _error(lambda: cfn.describe_stacks(StackName="bad-type"))["Message"] == (
        "Stack with id bad-type does not exist"
    )


def test_a_resource_the_service_refuses_rolls_back_with_the_services_message(cfn: Any) -> None:
    body = """
Resources:
  Net:
    Type: AWS::EC2::VPC
    Properties: {CidrBlock: 10.1.0.0/16}
  Role:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument: {Version: "2012-10-17", Statement: [{Effect: Allow, Action: sts:AssumeRole}]}
"""
    cfn.create_stack(StackName="bad-trust", TemplateBody=body, Capabilities=["CAPABILITY_IAM"])
    assert stack(cfn, "bad-trust")["StackStatus"] == "ROLLBACK_COMPLETE"
    failed = [e for e in events(cfn, "bad-trust") if e[1] == "CREATE_FAILED"]
    assert failed[0][0] == "Role"
    assert failed[0][2].startswith('Resource handler returned message: "')
    assert "HandlerErrorCode: InvalidRequest" in failed[0][2]
    assert cfn.list_stack_resources(StackName="bad-trust")["StackResourceSummaries"] == []


def test_missing_required_property_fails_the_resource(cfn: Any) -> None:
    body = "Resources:\n  Sub:\n    Type: AWS::EC2::Subnet\n    Properties: {CidrBlock: 10.0.0.0/24}\n"
    cfn.create_stack(StackName="no-vpc-id", TemplateBody=body, OnFailure="DO_NOTHING")
    assert stack(cfn, "no-vpc-id")["StackStatus"] == "CREATE_FAILED"
    failed = [e for e in events(cfn, "no-vpc-id") if e[1] == "CREATE_FAILED" and e[0] == "Sub"]
    assert failed[0][2] == (
        "Properties validation failed for resource Sub with message: [#: required key [VpcId] not found]"
    )
    cfn.delete_stack(StackName="no-vpc-id")


def test_association_role_changes_in_place_and_namespace_change_replaces(cfn: Any, eks: Any) -> None:
    cfn.create_stack(
        StackName="assoc",
        TemplateBody=ASSOCIATION_STACK,
        Parameters=_params(ClusterName="cfn-assoc"),
        Capabilities=["CAPABILITY_IAM"],
    )
    assert stack(cfn, "assoc")["StackStatus"] == "CREATE_COMPLETE"
    first = outputs(cfn, "assoc")
    assoc_id = first["AssociationId"]
    described = eks.describe_pod_identity_association(clusterName="cfn-assoc", associationId=assoc_id)
    assert described["association"]["roleArn"] == first["First"]

    # RoleArn: updated in place, the same association
    cfn.update_stack(
        StackName="assoc",
        TemplateBody=ASSOCIATION_STACK,
        Parameters=_params(ClusterName="cfn-assoc", UseSecond="true"),
        Capabilities=["CAPABILITY_IAM"],
    )
    assert stack(cfn, "assoc")["StackStatus"] == "UPDATE_COMPLETE"
    assert outputs(cfn, "assoc")["AssociationId"] == assoc_id
    described = eks.describe_pod_identity_association(clusterName="cfn-assoc", associationId=assoc_id)
    assert described["association"]["roleArn"] == first["Second"]

    # Namespace: a new association replaces the old one
    cfn.update_stack(
        StackName="assoc",
        UsePreviousTemplate=True,
        Parameters=[
            {"ParameterKey": "ClusterName", "UsePreviousValue": True},
            {"ParameterKey": "UseSecond", "UsePreviousValue": True},
            {"ParameterKey": "Namespace", "ParameterValue": "other-ns"},
        ],
        Capabilities=["CAPABILITY_IAM"],
    )
    assert stack(cfn, "assoc")["StackStatus"] == "UPDATE_COMPLETE"
    new_id = outputs(cfn, "assoc")["AssociationId"]
    assert new_id != assoc_id
    listed = eks.list_pod_identity_associations(clusterName="cfn-assoc")["associations"]
    assert [(a["namespace"], a["associationId"]) for a in listed] == [("other-ns", new_id)]
    reasons = [e[2] for e in events(cfn, "assoc") if e[0] == "Association"]
    assert "Requested update requires the creation of a new physical resource; hence creating one." in reasons

    # no change at all
    err = _error(
        lambda: cfn.update_stack(
            StackName="assoc",
            UsePreviousTemplate=True,
            Parameters=[
                {"ParameterKey": k, "UsePreviousValue": True}
                for k in ("ClusterName", "UseSecond", "Namespace")
            ],
            Capabilities=["CAPABILITY_IAM"],
        )
    )
    assert err == {"Type": "Sender", "Code": "ValidationError", "Message": "No updates are to be performed."}

    cfn.delete_stack(StackName="assoc")
    assert _error(lambda: eks.describe_cluster(name="cfn-assoc"))["Code"] == "ResourceNotFoundException"


def test_failed_update_rolls_back_every_step(cfn: Any, eks: Any, iam: Any) -> None:
    cfn.create_stack(
        StackName="upd-rb",
        TemplateBody=ASSOCIATION_STACK,
        Parameters=_params(ClusterName="cfn-upd-rb"),
        Capabilities=["CAPABILITY_IAM"],
    )
    before = outputs(cfn, "upd-rb")
    # adds a role, switches the association to it, then fails on a resource podid cannot make
    broken = ASSOCIATION_STACK.replace(
        "Outputs:",
        f"""  ExtraRole:
    Type: AWS::IAM::Role
    Properties:
      RoleName: upd-rb-extra
      AssumeRolePolicyDocument:{TRUST_PODS}
  Queue:
    Type: AWS::SQS::Queue
    DependsOn: Association
Outputs:""",
    )
    cfn.update_stack(
        StackName="upd-rb",
        TemplateBody=broken,
        Parameters=_params(ClusterName="cfn-upd-rb", UseSecond="true"),
        Capabilities=["CAPABILITY_NAMED_IAM"],
    )
    found = stack(cfn, "upd-rb")
    assert found["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE"
    assert "StackStatusReason" not in found
    statuses = [e[1] for e in events(cfn, "upd-rb") if e[0] == "upd-rb"]
    assert statuses[-4:] == [
        "UPDATE_IN_PROGRESS",
        "UPDATE_ROLLBACK_IN_PROGRESS",
        "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS",
        "UPDATE_ROLLBACK_COMPLETE",
    ]
    assoc = eks.describe_pod_identity_association(
        clusterName="cfn-upd-rb", associationId=before["AssociationId"]
    )
    assert assoc["association"]["roleArn"] == before["First"]
    assert _error(lambda: iam.get_role(RoleName="upd-rb-extra"))["Code"] == "NoSuchEntity"
    assert "Queue" not in cfn.get_template(StackName="upd-rb")["TemplateBody"]
    assert found["Parameters"] == _params(ClusterName="cfn-upd-rb", Namespace="demo-ns", UseSecond="false")
    # a stack in UPDATE_ROLLBACK_COMPLETE can be updated again
    cfn.update_stack(
        StackName="upd-rb",
        TemplateBody=ASSOCIATION_STACK,
        Parameters=_params(ClusterName="cfn-upd-rb", UseSecond="true"),
        Capabilities=["CAPABILITY_IAM"],
    )
    assert stack(cfn, "upd-rb")["StackStatus"] == "UPDATE_COMPLETE"
    cfn.delete_stack(StackName="upd-rb")


def test_custom_named_resource_cannot_be_replaced_in_place(cfn: Any) -> None:
    body = f"""
Parameters:
  Path: {{Type: String, Default: /}}
Resources:
  Role:
    Type: AWS::IAM::Role
    Properties:
      RoleName: named-replace
      Path: !Ref Path
      AssumeRolePolicyDocument:{TRUST_PODS}
"""
    cfn.create_stack(StackName="named", TemplateBody=body, Capabilities=["CAPABILITY_NAMED_IAM"])
    cfn.update_stack(
        StackName="named",
        TemplateBody=body,
        Parameters=_params(Path="/team/"),
        Capabilities=["CAPABILITY_NAMED_IAM"],
    )
    assert stack(cfn, "named")["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE"
    reasons = [e[2] for e in events(cfn, "named") if e[0] == "Role" and e[1] == "UPDATE_FAILED"]
    assert reasons == [
        "CloudFormation cannot update a stack when a custom-named resource requires replacing. "
        "Rename named-replace and update the stack again."
    ]
    cfn.delete_stack(StackName="named")


def test_capabilities_are_required_for_iam_resources(cfn: Any) -> None:
    unnamed = "Resources:\n  R:\n    Type: AWS::IAM::Role\n    Properties:\n"
    unnamed += f"      AssumeRolePolicyDocument:{TRUST_PODS}"
    err = _error(lambda: cfn.create_stack(StackName="caps", TemplateBody=unnamed))
    assert err["Code"] == "InsufficientCapabilitiesException"
    assert err["Message"] == "Requires capabilities : [CAPABILITY_IAM]"
    named = unnamed.replace("Properties:\n", "Properties:\n      RoleName: caps-role\n")
    err = _error(
        lambda: cfn.create_stack(StackName="caps", TemplateBody=named, Capabilities=["CAPABILITY_IAM"])
    )
    assert err["Message"] == "Requires capabilities : [CAPABILITY_NAMED_IAM]"
    summary = cfn.get_template_summary(TemplateBody=named)
    assert summary["Capabilities"] == ["CAPABILITY_NAMED_IAM"]
    assert summary["ResourceTypes"] == ["AWS::IAM::Role"]
    assert _error(lambda: cfn.describe_stacks(StackName="caps"))["Code"] == "ValidationError"


def test_api_time_template_errors(cfn: Any) -> None:
    cyclic = """
Resources:
  A: {Type: AWS::EC2::VPC, DependsOn: B}
  B: {Type: AWS::EC2::VPC, DependsOn: A}
"""
    err = _error(lambda: cfn.create_stack(StackName="cyc", TemplateBody=cyclic))
    assert err["Message"] == "Circular dependency between resources: [A, B]"
    bad_attr = (
        "Resources:\n  V: {Type: AWS::EC2::VPC}\n"
        "  S: {Type: AWS::EC2::Subnet, Properties: {VpcId: !GetAtt V.Nope}}"
    )
    err = _error(lambda: cfn.create_stack(StackName="attr", TemplateBody=bad_attr))
    assert err["Message"] == "Template error: resource V does not support attribute type Nope in Fn::GetAtt"
    err = _error(lambda: cfn.validate_template(TemplateBody="Resources: {}"))
    assert err["Message"] == "Template format error: At least one Resources member must be defined."


def test_exports_imports_and_an_export_in_use(cfn: Any) -> None:
    producer = """
Resources:
  Vpc: {Type: AWS::EC2::VPC, Properties: {CidrBlock: 10.9.0.0/16}}
Outputs:
  VpcId:
    Value: !Ref Vpc
    Export: {Name: shared-vpc}
"""
    consumer = """
Resources:
  Sub:
    Type: AWS::EC2::Subnet
    Properties: {VpcId: !ImportValue shared-vpc, CidrBlock: 10.9.1.0/24}
Outputs:
  Vpc: {Value: !GetAtt Sub.VpcId}
"""
    cfn.create_stack(StackName="producer", TemplateBody=producer)
    cfn.create_stack(StackName="consumer", TemplateBody=consumer)
    vpc_id = outputs(cfn, "producer")["VpcId"]
    assert vpc_id.startswith("vpc-")
    assert len(vpc_id) == 21
    assert outputs(cfn, "consumer")["Vpc"] == vpc_id
    cfn.create_stack(StackName="dup-export", TemplateBody=producer)
    assert stack(cfn, "dup-export")["StackStatus"] == "ROLLBACK_COMPLETE"
    reasons = [e[2] for e in events(cfn, "dup-export") if e[1] == "ROLLBACK_IN_PROGRESS"]
    assert reasons == [
        "Export with name shared-vpc is already exported by stack producer. Rollback requested by user."
    ]
    cfn.delete_stack(StackName="producer")
    found = stack(cfn, "producer")
    assert found["StackStatus"] == "DELETE_FAILED"
    assert found["StackStatusReason"] == "Export shared-vpc cannot be deleted as it is in use by consumer"
    cfn.delete_stack(StackName="consumer")
    cfn.delete_stack(StackName="producer")
    gone = {
        s["StackName"]: s["StackStatus"]
        for s in cfn.list_stacks()["StackSummaries"]
        if s["StackName"] in ("producer", "consumer")
    }
    assert gone == {"producer": "DELETE_COMPLETE", "consumer": "DELETE_COMPLETE"}


def test_retain_keeps_the_resource_and_no_echo_masks_the_parameter(cfn: Any, iam: Any) -> None:
    body = f"""
Parameters:
  Secret: {{Type: String, NoEcho: true}}
Resources:
  Kept:
    Type: AWS::IAM::Role
    DeletionPolicy: Retain
    Properties:
      RoleName: retained-role
      Description: !Ref Secret
      AssumeRolePolicyDocument:{TRUST_PODS}
"""
    cfn.create_stack(
        StackName="retain",
        TemplateBody=body,
        Parameters=_params(Secret="hunter2"),
        Capabilities=["CAPABILITY_NAMED_IAM"],
    )
    assert stack(cfn, "retain")["Parameters"] == [{"ParameterKey": "Secret", "ParameterValue": "****"}]
    cfn.delete_stack(StackName="retain")
    assert ("Kept", "DELETE_SKIPPED", "") in events(cfn, stack_id_of(cfn, "retain"))
    assert iam.get_role(RoleName="retained-role")["Role"]["Description"] == "hunter2"
    iam.delete_role(RoleName="retained-role")


def stack_id_of(cfn: Any, name: str) -> str:
    for summary in cfn.list_stacks()["StackSummaries"]:
        if summary["StackName"] == name:
            return str(summary["StackId"])
    raise AssertionError(name)


def test_resources_are_created_with_the_callers_permissions(ep: Any, cfn: Any, iam: Any) -> None:
    iam.create_user(UserName="cfn-limited")
    iam.put_user_policy(
        UserName="cfn-limited",
        PolicyName="cfn-and-ec2",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": ["cloudformation:*", "ec2:*"], "Resource": "*"}],
            }
        ),
    )
    key = iam.create_access_key(UserName="cfn-limited")["AccessKey"]
    limited = ep.boto3_client(
        "cloudformation", aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"]
    )
    body = f"""
Resources:
  Vpc: {{Type: AWS::EC2::VPC, Properties: {{CidrBlock: 10.3.0.0/16}}}}
  Role:
    Type: AWS::IAM::Role
    DependsOn: Vpc
    Properties:
      AssumeRolePolicyDocument:{TRUST_PODS}
"""
    limited.create_stack(StackName="limited", TemplateBody=body, Capabilities=["CAPABILITY_IAM"])
    assert stack(cfn, "limited")["StackStatus"] == "ROLLBACK_COMPLETE"
    failed = [e for e in events(cfn, "limited") if e[1] == "CREATE_FAILED"]
    assert failed[0][0] == "Role"
    assert (
        f"User: arn:aws:iam::{ACCOUNT}:user/cfn-limited is not authorized to perform: iam:CreateRole"
        in failed[0][2]
    )
    assert "HandlerErrorCode: AccessDenied" in failed[0][2]
    # without cloudformation permissions the API call itself is refused
    iam.delete_user_policy(UserName="cfn-limited", PolicyName="cfn-and-ec2")
    err = _error(lambda: limited.describe_stacks(StackName="limited"))
    assert err["Code"] == "AccessDenied"
    assert "cloudformation:DescribeStacks" in err["Message"]


def test_describe_resources_and_templates(cfn: Any) -> None:
    body = """
Description: two subnets
Parameters:
  Azs: {Type: CommaDelimitedList, Default: "a,b"}
Resources:
  Vpc: {Type: AWS::EC2::VPC, Properties: {CidrBlock: 10.4.0.0/16}}
  SubA:
    Type: AWS::EC2::Subnet
    Properties:
      VpcId: !Ref Vpc
      CidrBlock: !Select [0, !Cidr [!GetAtt Vpc.CidrBlock, 2, 8]]
      AvailabilityZone: !Sub "${AWS::Region}a"
      Tags: [{Key: zone, Value: !Join ["", !Split [",", !Join [",", !Ref Azs]]]}]
    Metadata: {Zone: a}
Outputs:
  Zone: {Value: !GetAtt SubA.AvailabilityZone}
  ZoneId: {Value: !GetAtt SubA.AvailabilityZoneId}
  Cidr: {Value: !GetAtt SubA.CidrBlock}
"""
    cfn.create_stack(StackName="describe", TemplateBody=body)
    assert outputs(cfn, "describe") == {"Zone": "us-west-2a", "ZoneId": "usw2-az1", "Cidr": "10.4.0.0/24"}
    detail = cfn.describe_stack_resource(StackName="describe", LogicalResourceId="SubA")[
        "StackResourceDetail"
    ]
    assert detail["ResourceStatus"] == "CREATE_COMPLETE"
    assert detail["PhysicalResourceId"].startswith("subnet-")
    by_physical = cfn.describe_stack_resources(PhysicalResourceId=detail["PhysicalResourceId"])[
        "StackResources"
    ]
    assert {r["LogicalResourceId"] for r in by_physical} == {"Vpc", "SubA"}
    assert cfn.get_template(StackName="describe")["TemplateBody"] == body
    summary = cfn.get_template_summary(StackName="describe")
    assert summary["Description"] == "two subnets"
    assert summary["Parameters"][0]["ParameterType"] == "CommaDelimitedList"
    validated = cfn.validate_template(TemplateBody=body)
    assert validated["Parameters"] == [{"ParameterKey": "Azs", "DefaultValue": "a,b", "NoEcho": False}]
    err = _error(lambda: cfn.describe_stack_resource(StackName="describe", LogicalResourceId="Nope"))
    assert err["Message"] == "Resource Nope does not exist for stack describe"
    cfn.delete_stack(StackName="describe")
    cfn.delete_stack(StackName="never-existed")  # succeeds, as on AWS


@pytest.mark.parametrize(
    ("name", "properties", "message"),
    [
        (
            "shape-tags",
            "{CidrBlock: 10.0.0.0/16, Tags: abc}",
            "#/Tags: expected type: JSONArray, found: String",
        ),
        (
            "shape-tag",
            "{CidrBlock: 10.0.0.0/16, Tags: [{Key: a}]}",
            "#/Tags/0: required key [Value] not found",
        ),
        (
            "shape-extra",
            "{CidrBlock: 10.0.0.0/16, Colour: blue}",
            "#: extraneous key [Colour] is not permitted",
        ),
    ],
)
def test_property_shapes_are_checked(cfn: Any, name: str, properties: str, message: str) -> None:
    cfn.create_stack(
        StackName=name, TemplateBody=f"Resources:\n  V: {{Type: AWS::EC2::VPC, Properties: {properties}}}"
    )
    failed = [e[2] for e in events(cfn, name) if e[1] == "CREATE_FAILED"]
    assert failed == [f"Properties validation failed for resource V with message: [{message}]"]
    cfn.delete_stack(StackName=name)


def test_update_replace_policy_retain_keeps_the_replaced_resource(cfn: Any, iam: Any) -> None:
    body = f"""
Parameters:
  Path: {{Type: String, Default: /}}
Resources:
  Role:
    Type: AWS::IAM::Role
    UpdateReplacePolicy: Retain
    Properties:
      Path: !Ref Path
      AssumeRolePolicyDocument:{TRUST_PODS}
Outputs:
  Name: {{Value: !Ref Role}}
"""
    cfn.create_stack(StackName="replace-retain", TemplateBody=body, Capabilities=["CAPABILITY_IAM"])
    first = outputs(cfn, "replace-retain")["Name"]
    assert first.startswith("replace-retain-Role-")
    cfn.update_stack(
        StackName="replace-retain",
        TemplateBody=body,
        Parameters=_params(Path="/moved/"),
        Capabilities=["CAPABILITY_IAM"],
    )
    assert stack(cfn, "replace-retain")["StackStatus"] == "UPDATE_COMPLETE"
    second = outputs(cfn, "replace-retain")["Name"]
    assert second != first
    assert iam.get_role(RoleName=second)["Role"]["Path"] == "/moved/"
    assert iam.get_role(RoleName=first)["Role"]["Path"] == "/"  # retained, no longer the stack's
    assert ("Role", "DELETE_SKIPPED", "") in events(cfn, "replace-retain")
    cfn.delete_stack(StackName="replace-retain")
    assert _error(lambda: iam.get_role(RoleName=second))["Code"] == "NoSuchEntity"
    iam.delete_role(RoleName=first)


def test_recorded_ec2_resources_update_in_place_or_by_replacement(cfn: Any) -> None:
    body = """
Parameters:
  Cidr: {Type: String, Default: 10.5.1.0/24}
  Owner: {Type: String, Default: a}
Resources:
  Vpc: {Type: AWS::EC2::VPC, Properties: {CidrBlock: 10.5.0.0/16}}
  Sub:
    Type: AWS::EC2::Subnet
    Properties: {VpcId: !Ref Vpc, CidrBlock: !Ref Cidr, Tags: [{Key: owner, Value: !Ref Owner}]}
Outputs:
  Sub: {Value: !Ref Sub}
  SubId: {Value: !GetAtt Sub.SubnetId}
  Vpc: {Value: !GetAtt Sub.VpcId}
"""
    cfn.create_stack(StackName="ec2-upd", TemplateBody=body)
    first = outputs(cfn, "ec2-upd")
    assert first["Sub"] == first["SubId"]
    cfn.update_stack(StackName="ec2-upd", TemplateBody=body, Parameters=_params(Owner="b"))
    assert outputs(cfn, "ec2-upd") == first  # tags: in place, same subnet
    cfn.update_stack(
        StackName="ec2-upd", TemplateBody=body, Parameters=_params(Owner="b", Cidr="10.5.2.0/24")
    )
    second = outputs(cfn, "ec2-upd")
    assert second["Sub"] != first["Sub"]  # CidrBlock: replacement
    assert second["Vpc"] == first["Vpc"]
    cfn.delete_stack(StackName="ec2-upd")
