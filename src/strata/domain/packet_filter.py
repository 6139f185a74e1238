"""What AWS lets through to and from one host, from the estate's security groups and network ACLs - as a model
that decides a packet the way AWS does, and as the nftables ruleset that enforces the same in the lab.

AWS's rules, as documented (VPC user guide: "Control traffic to your AWS resources using security groups",
"Control subnet traffic with network access control lists"):

- Security groups belong to the host's network interface. They only allow (no deny rules); a packet passes if any
  rule of any of the host's groups matches it. They are stateful: the reply to a connection one direction allowed
  passes the other way whatever the rules. A rule's peer is a CIDR block or another security group - meaning the
  private addresses of the interfaces that carry that group (the caller resolves a group to those addresses).
- Network ACLs belong to the subnet and only see traffic that crosses its boundary (not traffic between two hosts
  of the same subnet). They are stateless: a reply is a packet of its own and needs its own rule (ephemeral ports).
  Rules are evaluated lowest number first and the first match decides, allow or deny; what matches none hits the
  final `*` deny.
- Inbound, the subnet's ACL (ingress entries) comes before the host's groups; outbound, the groups come first, then
  the ACL (egress entries). Both must let a packet through.

Ports are the packet's destination port, in both directions (AWS matches an inbound rule against the host's port and
an outbound rule against the peer's). ICMP types and codes are not modelled: an ICMP rule admits all ICMP.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

Direction = Literal["in", "out"]
PROTOCOLS = {
    "-1": "all",
    "all": "all",
    "6": "tcp",
    "tcp": "tcp",
    "17": "udp",
    "udp": "udp",
    "1": "icmp",
    "icmp": "icmp",
}


@dataclass(frozen=True)
class Rule:
    """One security group rule or network ACL entry, for one direction."""

    protocol: str  # all, tcp, udp, icmp
    peers: tuple[str, ...]  # CIDR blocks (a referenced group: its members' addresses as /32)
    ports: tuple[int, int] | None = None  # destination port range; None: every port
    action: Literal["allow", "deny"] = "allow"
    number: int = 0  # network ACL rule number (security groups: 0)

    def matches(self, protocol: str, peer: str, port: int | None) -> bool:
        if self.protocol not in ("all", protocol):
            return False
        if (
            self.ports is not None
            and protocol in ("tcp", "udp")
            and not (port and self.ports[0] <= port <= self.ports[1])
        ):
            return False
        address = ipaddress.ip_address(peer)
        return any(address in ipaddress.ip_network(cidr) for cidr in self.peers)


@dataclass(frozen=True)
class HostPolicy:
    """What applies to one host: its groups' rules, its subnet's ACL entries, its subnet."""

    address: str
    subnet: str
    sg_in: tuple[Rule, ...]
    sg_out: tuple[Rule, ...]
    acl_in: tuple[Rule, ...]  # sorted by rule number
    acl_out: tuple[Rule, ...]

    def _acl_allows(self, entries: Sequence[Rule], protocol: str, peer: str, port: int | None) -> bool:
        if ipaddress.ip_address(peer) in ipaddress.ip_network(self.subnet):
            return True  # inside the subnet: the ACL does not see it
        for entry in entries:
            if entry.matches(protocol, peer, port):
                return entry.action == "allow"
        return False  # the final `*` deny

    def allows(self, direction: Direction, protocol: str, peer: str, port: int | None, reply: bool = False) -> bool:
        """Whether a packet passes. `reply`: it belongs to a connection the other direction opened (and was let
        through), which the groups admit whatever their rules - the ACL still decides on its own."""
        protocol = PROTOCOLS[protocol]
        if direction == "in":
            acl, groups = self.acl_in, self.sg_in
        else:
            acl, groups = self.acl_out, self.sg_out
        group_ok = reply or any(rule.matches(protocol, peer, port) for rule in groups)
        return group_ok and self._acl_allows(acl, protocol, peer, port)

    def connects(self, peer: str, protocol: str, port: int, peer_policy: HostPolicy | None = None) -> bool:
        """Whether `peer` can open a connection to this host's `port` and get the replies back: the request in (and,
        when the peer is a host of the estate, out of it), the reply out (to an ephemeral port) and back in."""
        ephemeral = 49152
        request = self.allows("in", protocol, peer, port)
        reply = self.allows("out", protocol, peer, ephemeral, reply=True)
        if peer_policy is not None:
            request = request and peer_policy.allows("out", protocol, self.address, port)
            reply = reply and peer_policy.allows("in", protocol, self.address, ephemeral, reply=True)
        return request and reply


def _ports(entry: Mapping[str, Any]) -> tuple[int, int] | None:
    low, high = entry.get("FromPort"), entry.get("ToPort")
    if low is None or high is None or (low, high) == (-1, -1) or (low, high) == (0, 65535):
        return None
    return int(low), int(high)


def group_rules(permissions: Iterable[Mapping[str, Any]], members: Mapping[str, Sequence[str]]) -> list[Rule]:
    """Rules of a security group's IpPermissions (or IpPermissionsEgress), as DescribeSecurityGroups returns them.
    `members`: group id -> the private addresses of the interfaces that carry it."""
    rules = []
    for permission in permissions:
        peers = [r["CidrIp"] for r in permission.get("IpRanges", [])]
        for pair in permission.get("UserIdGroupPairs", []):
            peers += [f"{address}/32" for address in members.get(pair["GroupId"], [])]
        if peers:
            protocol = PROTOCOLS[str(permission["IpProtocol"])]
            rules.append(Rule(protocol, tuple(sorted(peers)), _ports(permission)))
    return rules


def acl_entries(acl: Mapping[str, Any], egress: bool) -> list[Rule]:
    """The entries of a network ACL (DescribeNetworkAcls) for one direction, lowest rule number first."""
    entries = []
    for entry in sorted(acl.get("Entries", []), key=lambda e: int(e["RuleNumber"])):
        if bool(entry["Egress"]) != egress or "CidrBlock" not in entry:
            continue
        port_range = entry.get("PortRange")
        ports = (int(port_range["From"]), int(port_range["To"])) if port_range else None
        action: Literal["allow", "deny"] = "allow" if entry["RuleAction"] == "allow" else "deny"
        protocol = PROTOCOLS[str(entry["Protocol"])]
        entries.append(Rule(protocol, (entry["CidrBlock"],), ports, action, int(entry["RuleNumber"])))
    return entries


def host_policy(
    address: str,
    *,
    group_ids: Sequence[str],
    subnet_id: str,
    security_groups: Sequence[Mapping[str, Any]],
    network_acls: Sequence[Mapping[str, Any]],
    subnets: Sequence[Mapping[str, Any]],
    members: Mapping[str, Sequence[str]],
) -> HostPolicy:
    """The policy of the host at `address` with the groups `group_ids` in the subnet `subnet_id`, from the
    estate's DescribeSecurityGroups, DescribeNetworkAcls and DescribeSubnets."""
    groups = [g for g in security_groups if g["GroupId"] in group_ids]
    missing = set(group_ids) - {g["GroupId"] for g in groups}
    if missing:
        raise ValueError(f"security group(s) {sorted(missing)} of {address} are not in the estate")
    (subnet,) = [s for s in subnets if s["SubnetId"] == subnet_id]
    acls = [a for a in network_acls if any(x.get("SubnetId") == subnet_id for x in a.get("Associations", []))]
    if len(acls) != 1:
        raise ValueError(f"subnet {subnet_id} is associated with {len(acls)} network ACLs, AWS allows exactly one")
    sg_in = [r for g in groups for r in group_rules(g.get("IpPermissions", []), members)]
    sg_out = [r for g in groups for r in group_rules(g.get("IpPermissionsEgress", []), members)]
    return HostPolicy(
        address,
        subnet["CidrBlock"],
        tuple(sg_in),
        tuple(sg_out),
        tuple(acl_entries(acls[0], egress=False)),
        tuple(acl_entries(acls[0], egress=True)),
    )


def group_members(instances: Iterable[Mapping[str, Any]]) -> dict[str, list[str]]:
    """Group id -> private addresses of the interfaces carrying it, from DescribeInstances' instances (or any
    records with PrivateIpAddress and SecurityGroups)."""
    members: dict[str, list[str]] = {}
    for instance in instances:
        for group in instance.get("SecurityGroups", []):
            members.setdefault(group["GroupId"], []).append(instance["PrivateIpAddress"])
    return {group: sorted(addresses) for group, addresses in members.items()}


def _match(rule: Rule, field: str) -> str:
    peers = ", ".join(rule.peers)
    parts = [f"ip {field} {{ {peers} }}"]
    if rule.protocol != "all":
        parts.insert(0, f"meta l4proto {rule.protocol}")
        if rule.ports is not None and rule.protocol in ("tcp", "udp"):
            low, high = rule.ports
            parts.append(f"th dport {low}" if low == high else f"th dport {low}-{high}")
    return " ".join(parts)


def nftables(policy: HostPolicy, table: str = "strata_lab") -> str:
    """The ruleset that enforces `policy` in the host's own network namespace (nft -f)."""
    lines = [f"table inet {table} {{"]
    for chain, field, entries in (("acl_in", "saddr", policy.acl_in), ("acl_out", "daddr", policy.acl_out)):
        lines.append(f"  chain {chain} {{")
        lines += [f"    {_match(e, field)} {'return' if e.action == 'allow' else 'drop'}" for e in entries]
        lines += ["    drop  # the network ACL's final * deny", "  }"]
    for chain, hook, field, acl, rules in (
        ("input", "input", "saddr", "acl_in", policy.sg_in),
        ("output", "output", "daddr", "acl_out", policy.sg_out),
    ):
        lo = "iif" if hook == "input" else "oif"
        lines += [
            f"  chain {chain} {{",
            f"    type filter hook {hook} priority filter; policy drop;",
            f'    {lo} "lo" accept',
            f"    ip {field} != {policy.subnet} jump {acl}  # the subnet boundary: the network ACL, stateless",
            "    ct state established,related accept  # security groups are stateful",
            *(f"    {_match(rule, field)} accept" for rule in rules),
            "  }",
        ]
    lines.append("}")
    return "\n".join(lines) + "\n"


def policy_digest(policy: HostPolicy) -> str:
    """A short digest of what a policy lets through (strata-lab status compares the loaded one with the estate's):
    security group rules in any order (they are a set), network ACL entries in rule order (first match counts)."""
    groups = [sorted(map(repr, policy.sg_in)), sorted(map(repr, policy.sg_out))]
    acls = [[repr(e) for e in policy.acl_in], [repr(e) for e in policy.acl_out]]
    record = [policy.address, policy.subnet, groups, acls]
    return hashlib.sha256(json.dumps(record).encode()).hexdigest()[:12]
