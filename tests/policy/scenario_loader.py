"""Loads the scenario files (tests/policy/scenarios/*.yaml) into simulator cases.

A file holds up to three lists, each entry one case with its expected outcome and the AWS page that
settles it (`doc`, or the file's `doc`):
- `cases`: full simulator cases (`request`, `identityPolicies`, ...) with `expected` (and optionally
  `deciding`, the policy type that decided);
- `tables`: one statement (merged over `Action: s3:GetObject, Resource: "*"`) put in an identity
  policy; each row (`context`, `action`, `resource`, `principal`, `expected`) is one case. With
  `effect: Deny`, the statement is a Deny next to an Allow of everything;
- `validation`: one policy document with its `kind`, and the `error` IAM sends (or `valid: true`).
`defs` holds YAML anchors and is ignored.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

SCENARIO_DIR = Path(__file__).parent / "scenarios"
PRINCIPAL = "arn:aws:sts::111122223333:assumed-role/app/s1"
ALLOW_ALL = {"Effect": "Allow", "Action": "*", "Resource": "*"}


@dataclass(frozen=True)
class Scenario:
    id: str
    doc: str
    kind: str  # "case" or "validation"
    body: dict[str, Any]


def _table_case(table: dict[str, Any], row: dict[str, Any]) -> dict[str, Any]:
    statement: dict[str, Any] = {
        "Effect": table.get("effect", "Allow"),
        "Action": "s3:GetObject",
        "Resource": "*",
    }
    extra = copy.deepcopy(table.get("statement", {}))
    if "NotAction" in extra:
        del statement["Action"]
    if "NotResource" in extra:
        del statement["Resource"]
    statement.update(extra)
    statements = [statement] if statement["Effect"] == "Allow" else [dict(ALLOW_ALL), statement]
    policy: dict[str, Any] = {"Statement": statements}
    version = table.get("version", "2012-10-17")
    if version is not None:
        policy = {"Version": version, **policy}
    request: dict[str, Any] = {
        "principal": row.get("principal", table.get("principal", PRINCIPAL)),
        "action": row.get("action", table.get("action", "s3:GetObject")),
        "resource": row.get("resource", table.get("resource", "arn:aws:s3:::bucket/key")),
        "resourceAccount": "111122223333",
        "context": row.get("context", {}),
    }
    return {"request": request, "identityPolicies": [policy], "expected": row["expected"]}


def load_scenarios() -> list[Scenario]:
    out: list[Scenario] = []
    for path in sorted(SCENARIO_DIR.glob("*.yaml")):
        data = yaml.safe_load(path.read_text())
        file_doc = data.get("doc", "")
        for i, case in enumerate(data.get("cases", [])):
            body = dict(case)
            out.append(
                Scenario(f"{path.stem}:{i}:{case.get('name', '')}", case.get("doc", file_doc), "case", body)
            )
        for t in data.get("tables", []):
            for j, row in enumerate(t["rows"]):
                body = _table_case(t, row)
                sid = f"{path.stem}:{t['name']}:{j}"
                out.append(Scenario(sid, row.get("doc", t.get("doc", file_doc)), "case", body))
        for i, v in enumerate(data.get("validation", [])):
            out.append(
                Scenario(f"{path.stem}:{i}:{v.get('name', '')}", v.get("doc", file_doc), "validation", v)
            )
    return out
