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


def check_aws_target(env: str, endpoint_url: str | None, process_env: Mapping[str, str]) -> str:
    """Validate where `env` would send its AWS calls; return a one-line description.

    `process_env` is the controller's environment: boto3 honours AWS_ENDPOINT_URL from it,
    so it can redirect a run as surely as the inventory can.
    """
    ambient = process_env.get("AWS_ENDPOINT_URL", "")
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
