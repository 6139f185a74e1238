"""The packet filter model against AWS's documented semantics, rule kind by rule kind, then the platform's own
security groups and network ACLs (the network role's rule tables) through it: who reaches the database, the
bastion, the nodes."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from strata.domain.address_plan import build_address_plan
from strata.domain.network_policy import nacl_rules
from strata.domain.packet_filter import (
    HostPolicy,
    Rule,
    acl_entries,
    group_members,
    group_rules,
    host_policy,
    nftables,
    policy_digest,
)

ROOT = Path(__file__).resolve().parents[4]
EVERYWHERE = ("0.0.0.0/0",)


def policy(**parts: Any) -> HostPolicy:
    base: dict[str, Any] = {"address": "10.4.1.10", "subnet": "10.4.1.0/24", "sg_in": (), "sg_out": (),
                            "acl_in": (Rule("all", EVERYWHERE),), "acl_out": (Rule("all", EVERYWHERE),)}  # fmt: skip
    return HostPolicy(**{**base, **parts})


def test_a_security_group_only_allows_and_matches_protocol_port_and_peer() -> None:
    host = policy(sg_in=(Rule("tcp", ("10.4.0.0/22",), (5432, 5432)),))
    assert host.allows("in", "tcp", "10.4.2.7", 5432)
    assert not host.allows("in", "tcp", "10.4.2.7", 5433)  # another port
    assert not host.allows("in", "udp", "10.4.2.7", 5432)  # another protocol
    assert not host.allows("in", "tcp", "10.6.1.7", 5432)  # another peer
    assert not policy().allows("in", "tcp", "10.4.2.7", 5432)  # no rule: nothing (the default group, emptied)


def test_security_groups_are_stateful_in_both_directions() -> None:
    host = policy(sg_in=(Rule("tcp", EVERYWHERE, (22, 22)),))  # no egress rule at all
    assert not host.allows("out", "tcp", "192.0.2.1", 50000)
    assert host.allows("out", "tcp", "192.0.2.1", 50000, reply=True)  # the reply to an admitted SSH session
    client = policy(sg_out=(Rule("tcp", EVERYWHERE, (443, 443)),))  # and no ingress rule
    assert client.allows("out", "tcp", "192.0.2.1", 443)
    assert client.allows("in", "tcp", "192.0.2.1", 50000, reply=True)
    assert not client.allows("in", "tcp", "192.0.2.1", 50000)


def test_all_traffic_rules_and_protocol_numbers() -> None:
    rules = group_rules([{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "10.4.0.0/22"}]}], {})
    assert rules == [Rule("all", ("10.4.0.0/22",), None)]
    assert policy(sg_in=tuple(rules)).allows("in", "udp", "10.4.3.3", 53)
    entry = {"RuleNumber": 100, "Protocol": "6", "RuleAction": "allow", "Egress": False, "CidrBlock": "0.0.0.0/0",
             "PortRange": {"From": 22, "To": 22}}  # fmt: skip
    (tcp,) = acl_entries({"Entries": [entry]}, egress=False)
    assert (tcp.protocol, tcp.ports) == ("tcp", (22, 22))


def test_a_group_referencing_a_group_means_its_members_addresses() -> None:
    permissions = [{"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432, "UserIdGroupPairs": [{"GroupId": "sg-app"}]}]
    members = group_members([
        {"PrivateIpAddress": "10.4.1.10", "SecurityGroups": [{"GroupId": "sg-app"}]},
        {"PrivateIpAddress": "10.4.2.10", "SecurityGroups": [{"GroupId": "sg-app"}, {"GroupId": "sg-x"}]},
        {"PrivateIpAddress": "10.6.1.10", "SecurityGroups": [{"GroupId": "sg-bastion"}]},
    ])  # fmt: skip
    database = policy(address="10.2.1.50", subnet="10.2.1.0/24", sg_in=tuple(group_rules(permissions, members)))
    assert database.allows("in", "tcp", "10.4.2.10", 5432)
    assert not database.allows("in", "tcp", "10.6.1.10", 5432)  # the bastion carries another group
    assert not database.allows("in", "tcp", "10.4.3.99", 5432)  # in the app tier's range, but not in the group
    assert group_rules(permissions, {}) == []  # a group with no members admits nobody


def test_network_acls_first_match_wins_deny_before_allow_and_the_final_deny() -> None:
    acl = {"Entries": [
        {"RuleNumber": 200, "Protocol": "6", "RuleAction": "allow", "Egress": False, "CidrBlock": "0.0.0.0/0",
         "PortRange": {"From": 1024, "To": 65535}},
        {"RuleNumber": 190, "Protocol": "6", "RuleAction": "deny", "Egress": False, "CidrBlock": "0.0.0.0/0",
         "PortRange": {"From": 5432, "To": 5432}},
        {"RuleNumber": 100, "Protocol": "6", "RuleAction": "allow", "Egress": False, "CidrBlock": "10.4.0.0/22",
         "PortRange": {"From": 5432, "To": 5432}},
        {"RuleNumber": 32767, "Protocol": "-1", "RuleAction": "deny", "Egress": False, "CidrBlock": "0.0.0.0/0"},
    ]}  # fmt: skip
    entries = tuple(acl_entries(acl, egress=False))
    assert [e.number for e in entries] == [100, 190, 200, 32767]
    host = policy(address="10.2.1.50", subnet="10.2.1.0/24", acl_in=entries, sg_in=(Rule("all", EVERYWHERE),))
    assert host.allows("in", "tcp", "10.4.1.10", 5432)  # 100
    assert not host.allows("in", "tcp", "10.6.1.10", 5432)  # 190 denies before 200's range would allow
    assert host.allows("in", "tcp", "10.6.1.10", 40000)  # 200
    assert not host.allows("in", "tcp", "10.6.1.10", 443)  # nothing matches but the * deny
    assert not host.allows("in", "udp", "10.4.1.10", 5432)


def test_network_acls_are_stateless_and_blind_inside_their_subnet() -> None:
    allow_in_5432 = (Rule("tcp", ("10.4.0.0/22",), (5432, 5432)),)
    host = policy(address="10.2.1.50", subnet="10.2.1.0/24", acl_in=allow_in_5432, acl_out=(),
                  sg_in=(Rule("all", EVERYWHERE),))  # fmt: skip
    assert host.allows("in", "tcp", "10.4.1.10", 5432)
    assert not host.allows("out", "tcp", "10.4.1.10", 50000, reply=True)  # the reply needs an egress entry
    assert not host.connects("10.4.1.10", "tcp", 5432)
    assert host.allows("out", "tcp", "10.2.1.60", 50000, reply=True)  # same subnet: the ACL does not see it
    assert host.allows("in", "tcp", "10.2.1.60", 6000) is True  # ditto; the group allows all


# The platform's own rules, as the network role makes them (security groups as DescribeSecurityGroups returns them).
def platform_estate() -> dict[str, HostPolicy]:
    spec = yaml.safe_load((ROOT / "inventories/local/group_vars/all/network.yml").read_text())["network_address_plan"]
    plan = build_address_plan(spec, ["eu-west-3a", "eu-west-3b", "eu-west-3c"])
    tables = nacl_rules(plan)
    everything = [{"RuleNumber": 100, "Protocol": "-1", "RuleAction": "allow", "Egress": e, "CidrBlock": "0.0.0.0/0"}
                  for e in (False, True)]  # fmt: skip

    def acl(name: str, subnets: list[str]) -> dict[str, Any]:
        entries = [{"RuleNumber": n, "Protocol": {"tcp": "6"}[p], "RuleAction": a, "Egress": egress, "CidrBlock": c,
                    "PortRange": {"From": lo, "To": hi}}
                   for egress, key in ((False, "ingress"), (True, "egress"))
                   for n, p, a, c, _t, _k, lo, hi in tables[name][key]]  # fmt: skip
        return {"Entries": entries, "Associations": [{"SubnetId": s} for s in subnets]}

    subnets = [{"SubnetId": f"subnet-{tier}-a", "CidrBlock": plan["tiers"][tier]["subnets"][0]}
               for tier in ("public", "app", "database", "admin")]  # fmt: skip
    acls = [
        {"Entries": everything, "Associations": [{"SubnetId": "subnet-public-a"}, {"SubnetId": "subnet-app-a"}]},
        acl("database", ["subnet-database-a"]),
        acl("admin", ["subnet-admin-a"]),
    ]
    groups = [
        {"GroupId": "sg-bastion", "IpPermissions": [
            {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "192.0.2.0/24"}]}],
         "IpPermissionsEgress": [
            {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": plan["envelope"]}]},
            {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]},
        {"GroupId": "sg-app", "IpPermissions": [
            {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "UserIdGroupPairs": [{"GroupId": "sg-bastion"}]},
            {"IpProtocol": "-1", "UserIdGroupPairs": [{"GroupId": "sg-app"}]}],
         "IpPermissionsEgress": [{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]},
        {"GroupId": "sg-db-clients", "IpPermissions": [], "IpPermissionsEgress": []},
        {"GroupId": "sg-database", "IpPermissions": [
            {"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432,
             "UserIdGroupPairs": [{"GroupId": "sg-db-clients"}]}],
         "IpPermissionsEgress": []},
    ]  # fmt: skip
    hosts = {
        "bastion": ("10.6.1.10", ["sg-bastion"], "subnet-public-a"),
        "app": ("10.4.1.10", ["sg-app", "sg-db-clients"], "subnet-app-a"),
        "logs": ("10.4.1.11", ["sg-app"], "subnet-app-a"),
        "database": ("10.2.1.50", ["sg-database"], "subnet-database-a"),
    }
    records = [{"PrivateIpAddress": ip, "SecurityGroups": [{"GroupId": g} for g in gs]} for ip, gs, _ in hosts.values()]
    members = group_members(records)
    return {
        name: host_policy(
            ip,
            group_ids=gs,
            subnet_id=subnet,
            security_groups=groups,
            network_acls=acls,
            subnets=subnets,
            members=members,
        )
        for name, (ip, gs, subnet) in hosts.items()
    }


@pytest.fixture(scope="module")
def estate() -> dict[str, HostPolicy]:
    return platform_estate()


def test_the_platforms_rules_admit_the_database_clients_and_nobody_else(estate: dict[str, HostPolicy]) -> None:
    app, bastion, database = estate["app"], estate["bastion"], estate["database"]
    assert database.connects(app.address, "tcp", 5432, app)
    assert not database.connects(estate["logs"].address, "tcp", 5432, estate["logs"])  # app group, not a client
    assert not database.connects(bastion.address, "tcp", 5432, bastion)  # neither its group nor the ACL
    assert not database.connects(app.address, "tcp", 22, app)  # another port
    assert not database.connects("192.0.2.7", "tcp", 5432)  # the internet


def test_the_platforms_rules_route_ssh_through_the_bastion_only(estate: dict[str, HostPolicy]) -> None:
    app, bastion = estate["app"], estate["bastion"]
    assert bastion.connects("192.0.2.7", "tcp", 22)  # from the allow-list
    assert not bastion.connects("198.51.100.7", "tcp", 22)  # from anywhere else
    assert app.connects(bastion.address, "tcp", 22, bastion)
    assert not app.connects("192.0.2.7", "tcp", 22)  # the controller cannot reach a node directly


def test_the_ruleset_carries_every_rule_in_order_and_the_stateful_shortcut(estate: dict[str, HostPolicy]) -> None:
    text = nftables(estate["database"])
    acl_in = text[text.index("chain acl_in") : text.index("chain acl_out")]
    lines = [line.strip() for line in acl_in.splitlines()[1:] if line.strip() not in ("", "}")]
    assert lines[0].startswith("meta l4proto tcp ip saddr { 10.4.0.0/22 } th dport 5432 return")
    assert lines[1] == "meta l4proto tcp ip saddr { 0.0.0.0/0 } th dport 5432 drop"  # 190 before 200
    assert lines[-1].startswith("drop")
    inputs = text[text.index("chain input") :]
    assert "policy drop;" in inputs and "ip saddr != 10.2.1.0/24 jump acl_in" in inputs
    assert inputs.index("jump acl_in") < inputs.index("ct state established,related accept")
    assert "meta l4proto tcp ip saddr { 10.4.1.10/32 } th dport 5432 accept" in inputs
    outputs = text[text.index("chain output") :]
    assert "accept\n  }" not in outputs.split("ct state established,related accept")[1]  # no egress rule at all


def test_nft_accepts_every_hosts_ruleset(estate: dict[str, HostPolicy]) -> None:
    """nft parses and type-checks each ruleset without loading it (-c); scripts/bootstrap-host.sh installs nftables."""
    nft = shutil.which("nft") or "/usr/sbin/nft"
    for name, host in estate.items():
        checked = subprocess.run(
            [nft, "-c", "-f", "-"], input=nftables(host), text=True, capture_output=True, check=False
        )
        assert checked.returncode == 0, (name, checked.stderr, nftables(host))


def test_the_digest_ignores_the_order_of_group_rules_but_not_of_acl_entries(estate: dict[str, HostPolicy]) -> None:
    """AWS lists a re-added security group rule last: the same rules, the same digest. ACL entries are ordered by
    number, and a changed rule changes the digest."""
    app = estate["app"]
    reordered = HostPolicy(**{**app.__dict__, "sg_in": tuple(reversed(app.sg_in))})
    assert policy_digest(reordered) == policy_digest(app)
    fewer = HostPolicy(**{**app.__dict__, "sg_in": app.sg_in[1:]})
    assert policy_digest(fewer) != policy_digest(app)
    database = estate["database"]
    swapped = HostPolicy(
        **{**database.__dict__, "acl_in": (database.acl_in[1], database.acl_in[0], *database.acl_in[2:])}
    )
    assert policy_digest(swapped) != policy_digest(database)
