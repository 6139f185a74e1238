"""Node groups' labels and taints as kubelet, the Cluster Autoscaler and EKS spell them,
and the drift check that keeps check mode honest for self-managed groups."""

from __future__ import annotations

from typing import Any

import pytest

from strata.domain.kubernetes_nodes import asg_drift, asg_tag, autoscaler_node_template, kubelet_labels, kubelet_taint

TAINT = {"key": "strata.io/nodegroup", "value": "db", "effect": "NO_SCHEDULE"}


def test_kubelet_spelling() -> None:
    assert kubelet_taint(TAINT) == "strata.io/nodegroup=db:NoSchedule"
    assert kubelet_taint({"key": "spot", "effect": "PREFER_NO_SCHEDULE"}) == "spot:PreferNoSchedule"
    assert kubelet_labels({"b": "2", "a": "1"}) == "a=1,b=2"
    with pytest.raises(ValueError, match="effect NoSchedule is not one of"):
        kubelet_taint({"key": "k", "effect": "NoSchedule"})


def test_autoscaler_node_template_tags() -> None:
    assert autoscaler_node_template({"strata.io/nodegroup": "db"}, [TAINT]) == {
        "k8s.io/cluster-autoscaler/node-template/label/strata.io/nodegroup": "db",
        "k8s.io/cluster-autoscaler/node-template/taint/strata.io/nodegroup": "db:NoSchedule",
    }
    assert asg_tag({"key": "env", "value": "local"}) == {"env": "local", "propagate_at_launch": True}


WANTED: dict[str, Any] = {
    "min_size": 3,
    "max_size": 6,
    "launch_template_name": "strata-local-db",
    "subnet_ids": ["subnet-b", "subnet-a"],
    "tags": {"env": "local"},
}


def group(**changes: Any) -> dict[str, Any]:
    current = {
        "min_size": 3,
        "max_size": 6,
        "desired_capacity": 4,
        "launch_template": {"launch_template_name": "strata-local-db"},
        "vpc_zone_identifier": "subnet-a,subnet-b",
        "tags": [{"key": "env", "value": "local", "propagate_at_launch": True}],
        "enabled_metrics": [{"metric": "GroupMinSize"}],
    }
    current.update(changes)
    return current


def test_a_group_in_sync_has_no_drift_whatever_the_autoscaler_did_inside_the_bounds() -> None:
    assert asg_drift(group(), WANTED) == []


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"max_size": 9}, "max_size 9 -> 6"),
        ({"desired_capacity": 7}, "desired_capacity 7 outside 3..6"),
        ({"vpc_zone_identifier": "subnet-a"}, "subnets"),
        ({"tags": []}, "tags differ"),
        ({"launch_template": None}, "launch template None -> strata-local-db"),
        ({"enabled_metrics": []}, "group metrics disabled"),
    ],
)
def test_each_kind_of_drift_is_named(changes: dict[str, Any], expected: str) -> None:
    assert any(expected in d for d in asg_drift(group(**changes), WANTED))


def test_a_missing_group_drifts() -> None:
    assert asg_drift(None, WANTED) == ["missing"]
