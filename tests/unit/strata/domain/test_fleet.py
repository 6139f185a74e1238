"""The fleet's tag contract (strata.domain.fleet): the classifier rule by rule, then one fixture set run through the
fleet inventory plugin and the SSH lab's discovery, which must agree on every instance."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from ansible.inventory.data import InventoryData
from ansible.parsing.dataloader import DataLoader
from ansible.plugins.loader import inventory_loader
from moto import mock_aws

from strata.domain import fleet
from strata.tools import lab, summary
from tests.helpers import ROOT

REGION = "eu-west-3"
inventory_loader.add_directory(str(ROOT / "plugins" / "inventory"))


def instance(tags: dict[str, str], **extra: Any) -> dict[str, Any]:
    return {"InstanceId": "i-0", "Tags": fleet.tag_list(tags), **extra}


def test_resource_name_and_tags() -> None:
    assert fleet.resource_name("staging") == "strata-staging"
    assert fleet.owned_filters("local") == [
        {"Name": "tag:managed-by", "Values": ["strata"]},
        {"Name": "tag:env", "Values": ["local"]},
    ]
    assert fleet.tags_of({"Tags": [{"Key": "a", "Value": "1"}]}) == {"a": "1"}
    assert fleet.tags_of({}) == {}
    assert fleet.tags_of({"Tags": None}) == {}
    assert fleet.node_tags("strata-x", "app")["kubernetes.io/cluster/strata-x"] == "owned"


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        (fleet.node_tags("strata-staging", "app"), fleet.Member("node", "app", "app")),
        ({**fleet.node_tags("strata-staging", "db"), "kubernetes.io/cluster/strata-staging": "shared"}, "db"),
        # a node of another cluster, a node whose membership value is neither owned nor shared
        (fleet.node_tags("strata-production", "app"), None),
        ({**fleet.node_tags("strata-staging", "app"), "kubernetes.io/cluster/strata-staging": "no"}, None),
        # in the cluster but in no node group: not a node of ours
        ({"kubernetes.io/cluster/strata-staging": "owned"}, None),
        # the bastion needs its tags and the environment's
        ({"role": "bastion", "env": "staging"}, fleet.Member("bastion", "bastion", "")),
        ({"role": "bastion", "env": "production"}, None),
        ({"role": "bastion"}, None),
        ({"env": "staging"}, None),
        # a node that also says role=bastion is a node: the cluster's tag decides first
        ({**fleet.node_tags("strata-staging", "app"), "role": "bastion", "env": "staging"}, "app"),
    ],
)
def test_classify(tags: dict[str, str], expected: Any) -> None:
    member = fleet.classify(instance(tags), env="staging")
    if isinstance(expected, str):
        assert member == fleet.Member("node", expected, expected)
    else:
        assert member == expected


def test_managed_group_instances_are_known_by_their_auto_scaling_group() -> None:
    only_asg = instance({"aws:autoscaling:groupName": "eks-app-1234"})
    assert fleet.classify(only_asg, env="staging") is None
    assert fleet.classify(only_asg, env="staging", asg_to_group={"eks-app-1234": "app"}) == fleet.Member(
        "node", "app", "app"
    )


def test_operator_bastion_tags() -> None:
    jump = instance({"purpose": "jump", "env": "staging"})
    assert fleet.classify(jump, env="staging") is None
    assert fleet.classify(jump, env="staging", bastion={"purpose": "jump"}) == fleet.Member("bastion", "bastion", "")


@pytest.fixture
def estate(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """One environment as the roles tag it, with what must not be taken for it beside: another environment's
    nodes and bastion, an untagged instance, a cluster member in no node group. Returns id -> expected role."""
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "STRATA_AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    with mock_aws():
        ec2 = boto3.client("ec2", region_name=REGION)
        eks = boto3.client("eks", region_name=REGION)
        owned = fleet.owned_tags("staging")
        vpc = ec2.create_vpc(
            CidrBlock="10.8.0.0/16", TagSpecifications=[{"ResourceType": "vpc", "Tags": fleet.tag_list(owned)}]
        )["Vpc"]["VpcId"]
        subnets = {}
        for index, tier in enumerate(["app", "public"]):
            subnets[tier] = ec2.create_subnet(
                VpcId=vpc,
                CidrBlock=f"10.8.{index}.0/24",
                AvailabilityZone=f"{REGION}a",
                TagSpecifications=[{"ResourceType": "subnet", "Tags": fleet.tag_list({**owned, fleet.TIER: tier})}],
            )["Subnet"]["SubnetId"]
        eks.create_cluster(
            name="strata-staging", roleArn="arn:aws:iam::123456789012:role/c", resourcesVpcConfig={"subnetIds": []}
        )

        def launch(tags: dict[str, str], tier: str = "app") -> str:
            return str(
                ec2.run_instances(
                    ImageId="ami-12c6146b",
                    InstanceType="t3.micro",
                    MinCount=1,
                    MaxCount=1,
                    SubnetId=subnets[tier],
                    TagSpecifications=[{"ResourceType": "instance", "Tags": fleet.tag_list(tags)}],
                )["Instances"][0]["InstanceId"]
            )

        expected = {}
        for group in ("app", "db", "metrics"):
            expected[launch({**owned, **fleet.node_tags("strata-staging", group)})] = group
        expected[launch({**owned, **fleet.bastion_tags("strata-staging")}, tier="public")] = "bastion"
        other = fleet.owned_tags("production")
        launch({**other, **fleet.node_tags("strata-production", "app")})
        launch({**other, **fleet.bastion_tags("strata-production")}, tier="public")
        launch(owned)
        launch({**owned, fleet.cluster_tag("strata-staging"): "owned"})
        yield expected


def test_the_inventory_the_lab_and_the_summary_agree(estate: dict[str, str], tmp_path: Path) -> None:
    path = tmp_path / "fleet.strata_fleet.yml"
    path.write_text(yaml.safe_dump({"plugin": "strata_fleet", "env": "staging", "regions": [REGION]}))
    plugin = inventory_loader.get("strata_fleet")
    inventory = InventoryData()
    plugin.parse(inventory, DataLoader(), str(path), cache=False)
    by_inventory = {name.split("-", 1)[1]: name.split("-", 1)[0] for name in inventory.hosts}  # <role>-<id>
    found = lab.estate(None, REGION, "staging")["hosts"]  # type: ignore[arg-type]
    by_lab = {host["id"]: host["role"] for host in found}
    assert by_inventory == estate
    assert by_lab == estate
    described = summary.collect_estate(None, REGION, "staging")
    assert sorted(described["node_groups"]) == ["app", "db", "metrics"]
    assert [b["id"] for b in described["bastions"]] == [i for i, r in estate.items() if r == "bastion"]
