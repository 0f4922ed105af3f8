"""EKS resource properties reach the EKS API in its shapes; GetAtt attributes as AWS documents them."""

from __future__ import annotations

import base64
from typing import Any

from tests.services.cloudformation.conftest import outputs, stack

TEMPLATE = """
Resources:
  Cluster:
    Type: AWS::EKS::Cluster
    Properties:
      Name: props-cluster
      RoleArn: arn:aws:iam::111122223333:role/cluster
      ResourcesVpcConfig: {SubnetIds: [subnet-a], EndpointPrivateAccess: true}
      Logging: {ClusterLogging: {EnabledTypes: [{Type: api}, {Type: audit}]}}
      KubernetesNetworkConfig: {ServiceIpv4Cidr: 172.20.0.0/16}
      AccessConfig: {AuthenticationMode: API}
      Tags: [{Key: team, Value: platform}]
  Nodes:
    Type: AWS::EKS::Nodegroup
    Properties:
      ClusterName: !Ref Cluster
      NodegroupName: props-nodes
      NodeRole: arn:aws:iam::111122223333:role/node
      Subnets: [subnet-a]
      Labels: {Team: x}
      Taints: [{Key: k, Value: v, Effect: NO_SCHEDULE}]
      Tags: {Env: dev}
Outputs:
  Arn: {Value: !GetAtt Cluster.Arn}
  Endpoint: {Value: !GetAtt Cluster.Endpoint}
  Ca: {Value: !GetAtt Cluster.CertificateAuthorityData}
  Issuer: {Value: !GetAtt Cluster.OpenIdConnectIssuerUrl}
  Sg: {Value: !GetAtt Cluster.ClusterSecurityGroupId}
  Cidr: {Value: !GetAtt Cluster.KubernetesNetworkConfig.ServiceIpv4Cidr}
  NodesRef: {Value: !Ref Nodes}
  NodesArn: {Value: !GetAtt Nodes.Arn}
"""


def test_cluster_and_nodegroup_properties_and_attributes(cfn: Any, eks: Any) -> None:
    cfn.create_stack(StackName="eks-props", TemplateBody=TEMPLATE)
    assert stack(cfn, "eks-props")["StackStatus"] == "CREATE_COMPLETE"
    cluster = eks.describe_cluster(name="props-cluster")["cluster"]
    assert cluster["logging"]["clusterLogging"][0] == {"types": ["api", "audit"], "enabled": True}
    assert cluster["kubernetesNetworkConfig"]["serviceIpv4Cidr"] == "172.20.0.0/16"
    assert cluster["accessConfig"]["authenticationMode"] == "API"
    assert cluster["resourcesVpcConfig"]["endpointPrivateAccess"] is True
    assert cluster["tags"] == {"team": "platform"}
    group = eks.describe_nodegroup(clusterName="props-cluster", nodegroupName="props-nodes")["nodegroup"]
    assert group["labels"] == {"Team": "x"}
    assert group["taints"] == [{"key": "k", "value": "v", "effect": "NO_SCHEDULE"}]
    assert group["tags"] == {"Env": "dev"}
    out = outputs(cfn, "eks-props")
    assert out["Arn"] == cluster["arn"]
    assert out["Endpoint"] == cluster["endpoint"]
    assert out["Ca"] == cluster["certificateAuthority"]["data"]
    assert base64.b64decode(out["Ca"]).startswith(b"-----BEGIN CERTIFICATE-----")
    assert out["Issuer"] == cluster["identity"]["oidc"]["issuer"]
    assert out["Sg"] == cluster["resourcesVpcConfig"]["clusterSecurityGroupId"]
    assert out["Cidr"] == "172.20.0.0/16"
    assert out["NodesRef"] == "props-cluster/props-nodes"
    assert out["NodesArn"] == group["nodegroupArn"]
    # tags update in place; a version change is beyond podid's EKS and rolls back
    cfn.update_stack(StackName="eks-props", TemplateBody=TEMPLATE.replace("Value: platform", "Value: apps"))
    assert stack(cfn, "eks-props")["StackStatus"] == "UPDATE_COMPLETE"
    assert eks.describe_cluster(name="props-cluster")["cluster"]["tags"] == {"team": "apps"}
    newer = TEMPLATE.replace("Value: platform", "Value: apps").replace(
        "Name: props-cluster", "Name: props-cluster\n      Version: '1.33'"
    )
    cfn.update_stack(StackName="eks-props", TemplateBody=newer)
    assert stack(cfn, "eks-props")["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE"
    raw = cfn.describe_stack_events(StackName="eks-props")["StackEvents"]
    reasons = [e.get("ResourceStatusReason", "") for e in raw if e["ResourceStatus"] == "UPDATE_FAILED"]
    assert "podid cannot update Version of AWS::EKS::Cluster in place" in reasons[0]
    cfn.delete_stack(StackName="eks-props")
    assert "props-cluster" not in eks.list_clusters()["clusters"]
