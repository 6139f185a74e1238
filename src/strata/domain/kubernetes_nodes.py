"""How node groups' Kubernetes labels and taints are spelled for the kubelet, for Auto
Scaling group tags (so that the Cluster Autoscaler can scale a group up from zero), and
in the EKS API."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

# The EKS API spells taint effects in upper snake case, Kubernetes in camel case.
EFFECTS = {"NO_SCHEDULE": "NoSchedule", "NO_EXECUTE": "NoExecute", "PREFER_NO_SCHEDULE": "PreferNoSchedule"}
NODE_TEMPLATE = "k8s.io/cluster-autoscaler/node-template"


def kubelet_taint(taint: Mapping[str, Any]) -> str:
    """`key=value:Effect`, as kubelet's --register-with-taints takes it."""
    effect = str(taint["effect"])
    if effect not in EFFECTS:
        raise ValueError(f"taint {taint.get('key')}: effect {effect} is not one of {', '.join(EFFECTS)}")
    value = taint.get("value") or ""
    return f"{taint['key']}={value}:{EFFECTS[effect]}" if value else f"{taint['key']}:{EFFECTS[effect]}"


def kubelet_labels(labels: Mapping[str, Any]) -> str:
    """`k1=v1,k2=v2`, as kubelet's --node-labels takes it."""
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))


def autoscaler_node_template(labels: Mapping[str, Any], taints: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """Auto Scaling group tags that tell the Cluster Autoscaler the labels and taints of a
    group's future nodes."""
    tags = {f"{NODE_TEMPLATE}/label/{k}": str(v) for k, v in labels.items()}
    for taint in taints:
        kubelet = kubelet_taint(taint)
        tags[f"{NODE_TEMPLATE}/taint/{taint['key']}"] = kubelet.split("=", 1)[1] if "=" in kubelet else kubelet
    return tags


def asg_tag(item: Mapping[str, Any], propagate_at_launch: bool = True) -> dict[str, Any]:
    """A {key, value} item (dict2items) as amazon.aws.autoscaling_group's tags take it."""
    return {str(item["key"]): str(item["value"]), "propagate_at_launch": propagate_at_launch}


def asg_drift(current: Mapping[str, Any] | None, wanted: Mapping[str, Any]) -> list[str]:
    """What differs between an Auto Scaling group (as amazon.aws.autoscaling_group_info
    returns it) and the wanted settings; empty when in sync. amazon.aws.autoscaling_group
    reports every existing group as changed in check mode, so the role asks this first.
    The desired capacity is only drift when outside min..max: the Cluster Autoscaler owns it."""
    if not current:
        return ["missing"]
    drift = []
    for key in ("min_size", "max_size"):
        if current.get(key) != wanted[key]:
            drift.append(f"{key} {current.get(key)} -> {wanted[key]}")
    desired = current.get("desired_capacity")
    if desired is None or not wanted["min_size"] <= desired <= wanted["max_size"]:
        drift.append(f"desired_capacity {desired} outside {wanted['min_size']}..{wanted['max_size']}")
    template = (current.get("launch_template") or {}).get("launch_template_name")
    if template != wanted["launch_template_name"]:
        drift.append(f"launch template {template} -> {wanted['launch_template_name']}")
    subnets = sorted(filter(None, (current.get("vpc_zone_identifier") or "").split(",")))
    if subnets != sorted(wanted["subnet_ids"]):
        drift.append(f"subnets {subnets} -> {sorted(wanted['subnet_ids'])}")
    tags = {t["key"]: (t["value"], bool(t.get("propagate_at_launch"))) for t in current.get("tags") or []}
    want_tags = {str(k): (str(v), True) for k, v in wanted["tags"].items()}
    if tags != want_tags:
        drift.append(f"tags differ on {sorted(set(tags.items()) ^ set(want_tags.items()))}")
    if not current.get("enabled_metrics"):
        drift.append("group metrics disabled")
    return drift
