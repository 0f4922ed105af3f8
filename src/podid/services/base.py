"""The contract between the gateway and the service providers.

A provider is a thin class per AWS service (`iam`, `sts`, `eks`, `eks-auth`, `s3`, `cloudformation`):
each operation is one method, decorated with `@operation`, that takes the `Call` (who asks, where,
when) and the parsed input parameters (a dict shaped like botocore's input shape), and returns a
dict shaped like the output shape. The decorator also declares how the operation is authorized:
the IAM action, the resource ARN, and any condition keys or resource policy, so that the gateway can
ask the policy engine *before* dispatch. Providers raise `podid.errors.AwsError` subclasses.

Providers never import an HTTP framework, and never import another service's internals: they call
another service through its public domain API.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Literal

from podid.errors import AwsError
from podid.wire.http import HttpRequest

Params = dict[str, Any]
Result = dict[str, Any]
ContextValue = str | list[str]

PrincipalKind = Literal["root", "user", "role-session", "service", "anonymous"]


@dataclass(frozen=True)
class SessionInfo:
    """What a temporary credential (an assumed-role session) carries.

    Everything the authorizer needs travels inside the session token, so verifying a temporary
    credential needs no store read.
    """

    role_arn: str  # arn:aws:iam::A:role/path/name (with path)
    role_id: str  # AROA...
    session_name: str
    expiration: datetime
    tags: Mapping[str, str] = field(default_factory=dict)  # session tags (case preserved)
    transitive_tag_keys: Sequence[str] = ()
    session_policies: Sequence[str] = ()  # policy documents (JSON text): inline Policy + PolicyArns'
    source_identity: str | None = None
    chained: bool = False  # assumed with role-session credentials (role chaining)
    issuer: str | None = None  # who assumed: arn or service principal, for audit


@dataclass(frozen=True)
class Principal:
    """The caller of one request, as resolved from its signature."""

    kind: PrincipalKind
    arn: str  # IAM ARN, assumed-role ARN (no role path), or a service principal name
    account: str
    user_id: str  # AIDA.../AROA...:session/account id for root/service name
    name: str  # user name, role name, or service name
    access_key_id: str | None = None
    session: SessionInfo | None = None

    @property
    def is_service(self) -> bool:
        return self.kind == "service"


@dataclass(frozen=True)
class Call:
    """The request context handed to a provider method."""

    request_id: str
    service: str  # botocore service name: iam, sts, eks, eks-auth, s3, cloudformation
    operation: str  # the model's operation name, e.g. CreateRole
    region: str  # from the credential scope (or the default for unsigned requests)
    principal: Principal
    now: datetime
    source_ip: str = "127.0.0.1"
    secure_transport: bool = False
    user_agent: str = ""
    host: str = ""  # the Host header as received, for URLs the service hands out
    # The raw request and its verified signature, for the few operations that need more than the
    # model's members (S3 streaming uploads: x-amz-content-sha256, aws-chunked decoding, trailers).
    request: HttpRequest | None = None
    signature: Any = None  # podid.wire.sigv4.VerifiedRequest, or None for unsigned requests
    # Every authorization check made for this request, by the gateway or inside a handler (S3 asks
    # per key): the authorizer appends, the audit record lists them.
    trace: list[AuthzCheck] = field(default_factory=list, compare=False, repr=False)

    @property
    def account(self) -> str:
        return self.principal.account


@dataclass(frozen=True)
class AuthzCheck:
    """One question for the policy engine: may the caller do `action` on `resource`?

    `context` adds request-specific condition keys (`aws:RequestTag/...`, `s3:prefix`, ...) to the
    global keys the gateway derives from the principal. `resource_policy` is the JSON text of a
    resource-based policy that applies (an S3 bucket policy, a role trust policy), or None.
    """

    action: str
    resource: str
    context: Mapping[str, ContextValue] = field(default_factory=dict)
    resource_policy: str | None = None
    resource_account: str | None = None


AuthzSpec = Callable[[Call, Params], Sequence[AuthzCheck]]
Handler = Callable[..., Result | Awaitable[Result]]


@dataclass(frozen=True)
class OperationSpec:
    name: str
    authz: AuthzSpec | None  # None: authorized inside the handler (or never, e.g. GetCallerIdentity)
    handler_name: str


def operation(
    name: str,
    *,
    action: str | None = None,
    resource: Callable[[Call, Params], str] | str | None = None,
    authz: AuthzSpec | None = None,
) -> Callable[[Handler], Handler]:
    """Declare a provider method as the handler of the model operation `name`.

    Either give `action` (+ `resource`, default `*`) for the common one-check case, or `authz` for
    operations needing several checks, condition keys or a resource policy. With neither, the
    handler authorizes for itself (used for GetCallerIdentity, which AWS always allows, and
    AssumeRole*, whose trust-policy evaluation is part of the STS domain logic).
    """

    def wrap(func: Handler) -> Handler:
        spec_authz: AuthzSpec | None = authz
        if spec_authz is None and action is not None:
            act = action

            def single(call: Call, params: Params) -> Sequence[AuthzCheck]:
                if resource is None:
                    res = "*"
                elif isinstance(resource, str):
                    res = resource
                else:
                    res = resource(call, params)
                return (AuthzCheck(act, res),)

            spec_authz = single
        func.__podid_operation__ = OperationSpec(name, spec_authz, func.__name__)  # type: ignore[attr-defined]
        return func

    return wrap


class Provider:
    """Base class of the service providers; subclasses declare `service_name`."""

    service_name: ClassVar[str]

    def operations(self) -> dict[str, OperationSpec]:
        """The operations this provider implements, by model operation name."""
        return type(self).declared_operations()

    @classmethod
    def declared_operations(cls) -> dict[str, OperationSpec]:
        """The `@operation` methods of this provider class, by model operation name."""
        found: dict[str, OperationSpec] = {}
        for _, member in inspect.getmembers(cls, predicate=inspect.isfunction):
            spec = getattr(member, "__podid_operation__", None)
            if isinstance(spec, OperationSpec):
                found[spec.name] = spec
        return found

    def translate_error(self, err: AwsError) -> AwsError:
        """This service's form of an error raised by any pipeline stage (default: unchanged).

        EKS Auth, for one, sends `AccessDeniedException` 400 where IAM sends `AccessDenied` 403.
        """
        return err

    async def dispatch(self, spec: OperationSpec, call: Call, params: Params) -> Result:
        result = getattr(self, spec.handler_name)(call, params)
        if inspect.isawaitable(result):
            result = await result
        return result  # type: ignore[no-any-return]
