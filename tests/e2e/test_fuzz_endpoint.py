"""Hostile input against the whole endpoint: no 500 for client input, and the server keeps serving.

Every request here is PROPERLY SIGNED with the administrator's credentials (botocore's `SigV4Auth`
on an `AWSRequest` built by hand), so it passes the signature check and reaches the wire parsers, the
validators and the providers. Hypothesis picks an operation of the botocore model of each service
(IAM, STS, EKS, EKS Auth, S3, CloudFormation), fills its input with random, garbage and mutated
values (wrong types, huge strings, unicode, missing required members, bogus enums, invalid policy
documents, ARNs, JWTs and templates), serializes it with botocore (validation off), then mutates the
raw request (invalid JSON/XML bodies, wrong Content-Type, odd paths, repeated query keys, gigantic
headers, nonsense Range and checksum headers, a body that claims to be aws-chunked) and signs it.

Each answer must be < 500 (501 NotImplemented is an honest answer for an operation podid does not
serve), must parse with botocore's parser for the protocol, with an error code when it is an error,
and the server must still answer GetCallerIdentity afterwards. Unsigned garbage over a raw socket
(bad HTTP, truncated bodies) must not stop it either.
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import botocore.session
import pytest
from aiohttp.http_exceptions import HttpProcessingError
from botocore.auth import S3SigV4Auth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.model import OperationModel, ServiceModel, Shape
from botocore.parsers import ResponseParserError, create_parser
from botocore.serialize import create_serializer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from podid.gateway.testing import RunningEndpoint, running_endpoint

pytestmark = pytest.mark.e2e

ACCOUNT = "111122223333"
REGION = "us-west-2"
SIGNING = {"iam": "iam", "sts": "sts", "eks": "eks", "eks-auth": "eks-auth", "s3": "s3"}
SIGNING["cloudformation"] = "cloudformation"
FUZZ = settings(
    # FUZZ_EXAMPLES: a longer hunt by hand (the suite's default keeps this file well under a minute)
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "150")),
    # the suite's run is reproducible (the same inputs every time); a hunt explores new ones
    derandomize="FUZZ_EXAMPLES" not in os.environ,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
    database=None,
)

TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "pods.eks.amazonaws.com"},
                "Action": "sts:AssumeRole",
            },
            {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "sts:*"},
        ],
    }
)
# Answers that only a provider gives (past parsing, validation and the signature): the fuzzer must
# keep reaching them, or it has become a validation-only test.
PROVIDER_CODES = frozenset({"InvalidTokenException", "AccessDenied", "InvalidInput", "BucketNotEmpty"})
LONE_SURROGATE_TEMPLATE = '{"Description": "\\ud800", "Resources": {"B": {"Type": "AWS::S3::Bucket"}}}'
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/fuzz-role"
TEMPLATE = json.dumps(
    {
        "Resources": {
            "Role": {
                "Type": "AWS::IAM::Role",
                "Properties": {"RoleName": "fuzz-stack-role", "AssumeRolePolicyDocument": json.loads(TRUST)},
            }
        }
    }
)


# --- the world the fuzzed requests land in -----------------------------------------------------


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    data: bytes


@dataclass
class World:
    ep: RunningEndpoint
    models: dict[str, ServiceModel]
    internal_errors: list[str]
    reached: int = 0
    live: dict[str, list[str]] = field(default_factory=dict)  # member name (lower) -> ids made at setup

    def send(self, request: AWSRequest) -> Answer:
        """Send exactly these bytes (no client-side validation of names or values) and read the answer."""
        parts = urlsplit(request.url)
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        body = request.body
        if isinstance(body, str):
            body = body.encode("utf-8")
        elif not isinstance(body, bytes):
            body = str(body).encode() if body is not None else b""
        lines = [f"{request.method} {target} HTTP/1.1".encode()]
        for name, value in request.headers.items():
            if name.lower() in ("content-length", "connection"):
                continue
            lines.append(name.encode("latin-1") + b": " + str(value).encode("latin-1"))
        if "host" not in {k.lower() for k in request.headers}:
            lines.append(f"Host: {parts.netloc}".encode())
        lines += [b"Content-Length: %d" % len(body), b"Connection: close"]
        head = b"\r\n".join(lines) + b"\r\n\r\n"
        with socket.create_connection((parts.hostname, parts.port), timeout=30) as sock:
            sock.sendall(head + body)
            response = http.client.HTTPResponse(sock, method=request.method)
            response.begin()
            data = response.read()
            return Answer(response.status, {k.lower(): v for k, v in response.getheaders()}, data)

    def alive(self) -> None:
        sts = self.ep.boto3_client("sts")
        assert sts.get_caller_identity()["Account"] == ACCOUNT
        assert not self.internal_errors, self.internal_errors[0]


class _Collect(logging.Handler):
    def __init__(self, sink: list[str]) -> None:
        super().__init__(logging.ERROR)
        self.sink = sink

    def emit(self, record: logging.LogRecord) -> None:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, HttpProcessingError) and record.name.startswith("aiohttp"):
            return  # aiohttp's own 400 for a message that is not HTTP (e.g. a control byte in a header)
        self.sink.append(self.format(record))


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    errors: list[str] = []
    handler = _Collect(errors)
    handler.setFormatter(logging.Formatter("%(name)s: %(message)s"))
    watched = [logging.getLogger("podid"), logging.getLogger("aiohttp")]
    for logger in watched:
        logger.addHandler(handler)
    session = botocore.session.get_session()
    models = {name: session.get_service_model(name) for name in SIGNING}
    with running_endpoint(tmp_path_factory.mktemp("fuzz"), account_id=ACCOUNT, region=REGION) as ep:
        iam, eks, s3 = ep.boto3_client("iam"), ep.boto3_client("eks"), ep.boto3_client("s3")
        iam.create_role(RoleName="fuzz-role", AssumeRolePolicyDocument=TRUST)
        iam.create_user(UserName="fuzz-user")
        eks.create_cluster(name="fuzz-cluster", roleArn=ROLE_ARN, resourcesVpcConfig={})
        association = eks.create_pod_identity_association(
            clusterName="fuzz-cluster", namespace="default", serviceAccount="fuzz-sa", roleArn=ROLE_ARN
        )["association"]["associationId"]
        s3.create_bucket(Bucket="fuzz-bucket", CreateBucketConfiguration={"LocationConstraint": REGION})
        s3.put_object(Bucket="fuzz-bucket", Key="obj", Body=b"0123456789" * 10)
        upload = s3.create_multipart_upload(Bucket="fuzz-bucket", Key="mp")["UploadId"]
        s3.upload_part(Bucket="fuzz-bucket", Key="mp", UploadId=upload, PartNumber=1, Body=b"p" * 100)
        ep.boto3_client("cloudformation").create_stack(
            StackName="fuzz-stack", TemplateBody=TEMPLATE, Capabilities=["CAPABILITY_NAMED_IAM"]
        )
        try:
            live = {"associationid": [association], "uploadid": [upload], "key": ["mp", "obj"]}
            yield World(ep, models, errors, live=live)
        finally:
            for logger in watched:
                logger.removeHandler(handler)


@pytest.fixture(autouse=True)
def _fresh_errors(world: World) -> None:
    world.internal_errors.clear()


# --- hostile values ----------------------------------------------------------------------------

# Nested past Python's recursion limit: every recursive reader must refuse these, not crash.
DEEP_ARRAY = "[" * 3000 + "]" * 3000
DEEP_OBJECT = '{"a":' * 3000 + "1" + "}" * 3000
HOSTILE_TEXT = [
    "",
    " ",
    "..",
    "../../etc/passwd",
    "%",
    "%zz",
    "%00",
    "\x00",
    "a\nb",
    "\r\n",
    "☃💩",
    "\ud7ff\ue000",
    "lone \ud800 surrogate",
    "\udfff",
    "'\"<>&",
    "<a>",
    "]]>",
    "${x}",
    "*",
    "?",
    "/",
    "//",
    "a" * 5000,
    "-1",
    "0",
    "1e400",
    "NaN",
    "null",
    "true",
    "{}",
    "[]",
    "arn:",
    "arn:aws",
    "arn:aws:iam::",
    "arn:aws:iam::111122223333:role/",
    "arn:aws:iam::111122223333:role/fuzz-role/../x",
    "arn:aws:eks:us-west-2:111122223333:cluster/fuzz-cluster",
    "arn:aws:iam::notanaccount:user/x",
    "arn:aws:s3:::fuzz-bucket/obj",
    ROLE_ARN,
    "fuzz-role",
    "fuzz-user",
    "fuzz-cluster",
    "fuzz-bucket",
    "fuzz-stack",
    "obj",
    "default",
    "fuzz-sa",
    "a-0123456789abcdefg",
    "2012-10-17",
    "1970-01-01T00:00:00Z",
    "9999-99-99",
    DEEP_ARRAY,
    DEEP_OBJECT,
    "Resources: " + "[" * 3000 + "]" * 3000,
]

JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner, max_size=3),
    max_leaves=8,
)
POLICY_KEYS = ["Version", "Statement", "Effect", "Action", "NotAction", "Resource", "NotResource"]
POLICY_KEYS += ["Principal", "NotPrincipal", "Condition", "Sid", "Id"]


@st.composite
def policy_documents(draw: st.DrawFn) -> str:
    """Valid-looking, broken and nonsense policy documents (as text)."""
    kind = draw(st.integers(0, 4))
    if kind == 0:
        return draw(st.text(max_size=50))
    if kind == 4:
        depth = draw(st.sampled_from([50, 101, 900, 3000]))
        return '{"Version":"2012-10-17","Statement":' + "[" * depth + "]" * depth + "}"
    statement: dict[str, Any] = {}
    for key in draw(st.lists(st.sampled_from(POLICY_KEYS), max_size=6, unique=True)):
        statement[key] = draw(
            JSONISH
            | st.sampled_from(["Allow", "Deny", "*", "s3:*", "arn:aws:s3:::*", "sts:AssumeRole", ""])
            | st.fixed_dictionaries(
                {
                    draw(
                        st.sampled_from(["StringEquals", "ForAnyValue:StringLike", "Bogus", "DateLessThan"])
                    ): JSONISH
                }
            )
        )
    doc: dict[str, Any] = {"Version": draw(st.sampled_from(["2012-10-17", "2008-10-17", "", "x"]))}
    doc["Statement"] = draw(st.sampled_from([[statement], statement, [statement, statement], "x", []]))
    text = json.dumps(doc)
    if kind == 3:
        cut = draw(st.integers(0, len(text)))
        text = text[:cut]
    return text


@st.composite
def jwts(draw: st.DrawFn) -> str:
    """Service-account tokens that are not: garbage, bad base64, alg none, wrong claims."""
    import base64

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    kind = draw(st.integers(0, 2))
    if kind == 0:
        return draw(st.text(max_size=80) | st.sampled_from([b64(DEEP_ARRAY.encode()) + ".e30.x"]))
    header = draw(st.sampled_from([{"alg": "none"}, {"alg": "RS256", "kid": "x"}, {"alg": "HS256"}, {}, []]))
    claims = draw(
        st.fixed_dictionaries(
            {},
            optional={
                "iss": st.text(max_size=30) | st.just("https://oidc.eks.us-west-2.amazonaws.com/id/X"),
                "aud": JSONISH | st.just(["pods.eks.amazonaws.com"]),
                "sub": st.text(max_size=20) | st.just("system:serviceaccount:default:fuzz-sa"),
                "exp": JSONISH,
                "nbf": JSONISH,
                "kubernetes.io": JSONISH,
            },
        )
    )
    segments = [
        b64(json.dumps(header).encode()),
        b64(json.dumps(claims).encode()),
        b64(draw(st.binary(max_size=40))),
    ]
    if kind == 2:
        segments = [draw(st.sampled_from([s, s + "!", "%%%", ""])) for s in segments]
    return ".".join(segments[: draw(st.integers(1, 4))])


# Plausible values by member name, so that "sane" requests reach the providers and their domains.
SANE_BY_NAME: list[tuple[tuple[str, ...], list[str]]] = [
    (("rolearn", "roleArn", "targetrolearn"), [ROLE_ARN]),
    (("policyarn",), ["arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess", f"arn:aws:iam::{ACCOUNT}:policy/p"]),
    (("rolename",), ["fuzz-role", "fuzz-stack-role"]),
    (("username",), ["fuzz-user"]),
    (("bucket",), ["fuzz-bucket", "other-bucket"]),
    (("key", "prefix", "startafter", "marker"), ["obj", "dir/x y", "a+b%c"]),
    (("clustername", "cluster"), ["fuzz-cluster"]),
    (("stackname", "changesetname"), ["fuzz-stack", "new-stack"]),
    (("namespace",), ["default", "kube-system"]),
    (("serviceaccount",), ["fuzz-sa", "other"]),
    (("associationid",), ["a-0123456789abcdefg"]),
    (
        ("name", "policyname", "groupname", "instanceprofilename", "addonname", "nodegroupname"),
        ["fuzz-cluster", "fuzz"],
    ),
    (("path", "pathprefix"), ["/", "/a/", "/a"]),
    (("rolesessionname",), ["session"]),
    (("version",), ["1.29", "1"]),
    (
        ("arn", "resourcearn", "openidconnectproviderarn"),
        [ROLE_ARN, "arn:aws:eks:us-west-2:111122223333:cluster/fuzz-cluster"],
    ),
]


def _sane_string(shape: Shape, name: str) -> st.SearchStrategy[Any]:
    lowered = name.lower()
    enum = shape.metadata.get("enum")
    if enum:
        return st.sampled_from(list(enum))
    if "policy" in lowered and "arn" not in lowered and "name" not in lowered:
        return st.just(TRUST) | policy_documents()
    if lowered in ("token", "webidentitytoken"):
        return jwts()
    if "template" in lowered and "url" not in lowered:
        return st.sampled_from(
            [TEMPLATE, "Resources: {}", "a: [", "Resources:\n  X: 1", LONE_SURROGATE_TEMPLATE]
        )
    for names, pool in SANE_BY_NAME:
        if lowered in names or lowered.endswith(names):
            return st.sampled_from(pool)
    return st.sampled_from(["fuzz", "x1", "value"])


def _string_values(shape: Shape, name: str) -> st.SearchStrategy[Any]:
    return st.one_of(_sane_string(shape, name), st.sampled_from(HOSTILE_TEXT), st.text(max_size=30))


WRONG_TYPE = st.one_of(
    st.integers(), st.text(max_size=8), st.booleans(), st.floats(), st.lists(st.integers(), max_size=2)
)


def values(shape: Shape, name: str = "", depth: int = 0, *, hostile: bool = True) -> st.SearchStrategy[Any]:
    """A strategy of values for one botocore shape.

    `hostile`: any string, wrong types now and then, required members may be missing. Otherwise
    plausible values of the right type with every required member, so that the request gets past
    validation into the provider (where most of the logic, and most of the risk, lives).
    """
    kind = shape.type_name
    if kind == "structure":
        if depth > 3:
            return st.just({})
        members = {m: values(s, m, depth + 1, hostile=hostile) for m, s in shape.members.items()}
        required = set() if hostile else set(shape.required_members)
        return st.fixed_dictionaries(
            {m: v for m, v in members.items() if m in required},
            optional={m: v for m, v in members.items() if m not in required},
        )
    if kind == "list":
        if depth > 3:
            return st.just([])
        return st.lists(values(shape.member, name, depth + 1, hostile=hostile), max_size=3)
    if kind == "map":
        if depth > 3:
            return st.just({})
        key = (
            st.sampled_from(["k", "", "aws:x", "☃", "a" * 200]) | st.text(max_size=10)
            if hostile
            else st.sampled_from(["k", "team"])
        )
        return st.dictionaries(key, values(shape.value, name, depth + 1, hostile=hostile), max_size=3)
    if kind == "string":
        right: st.SearchStrategy[Any] = _string_values(shape, name) if hostile else _sane_string(shape, name)
    elif kind in ("integer", "long"):
        right = (
            st.integers(-(2**63), 2**63) | st.sampled_from([0, -1, 1, 2**31])
            if hostile
            else st.integers(1, 100)
        )
    elif kind == "boolean":
        right = st.booleans()
    elif kind in ("float", "double"):
        right = st.floats(allow_nan=False, allow_infinity=False)
    elif kind == "timestamp":
        right = (
            st.integers(-(2**40), 2**40) | st.sampled_from(["2024-01-01T00:00:00Z", "nope", "0"])
            if hostile
            else st.integers(0, 2**31)
        )
    elif kind == "blob":
        right = st.binary(max_size=40)
    else:
        right = st.none()
    return st.one_of(right, right, right, right, right, right, WRONG_TYPE) if hostile else right


# --- building and mutating a signed request ----------------------------------------------------


class _PayloadSigner(S3SigV4Auth):  # type: ignore[misc]
    """S3's signer with a chosen x-amz-content-sha256 (e.g. a streaming marker over a plain body)."""

    def __init__(self, credentials: Credentials, service: str, region: str, payload: str | None) -> None:
        super().__init__(credentials, service, region)
        self.forced = payload

    def payload(self, request: AWSRequest) -> str:
        return self.forced if self.forced is not None else str(super().payload(request))


S3_PAYLOADS = [
    None,
    "UNSIGNED-PAYLOAD",
    "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
    "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
    "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER",
    "0" * 64,
    "zz",
]
CONTENT_TYPES = [
    "application/json",
    "application/x-amz-json-1.1",
    "application/x-www-form-urlencoded",
    "application/x-www-form-urlencoded; charset=utf-16",
    "text/xml",
    "multipart/form-data; boundary=x",
    "",
    "☃",
]
HEADERS = [
    ("Range", "bytes=5-1"),
    ("Range", "bytes=-0"),
    ("Range", "bytes=99999999999999999999-"),
    ("Range", "bytes=0-1,2-3"),
    ("Range", "items=0-1"),
    ("Range", "bytes=--"),
    ("Content-MD5", "not base64"),
    ("Content-MD5", "AAAA"),
    ("x-amz-checksum-crc32", "!!"),
    ("x-amz-checksum-sha256", "AAAA"),
    ("x-amz-sdk-checksum-algorithm", "BOGUS"),
    ("x-amz-trailer", "x-amz-checksum-crc32"),
    ("x-amz-decoded-content-length", "-5"),
    ("x-amz-decoded-content-length", "x"),
    ("Content-Encoding", "aws-chunked"),
    ("Content-Encoding", "gzip"),
    ("If-Match", '"'),
    ("If-Modified-Since", "yesterday"),
    ("If-None-Match", "*"),
    ("x-amz-copy-source", "/../%zz"),
    ("x-amz-copy-source", "fuzz-bucket/obj?versionId=%"),
    ("x-amz-copy-source-range", "bytes=9-1"),
    ("x-amz-meta-big", "m" * 7000),
    ("x-amz-tagging", "a=%zz&&=&b"),
    ("x-amz-acl", "bogus"),
    ("x-amz-expected-bucket-owner", "nope"),
    ("x-amz-target", "Bogus.Op"),
    ("X-Amz-Security-Token", ""),
    ("x-fuzz", "h" * 8000),
    ("Expect", "100-continue"),
    # virtual-hosted style S3 and hosts that are no host at all
    ("Host", "fuzz-bucket.localhost"),
    ("Host", "obj.fuzz-bucket.localhost:1"),
    ("Host", ".localhost"),
    ("Host", "x..localhost"),
    ("Host", "[::1"),
    ("Host", "%zz.localhost"),
    ("Host", "a" * 300 + ".localhost"),
    ("Host", ""),
    ("Host", "localhost:99999999"),
]


@dataclass(frozen=True)
class Mutation:
    body: bytes | None
    content_type: str | None
    headers: tuple[tuple[str, str], ...]
    path_suffix: str
    extra_query: str
    payload: str | None
    unsigned: bool = False  # anonymous S3, STS's unsigned operations, and refusals of the rest


BODIES = st.one_of(
    st.binary(max_size=200),
    st.sampled_from(
        [
            b"",
            b"{",
            b'{"a":',
            b"[]",
            b"null",
            b'{"a":1e99999}',
            b"\xff\xfe",
            b"<",
            b"<?xml version='1.0'?><a>",
            b"<!DOCTYPE a [<!ENTITY e SYSTEM 'file:///etc/passwd'>]><a>&e;</a>",
            b"<Delete><Object><Key>a</Key></Object>" + b"<Object/>" * 3 + b"</Delete>",
            b"<CompleteMultipartUpload><Part><PartNumber>x</PartNumber></Part></CompleteMultipartUpload>",
            b"<Tagging><TagSet><Tag><Key/></Tag></TagSet></Tagging>",
            b"Action=GetCallerIdentity&Version=2011-06-15&Action=ListRoles",
            b"Action=&Version=",
            b"%zz=%",
            b"5\r\nhello\r\n0\r\n\r\n",
            b"zz;chunk-signature=abc\r\n",
            b"a" * 20000,
            DEEP_ARRAY.encode(),
            b'{"name":"x\\ud800","tags":{"k\\udfff":"v"}}',
            DEEP_OBJECT.encode(),
            b"<a>" * 3000,
        ]
    ),
)


@st.composite
def mutations(draw: st.DrawFn) -> Mutation:
    if draw(st.integers(0, 3)) == 0:
        return Mutation(None, None, (), "", "", None)
    return Mutation(
        body=draw(st.none() | BODIES),
        content_type=draw(st.none() | st.sampled_from(CONTENT_TYPES)),
        headers=tuple(draw(st.lists(st.sampled_from(HEADERS), max_size=3))),
        path_suffix=draw(
            st.sampled_from(["", "", "/..", "/%2e%2e/x", "%zz", "/%00", "//", "/%E2%98%83", "/a%2Fb"])
        ),
        extra_query=draw(
            st.sampled_from(
                ["", "", "&a=1&a=2", "&%zz", "&=", "&Action=ListRoles", "&tagging&tagging", "&x-id=A"]
            )
        ),
        payload=draw(st.sampled_from(S3_PAYLOADS)),
        unsigned=draw(st.integers(0, 5)) == 0,
    )


def build(
    world: World, service: str, op: OperationModel, params: dict[str, Any], mut: Mutation
) -> AWSRequest:
    model = world.models[service]
    # a URL label cannot carry a lone surrogate at all (botocore's quote() refuses it)
    params = {
        k: v.encode("utf-8", "replace").decode() if isinstance(v, str) and _is_label(op, k) else v
        for k, v in params.items()
    }
    try:
        request_dict = create_serializer(model.protocol, include_validation=False).serialize_to_request(
            params, op
        )
    except Exception:  # botocore itself refuses some wrong-typed values; fall back to the URI labels
        labels = {
            k: v
            for k, v in params.items()
            if k == "RequestRoute" or (isinstance(v, str) and _is_label(op, k))
        }
        request_dict = create_serializer(model.protocol, include_validation=False).serialize_to_request(
            labels, op
        )
    url_path, _, fixed_query = request_dict["url_path"].partition("?")  # `/{Bucket}?tagging`
    url_path += mut.path_suffix
    query = request_dict["query_string"]
    query_text = "&".join(f"{k}={v}" for k, v in _quote_query(query)) if isinstance(query, dict) else query
    query_text = "&".join(part for part in (fixed_query, query_text, mut.extra_query.lstrip("&")) if part)
    body = request_dict["body"]
    if isinstance(body, dict):
        body = "&".join(f"{k}={v}" for k, v in _quote_query(body)).encode()
    if mut.body is not None:
        body = mut.body
    elif not isinstance(body, (bytes, str)):
        body = json.dumps(body, default=str).encode()  # a wrong-typed blob payload
    headers = dict(request_dict["headers"])
    if mut.content_type is not None:
        headers["Content-Type"] = mut.content_type
    elif isinstance(request_dict["body"], dict):
        headers.setdefault("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
    for name, value in mut.headers:
        headers[name] = value
    # http.client sends header values as latin-1: send UTF-8 bytes, as a client sending unicode would
    # (CR and LF would end the header: no client can send them inside a value)
    headers = {_latin1(k): _latin1(str(v)) for k, v in headers.items()}
    url = world.ep.url + url_path + (f"?{query_text}" if query_text else "")
    request = AWSRequest(method=request_dict["method"], url=url, data=body or b"", headers=headers)
    creds = Credentials(world.ep.admin.access_key_id, world.ep.admin.secret_access_key)
    signer: SigV4Auth
    if service == "s3":
        signer = _PayloadSigner(creds, "s3", REGION, mut.payload)
    else:
        signer = SigV4Auth(creds, SIGNING[service], REGION)
    if not mut.unsigned:
        signer.add_auth(request)
    return request


def _latin1(text: str) -> str:
    return text.encode("utf-8", "surrogatepass").decode("latin-1").replace("\r", " ").replace("\n", " ")


def _is_label(op: OperationModel, member: str) -> bool:
    shape = op.input_shape.members.get(member) if op.input_shape is not None else None
    return shape is not None and shape.serialization.get("location") == "uri"


def _quote_query(items: dict[str, Any]) -> list[tuple[str, str]]:
    from urllib.parse import quote

    out: list[tuple[str, str]] = []
    for key, value in items.items():
        for one in value if isinstance(value, list) else [value]:
            # (a lone surrogate goes as the invalid UTF-8 a careless client would send)
            raw_key, raw_value = (str(x).encode("utf-8", "surrogatepass") for x in (key, one))
            out.append((quote(raw_key, safe="-_.~"), quote(raw_value, safe="-_.~")))
    return out


def check_answer(
    world: World, service: str, op: OperationModel, response: Answer, what: str, *, signed: bool = True
) -> None:
    status = response.status
    body = response.data
    assert status < 500 or status == 501, f"{what} -> {status} {body[:400]!r}; {world.internal_errors[:1]}"
    code = None
    if status >= 300 and not signed:
        code = _error_code_any(response)
        assert code, f"{what} -> {status} with no error code in {body[:300]!r}"
    elif status >= 300:
        # (a success is not parsed: a mutated request may rightly have reached another operation)
        protocol = world.models[service].protocol
        parsed = create_parser(protocol).parse(
            {"status_code": status, "headers": response.headers, "body": body}, op.output_shape
        )
        code = parsed.get("Error", {}).get("Code")
        assert code, f"{what} -> {status} with no error code in {body[:300]!r}"
    if (
        status < 300
        or code in PROVIDER_CODES
        or (status in (404, 409, 412) and code != "UnknownOperationException")
    ):
        world.reached += 1
    assert not world.internal_errors, f"{what}: {world.internal_errors[0]}"


def fuzz_service(world: World, service: str, data: st.DataObject) -> None:
    model = world.models[service]
    hostile = data.draw(st.booleans(), label="hostile")
    # sane requests go to the operations podid serves; hostile ones to any operation of the model
    served = sorted(world.ep.endpoint.pipeline.services[service].operations)
    name = data.draw(st.sampled_from(sorted(model.operation_names) if hostile else served), label="operation")
    op = model.operation_model(name)
    params: dict[str, Any] = {}
    if op.input_shape is not None:
        params = data.draw(values(op.input_shape, hostile=hostile), label="params")
        for member in op.input_shape.members:
            known = world.live.get(member.lower())
            if known and not hostile and data.draw(st.booleans(), label=f"live {member}"):
                params[member] = data.draw(st.sampled_from(known), label=member)
    if op.input_shape is not None and model.protocol.startswith("rest-"):
        # botocore cannot build a URL without its labels: always give them, hostile or not
        for member, shape in op.input_shape.members.items():
            if shape.serialization.get("location") == "uri" and not isinstance(params.get(member), str):
                params[member] = data.draw(_string_values(shape, member), label=member)
    if op.input_shape is not None:
        for member, shape in op.input_shape.members.items():
            if shape.serialization.get("hostLabel"):
                params[member] = "route"  # goes into the host name, which a request to 127.0.0.1 drops
    mut = data.draw(
        mutations() if hostile else st.just(Mutation(None, None, (), "", "", None)), label="mutation"
    )
    request = build(world, service, op, params, mut)
    response = world.send(request)
    what = f"{service}:{name} {request.method} {request.url[:200]}"
    check_answer(world, service, op, response, what, signed=not mut.unsigned)


# --- the properties ---------------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore:Generating overly large repr")
@pytest.mark.parametrize("service", ["iam", "sts", "eks", "eks-auth", "s3", "cloudformation"])
def test_signed_hostile_requests_get_aws_errors(world: World, service: str) -> None:
    @FUZZ
    @given(data=st.data())
    def run(data: st.DataObject) -> None:
        fuzz_service(world, service, data)

    world.reached = 0
    run()
    world.alive()
    if FUZZ.max_examples >= 100:  # (a quick run by hand with FUZZ_EXAMPLES=5 proves nothing here)
        assert world.reached >= 3, (
            f"only {world.reached} {service} requests got past validation to the provider"
        )


AUTH_PARTS = [
    "AWS4-HMAC-SHA256",
    "AWS4-HMAC-SHA256 ",
    "AWS4-HMAC-SHA1",
    "AWS ",
    "AWS AKIA:",
    "AWS :sig",
    "Bearer x",
    "Credential=",
    "Credential=AKIA/20200101/us-west-2/iam/aws4_request",
    "Credential=AKIA/2020/us-west-2/iam/aws4_request",
    "Credential=AKIA//////",
    "Credential=%zz/20200101/☃/s3/aws4_request",
    "Credential=AKIA/20200101/us-west-2/unknown-service/aws4_request",
    "SignedHeaders=",
    "SignedHeaders=host;host",
    "SignedHeaders=;;;",
    "SignedHeaders=x-amz-date;host;content-type",
    "Signature=",
    "Signature=zz",
    "Signature=" + "0" * 64,
    ",",
    ", ",
    "=",
]
PRESIGN_QUERY = [
    "X-Amz-Algorithm=AWS4-HMAC-SHA256",
    "X-Amz-Algorithm=bogus",
    "X-Amz-Credential=AKIA%2F20200101%2Fus-west-2%2Fs3%2Faws4_request",
    "X-Amz-Credential=%zz",
    "X-Amz-Credential=",
    "X-Amz-Date=20200101T000000Z",
    "X-Amz-Date=nope",
    "X-Amz-Date=99999999T999999Z",
    "X-Amz-Expires=-1",
    "X-Amz-Expires=999999999999999999999",
    "X-Amz-Expires=x",
    "X-Amz-SignedHeaders=host",
    "X-Amz-SignedHeaders=",
    "X-Amz-Signature=00",
    "X-Amz-Security-Token=%zz",
    "AWSAccessKeyId=AKIA",
    "Signature=%zz",
    "Expires=x",
    "Expires=-99999999999",
    "Action=GetCallerIdentity&Version=2011-06-15",
]


@FUZZ
@given(
    service=st.sampled_from(sorted(SIGNING)),
    auth=st.lists(st.sampled_from(AUTH_PARTS) | st.text(max_size=20), max_size=6),
    query=st.lists(st.sampled_from(PRESIGN_QUERY), max_size=6),
    date=st.sampled_from(["", "20200101T000000Z", "nope", "20991231T235959Z", "2020-01-01"]),
    path=st.sampled_from(
        ["/", "/fuzz-bucket/obj", "/clusters/fuzz-cluster", "/clusters/x/assume-role-for-pod-identity"]
    ),
)
def test_mangled_signatures_and_presigned_queries_are_refused_cleanly(
    world: World, service: str, auth: list[str], query: list[str], date: str, path: str
) -> None:
    headers = {"Host": urlsplit(world.ep.url).netloc}
    if auth:
        headers["Authorization"] = _latin1(" ".join(auth))
    if date:
        headers["X-Amz-Date"] = date
    url = world.ep.url + path + ("?" + "&".join(query) if query else "")
    request = AWSRequest(
        method="GET" if service in ("s3", "eks") else "POST", url=url, data=b"", headers=headers
    )
    response = world.send(request)
    what = f"{auth} {date} {url}"
    assert response.status < 500 or response.status == 501, (
        f"{what} -> {response.status} {response.data[:300]!r}"
    )
    assert response.status < 300 or _error_code_any(response), (
        f"{what} -> {response.status} {response.data[:300]!r}"
    )
    assert not world.internal_errors, world.internal_errors[0]


def _error_code_any(response: Answer) -> str | None:
    """The error code in whichever protocol parses the answer: an unsigned request is classified by
    its shape (query, S3 or EKS), so its refusal comes in that service's protocol."""
    for protocol in ("query", "rest-xml", "rest-json"):
        try:
            parsed = create_parser(protocol).parse(
                {"status_code": response.status, "headers": response.headers, "body": response.data}, None
            )
        except ResponseParserError:
            continue
        code = parsed.get("Error", {}).get("Code")
        if code:
            return str(code)
    return None


RAW_GARBAGE = st.one_of(
    st.binary(max_size=300),
    st.sampled_from(
        [
            b"GET / HTTP/1.1\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nshort",
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
            b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",
            b"POST /?Action=GetCallerIdentity HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nAct",
            b"PUT /fuzz-bucket/k HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc",
            b"GET /%zz/../%00 HTTP/1.1\r\nHost: x\r\n\r\n",
            b"BREW / HTCPCP/1.0\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: x\r\nAuthorization: AWS4-HMAC-SHA256 garbage\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: x\r\nAuthorization: AWS4-HMAC-SHA256 Credential=a/b/c/d/e, "
            b"SignedHeaders=host, Signature=00\r\n\r\n",
            b"GET / HTTP/1.1\r\nX: " + b"a" * 20000 + b"\r\n\r\n",
            b"\r\n\r\n\r\n",
        ]
    ),
)


@FUZZ
@given(raw=RAW_GARBAGE, close_early=st.booleans())
def test_unsigned_garbage_over_a_socket_does_not_stop_the_server(
    world: World, raw: bytes, close_early: bool
) -> None:
    host = urlsplit(world.ep.url)
    with socket.create_connection((host.hostname, host.port), timeout=10) as sock:
        sock.sendall(raw)
        if close_early:
            sock.shutdown(socket.SHUT_WR)
        sock.settimeout(0.3)
        answer = b""
        try:
            while chunk := sock.recv(65536):
                answer += chunk
        except (TimeoutError, ConnectionResetError):
            pass
    if answer.startswith(b"HTTP/1.1 5") and not answer.startswith(b"HTTP/1.1 501"):
        pytest.fail(f"{raw[:100]!r} -> {answer[:300]!r}")
    assert not world.internal_errors, world.internal_errors[0]


def test_alive_after_everything(world: World) -> None:
    world.alive()
