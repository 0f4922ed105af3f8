"""Reading the parts of a Pod the webhook touches, with a clear message when one has the wrong shape.

The real webhook decodes `request.object` into Go's `corev1.Pod`; a wrong type there becomes the
AdmissionResponse's `status.message`. These helpers check only the fields the mutation reads or
rewrites, and name the offending field (`spec.containers[0].env[1].name must be a string`).
"""

from __future__ import annotations

from typing import Any


class MalformedPod(Exception):
    """request.object is not a Pod the webhook can read; the message says which field is wrong."""


def container_list(spec: dict[str, Any], field: str) -> list[dict[str, Any]]:
    """`spec.<field>` (containers or initContainers), checked down to env/volumeMounts names."""
    value = spec.get(field)
    if value is None:
        return []
    if not isinstance(value, list):
        raise MalformedPod(f"spec.{field} must be an array of containers, got {json_type(value)}")
    for i, container in enumerate(value):
        where = f"spec.{field}[{i}]"
        if not isinstance(container, dict):
            raise MalformedPod(f"{where} must be an object, got {json_type(container)}")
        for list_field in ("env", "volumeMounts"):
            items = container.get(list_field)
            if items is None:
                continue
            if not isinstance(items, list):
                raise MalformedPod(f"{where}.{list_field} must be an array, got {json_type(items)}")
            for j, item in enumerate(items):
                if not isinstance(item, dict):
                    raise MalformedPod(f"{where}.{list_field}[{j}] must be an object, got {json_type(item)}")
                if not isinstance(item.get("name", ""), str):
                    raise MalformedPod(f"{where}.{list_field}[{j}].name must be a string")
    return value


def dict_field(obj: dict[str, Any], field: str) -> dict[str, Any]:
    """An object field; absent or null reads as {}."""
    value = obj.get(field)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise MalformedPod(f"{field} must be an object, got {json_type(value)}")
    return value


def str_field(obj: dict[str, Any], field: str, where: str) -> str:
    """A string field; absent or null reads as ""."""
    value = obj.get(field)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise MalformedPod(f"{where} must be a string, got {json_type(value)}")
    return value


def string_map(obj: dict[str, Any], field: str, where: str) -> dict[str, str]:
    """A map of strings (labels, annotations, nodeSelector); absent or null reads as {}."""
    value = obj.get(field)
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise MalformedPod(f"{where} must be an object of strings")
    return value


def json_type(value: Any) -> str:
    """The JSON type name of a decoded value, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"
