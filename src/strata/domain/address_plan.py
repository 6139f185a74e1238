"""The address plan: from the seed's CIDR table to subnets and VPC CIDR blocks AWS accepts.

The seed describes one /13 envelope holding one /22 per tier, each /22 split into a spare
/24 plus one /24 per availability zone. AWS accepts VPC CIDR blocks from /16 to /28 only,
so the envelope can never be a single block: the plan derives a primary block plus
secondary associations that cover every tier, and refuses to go past the per-VPC quota.

Pure Python (standard library only) so that the Ansible filter, the tests and any tool
share one implementation. Every error names the field of the input that is wrong.
"""

from __future__ import annotations

import ipaddress
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

Network = ipaddress.IPv4Network

#: AWS: "The allowed block size is between a /16 netmask and /28 netmask" (VPC and subnets).
AWS_MIN_PREFIX = 16
AWS_MAX_PREFIX = 28
#: Addresses AWS reserves in every subnet: network, VPC router, DNS, future use, broadcast.
AWS_RESERVED_PER_SUBNET = 5
#: Default quota "IPv4 CIDR blocks per VPC" (primary included); adjustable up to 50.
AWS_DEFAULT_CIDR_QUOTA = 5
RFC1918 = tuple(ipaddress.IPv4Network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"))

DEFAULT_VAR_NAME = "network_address_plan"


class AddressPlanError(ValueError):
    """Raised for an address plan that AWS or the platform would refuse."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


@dataclass(frozen=True)
class _Tier:
    name: str
    cidr: Network
    spare: tuple[Network, ...]
    subnets: tuple[Network, ...]


def _network(value: Any, field: str) -> Network:
    if not isinstance(value, str):
        raise AddressPlanError(field, f"expected a CIDR string such as '10.0.0.0/22', got {value!r}")
    try:
        net = ipaddress.ip_network(value, strict=True)
    except ValueError as exc:
        raise AddressPlanError(field, f"{value!r} is not a valid network CIDR ({exc})") from None
    if not isinstance(net, ipaddress.IPv4Network):
        raise AddressPlanError(field, f"{value} is IPv6; the address plan covers IPv4 only")
    return net


def _check_aws_size(net: Network, field: str, what: str) -> None:
    if net.prefixlen < AWS_MIN_PREFIX:
        raise AddressPlanError(
            field,
            f"{net} is a /{net.prefixlen}, larger than AWS allows for {what} (/{AWS_MIN_PREFIX} to /{AWS_MAX_PREFIX})",
        )
    if net.prefixlen > AWS_MAX_PREFIX:
        raise AddressPlanError(
            field,
            f"{net} is a /{net.prefixlen}, smaller than AWS allows for {what} (/{AWS_MIN_PREFIX} to /{AWS_MAX_PREFIX})",
        )


def first_overlap(named: Sequence[tuple[str, Network]]) -> tuple[str, Network, str, Network] | None:
    """Return a pair of (field, network) entries that overlap, lower address first, or None."""
    ordered = sorted(named, key=lambda item: (int(item[1].network_address), item[1].prefixlen))
    for (field_a, net_a), (field_b, net_b) in itertools.pairwise(ordered):
        if net_a.overlaps(net_b):
            return field_a, net_a, field_b, net_b
    # Sorted adjacency misses nothing for prefixes: if a overlaps c then a contains c or
    # c contains a, and any b between them in start order overlaps a as well.
    return None


def split_tier(
    tier: Network, subnet_prefix: int, zones: int, spare_first: int = 1
) -> tuple[list[Network], list[Network]]:
    """Split a tier into (spare, zone subnets): the first `spare_first` blocks are spare,
    the next `zones` go to the zones in order, and whatever remains is spare too."""
    blocks = list(tier.subnets(new_prefix=subnet_prefix))
    if spare_first + zones > len(blocks):
        raise ValueError(
            f"{tier} holds {len(blocks)} /{subnet_prefix} blocks, not enough for {spare_first} spare + {zones} zones"
        )
    zone_blocks = blocks[spare_first : spare_first + zones]
    spare = blocks[:spare_first] + blocks[spare_first + zones :]
    return spare, zone_blocks


def usable_addresses(subnet: Network) -> int:
    return int(subnet.num_addresses) - AWS_RESERVED_PER_SUBNET


def reserved_addresses(subnet: Network) -> list[str]:
    base = subnet.network_address
    return [str(base + i) for i in range(4)] + [str(subnet.broadcast_address)]


def _parse_tier(name: str, spec: Any, field: str, subnet_prefix: int, zones: int) -> _Tier:  # noqa: PLR0912 - a branch per checked field
    if not isinstance(spec, Mapping):
        raise AddressPlanError(
            field, f"expected a mapping with 'cidr' (and optionally 'spare', 'subnets'), got {spec!r}"
        )
    unknown = sorted(set(spec) - {"cidr", "spare", "subnets"})
    if unknown:
        raise AddressPlanError(field, f"unknown key(s) {unknown}; a tier takes cidr, spare, subnets")
    if "cidr" not in spec:
        raise AddressPlanError(f"{field}.cidr", "is required")
    cidr = _network(spec["cidr"], f"{field}.cidr")

    if "subnets" in spec:
        raw_subnets = spec["subnets"]
        if not isinstance(raw_subnets, Sequence) or isinstance(raw_subnets, str):
            raise AddressPlanError(f"{field}.subnets", "expected a list of CIDRs, one per zone")
        subnets = [_network(s, f"{field}.subnets[{i}]") for i, s in enumerate(raw_subnets)]
        if len(subnets) != zones:
            raise AddressPlanError(
                f"{field}.subnets",
                f"lists {len(subnets)} subnets but the plan has {zones} zones; give one per zone",
            )
        raw_spare = spec.get("spare", [])
        if isinstance(raw_spare, str) or not isinstance(raw_spare, Sequence):
            raise AddressPlanError(f"{field}.spare", "expected a list of CIDRs")
        spare = [_network(s, f"{field}.spare[{i}]") for i, s in enumerate(raw_spare)]
    else:
        try:
            spare, subnets = split_tier(cidr, subnet_prefix, zones)
        except ValueError as exc:
            raise AddressPlanError(f"{field}.cidr", str(exc)) from None

    named: list[tuple[str, Network]] = []
    for kind, nets in (("subnets", subnets), ("spare", spare)):
        for i, net in enumerate(nets):
            sub_field = f"{field}.{kind}[{i}]"
            if kind == "subnets":
                _check_aws_size(net, sub_field, "a subnet")
            if not net.subnet_of(cidr):
                raise AddressPlanError(sub_field, f"{net} lies outside its tier {name} ({cidr})")
            named.append((sub_field, net))
    clash = first_overlap(named)
    if clash:
        raise AddressPlanError(clash[2], f"{clash[3]} overlaps {clash[0]} ({clash[1]})")
    return _Tier(name=name, cidr=cidr, spare=tuple(spare), subnets=tuple(subnets))


def _derive_vpc_blocks(tiers: Sequence[_Tier], block_prefix: int | None, var: str) -> list[Network]:
    if block_prefix is None:
        collapsed = list(ipaddress.collapse_addresses(t.cidr for t in tiers))
        blocks: list[Network] = []
        for net in collapsed:
            blocks.extend(net.subnets(new_prefix=AWS_MIN_PREFIX) if net.prefixlen < AWS_MIN_PREFIX else [net])
        return blocks
    field = f"{var}.vpc_block_prefix"
    if not isinstance(block_prefix, int) or not AWS_MIN_PREFIX <= block_prefix <= AWS_MAX_PREFIX:
        raise AddressPlanError(field, f"{block_prefix!r} is not a prefix length AWS accepts (/16 to /28)")
    widened: set[Network] = set()
    for tier in tiers:
        if tier.cidr.prefixlen < block_prefix:
            raise AddressPlanError(
                field,
                f"/{block_prefix} is smaller than tier {tier.name} ({tier.cidr}); use at most /{tier.cidr.prefixlen}",
            )
        widened.add(tier.cidr.supernet(new_prefix=block_prefix))
    return sorted(ipaddress.collapse_addresses(widened))


def _explicit_vpc_blocks(raw: Any, var: str) -> list[Network]:
    field = f"{var}.vpc_cidr_blocks"
    if isinstance(raw, str) or not isinstance(raw, Sequence) or not raw:
        raise AddressPlanError(field, "expected a non-empty list of CIDRs (the first is the VPC's primary block)")
    blocks = []
    for i, value in enumerate(raw):
        net = _network(value, f"{field}[{i}]")
        if net.prefixlen < AWS_MIN_PREFIX:
            count = 2 ** (AWS_MIN_PREFIX - net.prefixlen)
            raise AddressPlanError(
                f"{field}[{i}]",
                f"{net} cannot be a single VPC CIDR block: AWS accepts /{AWS_MIN_PREFIX} to /{AWS_MAX_PREFIX}. "
                f"It is an address envelope: put it in {var}.envelope and leave vpc_cidr_blocks unset so that "
                f"the plan derives a primary block plus secondary associations (as /16s it would take {count} blocks)",
            )
        _check_aws_size(net, f"{field}[{i}]", "a VPC CIDR block")
        blocks.append(net)
    clash = first_overlap([(f"{field}[{i}]", b) for i, b in enumerate(blocks)])
    if clash:
        raise AddressPlanError(clash[2], f"{clash[3]} overlaps {clash[0]} ({clash[1]})")
    return blocks


def _check_secondary_ranges(blocks: Sequence[Network], field: str) -> None:
    primary = blocks[0]
    home = next((r for r in RFC1918 if primary.subnet_of(r)), None)
    if home is None:
        return
    for i, block in enumerate(blocks[1:], start=1):
        other = next((r for r in RFC1918 if block.subnet_of(r)), None)
        if other is not None and other != home:
            raise AddressPlanError(
                f"{field}[{i}]",
                f"{block} is in {other} but the primary block {primary} is in {home}; "
                "AWS refuses secondary blocks from another RFC 1918 range",
            )


def build_address_plan(  # noqa: PLR0912 - a branch per checked field
    spec: Mapping[str, Any], available_zones: Sequence[str], var_name: str = DEFAULT_VAR_NAME
) -> dict[str, Any]:
    """Validate `spec` (the inventory's address plan) and compute the full plan.

    `available_zones` are the region's availability-zone names in order; the plan uses
    the first `zones` of them.
    """
    var = var_name
    if not isinstance(spec, Mapping):
        raise AddressPlanError(var, f"expected a mapping, got {type(spec).__name__}")
    known = {
        "envelope",
        "zones",
        "subnet_prefix",
        "tiers",
        "vpc_cidr_blocks",
        "vpc_block_prefix",
        "vpc_cidr_quota",
    }
    unknown = sorted(set(spec) - known)
    if unknown:
        raise AddressPlanError(var, f"unknown key(s) {unknown}; known keys: {sorted(known)}")
    for required in ("envelope", "tiers"):
        if required not in spec:
            raise AddressPlanError(f"{var}.{required}", "is required")

    envelope = _network(spec["envelope"], f"{var}.envelope")
    zones = spec.get("zones", 3)
    if isinstance(zones, bool) or not isinstance(zones, int) or zones < 1:
        raise AddressPlanError(f"{var}.zones", f"expected a positive whole number, got {zones!r}")
    if zones > len(available_zones):
        raise AddressPlanError(
            f"{var}.zones",
            f"asks for {zones} zones but the region offers {len(available_zones)} "
            f"({', '.join(available_zones) or 'none'})",
        )
    subnet_prefix = spec.get("subnet_prefix", 24)
    if isinstance(subnet_prefix, bool) or not isinstance(subnet_prefix, int):
        raise AddressPlanError(f"{var}.subnet_prefix", f"expected a prefix length, got {subnet_prefix!r}")
    if not AWS_MIN_PREFIX <= subnet_prefix <= AWS_MAX_PREFIX:
        raise AddressPlanError(
            f"{var}.subnet_prefix",
            f"/{subnet_prefix} is outside what AWS allows for a subnet (/{AWS_MIN_PREFIX} to /{AWS_MAX_PREFIX})",
        )
    quota = spec.get("vpc_cidr_quota", AWS_DEFAULT_CIDR_QUOTA)
    if isinstance(quota, bool) or not isinstance(quota, int) or not 1 <= quota <= 50:
        raise AddressPlanError(f"{var}.vpc_cidr_quota", f"expected 1 to 50 (AWS default 5, maximum 50), got {quota!r}")

    raw_tiers = spec["tiers"]
    if not isinstance(raw_tiers, Mapping) or not raw_tiers:
        raise AddressPlanError(f"{var}.tiers", "expected a non-empty mapping of tier name to {cidr, spare, subnets}")
    tiers = [
        _parse_tier(str(name), tier_spec, f"{var}.tiers.{name}", subnet_prefix, zones)
        for name, tier_spec in raw_tiers.items()
    ]
    for tier in tiers:
        if not tier.cidr.subnet_of(envelope):
            raise AddressPlanError(f"{var}.tiers.{tier.name}.cidr", f"{tier.cidr} lies outside the envelope {envelope}")
    clash = first_overlap([(f"{var}.tiers.{t.name}.cidr", t.cidr) for t in tiers])
    if clash:
        raise AddressPlanError(clash[2], f"{clash[3]} overlaps {clash[0]} ({clash[1]})")

    if spec.get("vpc_cidr_blocks") is not None:
        blocks = _explicit_vpc_blocks(spec["vpc_cidr_blocks"], var)
        blocks_field = f"{var}.vpc_cidr_blocks"
    else:
        blocks = _derive_vpc_blocks(tiers, spec.get("vpc_block_prefix"), var)
        blocks_field = f"{var}.vpc_cidr_blocks (derived)"
    for tier in tiers:
        for i, subnet in enumerate(tier.subnets):
            if not any(subnet.subnet_of(b) for b in blocks):
                raise AddressPlanError(
                    f"{var}.tiers.{tier.name}.subnets[{i}]",
                    f"{subnet} is in no VPC CIDR block ({', '.join(map(str, blocks))})",
                )
    for i, block in enumerate(blocks):
        if not block.subnet_of(envelope):
            raise AddressPlanError(f"{blocks_field}[{i}]", f"{block} lies outside the envelope {envelope}")
    if len(blocks) > quota:
        raise AddressPlanError(
            f"{var}.vpc_cidr_quota",
            f"the tiers need {len(blocks)} VPC CIDR blocks ({', '.join(map(str, blocks))}) but the quota is {quota}; "
            "place tiers contiguously, set vpc_block_prefix to a shorter prefix, or raise the quota with AWS "
            "and set vpc_cidr_quota",
        )
    _check_secondary_ranges(blocks, blocks_field)

    zone_names = list(available_zones[:zones])
    subnets = [
        {
            "tier": tier.name,
            "zone": zone_names[index],
            "zone_index": index,
            "zone_suffix": zone_names[index][-1],
            "cidr": str(subnet),
            "usable": usable_addresses(subnet),
            "reserved": reserved_addresses(subnet),
        }
        for tier in tiers
        for index, subnet in enumerate(tier.subnets)
    ]
    used = [t.cidr for t in tiers]
    free = sorted(ipaddress.collapse_addresses(_exclude_all(envelope, used)))
    return {
        "envelope": str(envelope),
        "zones": zone_names,
        "subnet_prefix": subnet_prefix,
        "vpc_cidr_blocks": [str(b) for b in blocks],
        "vpc_primary_cidr": str(blocks[0]),
        "vpc_secondary_cidrs": [str(b) for b in blocks[1:]],
        "vpc_cidr_quota": quota,
        "tiers": {
            t.name: {
                "cidr": str(t.cidr),
                "spare": [str(s) for s in t.spare],
                "subnets": [str(s) for s in t.subnets],
                "usable": sum(usable_addresses(s) for s in t.subnets),
            }
            for t in tiers
        },
        "subnets": subnets,
        "envelope_free": [str(n) for n in free],
    }


def _exclude_all(envelope: Network, used: Sequence[Network]) -> list[Network]:
    remaining = [envelope]
    for taken in used:
        next_remaining: list[Network] = []
        for block in remaining:
            if taken.subnet_of(block):
                next_remaining.extend(block.address_exclude(taken))
            elif not block.subnet_of(taken):
                next_remaining.append(block)
        remaining = next_remaining
    return remaining


def plan_overlaps(plan: Mapping[str, Any], others: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """Where `plan`'s tiers overlap another environment's (`others`: env -> its plan): each environment must own its
    addresses, or peering, a shared VPN or a Transit Gateway would route one environment to the other."""
    problems = []
    for env, other in sorted(others.items()):
        for tier, spec in plan.get("tiers", {}).items():
            mine = ipaddress.ip_network(str(spec["cidr"]), strict=False)
            for other_tier, other_spec in other.get("tiers", {}).items():
                theirs = ipaddress.ip_network(str(other_spec["cidr"]), strict=False)
                if mine.overlaps(theirs):
                    problems.append(
                        f"network_address_plan.tiers.{tier}.cidr: {mine} overlaps {env}'s tiers.{other_tier} ({theirs})"
                    )
    return problems
