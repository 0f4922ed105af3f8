"""`podid kubectl`: kubectl for podid's local clusters, with kubectl's syntax and output.

Verbs: apply -f, delete -f | delete TYPE NAME..., get, describe pod, logs, exec [-i] [-t], create
token. Global flags (anywhere before `--`): -n/--namespace, -A/--all-namespaces (get),
--context, --cluster. The cluster is the one named by --context/--cluster (its name, its ARN, or an
eksctl context `user@NAME.REGION.eksctl.io`), else the cluster most recently created. The server is
the running podid (`<state dir>/endpoint.json`), reached at `/_podid/kube/` with the bearer token of
`<state dir>/kube-token`.
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from podid.cli.common import read_endpoint, resolve_state_dir


class KubectlError(Exception):
    pass


@dataclass
class Client:
    base: str
    token: str
    server: str

    def call(
        self, method: str, path: str, body: Any = None, query: list[tuple[str, str]] | None = None
    ) -> Any:
        url = self.base + path + ("?" + urllib.parse.urlencode(query) if query else "")
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(url, data=data, method=method)
        req.add_header("Authorization", f"Bearer {self.token}")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=120) as resp:
                raw = resp.read()
                if resp.headers.get_content_type() == "application/json":
                    return json.loads(raw)
                return raw
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            try:
                message = json.loads(raw)["message"]
            except (ValueError, KeyError, TypeError):
                message = f"error: the server answered {exc.code}: {raw.decode(errors='replace')[:200]}"
            raise KubectlError(str(message)) from None
        except urllib.error.URLError as exc:
            raise KubectlError(
                f"The connection to the server {self.server} was refused - did you specify the right host or "
                f"port? ({exc.reason}; is podid running? start it with `podid up`)"
            ) from None


def connect(state_dir: Path) -> Client:
    info = read_endpoint(state_dir)
    token_file = state_dir / "kube-token"
    if not token_file.exists():
        raise KubectlError(
            f"error: podid is not running for state directory {state_dir} (no kube-token): "
            "start it with `podid up`"
        )
    return Client(info.url + "/_podid/kube", token_file.read_text().strip(), f"{info.host}:{info.port}")


def pick_cluster(client: Client, wanted: str | None) -> str:
    clusters = client.call("GET", "/clusters")["clusters"]
    if not clusters:
        raise KubectlError(
            "error: no local cluster: create one first (`podid eksctl create cluster -f cluster.yaml`, "
            "`aws eks create-cluster` or a CloudFormation stack)"
        )
    chosen = None
    if wanted:
        for c in clusters:
            names = {c["name"], c["arn"], f"{c['name']}.{c['region']}.eksctl.io"}
            if wanted in names or wanted.split("@", 1)[-1] in names:
                chosen = c
        if chosen is None:
            raise KubectlError(f'error: context "{wanted}" does not exist')
    else:
        chosen = clusters[-1]
    return f"/c/{chosen['account']}/{chosen['region']}/{chosen['name']}"


# ---------------------------------------------------------------------------------------------------
VERBS = ("apply", "delete", "get", "describe", "logs", "exec", "create")


def _verb_parser(verb: str) -> argparse.ArgumentParser:
    """The parser of one verb; options and positionals may be intermixed, as kubectl allows."""
    p = argparse.ArgumentParser(prog=f"podid kubectl {verb}")
    p.add_argument("-n", "--namespace")
    p.add_argument("--context")
    p.add_argument("--cluster")
    if verb == "apply":
        p.add_argument("-f", "--filename", action="append", required=True)
    elif verb == "delete":
        p.add_argument("-f", "--filename", action="append")
        p.add_argument("--ignore-not-found", action="store_true")
        p.add_argument("args", nargs="*")
    elif verb == "get":
        p.add_argument("-A", "--all-namespaces", action="store_true")
        p.add_argument("-l", "--selector")
        p.add_argument("-o", "--output")
        p.add_argument("--show-labels", action="store_true")
        p.add_argument("args", nargs="+")
    elif verb == "describe":
        p.add_argument("-l", "--selector")
        p.add_argument("args", nargs="+")
    elif verb == "logs":
        p.add_argument("-c", "--container")
        p.add_argument("--tail", type=int, default=-1)
        p.add_argument("-p", "--previous", action="store_true")
        p.add_argument("pod")
    elif verb == "exec":
        p.add_argument("-i", "--stdin", action="store_true")
        p.add_argument("-t", "--tty", action="store_true")
        p.add_argument("-c", "--container")
        p.add_argument("pod")
        p.add_argument("rest", nargs="*")
    elif verb == "create":
        p.add_argument("what", choices=["token"])
        p.add_argument("service_account")
        p.add_argument("--audience", action="append")
        p.add_argument("--duration", default="0")
    return p


USAGE = """\
podid kubectl: kubectl for podid's local clusters.

Usage: podid kubectl [--context C | --cluster C] [-n NS] VERB [flags] [args] [-- COMMAND...]

Verbs:
  apply -f FILE|DIR|-              create or update objects (multi-document YAML)
  delete -f FILE | TYPE NAME...    delete objects (--ignore-not-found)
  get TYPE[,TYPE] [NAME...]        -n NS | -A, -l SELECTOR, -o wide|yaml|json|name, --show-labels
  describe pod NAME                a pod's details
  logs POD [-c C] [--tail N] [-p]  a container's output
  exec [-i] [-t] POD [-c C] -- CMD run a command in a container (-it: interactive terminal)
  create token SA [--audience A] [--duration 1h]

Types: pods|pod|po, deployments|deployment|deploy, replicasets|replicaset|rs,
daemonsets|daemonset|ds, serviceaccounts|serviceaccount|sa, namespaces|namespace|ns,
configmaps|configmap|cm, secrets|secret, nodes|node|no.
The cluster is the most recently created one unless --context/--cluster names another
(by name, ARN, or eksctl context user@NAME.REGION.eksctl.io).
"""


def parse(argv: list[str]) -> argparse.Namespace:
    """`[global flags] VERB [flags and arguments]`, flags anywhere (kubectl's syntax)."""
    rest = list(argv)
    verb = None
    for i, arg in enumerate(rest):
        if arg in VERBS:
            verb = arg
            del rest[i]
            break
        if arg.startswith("-") and "=" not in arg and arg in ("-n", "--namespace", "--context", "--cluster"):
            continue
    if verb is None:
        raise KubectlError(
            "error: unknown command: podid kubectl supports " + ", ".join(VERBS) + "\n"
            "Usage: podid kubectl [--context C] [-n NS] VERB ..."
        )
    args = _verb_parser(verb).parse_intermixed_args(rest)
    args.verb = verb
    return args


def _read_manifests(files: list[str]) -> list[tuple[str, str]]:
    out = []
    for name in files:
        if name == "-":
            out.append(("STDIN", sys.stdin.read()))
            continue
        path = Path(name)
        if path.is_dir():
            for child in sorted(path.iterdir()):
                if child.suffix in (".yaml", ".yml", ".json"):
                    out.append((str(child), child.read_text()))
        elif path.exists():
            out.append((name, path.read_text()))
        else:
            raise KubectlError(f'error: the path "{name}" does not exist')
    return out


def _documents(text: str, source: str) -> list[dict[str, Any]]:
    from podid.kube.manifests import KubeError, load_documents

    try:
        return load_documents(text, source)
    except KubeError as exc:
        raise KubectlError(exc.message) from None


def _go_duration(text: str) -> int:
    import re

    total = 0.0
    if text.isdigit():
        return int(text)
    for value, unit in re.findall(r"(\d+(?:\.\d+)?)(h|m|s)", text):
        total += float(value) * {"h": 3600, "m": 60, "s": 1}[unit]
    if total == 0 and text not in ("0", "0s"):
        raise KubectlError(
            f'error: invalid argument "{text}" for "--duration" flag: time: invalid duration "{text}"'
        )
    return int(total)


def run(argv: list[str]) -> int:
    command: list[str] = []
    if "--" in argv:
        cut = argv.index("--")
        argv, command = argv[:cut], argv[cut + 1 :]
    if not argv or argv[0] in ("-h", "--help", "help"):
        sys.stdout.write(USAGE)
        return 0
    args = parse(argv)
    client = connect(resolve_state_dir())
    base = pick_cluster(client, args.context or args.cluster)
    namespace = args.namespace or "default"
    out = sys.stdout
    errors: list[str] = []
    if args.verb == "apply":
        for source, text in _read_manifests(args.filename):
            docs = _documents(text, source)
            answer = client.call(
                "POST", base + "/apply", {"documents": docs, "source": source, "namespace": namespace}
            )
            for line in answer["results"]:
                out.write(line + "\n")
            errors += answer["errors"]
    elif args.verb == "delete":
        body: dict[str, Any] = {"namespace": namespace, "ignoreNotFound": args.ignore_not_found}
        if args.filename:
            for source, text in _read_manifests(args.filename):
                answer = client.call(
                    "POST",
                    base + "/delete",
                    {**body, "documents": _documents(text, source), "source": source},
                )
                for line in answer["results"]:
                    out.write(line + "\n")
                errors += answer["errors"]
        else:
            targets = _targets(args.args)
            answer = client.call(
                "POST",
                base + "/delete",
                {**body, "targets": [{"kind": k, "namespace": namespace, "name": n} for k, n in targets]},
            )
            for line in answer["results"]:
                out.write(line + "\n")
            errors += answer["errors"]
            if not targets:
                errors.append("error: resource(s) were provided, but no name was specified")
    elif args.verb == "get":
        errors += _get(client, base, args, namespace)
    elif args.verb == "describe":
        errors += _describe(client, base, args, namespace)
    elif args.verb == "logs":
        query = [("namespace", namespace), ("pod", args.pod.removeprefix("pod/")), ("tail", str(args.tail))]
        if args.container:
            query.append(("container", args.container))
        if args.previous:
            query.append(("previous", "1"))
        data = client.call("GET", base + "/logs", query=query)
        sys.stdout.buffer.write(data if isinstance(data, bytes) else json.dumps(data).encode())
        sys.stdout.flush()
    elif args.verb == "exec":
        if args.rest:
            raise KubectlError(
                "error: exec [POD] [COMMAND] is not supported anymore. Use exec [POD] -- [COMMAND] instead\n"
                "See 'kubectl exec -h' for help and examples"
            )
        if not command:
            raise KubectlError("error: you must specify at least one command for the container")
        from podid.kube.exec_client import exec_in_pod

        return exec_in_pod(
            client,
            base,
            namespace,
            args.pod.removeprefix("pod/"),
            args.container,
            command,
            stdin=args.stdin,
            tty=args.tty,
        )
    elif args.verb == "create":
        body = {
            "namespace": namespace,
            "serviceAccount": args.service_account,
            "audience": args.audience or [],
            "duration": _go_duration(args.duration) or 3600,
        }
        answer = client.call("POST", base + "/token", body)
        out.write(answer["token"] + "\n")
    for message in errors:
        sys.stderr.write(message.rstrip("\n") + "\n")
    return 1 if errors else 0


def _targets(items: list[str]) -> list[tuple[str, str]]:
    from podid.kube.model import UnknownResourceType, kind_for

    out: list[tuple[str, str]] = []
    try:
        if items and "/" in items[0]:
            for item in items:
                kind, _, name = item.partition("/")
                out.append((kind_for(kind).kind, name))
        elif items:
            kinds = [kind_for(k).kind for k in items[0].split(",")]
            out = [(k, name) for k in kinds for name in items[1:]]
    except UnknownResourceType as exc:
        raise KubectlError(f"error: {exc}") from None
    return out


def _get(client: Client, base: str, args: argparse.Namespace, namespace: str) -> list[str]:
    from podid.kube import printers
    from podid.kube.model import BY_KIND, UnknownResourceType, kind_for, parse_time

    items_arg: list[str] = args.args
    requests: list[tuple[str, list[str]]] = []
    try:
        if "/" in items_arg[0]:
            for item in items_arg:
                kind, _, name = item.partition("/")
                requests.append((kind_for(kind).kind, [name]))
        else:
            for kind in items_arg[0].split(","):
                requests.append((kind_for(kind).kind, items_arg[1:]))
    except UnknownResourceType as exc:
        raise KubectlError(f"error: {exc}") from None
    output = args.output or ""
    if output not in ("", "wide", "yaml", "json", "name"):
        raise KubectlError(
            f'error: unable to match a printer suitable for the output format "{output}", '
            "allowed formats are: json,name,wide,yaml"
        )
    errors: list[str] = []
    collected: list[dict[str, Any]] = []
    multi = len(requests) > 1
    printed_any = False
    for kind_name, names in requests:
        query = [("kind", kind_name), ("namespace", namespace)]
        if args.all_namespaces:
            query.append(("all", "1"))
        if args.selector:
            query.append(("selector", args.selector))
        query += [("name", n) for n in names]
        answer = client.call("GET", base + "/objects", query=query)
        errors += answer["errors"]
        items = answer["items"]
        now = parse_time(answer["now"])
        if output in ("yaml", "json"):
            collected += items
            continue
        if output == "name":
            for obj in items:
                sys.stdout.write(printers.name_line(obj) + "\n")
            printed_any = printed_any or bool(items)
            continue
        if not items:
            continue
        kind_info = BY_KIND[kind_name]
        if printed_any:
            sys.stdout.write("\n")
        text = printers.table(
            kind_info, items, now, wide=output == "wide", all_namespaces=args.all_namespaces, show_kind=multi
        )
        if args.show_labels:
            text = _with_labels(text, items)
        sys.stdout.write(text)
        printed_any = True
    if output in ("yaml", "json"):
        single = len(collected) == 1 and len(requests) == 1 and len(requests[0][1]) == 1
        value = collected[0] if single else printers.as_list(collected)
        sys.stdout.write(printers.to_yaml(value) if output == "yaml" else printers.to_json(value))
        return errors
    if not printed_any and not errors:
        if args.all_namespaces or not BY_KIND[requests[0][0]].namespaced:
            sys.stderr.write("No resources found\n")
        else:
            sys.stderr.write(f"No resources found in {namespace} namespace.\n")
    return errors


def _with_labels(text: str, items: list[dict[str, Any]]) -> str:
    from podid.kube import printers

    lines = text.rstrip("\n").split("\n")
    rows = [[*_split_row(lines[0]), "LABELS"]]
    for line, obj in zip(lines[1:], items, strict=False):
        labels = (obj.get("metadata") or {}).get("labels") or {}
        rows.append([*_split_row(line), ",".join(f"{k}={v}" for k, v in sorted(labels.items())) or "<none>"])
    return printers.tabwrite(rows)


def _split_row(line: str) -> list[str]:
    import re

    return [cell for cell in re.split(r"\s{3,}", line.strip()) if cell]


def _describe(client: Client, base: str, args: argparse.Namespace, namespace: str) -> list[str]:
    from podid.kube.describe import describe_pod
    from podid.kube.model import UnknownResourceType, kind_for, parse_time

    try:
        first = args.args[0]
        kind = kind_for(first.split("/", 1)[0])
    except UnknownResourceType as exc:
        raise KubectlError(f"error: {exc}") from None
    if kind.kind != "Pod":
        raise KubectlError(
            f"error: podid kubectl describes pods only (use `podid kubectl get {first} -o yaml`)"
        )
    names = [first.split("/", 1)[1]] if "/" in first else args.args[1:]
    query = [("kind", "Pod"), ("namespace", namespace)] + [("name", n) for n in names]
    if args.selector:
        query.append(("selector", args.selector))
    answer = client.call("GET", base + "/objects", query=query)
    now = parse_time(answer["now"])
    sys.stdout.write("\n\n".join(describe_pod(pod, now) for pod in answer["items"]))
    if not answer["items"] and not answer["errors"]:
        sys.stderr.write(f"No resources found in {namespace} namespace.\n")
    return list(answer["errors"])


@click.command(
    "kubectl",
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True, "help_option_names": []},
    add_help_option=False,
)
@click.argument("argv", nargs=-1, type=click.UNPROCESSED)
def kubectl(argv: tuple[str, ...]) -> None:
    """kubectl for podid's local clusters (apply, delete, get, describe, logs, exec, create token)."""
    args = list(argv)
    if "kubectl" in sys.argv[1:]:
        # click drops the `--` that separates exec's command: take the arguments as typed
        from podid.cli.main import hoist_state_dir

        typed = hoist_state_dir(sys.argv[sys.argv.index("kubectl", 1) + 1 :])
        if "--" in typed:
            args = typed
    try:
        code = run(args)
    except KubectlError as exc:
        click.echo(str(exc), err=True)
        sys.exit(1)
    sys.exit(code)
