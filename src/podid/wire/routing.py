"""Finding the operation a request addresses.

query: the `Action` field (+ `Version`); json: the `X-Amz-Target` header; rest-json / rest-xml:
the method and the path matched against every operation's `requestUri` template. Templates are
compiled once per service into regexes over the raw (percent-encoded) path; `{Name}` matches one
segment, `{Key+}` the rest of the path, and a fixed query part (`?uploads`, `?list-type=2`) must be
present in the request, as must the operation's required query-string and header members (S3 tells
UploadPart from PutObject by `uploadId`, CopyObject from PutObject by `x-amz-copy-source`). When
several templates match, the most specific wins, as S3 does: more such required keys first, then
more literal path characters, then non-greedy labels. Deprecated operations that share a template
with a current one (S3's `GetBucketLifecycle`) never win over it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import parse_qsl, unquote

from botocore.model import OperationModel, ServiceModel

_LABEL = re.compile(r"\{([^}]+)\}")


@dataclass(frozen=True)
class Route:
    """One operation's compiled template (path-style, or S3 virtual-hosted style)."""

    operation: OperationModel
    method: str
    regex: re.Pattern[str]
    labels: tuple[tuple[str, str], ...]  # (regex group, label name)
    query: tuple[tuple[str, str | None], ...]  # fixed query keys (and values), required query members
    headers: tuple[str, ...]  # required header members (lower-case): S3's CopyObject vs PutObject
    rank: tuple[int, int, int, int]

    def query_matches(self, query: Mapping[str, str], headers: Mapping[str, str]) -> bool:
        for key, value in self.query:
            if key not in query or (value is not None and query[key] != value):
                return False
        return all(name in headers for name in self.headers)


@dataclass(frozen=True)
class RouteMatch:
    operation: OperationModel
    labels: dict[str, str]  # label name (the uri member's locationName) -> decoded value


def _compile(operation: OperationModel, template: str, host_bucket: bool) -> Route | None:
    path, _, fixed = template.partition("?")
    if host_bucket:
        if not path.startswith("/{Bucket}"):
            return None
        path = path[len("/{Bucket}") :] or "/"
    pattern = ["^"]
    labels: list[tuple[str, str]] = []
    literal = 0
    greedy = 0
    pos = 0
    for index, found in enumerate(_LABEL.finditer(path)):
        chunk = path[pos : found.start()]
        literal += len(chunk)
        pattern.append(re.escape(chunk))
        name = found.group(1)
        group = f"g{index}"
        if name.endswith("+"):
            greedy = 1
            pattern.append(f"(?P<{group}>.+)")
            name = name[:-1]
        else:
            pattern.append(f"(?P<{group}>[^/]+)")
        labels.append((group, name))
        pos = found.end()
    tail = path[pos:]
    literal += len(tail)
    pattern.append(re.escape(tail))
    if not tail.endswith("/"):
        pattern.append("/?")  # tolerate a trailing slash, as AWS front ends do
    pattern.append("$")
    query = [
        (k, v if "=" in item else None)
        for item in fixed.split("&")
        if item
        for k, _, v in [item.partition("=")]
    ]
    headers: list[str] = []
    shape = operation.input_shape
    if shape is not None:
        for member_name in shape.required_members:
            member = shape.members[member_name]
            location = member.serialization.get("location")
            wire_name = str(member.serialization.get("name", member_name))
            if location == "querystring" and member.type_name != "map":
                query.append((wire_name, None))
            elif location == "header":
                headers.append(wire_name.lower())
    deprecated = 1 if operation.deprecated else 0
    return Route(
        operation=operation,
        method=str(operation.http.get("method", "POST")).upper(),
        regex=re.compile("".join(pattern), re.DOTALL),
        labels=tuple(labels),
        query=tuple(query),
        headers=tuple(headers),
        rank=(len(query) + len(headers), -deprecated, literal, -greedy),
    )


class NoRoute(Exception):
    """No template matched; `path_known` tells whether some operation matched with another method."""

    def __init__(self, path_known: bool) -> None:
        super().__init__("no route")
        self.path_known = path_known


class RestRouter:
    """All templates of one rest service, most specific first."""

    def __init__(self, model: ServiceModel) -> None:
        path_routes: list[Route] = []
        host_routes: list[Route] = []
        for name in model.operation_names:
            operation = model.operation_model(name)
            template = str(operation.http.get("requestUri", "/"))
            route = _compile(operation, template, host_bucket=False)
            if route is not None:
                path_routes.append(route)
            hosted = _compile(operation, template, host_bucket=True)
            if hosted is not None:
                host_routes.append(hosted)
        self._path = _by_method(path_routes)
        self._host = _by_method(host_routes)

    def match(
        self,
        method: str,
        raw_path: str,
        query: Mapping[str, str],
        headers: Mapping[str, str],
        bucket: str | None,
    ) -> RouteMatch:
        table = self._host if bucket is not None else self._path
        method = method.upper()
        for route in table.get(method, ()):
            found = route.regex.match(raw_path)
            if found is None or not route.query_matches(query, headers):
                continue
            labels = {name: unquote(found.group(group)) for group, name in route.labels}
            if bucket is not None:
                labels["Bucket"] = bucket
            return RouteMatch(route.operation, labels)
        path_known = any(
            route.regex.match(raw_path) is not None
            for other, routes in table.items()
            if other != method
            for route in routes
        )
        raise NoRoute(path_known)


def _by_method(routes: list[Route]) -> dict[str, tuple[Route, ...]]:
    """Routes grouped by HTTP method, most specific first within each group."""
    grouped: dict[str, list[Route]] = {}
    for route in sorted(routes, key=lambda r: r.rank, reverse=True):
        grouped.setdefault(route.method, []).append(route)
    return {method: tuple(items) for method, items in grouped.items()}


def query_dict(raw_query: str) -> dict[str, str]:
    """First value per key of a raw query string (blank values kept, as `?uploads`)."""
    out: dict[str, str] = {}
    for key, value in parse_qsl(raw_query, keep_blank_values=True):
        out.setdefault(key, value)
    return out
