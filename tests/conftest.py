"""Test-wide safety: no test can reach a real AWS host or read the developer's AWS config."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def _aws_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # One directory per session (per xdist worker): a numbered directory per test made every later
    # mktemp scan thousands of entries (quadratic, ~15 s over the suite).
    return tmp_path_factory.mktemp("awshome")


@pytest.fixture(autouse=True)
def _isolate_aws_environment(_aws_home: Path) -> Iterator[None]:
    """Clear every AWS_* variable and point the AWS config files at files emptied for each test."""
    saved = {k: v for k, v in os.environ.items() if k.startswith(("AWS_", "PODID_", "BOTO_"))}
    for key in saved:
        del os.environ[key]
    home = _aws_home
    config = Path(home) / "config"
    creds = Path(home) / "credentials"
    config.write_text("")
    creds.write_text("")
    os.environ["AWS_CONFIG_FILE"] = str(config)
    os.environ["AWS_SHARED_CREDENTIALS_FILE"] = str(creds)
    os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
    try:
        yield
    finally:
        for key in [k for k in os.environ if k.startswith(("AWS_", "PODID_", "BOTO_"))]:
            del os.environ[key]
        os.environ.update(saved)
