"""The fleet's tag contract: which instance is a node of which node group, which is the bastion.

One definition, imported by the fleet inventory plugin (plugins/inventory/strata_fleet.py) and the tools: the SSH
lab, the summary and the bench (strata.tools.lab, .summary, .bench), so that they can never disagree on what a node
is. The roles write the same tags (roles/eks/tasks/launch_templates.yml, roles/bastion_host);
tests/unit/strata/domain/test_fleet.py runs one fixture set through the inventory, the lab and the summary.

The contract, as AWS and the roles write it:
- every resource of an environment carries ``managed-by=strata`` and ``env=<env>``;
- the environment's name (VPC, cluster, database...) is ``strata-<env>`` (:func:`resource_name`);
- a node carries ``kubernetes.io/cluster/<cluster>=owned|shared`` and ``eks:nodegroup-name=<group>``
  (self-managed groups get both from their launch template; a managed group's instances may lack the node
  group tag, and are then known by their Auto Scaling group, ``aws:autoscaling:groupName``);
- the bastion carries ``role=bastion`` (the inventory lets an operator choose other tags).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from strata import PROJECT

__all__ = ["PROJECT", "Member", "classify", "members", "resource_name", "tags_of"]
MANAGED_BY = "managed-by"
ENV = "env"
ROLE = "role"
TIER = "tier"
NAME = "Name"
BASTION = "bastion"
NODEGROUP = "eks:nodegroup-name"
CLUSTER_NAME = "eks:cluster-name"
CLUSTER_PREFIX = "kubernetes.io/cluster/"
ASG = "aws:autoscaling:groupName"
CLUSTER_MEMBERSHIP = frozenset({"owned", "shared"})
BASTION_TAGS: Mapping[str, str] = {ROLE: BASTION}
RUNNING_STATES = ("pending", "running")
STOPPED_STATES = ("stopping", "stopped")


def resource_name(env: str) -> str:
    """The name of an environment's VPC, cluster, database, repositories...: ``strata-<env>``."""
    return f"{PROJECT}-{env}"


def cluster_tag(cluster: str) -> str:
    """The tag key that marks a node of `cluster` (and that Cluster Autoscaler and the cloud provider read)."""
    return f"{CLUSTER_PREFIX}{cluster}"


def tags_of(resource: Mapping[str, Any]) -> dict[str, str]:
    """An AWS resource's ``Tags`` list (``TagList`` for RDS; Key/Value pairs) as a dictionary."""
    return {str(t["Key"]): str(t["Value"]) for t in resource.get("Tags") or resource.get("TagList") or []}


def tag_list(tags: Mapping[str, str]) -> list[dict[str, str]]:
    """A dictionary of tags as AWS's ``Tags`` list."""
    return [{"Key": k, "Value": v} for k, v in tags.items()]


def owned_tags(env: str) -> dict[str, str]:
    """The tags every resource of an environment carries."""
    return {MANAGED_BY: PROJECT, ENV: env}


def owned_filters(env: str) -> list[dict[str, Any]]:
    """EC2 describe filters for the resources of an environment."""
    return [{"Name": f"tag:{k}", "Values": [v]} for k, v in owned_tags(env).items()]


def node_tags(cluster: str, nodegroup: str) -> dict[str, str]:
    """The tags a node instance of a node group carries (launch templates write them)."""
    return {CLUSTER_NAME: cluster, NODEGROUP: nodegroup, cluster_tag(cluster): "owned"}


def bastion_tags(cluster: str) -> dict[str, str]:
    return {**BASTION_TAGS, NAME: f"{cluster}-{BASTION}"}


@dataclass(frozen=True)
class Member:
    """What an instance is in the fleet: ``kind`` is ``node`` or ``bastion``; ``role`` is the node group's name
    for a node and ``bastion`` for the bastion; ``nodegroup`` is empty for the bastion."""

    kind: str
    role: str
    nodegroup: str


def classify(
    instance: Mapping[str, Any],
    *,
    env: str,
    cluster: str | None = None,
    asg_to_group: Mapping[str, str] | None = None,
    bastion: Mapping[str, str] = BASTION_TAGS,
) -> Member | None:
    """The fleet member `instance` is, or None when it is neither a node of the cluster nor the environment's
    bastion. `cluster` defaults to the environment's (``strata-<env>``); `asg_to_group` maps a managed node
    group's Auto Scaling groups to its name (describe_nodegroup), for instances that carry only the ASG tag."""
    tags = tags_of(instance)
    cluster = cluster or resource_name(env)
    groups = asg_to_group or {}
    if tags.get(cluster_tag(cluster)) in CLUSTER_MEMBERSHIP or tags.get(ASG) in groups:
        group = tags.get(NODEGROUP) or groups.get(tags.get(ASG, ""), "")
        return Member("node", group, group) if group else None
    wanted = {str(k): str(v) for k, v in bastion.items()} | {ENV: env}
    if all(tags.get(k) == v for k, v in wanted.items()):
        return Member(BASTION, BASTION, "")
    return None


def members(instances: Iterable[Mapping[str, Any]], **kwargs: Any) -> list[tuple[Mapping[str, Any], Member]]:
    """Every instance of `instances` that is a fleet member, with what it is (see :func:`classify`)."""
    found = []
    for instance in instances:
        member = classify(instance, **kwargs)
        if member is not None:
            found.append((instance, member))
    return found
