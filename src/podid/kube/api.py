"""The kube API that `podid kubectl` talks to (an aiohttp application; serve mounts it at /_podid/kube/).

Not the Kubernetes REST API: a small JSON API shaped after kubectl's verbs, since kubectl's own
client-side logic (printing, YAML parsing) lives in `podid kubectl`. Every request carries
`Authorization: Bearer <token>` with the token from `<state dir>/kube-token` (mode 0600), compared
in constant time. Routes:

  GET  /clusters               clusters, oldest first; "terminating": keys of deleted clusters whose
                               processes are still stopping
  POST <cluster>/apply         {"documents": [...], "source": "f.yaml", "namespace": "default"}
  POST <cluster>/delete        {"documents": [...], "source", "namespace", "ignoreNotFound": bool}
                               or {"targets": [{"kind", "namespace", "name"}], ...}
  GET  <cluster>/objects       ?kind=Pod&namespace=ns|&all=1&selector=a%3Db&name=x&name=y
  GET  <cluster>/logs          ?namespace=&pod=&container=&tail=&previous=1
  GET  <cluster>/exec          websocket; ?namespace=&pod=&container=&tty=1&stdin=1&command=..
  POST <cluster>/token         {"namespace", "serviceAccount", "audience": [..], "duration": 3600}

where <cluster> is /c/{account}/{region}/{name}. Every request is answered once the runtime has
followed the EKS changes made before it (`LocalRuntime.settle`): a cluster deleted through the EKS
API is gone here at once, whatever its processes' teardown has reached.

Errors answer `{"message": <kubectl's text>, "reason": ...}` with the matching HTTP status.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from aiohttp import web

from podid.kube import manifests
from podid.kube.execs import run_exec
from podid.kube.manifests import KubeError, not_found
from podid.kube.model import (
    BY_KIND,
    SelectorError,
    UnknownResourceType,
    kind_for,
    now_rfc3339,
    parse_selector,
)

if TYPE_CHECKING:
    from podid.kube.cluster import ClusterRuntime
    from podid.kube.runtime import LocalRuntime

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
RUNTIME_KEY = web.AppKey("podid-runtime", object)


def _error(exc: KubeError) -> web.Response:
    return web.json_response({"message": exc.message, "reason": exc.reason}, status=exc.status)


def make_app(runtime: LocalRuntime, token: str) -> web.Application:
    @web.middleware
    async def auth(request: web.Request, handler: Handler) -> web.StreamResponse:
        given = request.headers.get("Authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
            return web.json_response(
                {
                    "message": "error: You must be logged in to the server (Unauthorized)",
                    "reason": "Unauthorized",
                },
                status=401,
            )
        try:
            return await handler(request)
        except KubeError as exc:
            return _error(exc)

    app = web.Application(middlewares=[auth])
    api = _Api(runtime)
    app.router.add_get("/clusters", api.clusters)
    base = "/c/{account}/{region}/{cluster}"
    app.router.add_post(base + "/apply", api.apply)
    app.router.add_post(base + "/delete", api.delete)
    app.router.add_get(base + "/objects", api.objects)
    app.router.add_get(base + "/logs", api.logs)
    app.router.add_get(base + "/exec", api.exec)
    app.router.add_post(base + "/token", api.token)
    return app


class _Api:
    def __init__(self, runtime: LocalRuntime) -> None:
        self.rt = runtime

    async def _cluster(self, request: web.Request) -> ClusterRuntime:
        await self.rt.settle()
        key = (
            f"{request.match_info['account']}/{request.match_info['region']}/{request.match_info['cluster']}"
        )
        cluster = self.rt.clusters.get(key)
        if cluster is None:
            raise KubeError(
                f'error: cluster "{request.match_info["cluster"]}" not found in podid', 404, "NotFound"
            )
        return cluster

    async def _json(self, request: web.Request) -> dict[str, Any]:
        try:
            body = await request.json()
        except ValueError as exc:
            raise KubeError("error: the request body is not JSON") from exc
        if not isinstance(body, dict):
            raise KubeError("error: the request body must be a JSON object")
        return body

    async def clusters(self, request: web.Request) -> web.Response:
        await self.rt.settle()
        items = sorted(self.rt.clusters.values(), key=lambda c: c.info.created_at)
        return web.json_response(
            {
                "terminating": self.rt.terminating(),
                "clusters": [
                    {
                        "account": c.info.account,
                        "region": c.info.region,
                        "name": c.info.name,
                        "arn": c.info.arn,
                        "createdAt": c.info.created_at.isoformat(),
                    }
                    for c in items
                ],
            }
        )

    async def apply(self, request: web.Request) -> web.Response:
        cluster = await self._cluster(request)
        body = await self._json(request)
        source = str(body.get("source", "STDIN"))
        namespace = str(body.get("namespace") or "default")
        results: list[str] = []
        errors: list[str] = []
        for doc in body.get("documents") or []:
            try:
                outcome = cluster.apply(manifests.as_dict(doc), source, namespace)
                results.append(f"{outcome.ref} {outcome.action}")
            except KubeError as exc:
                errors.append(exc.message)
        return web.json_response({"results": results, "errors": errors})

    async def delete(self, request: web.Request) -> web.Response:
        cluster = await self._cluster(request)
        body = await self._json(request)
        source = str(body.get("source", "STDIN"))
        namespace = str(body.get("namespace") or "default")
        ignore = bool(body.get("ignoreNotFound"))
        targets: list[tuple[str, str, str]] = []
        errors: list[str] = []
        for doc in body.get("documents") or []:
            try:
                targets.append(manifests.delete_target(manifests.as_dict(doc), source, namespace))
            except KubeError as exc:
                errors.append(exc.message)
        for target in body.get("targets") or []:
            targets.append((str(target["kind"]), str(target.get("namespace") or ""), str(target["name"])))
        # a namespace is deleted after the other objects of the same request: on a real cluster it
        # is Terminating for a while, so `delete -f` still finds the objects listed after it
        order = sorted(range(len(targets)), key=lambda i: targets[i][0] == "Namespace")
        lines: dict[int, str] = {}
        for i in order:
            kind, ns, name = targets[i]
            info = BY_KIND[kind]
            found = await cluster.delete(kind, ns if info.namespaced else "", name)
            if found is None:
                if not ignore:
                    errors.append(str(not_found(info.resource_plural, name).message))
                continue
            lines[i] = f'{info.resource} "{name}" deleted'
        results = [lines[i] for i in sorted(lines)]
        return web.json_response({"results": results, "errors": errors})

    async def objects(self, request: web.Request) -> web.Response:
        cluster = await self._cluster(request)
        q = request.query
        try:
            kind = kind_for(q.get("kind", ""))
            selector = parse_selector(q.get("selector", "")) if q.get("selector") else ()
        except (UnknownResourceType, SelectorError) as exc:
            raise KubeError(f"error: {exc}", 400, "BadRequest") from exc
        namespace = None if q.get("all") else q.get("namespace", "default")
        names = q.getall("name", [])
        errors: list[str] = []
        if names:
            items = []
            for name in names:
                obj = cluster.objects.get(kind.kind, namespace or "", name)
                if obj is None:
                    errors.append(not_found(kind.resource_plural, name).message)
                else:
                    items.append(obj)
        else:
            items = cluster.objects.list(kind.kind, namespace, selector)
        return web.json_response(
            {"kind": kind.kind, "items": items, "errors": errors, "now": now_rfc3339(self.rt.clock.now())}
        )

    def _runner_for(self, cluster: ClusterRuntime, namespace: str, pod_name: str) -> Any:
        pod = cluster.objects.get("Pod", namespace, pod_name)
        if pod is None:
            raise not_found("pods", pod_name)
        return pod, cluster.runners.get(str(pod["metadata"]["uid"]))

    async def logs(self, request: web.Request) -> web.StreamResponse:
        cluster = await self._cluster(request)
        q = request.query
        namespace = q.get("namespace", "default")
        pod, runner = self._runner_for(cluster, namespace, q.get("pod", ""))
        names = [c["name"] for c in pod["spec"]["containers"]]
        init_names = [c["name"] for c in pod["spec"].get("initContainers") or []]
        container = q.get("container") or ""
        if not container:
            if len(names) > 1:
                raise KubeError(
                    f"error: a container name must be specified for pod {pod['metadata']['name']}, "
                    f"choose one of: [{' '.join(names)}]"
                    + (f" or one of the init containers: [{' '.join(init_names)}]" if init_names else "")
                )
            container = names[0]
        if container not in names + init_names:
            raise KubeError(
                f"Error from server (BadRequest): container {container} is not valid for pod "
                f"{pod['metadata']['name']}"
            )
        suffix = ".previous.log" if q.get("previous") else ".log"
        path = cluster.dir / "pods" / str(pod["metadata"]["uid"]) / "logs" / f"{container}{suffix}"
        if not path.exists():
            if q.get("previous"):
                raise KubeError(
                    f'Error from server (BadRequest): previous terminated container "{container}" in '
                    f'pod "{pod["metadata"]["name"]}" not found'
                )
            if runner is None or not (pod.get("status") or {}).get("startTime"):
                raise KubeError(
                    f'Error from server (BadRequest): container "{container}" in pod '
                    f'"{pod["metadata"]["name"]}" is waiting to start: ContainerCreating'
                )
            return web.Response(body=b"")
        data = path.read_bytes()
        tail = int(q.get("tail", "-1") or -1)
        if tail >= 0:
            lines = data.splitlines(keepends=True)
            data = b"".join(lines[-tail:]) if tail else b""
        return web.Response(body=data, content_type="application/octet-stream")

    async def exec(self, request: web.Request) -> web.StreamResponse:
        cluster = await self._cluster(request)
        q = request.query
        namespace = q.get("namespace", "default")
        pod, runner = self._runner_for(cluster, namespace, q.get("pod", ""))
        command = q.getall("command", [])
        if not command:
            raise KubeError("error: you must specify at least one command for the container")
        name = q.get("container") or pod["spec"]["containers"][0]["name"]
        if runner is None or not runner.running(name):
            if not any(c.get("name") == name for c in pod["spec"]["containers"]):
                raise KubeError(
                    f"Error from server (BadRequest): container {name} is not valid for pod "
                    f"{pod['metadata']['name']}"
                )
            raise KubeError(f'error: unable to upgrade connection: container not found ("{name}")')
        container = runner.container(name)
        ws = web.WebSocketResponse(protocols=("v5.channel.k8s.io",), max_msg_size=0)
        await ws.prepare(request)
        await run_exec(
            ws,
            runner,
            container,
            command,
            tty=q.get("tty") == "1",
            stdin=q.get("stdin") == "1",
            cols=int(q.get("cols", "80")),
            rows=int(q.get("rows", "24")),
        )
        await ws.close()
        return ws

    async def token(self, request: web.Request) -> web.Response:
        cluster = await self._cluster(request)
        body = await self._json(request)
        namespace = str(body.get("namespace") or "default")
        sa_name = str(body.get("serviceAccount", ""))
        sa = cluster.objects.get("ServiceAccount", namespace, sa_name)
        if sa is None:
            raise not_found("serviceaccounts", sa_name)
        duration = int(body.get("duration") or 3600)
        if duration < 600:
            raise KubeError(
                f'The TokenRequest "{sa_name}" is invalid: spec.expirationSeconds: Invalid value: '
                f"{duration}: may not specify a duration less than 10 minutes",
                422,
                "Invalid",
            )
        audience = [str(a) for a in body.get("audience") or []] or ["https://kubernetes.default.svc"]
        now = self.rt.clock.now()
        token = cluster.env.source.issue_token(
            cluster.info,
            namespace,
            sa_name,
            audience=audience,
            duration_s=duration,
            pod_name=None,
            pod_uid=None,
            sa_uid=str(sa["metadata"]["uid"]),
            now=now,
        )
        return web.json_response(
            {"token": token, "expirationTimestamp": now_rfc3339(now + timedelta(seconds=duration))}
        )
