"""The admission webhook as a pure function: `review(AdmissionReview) -> AdmissionReview`.

Behaviour follows amazon-eks-pod-identity-webhook (reference §4.2–4.3, IRSA §3.3–3.4):

1. Pod Identity mode when (request.namespace, spec.serviceAccountName) has an association: the
   `eks-pod-identity-token` projected volume (audience `pods.eks.amazonaws.com`), the read-only
   mount, `AWS_CONTAINER_CREDENTIALS_FULL_URI` + `AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE`, and the
   `eks.amazonaws.com/pod-identity: enabled` label. It wins over IRSA.
2. Else IRSA mode when the ServiceAccount has `eks.amazonaws.com/role-arn`: the `aws-iam-token`
   volume (audience `sts.amazonaws.com` or the SA's `audience` annotation), `AWS_ROLE_ARN` +
   `AWS_WEB_IDENTITY_TOKEN_FILE`.
3. Else the pod is admitted unchanged: `{"allowed": true}`.

Both modes add `AWS_STS_REGIONAL_ENDPOINTS=regional` and `AWS_DEFAULT_REGION`/`AWS_REGION` where
absent, skip the containers named in `eks.amazonaws.com/skip-containers`, leave a container that
already has every variable untouched, and emit the JSONPatch ops in the real order: label, volume,
`/spec/containers` (always the whole list), `/spec/initContainers` (when there are any).

Token expiration: pod annotation `eks.amazonaws.com/token-expiration` > SA annotation > flag, each
raised to at least 600 s; in Pod Identity mode a value of exactly 86400 is replaced by a uniform
random integer in [79200, 86400] (the real webhook's jitter, commit 0d3fed42).

Deliberate differences from the real webhook (documented in docs/webhook.md):
- the ServiceAccount is read synchronously, so there is no "SA not yet in the informer cache"
  case; an SA that cannot be found gets the flag values (the real webhook uses regional STS off and
  86400 s only while its cache is cold, and never mutates in IRSA mode then);
- a failed association lookup (`IdentityLookupError`) admits the pod unchanged with a warning,
  which is what the real `failurePolicy: Ignore` does when the webhook cannot answer.
"""

from __future__ import annotations

import base64
import copy
import json
import random
from dataclasses import dataclass
from typing import Any

from podid.webhook.config import (
    DEFAULT_TOKEN_EXPIRATION,
    IRSA_TOKEN_PATH,
    IRSA_VOLUME_NAME,
    JITTER_MIN_EXPIRATION,
    MIN_TOKEN_EXPIRATION,
    POD_IDENTITY_LABEL,
    IdentityLookupError,
    IdentitySource,
    ServiceAccountSource,
    WebhookConfig,
)
from podid.webhook.gocompat import csv_first_record, filepath_join, parse_bool, parse_int64
from podid.webhook.podshape import MalformedPod, container_list, dict_field, json_type, str_field, string_map

ADMISSION_V1 = "admission.k8s.io/v1"
ADMISSION_V1BETA1 = "admission.k8s.io/v1beta1"
_SUPPORTED_VERSIONS = (ADMISSION_V1, ADMISSION_V1BETA1)

ENV_FULL_URI = "AWS_CONTAINER_CREDENTIALS_FULL_URI"
ENV_TOKEN_FILE = "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"
ENV_ROLE_ARN = "AWS_ROLE_ARN"
ENV_WEB_IDENTITY_TOKEN_FILE = "AWS_WEB_IDENTITY_TOKEN_FILE"
ENV_REGION = "AWS_REGION"
ENV_DEFAULT_REGION = "AWS_DEFAULT_REGION"
ENV_STS_REGIONAL = "AWS_STS_REGIONAL_ENDPOINTS"

# Field order of k8s.io/api core/v1 Container: Go serializes containers in this order (and always
# writes "resources"), so the patch bytes match the real webhook's.
_CONTAINER_FIELDS = (
    "name",
    "image",
    "command",
    "args",
    "workingDir",
    "ports",
    "envFrom",
    "env",
    "resources",
    "resizePolicy",
    "restartPolicy",
    "restartPolicyRules",
    "volumeMounts",
    "volumeDevices",
    "livenessProbe",
    "readinessProbe",
    "startupProbe",
    "lifecycle",
    "terminationMessagePath",
    "terminationMessagePolicy",
    "imagePullPolicy",
    "securityContext",
    "stdin",
    "stdinOnce",
    "tty",
)


@dataclass(frozen=True)
class PatchConfig:
    """What one pod gets (the real `podPatchConfig`)."""

    pod_identity: bool
    role_arn: str
    audience: str
    mount_path: str
    volume_name: str
    token_path: str
    token_expiration: int
    regional_sts: bool
    skip_containers: frozenset[str]


def review(
    admission_review: Any,
    config: WebhookConfig,
    identities: IdentitySource,
    service_accounts: ServiceAccountSource | None = None,
    rng: random.Random | None = None,
) -> dict[str, Any]:
    """Answer one AdmissionReview (a decoded JSON document) with an AdmissionReview response.

    The response echoes the request's `apiVersion`/`kind` and `uid`. A malformed review gets
    `allowed: false` and a `status.message` saying what is wrong (the real webhook answers decode
    errors the same way), never an exception.
    """
    api_version = ADMISSION_V1
    if not isinstance(admission_review, dict):
        return _envelope(api_version, _failure("", "bad content: the AdmissionReview must be a JSON object"))
    declared = admission_review.get("apiVersion")
    if isinstance(declared, str) and declared in _SUPPORTED_VERSIONS:
        api_version = declared
    elif declared is not None:
        return _envelope(
            api_version,
            _failure(
                "",
                f"unsupported AdmissionReview apiVersion {declared!r}: expected "
                f"{ADMISSION_V1!r} or {ADMISSION_V1BETA1!r}",
            ),
        )
    kind = admission_review.get("kind")
    if kind is not None and kind != "AdmissionReview":
        return _envelope(api_version, _failure("", f"unsupported kind {kind!r}: expected 'AdmissionReview'"))
    request = admission_review.get("request")
    if not isinstance(request, dict):
        return _envelope(api_version, _failure("", "bad content: the AdmissionReview has no request"))
    uid = request.get("uid")
    uid = uid if isinstance(uid, str) else ""
    try:
        response = _admit(request, config, identities, service_accounts, rng)
    except MalformedPod as exc:
        return _envelope(api_version, _failure(uid, f"cannot decode the Pod in request.object: {exc}"))
    # Go's AdmissionResponse field order: uid, allowed, status, patch, patchType, warnings.
    return _envelope(api_version, {"uid": uid, **response})


def pod_patch(
    pod: dict[str, Any],
    namespace: str,
    config: WebhookConfig,
    identities: IdentitySource,
    service_accounts: ServiceAccountSource | None = None,
    rng: random.Random | None = None,
) -> list[dict[str, Any]] | None:
    """The JSONPatch ops for one pod (None when it is admitted unchanged). Raises MalformedPod."""
    patch_config = build_patch_config(pod, namespace, config, identities, service_accounts, rng)
    if patch_config is None:
        return None
    return build_patch(pod, patch_config, config)


def encode_patch(ops: list[dict[str, Any]]) -> bytes:
    """JSON bytes as Go's `json.Marshal` writes them (compact, `<`, `>`, `&` escaped)."""
    text = json.dumps(ops, separators=(",", ":"), ensure_ascii=False)
    for raw, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
        text = text.replace(raw, escaped)
    text = text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    return text.encode()


def _admit(
    request: dict[str, Any],
    config: WebhookConfig,
    identities: IdentitySource,
    service_accounts: ServiceAccountSource | None,
    rng: random.Random | None,
) -> dict[str, Any]:
    pod = request.get("object")
    if not isinstance(pod, dict):
        raise MalformedPod("request.object must be a JSON object (the Pod)")
    namespace = request.get("namespace")
    if not isinstance(namespace, str) or not namespace:
        namespace = str_field(dict_field(pod, "metadata"), "namespace", "metadata.namespace") or "default"
    try:
        ops = pod_patch(pod, namespace, config, identities, service_accounts, rng)
    except IdentityLookupError as exc:
        # The real webhook's failurePolicy is Ignore: an unanswered lookup admits the pod unmutated.
        return {
            "allowed": True,
            "warnings": [f"Pod Identity association lookup failed ({exc}); the pod was admitted unchanged"],
        }
    if ops is None:
        return {"allowed": True}
    return {
        "allowed": True,
        "patch": base64.b64encode(encode_patch(ops)).decode(),
        "patchType": "JSONPatch",
    }


def build_patch_config(
    pod: dict[str, Any],
    namespace: str,
    config: WebhookConfig,
    identities: IdentitySource,
    service_accounts: ServiceAccountSource | None,
    rng: random.Random | None,
) -> PatchConfig | None:
    """The real `buildPodPatchConfig`: Pod Identity first, then IRSA, else None (no mutation)."""
    metadata = dict_field(pod, "metadata")
    spec = dict_field(pod, "spec")
    annotations = string_map(metadata, "annotations", "metadata.annotations")
    sa_name = (
        str_field(spec, "serviceAccountName", "spec.serviceAccountName")
        or str_field(spec, "serviceAccount", "spec.serviceAccount")
        or "default"
    )
    sa = service_accounts.service_account(namespace, sa_name) if service_accounts is not None else None
    sa_annotations = _sa_annotations(sa)
    prefix = config.annotation_prefix

    regional_sts = config.regional_sts
    if f"{prefix}/sts-regional-endpoints" in sa_annotations:
        parsed_bool = parse_bool(sa_annotations[f"{prefix}/sts-regional-endpoints"])
        if parsed_bool is not None:
            regional_sts = parsed_bool
    sa_expiration = config.token_expiration
    if f"{prefix}/token-expiration" in sa_annotations:
        parsed_int = parse_int64(sa_annotations[f"{prefix}/token-expiration"])
        if parsed_int is not None:
            sa_expiration = max(parsed_int, MIN_TOKEN_EXPIRATION)
    expiration = _pod_expiration(annotations, prefix, sa_expiration)
    skip = _skipcontainers(annotations, prefix)

    if identities.has_association(namespace, sa_name):
        if expiration == DEFAULT_TOKEN_EXPIRATION:
            expiration = (rng or random.SystemRandom()).randint(
                JITTER_MIN_EXPIRATION, DEFAULT_TOKEN_EXPIRATION
            )
        return PatchConfig(
            pod_identity=True,
            role_arn="",
            audience=config.audience,
            mount_path=config.mount_path,
            volume_name=config.volume_name,
            token_path=config.token_path,
            token_expiration=expiration,
            regional_sts=regional_sts,
            skip_containers=skip,
        )
    role_arn = sa_annotations.get(f"{prefix}/role-arn", "")
    if not role_arn:
        return None
    return PatchConfig(
        pod_identity=False,
        role_arn=role_arn,
        audience=sa_annotations.get(f"{prefix}/audience", config.irsa_audience),
        mount_path=config.irsa_mount_path,
        volume_name=IRSA_VOLUME_NAME,
        token_path=IRSA_TOKEN_PATH,
        token_expiration=expiration,
        regional_sts=regional_sts,
        skip_containers=skip,
    )


def build_patch(pod: dict[str, Any], pc: PatchConfig, config: WebhookConfig) -> list[dict[str, Any]]:
    """The real `getPodSpecPatch` (plus the Pod Identity label op in front)."""
    metadata = dict_field(pod, "metadata")
    spec = dict_field(pod, "spec")
    token_file = filepath_join(pc.mount_path, pc.token_path)
    selector = string_map(spec, "nodeSelector", "spec.nodeSelector")
    if "windows" in (selector.get("kubernetes.io/os"), selector.get("beta.kubernetes.io/os")):
        token_file = "C:" + token_file.replace("/", "\\")

    if not container_list(spec, "containers"):
        # The API server rejects such a pod anyway (spec.containers: Required value); the real webhook
        # would answer with a patch that cannot apply. A clear denial says why.
        raise MalformedPod("spec.containers: Required value (a Pod needs at least one container)")
    init_containers = [
        _mutate_container(c, token_file, pc, config) for c in container_list(spec, "initContainers")
    ]
    containers = [_mutate_container(c, token_file, pc, config) for c in container_list(spec, "containers")]

    ops: list[dict[str, Any]] = []
    if pc.pod_identity and config.pod_identity_label:
        if pod.get("metadata") is None:
            # Only a hand-made review lacks metadata (the API server always sends it).
            ops.append(
                {"op": "add", "path": "/metadata", "value": {"labels": {POD_IDENTITY_LABEL: "enabled"}}}
            )
        elif metadata.get("labels") is None:
            ops.append({"op": "add", "path": "/metadata/labels", "value": {POD_IDENTITY_LABEL: "enabled"}})
        else:
            string_map(metadata, "labels", "metadata.labels")
            ops.append(
                {"op": "add", "path": "/metadata/labels/" + _pointer(POD_IDENTITY_LABEL), "value": "enabled"}
            )

    volumes = spec.get("volumes")
    if volumes is not None and not isinstance(volumes, list):
        raise MalformedPod(f"spec.volumes must be an array, got {json_type(volumes)}")
    volume_list: list[Any] = volumes or []
    for i, vol in enumerate(volume_list):
        if not isinstance(vol, dict):
            raise MalformedPod(f"spec.volumes[{i}] must be an object, got {json_type(vol)}")
    if not any(vol.get("name") == pc.volume_name for vol in volume_list):
        volume = {
            "name": pc.volume_name,
            "projected": {
                "sources": [
                    {
                        "serviceAccountToken": {
                            "audience": pc.audience,
                            "expirationSeconds": pc.token_expiration,
                            "path": pc.token_path,
                        }
                    }
                ]
            },
        }
        if volumes is None:
            ops.append({"op": "add", "path": "/spec/volumes", "value": [volume]})
        else:
            ops.append({"op": "add", "path": "/spec/volumes/0", "value": volume})

    ops.append({"op": "add", "path": "/spec/containers", "value": containers})
    if init_containers:
        ops.append({"op": "add", "path": "/spec/initContainers", "value": init_containers})
    return ops


def _mutate_container(
    container: dict[str, Any], token_file: str, pc: PatchConfig, config: WebhookConfig
) -> dict[str, Any]:
    """The real `addEnvToContainer`, on a copy; skipped containers come back unchanged."""
    out = copy.deepcopy(container)
    name = container.get("name")
    if isinstance(name, str) and name in pc.skip_containers:
        return _go_order(out)
    env: list[dict[str, Any]] = list(out.get("env") or [])
    names = {e.get("name") for e in env}
    identity_keys = (
        (ENV_FULL_URI, ENV_TOKEN_FILE) if pc.pod_identity else (ENV_ROLE_ARN, ENV_WEB_IDENTITY_TOKEN_FILE)
    )
    identity_defined = any(k in names for k in identity_keys)
    region_defined = ENV_REGION in names or ENV_DEFAULT_REGION in names
    sts_defined = ENV_STS_REGIONAL in names
    if identity_defined and region_defined and sts_defined:
        return _go_order(out)

    if not sts_defined and pc.regional_sts:
        env.append({"name": ENV_STS_REGIONAL, "value": "regional"})
    if not region_defined and config.region:
        env.append({"name": ENV_DEFAULT_REGION, "value": config.region})
        env.append({"name": ENV_REGION, "value": config.region})
    if not identity_defined:
        if pc.pod_identity:
            env.append({"name": ENV_FULL_URI, "value": config.full_uri})
            env.append({"name": ENV_TOKEN_FILE, "value": token_file})
        else:
            env.append({"name": ENV_ROLE_ARN, "value": pc.role_arn})
            env.append({"name": ENV_WEB_IDENTITY_TOKEN_FILE, "value": token_file})
    if env:
        out["env"] = env

    mounts: list[dict[str, Any]] = list(out.get("volumeMounts") or [])
    if not any(m.get("name") == pc.volume_name for m in mounts):
        mounts.append({"name": pc.volume_name, "readOnly": True, "mountPath": pc.mount_path})
    out["volumeMounts"] = mounts
    return _go_order(out)


def _go_order(container: dict[str, Any]) -> dict[str, Any]:
    ordered: dict[str, Any] = {}
    for field in _CONTAINER_FIELDS:
        if field in container and container[field] is not None:
            ordered[field] = container[field]
        elif field == "resources":
            ordered[field] = {}
    for field, value in container.items():
        if field not in ordered and value is not None:
            ordered[field] = value
    return ordered


def _pod_expiration(annotations: dict[str, str], prefix: str, default: int) -> int:
    raw = annotations.get(f"{prefix}/token-expiration")
    if raw is None:
        return default
    parsed = parse_int64(raw)
    if parsed is None:
        return default
    return max(parsed, MIN_TOKEN_EXPIRATION)


def _skipcontainers(annotations: dict[str, str], prefix: str) -> frozenset[str]:
    raw = annotations.get(f"{prefix}/skip-containers")
    if raw is None:
        return frozenset()
    return frozenset(csv_first_record(raw) or ())


def _sa_annotations(sa: dict[str, Any] | None) -> dict[str, str]:
    if not isinstance(sa, dict):
        return {}
    meta = sa.get("metadata")
    if not isinstance(meta, dict):
        return {}
    annotations = meta.get("annotations")
    if not isinstance(annotations, dict):
        return {}
    return {k: v for k, v in annotations.items() if isinstance(k, str) and isinstance(v, str)}


def _pointer(token: str) -> str:
    """One RFC 6901 reference token."""
    return token.replace("~", "~0").replace("/", "~1")


def _failure(uid: str, message: str) -> dict[str, Any]:
    return {"uid": uid, "allowed": False, "status": {"message": message}}


def _envelope(api_version: str, response: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": api_version, "kind": "AdmissionReview", "response": response}
