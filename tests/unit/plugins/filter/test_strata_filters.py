"""The filter plugin as Ansible loads it: errors become AnsibleFilterError with the field named."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest
from ansible.errors import AnsibleFilterError

ROOT = Path(__file__).resolve().parents[4]


def load_filter_plugin() -> ModuleType:
    spec = importlib.util.spec_from_file_location("strata_filter", ROOT / "plugins/filter/strata.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def filters() -> dict:  # type: ignore[type-arg]
    return load_filter_plugin().FilterModule().filters()  # type: ignore[no-any-return]


def test_exposes_the_filters(filters: dict) -> None:  # type: ignore[type-arg]
    assert set(filters) == {
        "strata_address_plan",
        "strata_aws_target",
        "strata_nacl_rules",
        "strata_kubelet_taint",
        "strata_kubelet_labels",
        "strata_autoscaler_node_template",
        "strata_asg_tag",
        "strata_asg_drift",
        "strata_allow_list_problems",
        "strata_plan_overlaps",
        "strata_role_arn",
    }


def test_role_arn_is_the_roles_own_once_it_exists(filters: dict) -> None:  # type: ignore[type-arg]
    made = {"changed": False, "iam_role": {"arn": "arn:aws:iam::210987654321:role/strata-local-node"}}
    assert filters["strata_role_arn"](made, {"skipped": True}, "strata-local-node") == made["iam_role"]["arn"]


def test_role_arn_in_check_mode_before_the_role_exists(filters: dict) -> None:  # type: ignore[type-arg]
    reported = {"changed": True}  # iam_role in check mode: would create, no ARN
    arn = filters["strata_role_arn"](reported, {"account": "123456789012"}, "strata-local-cluster")
    assert arn == "arn:aws:iam::123456789012:role/strata-local-cluster"


def test_role_arn_without_an_account_names_the_fix(filters: dict) -> None:  # type: ignore[type-arg]
    with pytest.raises(AnsibleFilterError, match="aws_caller_info"):
        filters["strata_role_arn"]({"changed": True}, {"skipped": True}, "strata-local-cluster")


def test_plan_overlaps_names_the_other_environments_tier(filters: dict) -> None:  # type: ignore[type-arg]
    mine = {"tiers": {"app": {"cidr": "10.4.0.0/22"}}}
    assert filters["strata_plan_overlaps"](mine, {"production": {"tiers": {"app": {"cidr": "10.4.0.0/16"}}}}) == [
        "network_address_plan.tiers.app.cidr: 10.4.0.0/22 overlaps production's tiers.app (10.4.0.0/16)"
    ]
    assert filters["strata_plan_overlaps"](mine, {"staging": {"tiers": {"app": {"cidr": "10.12.0.0/22"}}}}) == []


def test_allow_list_problems_names_each_entry_that_is_wrong(filters: dict) -> None:  # type: ignore[type-arg]
    entries = ["10.6.0.0/22", "192.0.2.0/24", "10.6.1.1/22", "bastion", "::/0", "300.1.0.0/16"]
    problems = filters["strata_allow_list_problems"](entries, True)
    assert [p.split()[0] for p in problems] == ["10.6.1.1/22", "bastion", "::/0", "300.1.0.0/16"]
    assert "192.0.2.0/24 is a documentation range" in " ".join(filters["strata_allow_list_problems"](entries))
    assert filters["strata_allow_list_problems"](None) == [
        "it is empty: list the networks allowed (your office or VPN egress)"
    ]


def test_address_plan_error_names_the_variable(filters: dict) -> None:  # type: ignore[type-arg]
    spec = {
        "envelope": "10.0.0.0/13",
        "tiers": {"app": {"cidr": "10.4.0.0/22"}},
        "vpc_cidr_blocks": ["10.0.0.0/13"],
    }
    with pytest.raises(AnsibleFilterError, match=r"Invalid address plan: my_plan\.vpc_cidr_blocks\[0\]"):
        filters["strata_address_plan"](spec, ["a", "b", "c"], var_name="my_plan")


def test_target_guard_refuses(filters: dict, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[type-arg]
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with pytest.raises(AnsibleFilterError, match=r"Refusing to run: aws_endpoint_url=http://10\.0\.0\.5"):
        filters["strata_aws_target"]("local", "http://10.0.0.5:5000")
    assert filters["strata_aws_target"]("staging", "") == "AWS public endpoints"


def test_nacl_rules_error_is_a_filter_error(filters: dict) -> None:  # type: ignore[type-arg]
    with pytest.raises(AnsibleFilterError, match="unknown tier"):
        filters["strata_nacl_rules"]({"tiers": {"public": {}, "app": {}}}, 5432, ["web"])
