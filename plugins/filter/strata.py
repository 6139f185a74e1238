"""Filters of the strata platform: the address plan and the environment guards.

The logic lives in the `strata` Python package (src/strata) so that tests and tools
share it; these filters adapt it to Ansible and turn its errors into task failures.
"""

from __future__ import absolute_import, annotations, division, print_function

import os
from typing import Any

from ansible.errors import AnsibleFilterError

try:
    from strata.domain.address_plan import AddressPlanError, build_address_plan, plan_overlaps
    from strata.domain.guards import TargetError, allow_list_problems, check_aws_target
    from strata.domain.kubernetes_nodes import (
        asg_drift,
        asg_tag,
        autoscaler_node_template,
        kubelet_labels,
        kubelet_taint,
    )
    from strata.domain.network_policy import nacl_rules
except ImportError as exc:  # pragma: no cover - only without the project's virtualenv
    raise AnsibleFilterError(
        "the strata package is not importable; run `make venv` and activate .venv "
        f"(source .venv/bin/activate) before ansible-playbook ({exc})"
    ) from exc


def strata_address_plan(
    spec: Any, available_zones: list[str], var_name: str = "network_address_plan"
) -> dict[str, Any]:
    """Validate an address plan and expand it into subnets, spare blocks and VPC CIDR blocks."""
    try:
        return build_address_plan(spec, list(available_zones), var_name=var_name)
    except AddressPlanError as exc:
        raise AnsibleFilterError(f"Invalid address plan: {exc}") from None


def strata_aws_target(env: str, endpoint_url: str | None = None, rehearsal: str | None = None) -> str:
    """Check that `env` talks to the cloud it belongs to (or, for a rehearsal, to a loopback embedded cloud only);
    return where it will talk."""
    try:
        return check_aws_target(env, endpoint_url or None, os.environ, rehearsal or None)
    except TargetError as exc:
        raise AnsibleFilterError(f"Refusing to run: {exc}") from None


def strata_nacl_rules(plan: dict[str, Any], database_port: int = 5432, client_tiers: list[str] | None = None) -> Any:
    """The database and admin tiers' network ACL rule tables for an address plan."""
    try:
        return nacl_rules(plan, database_port, client_tiers or ["app"])
    except ValueError as exc:
        raise AnsibleFilterError(str(exc)) from None


def strata_kubelet_taint(taint: dict[str, Any]) -> str:
    """A node group taint ({key, value, effect}) as kubelet's --register-with-taints takes it."""
    try:
        return kubelet_taint(taint)
    except (KeyError, ValueError) as exc:
        raise AnsibleFilterError(f"Invalid taint {taint}: {exc}") from None


def strata_autoscaler_node_template(labels: dict[str, Any], taints: list[dict[str, Any]]) -> dict[str, str]:
    """Auto Scaling group tags announcing a node group's labels and taints to the Cluster Autoscaler."""
    try:
        return autoscaler_node_template(labels, taints)
    except (KeyError, ValueError) as exc:
        raise AnsibleFilterError(f"Invalid node group labels/taints: {exc}") from None


def strata_plan_overlaps(plan: dict[str, Any], others: dict[str, Any]) -> list[str]:
    """Where an address plan's tiers overlap other environments' plans (env -> plan)."""
    return plan_overlaps(plan, others)


def strata_allow_list_problems(values: list[Any], placeholders_allowed: bool = False) -> list[str]:
    """What is wrong with an allow-list of source networks (see strata.domain.guards.allow_list_problems)."""
    return allow_list_problems(list(values or []), placeholders_allowed=bool(placeholders_allowed))


def strata_role_arn(result: dict[str, Any], caller: dict[str, Any], name: str) -> str:
    """The ARN of an IAM role amazon.aws.iam_role ensured (its result). In check mode before the role exists the
    module reports it without an ARN: the ARN it will have is built from the account aws_caller_info read."""
    role = (result or {}).get("iam_role") or {}
    if role.get("arn"):
        return str(role["arn"])
    account = (caller or {}).get("account")
    if not account:
        raise AnsibleFilterError(f"role {name} has no ARN yet and the account is unknown: read it with aws_caller_info")
    return f"arn:aws:iam::{account}:role/{name}"


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {
            "strata_address_plan": strata_address_plan,
            "strata_aws_target": strata_aws_target,
            "strata_nacl_rules": strata_nacl_rules,
            "strata_kubelet_taint": strata_kubelet_taint,
            "strata_kubelet_labels": kubelet_labels,
            "strata_autoscaler_node_template": strata_autoscaler_node_template,
            "strata_asg_tag": asg_tag,
            "strata_asg_drift": asg_drift,
            "strata_allow_list_problems": strata_allow_list_problems,
            "strata_plan_overlaps": strata_plan_overlaps,
            "strata_role_arn": strata_role_arn,
        }
