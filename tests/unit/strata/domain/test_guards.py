from __future__ import annotations

import pytest

from strata.domain.guards import TargetError, allow_list_problems, check_aws_target, is_loopback_url


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


@pytest.mark.parametrize("env", ["staging", "production"])
def test_a_rehearsal_runs_a_real_environment_against_loopback_only(env: str) -> None:
    target = check_aws_target(env, None, {}, "http://127.0.0.1:5099")
    assert target.startswith("embedded cloud at http://127.0.0.1:5099 (REHEARSAL of env=" + env)


@pytest.mark.parametrize(
    "endpoint",
    ["http://10.0.0.5:5000", "https://sts.eu-west-3.amazonaws.com", "http://example.com", "http://0.0.0.0:5000", "x"],
)
def test_a_rehearsal_refuses_anything_but_loopback(endpoint: str) -> None:
    with pytest.raises(TargetError, match="not a loopback address"):
        check_aws_target("production", None, {}, endpoint)


def test_a_rehearsal_takes_no_second_endpoint_and_is_not_for_local() -> None:
    with pytest.raises(TargetError, match="takes its endpoint from strata_rehearsal_endpoint only"):
        check_aws_target("staging", "http://127.0.0.1:1", {}, "http://127.0.0.1:5099")
    with pytest.raises(TargetError, match="takes its endpoint from strata_rehearsal_endpoint only"):
        check_aws_target("staging", None, {"AWS_ENDPOINT_URL": "http://127.0.0.1:1"}, "http://127.0.0.1:5099")
    with pytest.raises(TargetError, match="env=local always rehearses"):
        check_aws_target("local", "http://127.0.0.1:5055", {}, "http://127.0.0.1:5099")


@pytest.mark.parametrize(
    ("values", "placeholders", "problem"),
    [
        ([], False, "it is empty"),
        (["0.0.0.0/0"], True, "0.0.0.0/0 is open to a large part of the internet"),
        (["0.0.0.0/1"], True, "0.0.0.0/1 is open to a large part of the internet (wider than /8)"),
        (["::/1"], True, "::/1 is open to a large part of the internet (wider than /32)"),
        (["10.0.0.1/8"], True, "10.0.0.1/8 is not a CIDR block"),
        (["office"], True, "office is not a CIDR block"),
        (["203.0.113.0/24"], False, "203.0.113.0/24 is a documentation range (a placeholder)"),
        (["2001:db8:1::/48"], False, "2001:db8:1::/48 is a documentation range"),
    ],
)
def test_allow_lists_that_are_not_one(values: list[object], placeholders: bool, problem: str) -> None:
    assert any(p.startswith(problem) for p in allow_list_problems(values, placeholders_allowed=placeholders))


def test_allow_lists_that_are_one() -> None:
    assert allow_list_problems(["198.18.4.0/24", "10.0.0.0/8", "2a01:cb00::/32"], placeholders_allowed=False) == []
    assert allow_list_problems(["203.0.113.0/24", "192.0.2.0/24"], placeholders_allowed=True) == []
