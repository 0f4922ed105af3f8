"""IAM's OIDC provider operations on the wire, as a mixin of `IamProvider`.

Authorization (IAM service authorization reference): action `iam:<Operation>` on the provider's ARN
(`oidc-provider` resource type, condition key `aws:ResourceTag/*`); Create and Tag add
`aws:RequestTag/*` + `aws:TagKeys`, Untag `aws:TagKeys`; ListOpenIDConnectProviders is on `*`.
The specs take the domain first, like the rest of IAM's, and `IamProvider.operations()` binds them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from podid.errors import InternalFailure
from podid.services.base import AuthzCheck, Call, ContextValue, Handler, Params, Result, operation
from podid.services.iam import authz as az
from podid.services.iam.common import tags_param
from podid.services.iam.domain import IamDomain
from podid.services.iam.errors import InvalidInput
from podid.services.iam.oidc import OidcProvider, provider_arn
from podid.services.iam.paging import paginate
from podid.services.iam.shapes import page_out, tags_out


def _unbound(call: Call, params: Params) -> Sequence[AuthzCheck]:
    raise InternalFailure(f"iam:{call.operation} was dispatched without its authorization spec")


def _oidc_op(name: str, spec: az.DomainAuthz) -> Callable[[Handler], Handler]:
    def wrap(func: Handler) -> Handler:
        func.__iam_authz__ = spec  # type: ignore[attr-defined]
        return operation(name, authz=_unbound)(func)

    return wrap


def _on_provider(
    action: str, extra: Callable[[Params], Mapping[str, ContextValue]] | None = None
) -> az.DomainAuthz:
    def spec(domain: Any, call: Call, params: Params) -> Sequence[AuthzCheck]:
        arn = str(params.get("OpenIDConnectProviderArn", ""))
        context: dict[str, ContextValue] = {}
        found: OidcProvider | None = domain.find_oidc_provider(arn)
        if found is not None:
            context.update(az.resource_tag_context(found.tags))
        if extra is not None:
            context.update(extra(params))
        return (AuthzCheck(action, arn, context, resource_account=call.account),)

    return spec


def _on_create(domain: Any, call: Call, params: Params) -> Sequence[AuthzCheck]:
    url = str(params.get("Url", ""))
    try:
        arn = provider_arn(call.account, url)
    except InvalidInput:
        arn = f"arn:aws:iam::{call.account}:oidc-provider/{url.split('://', 1)[-1]}"
    context = az.request_tag_context(params.get("Tags"))
    return (AuthzCheck("iam:CreateOpenIDConnectProvider", arn, context, resource_account=call.account),)


def _sorted_tags(provider: OidcProvider) -> list[dict[str, str]]:
    return tags_out(tuple(sorted(provider.tags, key=lambda t: t[0])))


def _refuse_identity_center(p: Params) -> None:
    if p.get("ContextProvider") is not None or p.get("IdentityCenterInstanceArn") is not None:
        raise InvalidInput(
            "Trusted identity propagation (ContextProvider, IdentityCenterInstanceArn) is not supported: "
            "podid has no IAM Identity Center."
        )


class OidcProviderWire:
    """Mixed into `IamProvider`; `self.iam` is its `IamDomain`."""

    iam: IamDomain

    @_oidc_op("CreateOpenIDConnectProvider", _on_create)
    def create_open_id_connect_provider(self, call: Call, p: Params) -> Result:
        _refuse_identity_center(p)
        provider = self.iam.create_oidc_provider(
            call.account,
            p["Url"],
            client_ids=[str(c) for c in p.get("ClientIDList") or ()],
            thumbprints=[str(t) for t in p.get("ThumbprintList") or ()],
            tags=tags_param(p.get("Tags")),
        )
        out: Result = {"OpenIDConnectProviderArn": provider.arn}
        if provider.tags:
            out["Tags"] = _sorted_tags(provider)
        return out

    @_oidc_op("GetOpenIDConnectProvider", _on_provider("iam:GetOpenIDConnectProvider"))
    def get_open_id_connect_provider(self, call: Call, p: Params) -> Result:
        provider: OidcProvider = self.iam.get_oidc_provider(call.account, p["OpenIDConnectProviderArn"])
        out: Result = {
            "Url": provider.url,
            "ClientIDList": list(provider.client_ids),
            "ThumbprintList": list(provider.thumbprints),
            "CreateDate": provider.create_date,
        }
        if provider.tags:
            out["Tags"] = _sorted_tags(provider)
        return out

    @_oidc_op("ListOpenIDConnectProviders", az.on_any("iam:ListOpenIDConnectProviders"))
    def list_open_id_connect_providers(self, call: Call, p: Params) -> Result:
        providers = self.iam.list_oidc_providers(call.account)
        return {"OpenIDConnectProviderList": [{"Arn": provider.arn} for provider in providers]}

    @_oidc_op("DeleteOpenIDConnectProvider", _on_provider("iam:DeleteOpenIDConnectProvider"))
    def delete_open_id_connect_provider(self, call: Call, p: Params) -> Result:
        self.iam.delete_oidc_provider(call.account, p["OpenIDConnectProviderArn"])
        return {}

    @_oidc_op("AddClientIDToOpenIDConnectProvider", _on_provider("iam:AddClientIDToOpenIDConnectProvider"))
    def add_client_id_to_open_id_connect_provider(self, call: Call, p: Params) -> Result:
        self.iam.add_client_id(call.account, p["OpenIDConnectProviderArn"], p["ClientID"])
        return {}

    @_oidc_op(
        "RemoveClientIDFromOpenIDConnectProvider",
        _on_provider("iam:RemoveClientIDFromOpenIDConnectProvider"),
    )
    def remove_client_id_from_open_id_connect_provider(self, call: Call, p: Params) -> Result:
        self.iam.remove_client_id(call.account, p["OpenIDConnectProviderArn"], p["ClientID"])
        return {}

    @_oidc_op(
        "UpdateOpenIDConnectProviderThumbprint", _on_provider("iam:UpdateOpenIDConnectProviderThumbprint")
    )
    def update_open_id_connect_provider_thumbprint(self, call: Call, p: Params) -> Result:
        self.iam.update_thumbprints(
            call.account, p["OpenIDConnectProviderArn"], [str(t) for t in p.get("ThumbprintList") or ()]
        )
        return {}

    @_oidc_op("TagOpenIDConnectProvider", _on_provider("iam:TagOpenIDConnectProvider", az.tag_keys))
    def tag_open_id_connect_provider(self, call: Call, p: Params) -> Result:
        self.iam.tag_oidc_provider(call.account, p["OpenIDConnectProviderArn"], tags_param(p.get("Tags")))
        return {}

    @_oidc_op("UntagOpenIDConnectProvider", _on_provider("iam:UntagOpenIDConnectProvider", az.untag_keys))
    def untag_open_id_connect_provider(self, call: Call, p: Params) -> Result:
        self.iam.untag_oidc_provider(
            call.account, p["OpenIDConnectProviderArn"], [str(k) for k in p.get("TagKeys") or ()]
        )
        return {}

    @_oidc_op("ListOpenIDConnectProviderTags", _on_provider("iam:ListOpenIDConnectProviderTags"))
    def list_open_id_connect_provider_tags(self, call: Call, p: Params) -> Result:
        provider: OidcProvider = self.iam.get_oidc_provider(call.account, p["OpenIDConnectProviderArn"])
        tags, marker = paginate(list(provider.tags), lambda t: t[0], p.get("Marker"), p.get("MaxItems"))
        return page_out("Tags", tags_out(tuple(tags)), marker)
