"""The network ACL policy of the dedicated database and admin tiers, as rule tables.

Network ACLs are stateless and evaluated lowest rule number first; whatever matches no
rule hits the implicit `*` deny. So every allowed conversation needs a rule in each
direction: the request one way, the reply (to an ephemeral port) the other way.
Rule numbers leave gaps of 10 so that an operator can insert a rule without renumbering.

The tables are in the layout amazon.aws.ec2_vpc_nacl takes:
[rule_number, protocol, action, cidr, icmp_type, icmp_code, port_from, port_to].
docs/network.md prints them for the default plan.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

ANYWHERE = "0.0.0.0/0"
EPHEMERAL = (1024, 65535)
Rule = list[Any]


def _allow_tcp(number: int, cidr: str, ports: tuple[int, int]) -> Rule:
    return [number, "tcp", "allow", cidr, None, None, ports[0], ports[1]]


def nacl_rules(
    plan: Mapping[str, Any], database_port: int = 5432, database_client_tiers: Sequence[str] = ("app",)
) -> dict[str, dict[str, list[Rule]]]:
    """Ingress and egress rules for the `database` and `admin` tiers of an address plan."""
    tiers = plan["tiers"]
    if len(database_client_tiers) > 9:
        raise ValueError("network_database_client_tiers lists more than 9 tiers; rules 100-180 hold 9")
    unknown = [t for t in database_client_tiers if t not in tiers]
    if unknown:
        raise ValueError(f"network_database_client_tiers names unknown tier(s) {unknown}; tiers: {sorted(tiers)}")
    clients = [tiers[t]["cidr"] for t in database_client_tiers]
    public = tiers["public"]["cidr"]
    app = tiers["app"]["cidr"]
    port = (database_port, database_port)
    return {
        "database": {
            "ingress": [
                # 100-180: the database port, from each client tier only.
                *(_allow_tcp(100 + 10 * i, cidr, port) for i, cidr in enumerate(clients)),
                # 190: the database port from anywhere else is denied before rule 200,
                # whose ephemeral range (1024-65535) would otherwise let it in.
                [190, "tcp", "deny", ANYWHERE, None, None, database_port, database_port],
                # 200: replies to connections the tier opens itself (HTTPS below).
                _allow_tcp(200, ANYWHERE, EPHEMERAL),
            ],
            "egress": [
                # 100-180: replies to the database clients.
                *(_allow_tcp(100 + 10 * i, cidr, EPHEMERAL) for i, cidr in enumerate(clients)),
                # 200: HTTPS to AWS APIs (through VPC endpoints or the zone's NAT gateway).
                _allow_tcp(200, ANYWHERE, (443, 443)),
            ],
        },
        "admin": {
            "ingress": [
                # 100: SSH from the public tier (the bastion) only.
                _allow_tcp(100, public, (22, 22)),
                # 200: replies to connections the tier opens itself.
                _allow_tcp(200, ANYWHERE, EPHEMERAL),
            ],
            "egress": [
                # 100: replies to SSH sessions from the public tier.
                _allow_tcp(100, public, EPHEMERAL),
                # 200/210: HTTPS and HTTP (package mirrors) out through the NAT gateway.
                _allow_tcp(200, ANYWHERE, (443, 443)),
                _allow_tcp(210, ANYWHERE, (80, 80)),
                # 300: SSH from admin hosts to the app tier (operations).
                _allow_tcp(300, app, (22, 22)),
            ],
        },
    }
