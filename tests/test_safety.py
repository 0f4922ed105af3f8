"""The isolation fixture really isolates."""

import os


def test_no_aws_variables_leak_into_tests() -> None:
    leaked = {
        k
        for k in os.environ
        if k.startswith("AWS_")
        and k not in {"AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE", "AWS_EC2_METADATA_DISABLED"}
    }
    assert leaked == set()
    with open(os.environ["AWS_CONFIG_FILE"]) as handle:
        assert handle.read() == ""
