"""AWS::EKS::PodIdentityAssociation over `EksDomain.associations`.

ClusterName, Namespace and ServiceAccount replace the association (the walkthrough's "Change this"
edit); RoleArn, TargetRoleArn, DisableSessionTags and Policy update it in place
(`eks:UpdatePodIdentityAssociation`, with `iam:PassRole` to pods.eks.amazonaws.com for a new role);
Tags update in place. Ref is the association ARN; GetAtt: AssociationArn, AssociationId, ExternalId.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from podid.errors import AwsError
from podid.services.base import AuthzCheck
from podid.services.cloudformation.resources.base import Provisioned, ResourceContext, as_bool, tag_map
from podid.services.cloudformation.resources.eks import (
    PODS_SERVICE,
    EksHandler,
    eks_tag_context,
    is_not_found,
    pass_role,
)


class PodIdentityAssociationHandler(EksHandler):
    type_name = "AWS::EKS::PodIdentityAssociation"
    properties = frozenset(
        {
            "ClusterName",
            "DisableSessionTags",
            "Namespace",
            "Policy",
            "RoleArn",
            "ServiceAccount",
            "Tags",
            "TargetRoleArn",
        }
    )
    required = ("ClusterName", "Namespace", "RoleArn", "ServiceAccount")
    replace_on = frozenset({"ClusterName", "Namespace", "ServiceAccount"})
    attributes = frozenset({"AssociationArn", "AssociationId", "ExternalId"})

    def create(self, ctx: ResourceContext, props: Mapping[str, Any]) -> Provisioned:
        cluster = self.cluster(ctx, str(props["ClusterName"]))
        tags = tag_map(props)
        role_arn = str(props["RoleArn"])
        ctx.authorize(
            AuthzCheck("eks:CreatePodIdentityAssociation", cluster.arn, eks_tag_context(tags)),
            pass_role(role_arn, PODS_SERVICE),
        )
        assoc = self.domain.associations.create(
            cluster,
            namespace=str(props["Namespace"]),
            service_account=str(props["ServiceAccount"]),
            role_arn=role_arn,
            target_role_arn=props.get("TargetRoleArn"),
            disable_session_tags=as_bool(props.get("DisableSessionTags"))
            if "DisableSessionTags" in props
            else None,
            policy=props.get("Policy"),
            tags=tags,
        )
        return Provisioned(
            assoc.arn,
            {
                "AssociationArn": assoc.arn,
                "AssociationId": assoc.association_id,
                "ExternalId": assoc.external_id or "",
            },
        )

    @staticmethod
    def _split(arn: str) -> tuple[str, str]:
        rest = arn.split(":podidentityassociation/", 1)[-1]
        cluster, _, association_id = rest.partition("/")
        return cluster, association_id

    def update(
        self, ctx: ResourceContext, current: Provisioned, old: Mapping[str, Any], new: Mapping[str, Any]
    ) -> Provisioned:
        cluster_name, association_id = self._split(current.physical_id)
        cluster = self.cluster(ctx, cluster_name)
        assoc = self.domain.associations.get(cluster, association_id)
        members = ("RoleArn", "TargetRoleArn", "DisableSessionTags", "Policy")
        if any(old.get(k) != new.get(k) for k in members):
            role_arn = str(new["RoleArn"])
            checks = [AuthzCheck("eks:UpdatePodIdentityAssociation", assoc.arn)]
            if old.get("RoleArn") != new.get("RoleArn"):
                checks.append(pass_role(role_arn, PODS_SERVICE))
            ctx.authorize(*checks)
            assoc = self.domain.associations.update(
                cluster,
                association_id,
                role_arn=role_arn,
                target_role_arn=str(new.get("TargetRoleArn") or ""),
                disable_session_tags=as_bool(new.get("DisableSessionTags")),
                policy=str(new.get("Policy") or ""),
            )
        if tag_map(old) != tag_map(new):
            assoc = self.domain.associations.set_tags(assoc, self._tag_checks(ctx, assoc.arn, old, new))
        attributes = dict(current.attributes)
        attributes["ExternalId"] = assoc.external_id or ""
        return replace(current, attributes=attributes)

    def delete(self, ctx: ResourceContext, current: Provisioned, props: Mapping[str, Any]) -> None:
        cluster_name, association_id = self._split(current.physical_id)
        ctx.authorize(AuthzCheck("eks:DeletePodIdentityAssociation", current.physical_id))
        try:
            self.domain.associations.delete(self.cluster(ctx, cluster_name), association_id)
        except AwsError as err:
            if not is_not_found(err):
                raise
