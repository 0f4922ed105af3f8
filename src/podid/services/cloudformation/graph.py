"""The dependency graph of a template's resources: DependsOn plus every Ref, Fn::GetAtt and Fn::Sub.

`creation_order` sorts the resources so that each comes after what it depends on (template order
among independent ones); deletion runs the same order backwards. A cycle is CloudFormation's
ValidationError "Circular dependency between resources: [...]".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from podid.errors import ValidationError
from podid.services.cloudformation.template import sub_names, walk


def dependencies(decl: Mapping[str, Any], resources: Iterable[str]) -> list[str]:
    """The resources one resource declaration depends on (among `resources`)."""
    known = set(resources)
    found: list[str] = []
    depends = decl.get("DependsOn", [])
    found.extend([depends] if isinstance(depends, str) else list(depends))
    for fn, arg in walk(decl.get("Properties") or {}):
        if fn == "Ref" and isinstance(arg, str):
            found.append(arg)
        elif fn == "Fn::GetAtt":
            if isinstance(arg, str):
                found.append(arg.split(".", 1)[0])
            elif isinstance(arg, list) and arg and isinstance(arg[0], str):
                found.append(arg[0])
        elif fn == "Fn::Sub":
            found.extend(name.split(".", 1)[0] for name in sub_names(arg))
    return [d for d in dict.fromkeys(found) if d in known]


def creation_order(graph: Mapping[str, list[str]]) -> list[str]:
    """Resources in dependency order; `graph` maps each resource to its dependencies."""
    remaining = {name: set(deps) for name, deps in graph.items()}
    order: list[str] = []
    while remaining:
        ready = [name for name, deps in remaining.items() if not deps]
        if not ready:
            raise ValidationError(f"Circular dependency between resources: [{', '.join(_cycle(remaining))}]")
        for name in ready:
            order.append(name)
            del remaining[name]
        for deps in remaining.values():
            deps.difference_update(ready)
    return order


def _cycle(remaining: Mapping[str, set[str]]) -> list[str]:
    """The resources that lie on a cycle (not those merely waiting for one), in template order."""
    on_cycle: list[str] = []
    for start in remaining:
        seen: set[str] = set()
        stack = list(remaining[start])
        while stack:
            node = stack.pop()
            if node == start:
                on_cycle.append(start)
                break
            if node in seen or node not in remaining:
                continue
            seen.add(node)
            stack.extend(remaining[node])
    return on_cycle
