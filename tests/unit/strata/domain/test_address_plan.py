"""The address plan: the seed's table, AWS's rules, and a field-named error for each bad input."""

from __future__ import annotations

import copy
import ipaddress
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from strata.domain.address_plan import AddressPlanError, build_address_plan, first_overlap, plan_overlaps, split_tier

ROOT = Path(__file__).resolve().parents[4]
ZONES = ["eu-west-3a", "eu-west-3b", "eu-west-3c"]


def inventory_plan(env: str) -> dict[str, Any]:
    data = yaml.safe_load((ROOT / "inventories" / env / "group_vars" / "all" / "network.yml").read_text())
    plan: dict[str, Any] = data["network_address_plan"]
    return plan


@pytest.fixture
def seed() -> dict[str, Any]:
    return inventory_plan("local")


SEED_TIERS = {"public": "10.6.0.0/22", "app": "10.4.0.0/22", "database": "10.2.0.0/22", "admin": "10.0.0.0/22"}


@pytest.mark.parametrize("env", ["local", "production"])
def test_local_and_production_hold_the_seed_table(env: str) -> None:
    plan = build_address_plan(inventory_plan(env), ZONES)
    assert {t: v["cidr"] for t, v in plan["tiers"].items()} == SEED_TIERS


def test_staging_holds_the_seed_table_in_the_next_slash_13_apart_from_production() -> None:
    """The same layout, 8 more in the second octet (docs/address-plan.md): tier for tier, zone for zone."""

    def moved(cidr: str) -> str:
        first, second, rest = cidr.split(".", 2)
        return f"{first}.{int(second) + 8}.{rest}"

    seed, staging = (
        build_address_plan(inventory_plan("production"), ZONES),
        build_address_plan(inventory_plan("staging"), ZONES),
    )
    assert staging["envelope"] == "10.8.0.0/13"
    assert [(s["tier"], s["zone"], moved(s["cidr"])) for s in seed["subnets"]] == [
        (s["tier"], s["zone"], s["cidr"]) for s in staging["subnets"]
    ]
    assert plan_overlaps(inventory_plan("staging"), {"production": inventory_plan("production")}) == []


def test_overlapping_environments_are_named_tier_by_tier() -> None:
    production = inventory_plan("production")
    wider = {"tiers": {"app": {"cidr": "10.0.0.0/13"}}}
    problems = plan_overlaps(wider, {"production": production, "staging": inventory_plan("staging")})
    assert problems == [
        f"network_address_plan.tiers.app.cidr: 10.0.0.0/13 overlaps production's tiers.{tier} ({cidr})"
        for tier, cidr in SEED_TIERS.items()
    ]
    assert plan_overlaps(production, {"local": inventory_plan("local")})  # the same table twice: overlapping


def test_seed_plan_subnets_spares_and_blocks(seed: dict[str, Any]) -> None:
    plan = build_address_plan(seed, ZONES)
    assert plan["vpc_cidr_blocks"] == ["10.0.0.0/22", "10.2.0.0/22", "10.4.0.0/22", "10.6.0.0/22"]
    assert plan["vpc_primary_cidr"] == "10.0.0.0/22"
    assert len(plan["vpc_secondary_cidrs"]) == 3
    assert len(plan["subnets"]) == 12
    app = [s for s in plan["subnets"] if s["tier"] == "app"]
    assert [(s["zone"], s["cidr"]) for s in app] == [
        ("eu-west-3a", "10.4.1.0/24"),
        ("eu-west-3b", "10.4.2.0/24"),
        ("eu-west-3c", "10.4.3.0/24"),
    ]
    assert all(s["usable"] == 251 for s in plan["subnets"])  # 256 - 5 reserved by AWS
    assert app[0]["reserved"] == ["10.4.1.0", "10.4.1.1", "10.4.1.2", "10.4.1.3", "10.4.1.255"]
    assert plan["tiers"]["public"]["spare"] == ["10.6.0.0/24"]
    assert plan["tiers"]["database"]["usable"] == 3 * 251
    # The seed's spare /22s (10.1, 10.3, 10.5, 10.7) are free space in the envelope.
    free = [ipaddress.ip_network(n) for n in plan["envelope_free"]]
    for spare in ("10.1.0.0/22", "10.3.0.0/22", "10.5.0.0/22", "10.7.0.0/22"):
        assert any(ipaddress.ip_network(spare).subnet_of(f) for f in free)


def test_derived_split_matches_the_seed_table(seed: dict[str, Any]) -> None:
    derived = copy.deepcopy(seed)
    for tier in derived["tiers"].values():
        tier.pop("spare")
        tier.pop("subnets")
    assert build_address_plan(derived, ZONES) == build_address_plan(seed, ZONES)


def test_widened_blocks_give_each_tier_a_slash_16(seed: dict[str, Any]) -> None:
    seed["vpc_block_prefix"] = 16
    plan = build_address_plan(seed, ZONES)
    assert plan["vpc_cidr_blocks"] == ["10.0.0.0/16", "10.2.0.0/16", "10.4.0.0/16", "10.6.0.0/16"]


def test_contiguous_tiers_collapse_into_fewer_blocks() -> None:
    spec = {
        "envelope": "10.20.0.0/16",
        "tiers": {"public": {"cidr": "10.20.0.0/22"}, "app": {"cidr": "10.20.4.0/22"}},
    }
    assert build_address_plan(spec, ZONES)["vpc_cidr_blocks"] == ["10.20.0.0/21"]


def test_explicit_blocks_are_used_in_order(seed: dict[str, Any]) -> None:
    seed["vpc_cidr_blocks"] = ["10.6.0.0/16", "10.4.0.0/16", "10.2.0.0/16", "10.0.0.0/16"]
    plan = build_address_plan(seed, ZONES)
    assert plan["vpc_primary_cidr"] == "10.6.0.0/16"


def expect_error(spec: dict[str, Any], field: str, *words: str, zones: list[str] = ZONES) -> str:
    with pytest.raises(AddressPlanError) as info:
        build_address_plan(spec, zones)
    assert info.value.field == field
    message = str(info.value)
    assert message.startswith(field + ":")
    for word in words:
        assert word in message
    return message


def test_rejects_overlapping_tiers(seed: dict[str, Any]) -> None:
    seed["tiers"]["app"] = {"cidr": "10.6.0.0/21"}
    expect_error(seed, "network_address_plan.tiers.public.cidr", "10.6.0.0/22 overlaps", "tiers.app.cidr (10.6.0.0/21)")


def test_rejects_a_subnet_outside_its_tier(seed: dict[str, Any]) -> None:
    seed["tiers"]["app"]["subnets"][2] = "10.5.3.0/24"
    expect_error(seed, "network_address_plan.tiers.app.subnets[2]", "outside its tier app")


def test_rejects_a_tier_outside_the_envelope(seed: dict[str, Any]) -> None:
    seed["tiers"]["admin"] = {"cidr": "10.8.0.0/22"}
    expect_error(seed, "network_address_plan.tiers.admin.cidr", "outside the envelope 10.0.0.0/13")


def test_rejects_more_zones_than_the_region_has(seed: dict[str, Any]) -> None:
    seed["zones"] = 4
    for tier in seed["tiers"].values():
        tier.pop("subnets")
        tier.pop("spare")
    expect_error(seed, "network_address_plan.zones", "4 zones", "offers 3")


def test_rejects_subnets_smaller_than_aws_allows(seed: dict[str, Any]) -> None:
    seed["tiers"]["app"]["subnets"][0] = "10.4.1.0/29"
    expect_error(seed, "network_address_plan.tiers.app.subnets[0]", "/29", "smaller than AWS allows")


def test_rejects_a_subnet_prefix_aws_refuses(seed: dict[str, Any]) -> None:
    seed["subnet_prefix"] = 29
    expect_error(seed, "network_address_plan.subnet_prefix", "/29")


def test_rejects_the_envelope_as_a_single_vpc_block(seed: dict[str, Any]) -> None:
    seed["vpc_cidr_blocks"] = ["10.0.0.0/13"]
    message = expect_error(seed, "network_address_plan.vpc_cidr_blocks[0]", "/16 to /28", "envelope")
    assert "8 blocks" in message


def test_rejects_more_blocks_than_the_quota(seed: dict[str, Any]) -> None:
    seed["vpc_cidr_quota"] = 3
    expect_error(seed, "network_address_plan.vpc_cidr_quota", "need 4 VPC CIDR blocks", "quota is 3")


def test_rejects_secondary_blocks_from_another_rfc1918_range() -> None:
    spec = {
        "envelope": "0.0.0.0/0",
        "tiers": {"public": {"cidr": "10.0.0.0/22"}, "app": {"cidr": "192.168.0.0/22"}},
    }
    expect_error(spec, "network_address_plan.vpc_cidr_blocks (derived)[1]", "RFC 1918")


def test_rejects_blocks_that_leave_a_subnet_out(seed: dict[str, Any]) -> None:
    seed["vpc_cidr_blocks"] = ["10.0.0.0/16", "10.2.0.0/16", "10.4.0.0/16"]
    expect_error(seed, "network_address_plan.tiers.public.subnets[0]", "in no VPC CIDR block")


def test_rejects_a_wrong_number_of_subnets(seed: dict[str, Any]) -> None:
    seed["tiers"]["app"]["subnets"].pop()
    expect_error(seed, "network_address_plan.tiers.app.subnets", "2 subnets", "3 zones")


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda s: s.pop("envelope"), "network_address_plan.envelope"),
        (lambda s: s.update(envelope="10.0.0.1/13"), "network_address_plan.envelope"),
        (lambda s: s.update(zones=0), "network_address_plan.zones"),
        (lambda s: s.update(colour="blue"), "network_address_plan"),
        (lambda s: s["tiers"]["app"].update(size=3), "network_address_plan.tiers.app"),
        (lambda s: s.update(vpc_block_prefix=12), "network_address_plan.vpc_block_prefix"),
        (lambda s: s.update(vpc_cidr_quota=0), "network_address_plan.vpc_cidr_quota"),
    ],
)
def test_malformed_input_names_the_field(seed: dict[str, Any], mutate: Any, field: str) -> None:
    mutate(seed)
    expect_error(seed, field)


# --- properties -------------------------------------------------------------------------


@st.composite
def tiers_and_split(draw: st.DrawFn) -> tuple[ipaddress.IPv4Network, int, int]:
    tier_prefix = draw(st.integers(min_value=16, max_value=26))
    subnet_prefix = draw(st.integers(min_value=tier_prefix + 1, max_value=min(28, tier_prefix + 6)))
    capacity = 2 ** (subnet_prefix - tier_prefix)
    zones = draw(st.integers(min_value=1, max_value=min(6, capacity - 1)))
    base = draw(st.integers(min_value=0, max_value=2**32 - 1)) >> (32 - tier_prefix) << (32 - tier_prefix)
    return ipaddress.IPv4Network((base, tier_prefix)), subnet_prefix, zones


@given(tiers_and_split())
def test_split_partitions_the_tier(case: tuple[ipaddress.IPv4Network, int, int]) -> None:
    tier, subnet_prefix, zones = case
    spare, subnets = split_tier(tier, subnet_prefix, zones)
    assert len(subnets) == zones
    everything = spare + subnets
    assert all(net.subnet_of(tier) and net.prefixlen == subnet_prefix for net in everything)
    assert first_overlap([(str(i), n) for i, n in enumerate(everything)]) is None
    assert sum(n.num_addresses for n in everything) == tier.num_addresses
    assert list(ipaddress.collapse_addresses(everything)) == [tier]


networks = st.builds(
    lambda base, prefix: ipaddress.IPv4Network((base >> (32 - prefix) << (32 - prefix), prefix)),
    st.integers(min_value=0, max_value=2**32 - 1),
    st.integers(min_value=8, max_value=30),
)


def _intervals_intersect(a: ipaddress.IPv4Network, b: ipaddress.IPv4Network) -> bool:
    return int(a.network_address) <= int(b.broadcast_address) and int(b.network_address) <= int(a.broadcast_address)


@given(st.lists(networks, min_size=0, max_size=8))
def test_overlap_check_agrees_with_interval_arithmetic(nets: list[ipaddress.IPv4Network]) -> None:
    expected = any(_intervals_intersect(a, b) for i, a in enumerate(nets) for b in nets[i + 1 :])
    found = first_overlap([(f"n{i}", n) for i, n in enumerate(nets)])
    assert (found is not None) == expected
    if found:
        assert _intervals_intersect(found[1], found[3])


@given(tiers_and_split())
def test_plan_blocks_cover_every_subnet(case: tuple[ipaddress.IPv4Network, int, int]) -> None:
    tier, subnet_prefix, zones = case
    spec = {
        "envelope": "0.0.0.0/0",
        "zones": zones,
        "subnet_prefix": subnet_prefix,
        "tiers": {"app": {"cidr": str(tier)}},
    }
    zone_names = [f"eu-west-3{chr(97 + i)}" for i in range(zones)]
    plan = build_address_plan(spec, zone_names)
    blocks = [ipaddress.ip_network(b) for b in plan["vpc_cidr_blocks"]]
    assert all(16 <= b.prefixlen <= 28 for b in blocks)
    for subnet in plan["subnets"]:
        assert any(ipaddress.ip_network(subnet["cidr"]).subnet_of(b) for b in blocks)
        assert subnet["usable"] == ipaddress.ip_network(subnet["cidr"]).num_addresses - 5
