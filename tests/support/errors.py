"""Assertions on the errors AWS clients raise."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError


def error_of(call: Any, **kwargs: Any) -> tuple[str, int, str]:
    """(code, HTTP status, message) of the botocore `ClientError` that `call(**kwargs)` must raise."""
    with pytest.raises(ClientError) as err:
        call(**kwargs)
    response = err.value.response
    return (
        response["Error"]["Code"],
        response["ResponseMetadata"]["HTTPStatusCode"],
        response["Error"]["Message"],
    )


def error_code(exc: BaseException) -> str:
    """The AWS error code of a botocore `ClientError` ("" for anything else)."""
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


def wrong_secret(secret: str) -> str:
    """`secret` with its last character changed (to one it is not: a fixed "x" would leave a secret
    that already ends in "x" unchanged, which happens once in 64 random secrets)."""
    return secret[:-1] + ("y" if secret.endswith("x") else "x")
