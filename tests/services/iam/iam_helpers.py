"""Constants and policy builders shared by the IAM and STS tests."""

from __future__ import annotations

import json

ACCOUNT = "111122223333"


def trust_for(principal: dict[str, object], actions: list[str] | None = None) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": principal, "Action": actions or ["sts:AssumeRole"]}
            ],
        }
    )


def allow(action: str | list[str], resource: str | list[str] = "*") -> str:
    return json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": action, "Resource": resource}]}
    )
