"""One live endpoint per test module (buckets keep tests apart); clients per test, after the autouse
fixture has isolated the AWS environment."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from podid.gateway.testing import RunningEndpoint, running_endpoint


@pytest.fixture(scope="module")
def ep(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningEndpoint]:
    with running_endpoint(tmp_path_factory.mktemp("s3-endpoint")) as endpoint:
        yield endpoint


@pytest.fixture
def s3(ep: RunningEndpoint) -> Any:
    return ep.boto3_client("s3")
