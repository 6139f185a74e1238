"""strata_eks_nodegroup under botocore's Stubber, including the second-run case that makes
community.aws.eks_nodegroup fail (a description without updateConfig)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.unit.plugins.modules.stubs import FakeModule, load_module, not_found, strata_aws

nodegroup_module = load_module("strata_eks_nodegroup")

CLUSTER, NAME = "strata-test", "db"
ROLE = "arn:aws:iam::123456789012:role/strata-test-node"
ARN = f"arn:aws:eks:eu-west-3:123456789012:nodegroup/{CLUSTER}/{NAME}/abc"
SUBNETS = ["subnet-a", "subnet-b", "subnet-c"]
TAINT = {"key": "strata.io/nodegroup", "value": "db", "effect": "NO_SCHEDULE"}
KEY = {"clusterName": CLUSTER, "nodegroupName": NAME}


def params(**overrides: Any) -> dict[str, Any]:
    base = {
        "cluster_name": CLUSTER,
        "name": NAME,
        "state": "present",
        "node_role_arn": ROLE,
        "subnet_ids": SUBNETS,
        "instance_types": ["r6i.large"],
        "min_size": 3,
        "max_size": 6,
        "desired_size": None,
        "labels": {"strata.io/nodegroup": "db"},
        "taints": [TAINT],
        "capacity_type": "ON_DEMAND",
        "ami_type": "AL2023_x86_64_STANDARD",
        "disk_size": None,
        "launch_template": {"name": "strata-test-db", "version": "1"},
        "max_unavailable": 1,
        "tags": {"managed-by": "strata"},
        "purge_tags": True,
        "wait": True,
        "wait_timeout": 60,
    }
    base.update(overrides)
    return base


def described(**changes: Any) -> dict[str, Any]:
    # As the embedded cloud describes it: no updateConfig key at all.
    nodegroup = {
        "nodegroupName": NAME,
        "nodegroupArn": ARN,
        "clusterName": CLUSTER,
        "status": "ACTIVE",
        "capacityType": "ON_DEMAND",
        "scalingConfig": {"minSize": 3, "maxSize": 6, "desiredSize": 3},
        "instanceTypes": ["r6i.large"],
        "subnets": SUBNETS,
        "nodeRole": ROLE,
        "labels": {"strata.io/nodegroup": "db"},
        "taints": [TAINT],
        "tags": {"managed-by": "strata"},
    }
    nodegroup.update(changes)
    return nodegroup


pytestmark = pytest.mark.usefixtures("no_sleep")


def run(client: Any, check_mode: bool = False, **overrides: Any) -> dict[str, Any]:
    return nodegroup_module.run(FakeModule(params(**overrides), check_mode), client)  # type: ignore[no-any-return]


def test_creates_with_labels_taints_launch_template_and_waits(eks: Any) -> None:
    not_found(eks, "describe_nodegroup", KEY)
    eks.stubber.add_response(
        "create_nodegroup",
        {"nodegroup": described(status="CREATING")},
        {
            **KEY,
            "nodeRole": ROLE,
            "subnets": SUBNETS,
            "instanceTypes": ["r6i.large"],
            "scalingConfig": {"minSize": 3, "maxSize": 6, "desiredSize": 3},
            "labels": {"strata.io/nodegroup": "db"},
            "taints": [TAINT],
            "capacityType": "ON_DEMAND",
            "amiType": "AL2023_x86_64_STANDARD",
            "updateConfig": {"maxUnavailable": 1},
            "launchTemplate": {"name": "strata-test-db", "version": "1"},
            "tags": {"managed-by": "strata"},
        },
    )
    eks.stubber.add_response("describe_nodegroup", {"nodegroup": described()}, KEY)
    assert run(eks)["changed"] is True


def test_second_run_without_update_config_in_the_description_changes_nothing(eks: Any) -> None:
    eks.stubber.add_response("describe_nodegroup", {"nodegroup": described()}, KEY)
    result = run(eks)
    assert result["changed"] is False
    assert result["nodegroup"]["labels"] == {"strata.io/nodegroup": "db"}


def test_labels_taints_and_bounds_are_updated_in_one_call(eks: Any) -> None:
    eks.stubber.add_response("describe_nodegroup", {"nodegroup": described(labels={"old": "x"})}, KEY)
    eks.stubber.add_response(
        "update_nodegroup_config",
        {"update": {"id": "u1"}},
        {
            **KEY,
            "labels": {"addOrUpdateLabels": {"strata.io/nodegroup": "db"}, "removeLabels": ["old"]},
            "taints": {"addOrUpdateTaints": [{"key": "dedicated", "value": "db", "effect": "NO_EXECUTE"}]},
            "scalingConfig": {"minSize": 4, "maxSize": 8, "desiredSize": 4},
        },
    )
    eks.stubber.add_response("describe_nodegroup", {"nodegroup": described()}, KEY)
    taints = [TAINT, {"key": "dedicated", "value": "db", "effect": "NO_EXECUTE"}]
    assert run(eks, taints=taints, min_size=4, max_size=8)["changed"] is True


def test_the_desired_size_belongs_to_the_autoscaler_inside_the_bounds(eks: Any) -> None:
    eks.stubber.add_response(
        "describe_nodegroup",
        {"nodegroup": described(scalingConfig={"minSize": 3, "maxSize": 6, "desiredSize": 5})},
        KEY,
    )
    assert run(eks, desired_size=3)["changed"] is False


def test_an_immutable_change_is_refused_with_the_way_out(eks: Any) -> None:
    eks.stubber.add_response("describe_nodegroup", {"nodegroup": described()}, KEY)
    with pytest.raises(strata_aws.Refused, match="create a node group with a new name"):
        run(eks, instance_types=["r6i.xlarge"])


def test_check_mode_writes_nothing(eks: Any) -> None:
    not_found(eks, "describe_nodegroup", KEY)
    result = run(eks, check_mode=True)
    assert result["changed"] is True
    assert result["nodegroup"]["status"] == "CREATING"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"min_size": 5, "max_size": 3}, "min_size=5 is greater than max_size=3"),
        ({"instance_types": []}, "instance_types of node group db is empty"),
        ({"desired_size": 9}, "desired_size=9 is outside"),
    ],
)
def test_bad_input_is_named(overrides: dict[str, Any], message: str) -> None:
    assert message in (nodegroup_module.validate(params(**overrides)) or "")


def test_absent_deletes_and_waits(eks: Any) -> None:
    eks.stubber.add_response("describe_nodegroup", {"nodegroup": described()}, KEY)
    eks.stubber.add_response("delete_nodegroup", {"nodegroup": described(status="DELETING")}, KEY)
    not_found(eks, "describe_nodegroup", KEY)
    assert run(eks, state="absent")["changed"] is True


def test_a_control_plane_upgrade_rolls_the_nodes_onto_its_version(eks: Any) -> None:
    """After the cluster moves to 1.35, the node group (1.34) follows: UpdateNodegroupVersion, checked against the
    real EKS model (the embedded cloud does not implement it), then a wait for ACTIVE."""
    current = described(version="1.34", launchTemplate={"name": "strata-test-db", "version": "1"})
    eks.stubber.add_response("describe_nodegroup", {"nodegroup": current}, KEY)
    eks.stubber.add_response(
        "update_nodegroup_version",
        {"update": {"id": "u-1", "status": "InProgress", "type": "VersionUpdate"}},
        {**KEY, "version": "1.35"},
    )
    eks.stubber.add_response("describe_nodegroup", {"nodegroup": {**current, "status": "UPDATING"}}, KEY)
    eks.stubber.add_response("describe_nodegroup", {"nodegroup": {**current, "version": "1.35"}}, KEY)
    result = run(eks, kubernetes_version="1.35")
    assert result["changed"] is True and result["nodegroup"]["version"] == "1.35"


def test_a_new_launch_template_version_rolls_the_nodes(eks: Any) -> None:
    current = described(version="1.35", launchTemplate={"name": "strata-test-db", "version": "1"})
    eks.stubber.add_response("describe_nodegroup", {"nodegroup": current}, KEY)
    eks.stubber.add_response(
        "update_nodegroup_version",
        {"update": {"id": "u-2", "status": "InProgress", "type": "VersionUpdate"}},
        {**KEY, "launchTemplate": {"name": "strata-test-db", "version": "2"}},
    )
    rolled = {**current, "launchTemplate": {"name": "strata-test-db", "version": "2"}}
    eks.stubber.add_response("describe_nodegroup", {"nodegroup": rolled}, KEY)
    result = run(eks, kubernetes_version="1.35", launch_template={"name": "strata-test-db", "version": "2"})
    assert result["changed"] is True


def test_nodes_on_the_wanted_versions_are_left_alone_and_check_mode_only_reports(eks: Any) -> None:
    current = described(version="1.35", launchTemplate={"name": "strata-test-db", "version": "1"})
    eks.stubber.add_response("describe_nodegroup", {"nodegroup": current}, KEY)
    assert run(eks, kubernetes_version="1.35")["changed"] is False
    eks.stubber.add_response("describe_nodegroup", {"nodegroup": {**current, "version": "1.34"}}, KEY)
    assert run(eks, check_mode=True, kubernetes_version="1.35")["changed"] is True  # no update call in check mode
