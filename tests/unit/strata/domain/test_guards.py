from __future__ import annotations

import pytest

from strata.domain.guards import TargetError, check_aws_target, is_loopback_url


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://127.0.0.1:5055", True),
        ("http://127.9.9.9", True),
        ("http://localhost:5055", True),
        ("http://[::1]:5055", True),
        ("http://10.1.2.3:5055", False),
        ("https://ec2.eu-west-3.amazonaws.com", False),
        ("http://localhost.example.com", False),
        ("not a url", False),
    ],
)
def test_loopback_detection(url: str, expected: bool) -> None:
    assert is_loopback_url(url) is expected


def test_local_accepts_loopback() -> None:
    assert "embedded cloud" in check_aws_target("local", "http://127.0.0.1:5055", {})


@pytest.mark.parametrize("url", ["http://10.1.2.3:5055", "https://ec2.eu-west-3.amazonaws.com"])
def test_local_refuses_anything_but_loopback(url: str) -> None:
    with pytest.raises(TargetError, match=r"aws_endpoint_url=.* is not a loopback address"):
        check_aws_target("local", url, {})


def test_local_refuses_an_empty_endpoint() -> None:
    with pytest.raises(TargetError, match="aws_endpoint_url is empty for env=local"):
        check_aws_target("local", None, {})


@pytest.mark.parametrize("env", ["staging", "production"])
def test_real_environments_refuse_a_custom_endpoint(env: str) -> None:
    with pytest.raises(TargetError, match=f"only env=local may use a custom endpoint.*inventories/{env}"):
        check_aws_target(env, "http://127.0.0.1:5055", {})


def test_real_environments_refuse_an_ambient_endpoint() -> None:
    with pytest.raises(TargetError, match=r"AWS_ENDPOINT_URL=http://127\.0\.0\.1:5055 is set"):
        check_aws_target("staging", None, {"AWS_ENDPOINT_URL": "http://127.0.0.1:5055"})


def test_real_environments_use_aws() -> None:
    assert check_aws_target("production", None, {}) == "AWS public endpoints"
