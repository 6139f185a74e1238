from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest
import yaml

from strata.domain.address_plan import build_address_plan
from strata.domain.network_policy import nacl_rules

ROOT = Path(__file__).resolve().parents[4]


@pytest.fixture(scope="module")
def plan() -> dict:  # type: ignore[type-arg]
    spec = yaml.safe_load((ROOT / "inventories/local/group_vars/all/network.yml").read_text())["network_address_plan"]
    return build_address_plan(spec, ["eu-west-3a", "eu-west-3b", "eu-west-3c"])


def allowed(rules: list[list], cidr: str, port: int) -> bool:  # type: ignore[type-arg]
    """First-match evaluation, as AWS does, for a TCP packet."""
    for number, proto, action, rule_cidr, _t, _c, low, high in sorted(rules, key=lambda r: r[0]):
        assert proto == "tcp" and isinstance(number, int)
        if ipaddress.ip_network(cidr).subnet_of(ipaddress.ip_network(rule_cidr)) and low <= port <= high:
            return bool(action == "allow")
    return False  # the implicit `*` deny


def test_database_accepts_its_port_only_from_the_app_tier(plan: dict) -> None:  # type: ignore[type-arg]
    rules = nacl_rules(plan)["database"]
    assert allowed(rules["ingress"], "10.4.2.0/24", 5432)
    for other in ("10.6.1.0/24", "10.0.1.0/24", "192.0.2.0/24"):
        assert not allowed(rules["ingress"], other, 5432)
    assert not allowed(rules["ingress"], "10.4.2.0/24", 22)
    # Replies to the app tier's connections leave on ephemeral ports.
    assert allowed(rules["egress"], "10.4.1.0/24", 40000)
    assert not allowed(rules["egress"], "10.0.1.0/24", 40000)


def test_admin_accepts_ssh_only_from_the_public_tier(plan: dict) -> None:  # type: ignore[type-arg]
    rules = nacl_rules(plan)["admin"]
    assert allowed(rules["ingress"], "10.6.3.0/24", 22)
    assert not allowed(rules["ingress"], "10.4.3.0/24", 22)
    assert not allowed(rules["ingress"], "198.51.100.0/24", 22)
    assert allowed(rules["egress"], "10.6.3.0/24", 50000)


def test_rule_numbers_are_unique_and_explicit(plan: dict) -> None:  # type: ignore[type-arg]
    for tier in nacl_rules(plan, database_client_tiers=["app", "admin"]).values():
        for direction in tier.values():
            numbers = [r[0] for r in direction]
            assert len(numbers) == len(set(numbers))
            assert all(1 <= n <= 32766 for n in numbers)


def test_extra_client_tiers_get_their_own_rules(plan: dict) -> None:  # type: ignore[type-arg]
    rules = nacl_rules(plan, database_client_tiers=["app", "admin"])["database"]
    assert allowed(rules["ingress"], "10.0.2.0/24", 5432)


def test_unknown_client_tier_is_refused(plan: dict) -> None:  # type: ignore[type-arg]
    with pytest.raises(ValueError, match=r"network_database_client_tiers names unknown tier\(s\) \['web'\]"):
        nacl_rules(plan, database_client_tiers=["web"])
