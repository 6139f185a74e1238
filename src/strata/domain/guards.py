"""Guards that keep each environment pointed at the cloud it belongs to.

env=local must only ever talk to the embedded cloud on loopback; staging and production
must never silently end up there (or anywhere but AWS's own endpoints).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from urllib.parse import urlsplit

LOCAL_ENV = "local"


class TargetError(ValueError):
    """An environment is pointed at a cloud it must not use."""


def is_loopback_url(url: str) -> bool:
    host = urlsplit(url).hostname
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_aws_target(
    env: str, endpoint_url: str | None, process_env: Mapping[str, str], rehearsal_endpoint: str | None = None
) -> str:
    """Validate where `env` would send its AWS calls; return a one-line description.

    `process_env` is the controller's environment: boto3 honours AWS_ENDPOINT_URL from it,
    so it can redirect a run as surely as the inventory can. `rehearsal_endpoint` is the one
    explicit switch that runs staging's or production's own code against an embedded cloud
    (make rehearse): it must be a loopback address, and nothing else may redirect the run.
    """
    ambient = process_env.get("AWS_ENDPOINT_URL", "")
    if rehearsal_endpoint:
        if env == LOCAL_ENV:
            raise TargetError("strata_rehearsal_endpoint is for staging and production; env=local always rehearses")
        if not is_loopback_url(rehearsal_endpoint):
            raise TargetError(
                f"strata_rehearsal_endpoint={rehearsal_endpoint} is not a loopback address; a rehearsal of env={env} "
                "only talks to an embedded cloud on 127.0.0.1/localhost (make rehearse ENV=...)"
            )
        if endpoint_url or ambient:
            raise TargetError(
                f"a rehearsal of env={env} takes its endpoint from strata_rehearsal_endpoint only; remove "
                f"aws_endpoint_url={endpoint_url or ''} / AWS_ENDPOINT_URL={ambient}"
            )
        return f"embedded cloud at {rehearsal_endpoint} (REHEARSAL of env={env}: its own inventory and code paths)"
    if env == LOCAL_ENV:
        if not endpoint_url:
            raise TargetError(
                "aws_endpoint_url is empty for env=local; set it in inventories/local/group_vars/all/aws.yml "
                "to the embedded cloud (http://127.0.0.1:PORT), started by `make cloud-start`"
            )
        if not is_loopback_url(endpoint_url):
            raise TargetError(
                f"aws_endpoint_url={endpoint_url} is not a loopback address; env=local only talks to the embedded "
                "cloud on 127.0.0.1/localhost. Point aws_endpoint_url (or STRATA_AWS_ENDPOINT) at loopback"
            )
        return f"embedded cloud at {endpoint_url}"
    if endpoint_url:
        raise TargetError(
            f"aws_endpoint_url={endpoint_url} is set for env={env}; only env=local may use a custom endpoint. "
            f"Remove aws_endpoint_url from inventories/{env} (and any -e override) to target AWS"
        )
    if ambient:
        raise TargetError(
            f"AWS_ENDPOINT_URL={ambient} is set in the environment; boto3 would send env={env} there. "
            "Unset AWS_ENDPOINT_URL before running against AWS"
        )
    return "AWS public endpoints"


# The widest block an allow-list may hold: anything wider is the internet in all but name (0.0.0.0/1 is half of it).
WIDEST_PREFIX = {4: 8, 6: 32}
# RFC 5737 and RFC 3849: addresses for documentation, the placeholders an inventory ships with.
DOCUMENTATION_RANGES = tuple(
    ipaddress.ip_network(n) for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32")
)


def allow_list_problems(values: list[object], *, placeholders_allowed: bool) -> list[str]:
    """What is wrong with an allow-list of source networks (SSH to the bastion, the API endpoint): entries that are
    not CIDR blocks, blocks effectively open to the internet, and (when targeting AWS) documentation placeholders."""
    if not values:
        return ["it is empty: list the networks allowed (your office or VPN egress)"]
    problems = []
    for value in values:
        try:
            network = ipaddress.ip_network(str(value), strict=True)
        except ValueError:
            problems.append(f"{value} is not a CIDR block (host bits set, or not an address)")
            continue
        if network.prefixlen < WIDEST_PREFIX[network.version]:
            problems.append(
                f"{value} is open to a large part of the internet (wider than /{WIDEST_PREFIX[network.version]})"
            )
        elif not placeholders_allowed and _is_documentation(network):
            problems.append(f"{value} is a documentation range (a placeholder): replace it with your own ranges")
    return problems


def _is_documentation(network: ipaddress.IPv4Network | ipaddress.IPv6Network) -> bool:
    return any(
        network.network_address in d and network.broadcast_address in d
        for d in DOCUMENTATION_RANGES
        if d.version == network.version
    )
