"""Change sets through boto3: the flow `aws cloudformation deploy` uses, previews, no-change, errors;
and the S3 resource types."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError
from tests.services.cloudformation.conftest import TRUST_EKS, TRUST_PODS, outputs, stack

TEMPLATE = f"""
Parameters:
  Namespace: {{Type: String, Default: demo-ns}}
Resources:
  ClusterRole:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:{TRUST_EKS}
  Cluster:
    Type: AWS::EKS::Cluster
    Properties:
      Name: cs-cluster
      RoleArn: !GetAtt ClusterRole.Arn
      ResourcesVpcConfig: {{SubnetIds: [subnet-a]}}
  Agent:
    Type: AWS::EKS::Addon
    Properties: {{AddonName: eks-pod-identity-agent, ClusterName: !Ref Cluster}}
  PodRole:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:{TRUST_PODS}
  Association:
    Type: AWS::EKS::PodIdentityAssociation
    DependsOn: Agent
    Properties:
      ClusterName: !Ref Cluster
      Namespace: !Ref Namespace
      ServiceAccount: demo-sa
      RoleArn: !GetAtt PodRole.Arn
  Tagger:
    Type: AWS::EC2::SecurityGroup
    Properties:
      GroupDescription: depends on the association
      Tags: [{{Key: assoc, Value: !Ref Association}}]
Outputs:
  AssociationArn: {{Value: !Ref Association}}
"""


def _error(call: Any) -> dict[str, str]:
    with pytest.raises(ClientError) as caught:
        call()
    error: dict[str, str] = caught.value.response["Error"]
    return error


def _changes(cfn: Any, name: str, stack_name: str) -> dict[str, dict[str, Any]]:
    described = cfn.describe_change_set(ChangeSetName=name, StackName=stack_name)
    return {c["ResourceChange"]["LogicalResourceId"]: c["ResourceChange"] for c in described["Changes"]}


def test_create_change_set_then_execute(cfn: Any, eks: Any) -> None:
    created = cfn.create_change_set(
        StackName="cs",
        ChangeSetName="first",
        ChangeSetType="CREATE",
        TemplateBody=TEMPLATE,
        Capabilities=["CAPABILITY_IAM"],
    )
    assert created["Id"].startswith("arn:aws:cloudformation:us-west-2:111122223333:changeSet/first/")
    # the stack exists for review only
    assert stack(cfn, "cs")["StackStatus"] == "REVIEW_IN_PROGRESS"
    described = cfn.describe_change_set(ChangeSetName=created["Id"])
    assert (described["Status"], described["ExecutionStatus"]) == ("CREATE_COMPLETE", "AVAILABLE")
    assert {c["ResourceChange"]["Action"] for c in described["Changes"]} == {"Add"}
    assert len(described["Changes"]) == 6
    waiter = cfn.get_waiter("change_set_create_complete")
    waiter.wait(ChangeSetName=created["Id"], WaiterConfig={"Delay": 1, "MaxAttempts": 1})
    cfn.execute_change_set(ChangeSetName="first", StackName="cs")
    cfn.get_waiter("stack_create_complete").wait(StackName="cs", WaiterConfig={"Delay": 1, "MaxAttempts": 1})
    assert stack(cfn, "cs")["ChangeSetId"] == created["Id"]
    assert eks.describe_addon(clusterName="cs-cluster", addonName="eks-pod-identity-agent")["addon"]["status"]
    executed = cfn.describe_change_set(ChangeSetName=created["Id"])
    assert executed["ExecutionStatus"] == "EXECUTE_COMPLETE"
    err = _error(lambda: cfn.execute_change_set(ChangeSetName=created["Id"]))
    assert err["Code"] == "InvalidChangeSetStatus"

    # the same template again: FAILED with the reason `aws cloudformation deploy` looks for
    cfn.create_change_set(
        StackName="cs", ChangeSetName="same", TemplateBody=TEMPLATE, Capabilities=["CAPABILITY_IAM"]
    )
    same = cfn.describe_change_set(ChangeSetName="same", StackName="cs")
    assert (same["Status"], same["ExecutionStatus"]) == ("FAILED", "UNAVAILABLE")
    assert same["StatusReason"] == (
        "The submitted information didn't contain changes. "
        "Submit different information to create a change set."
    )

    # a Namespace change: the association is replaced, what references it changes dynamically
    cfn.create_change_set(
        StackName="cs",
        ChangeSetName="move",
        UsePreviousTemplate=True,
        Parameters=[{"ParameterKey": "Namespace", "ParameterValue": "moved-ns"}],
        Capabilities=["CAPABILITY_IAM"],
    )
    changes = _changes(cfn, "move", "cs")
    assert set(changes) == {"Association", "Tagger"}
    assert changes["Association"]["Action"] == "Modify"
    assert changes["Association"]["Replacement"] == "True"
    assert changes["Association"]["Details"][0]["Target"] == {
        "Attribute": "Properties",
        "Name": "Namespace",
        "RequiresRecreation": "Always",
    }
    assert changes["Tagger"]["Replacement"] == "False"
    assert changes["Tagger"]["Details"][0]["Evaluation"] == "Dynamic"
    summaries = cfn.list_change_sets(StackName="cs")["Summaries"]
    assert [s["ChangeSetName"] for s in summaries] == ["first", "same", "move"]
    old_arn = outputs(cfn, "cs")["AssociationArn"]
    cfn.execute_change_set(ChangeSetName="move", StackName="cs")
    assert stack(cfn, "cs")["StackStatus"] == "UPDATE_COMPLETE"
    new_arn = outputs(cfn, "cs")["AssociationArn"]
    assert new_arn != old_arn
    assert [
        a["namespace"] for a in eks.list_pod_identity_associations(clusterName="cs-cluster")["associations"]
    ] == ["moved-ns"]
    # executing made the other change sets obsolete
    assert [s["ChangeSetName"] for s in cfn.list_change_sets(StackName="cs")["Summaries"]] == ["move"]
    cfn.delete_change_set(ChangeSetName="move", StackName="cs")
    assert (
        _error(lambda: cfn.describe_change_set(ChangeSetName="move", StackName="cs"))["Code"]
        == "ChangeSetNotFound"
    )
    cfn.delete_stack(StackName="cs")
    cfn.get_waiter("stack_delete_complete").wait(StackName="cs", WaiterConfig={"Delay": 1, "MaxAttempts": 1})
    assert "cs-cluster" not in eks.list_clusters()["clusters"]


def test_change_set_errors(cfn: Any) -> None:
    body = "Resources:\n  V: {Type: AWS::EC2::VPC}\n"
    err = _error(lambda: cfn.create_change_set(StackName="nope", ChangeSetName="c", TemplateBody=body))
    assert err["Message"] == "Stack with id nope does not exist"
    cfn.create_stack(StackName="cs-err", TemplateBody=body)
    err = _error(
        lambda: cfn.create_change_set(
            StackName="cs-err", ChangeSetName="c", TemplateBody=body, ChangeSetType="CREATE"
        )
    )
    assert err["Code"] == "AlreadyExistsException"
    err = _error(lambda: cfn.describe_change_set(ChangeSetName="missing", StackName="cs-err"))
    assert (err["Code"], err["Message"]) == ("ChangeSetNotFound", "ChangeSet [missing] does not exist")
    err = _error(
        lambda: cfn.create_change_set(
            StackName="cs-err",
            ChangeSetName="c",
            TemplateBody=body,
            RoleARN="arn:aws:iam::111122223333:role/cfn",
        )
    )
    assert "RoleARN" in err["Message"]
    cfn.delete_stack(StackName="cs-err")


def test_bucket_and_bucket_policy(ep: Any, cfn: Any) -> None:
    if "AWS::S3::Bucket" not in ep.endpoint.services.providers["cloudformation"].domain.handlers:
        pytest.fail("the endpoint serves S3, so CloudFormation must provision buckets")
    body = """
Resources:
  Bucket:
    Type: AWS::S3::Bucket
    Properties:
      Tags: [{Key: team, Value: demo}]
  Policy:
    Type: AWS::S3::BucketPolicy
    Properties:
      Bucket: !Ref Bucket
      PolicyDocument:
        Version: "2012-10-17"
        Statement:
          - Effect: Deny
            Principal: "*"
            Action: s3:DeleteObject
            Resource: !Sub "${Bucket.Arn}/*"
Outputs:
  Name: {Value: !Ref Bucket}
  Arn: {Value: !GetAtt Bucket.Arn}
  Regional: {Value: !GetAtt Bucket.RegionalDomainName}
"""
    cfn.create_stack(StackName="bucket", TemplateBody=body)
    assert stack(cfn, "bucket")["StackStatus"] == "CREATE_COMPLETE"
    out = outputs(cfn, "bucket")
    name = out["Name"]
    assert name.startswith("bucket-bucket-")
    assert name == name.lower()
    assert out["Arn"] == f"arn:aws:s3:::{name}"
    assert out["Regional"] == f"{name}.s3.us-west-2.amazonaws.com"
    s3 = ep.boto3_client("s3")
    assert "s3:DeleteObject" in s3.get_bucket_policy(Bucket=name)["Policy"]
    s3.put_object(Bucket=name, Key="k", Body=b"x")
    cfn.delete_stack(StackName="bucket")
    # a bucket with objects cannot be deleted: DELETE_FAILED, as on AWS
    found = stack(cfn, "bucket")
    assert found["StackStatus"] == "DELETE_FAILED"
    assert found["StackStatusReason"] == "The following resource(s) failed to delete: [Bucket]. "
    s3.delete_bucket_policy(Bucket=name)
    s3.delete_object(Bucket=name, Key="k")
    cfn.delete_stack(StackName="bucket")
    assert _error(lambda: s3.head_bucket(Bucket=name))["Code"] in ("404", "NoSuchBucket")
