"""Bad input fails at once with a message that names the variable and the fix, and
nothing is created in the embedded cloud."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.helpers import ROOT, Cloud

pytestmark = pytest.mark.integration

SEED = yaml.safe_load((ROOT / "inventories/local/group_vars/all/network.yml").read_text())["network_address_plan"]


def plan_with(**changes: Any) -> dict[str, Any]:
    plan = copy.deepcopy(SEED)
    plan.update(changes)
    return plan


def overlapping_tiers() -> dict[str, Any]:
    plan = copy.deepcopy(SEED)
    plan["tiers"]["app"] = {"cidr": "10.6.0.0/21"}
    return plan


CASES = {
    "overlapping tiers": (
        {"network_address_plan": overlapping_tiers()},
        "network_address_plan.tiers.public.cidr: 10.6.0.0/22 overlaps network_address_plan.tiers.app.cidr",
    ),
    "the /13 as a single block": (
        {"network_address_plan": plan_with(vpc_cidr_blocks=["10.0.0.0/13"])},
        "network_address_plan.vpc_cidr_blocks[0]: 10.0.0.0/13 cannot be a single VPC CIDR block",
    ),
    "more zones than the region has": (
        {
            "network_address_plan": {
                **plan_with(zones=4),
                "tiers": {t: {"cidr": v["cidr"]} for t, v in SEED["tiers"].items()},
            }
        },
        "network_address_plan.zones: asks for 4 zones but the region offers 3",
    ),
    "unknown env": ({"env": "qa"}, "Unknown environment env=qa. Known environments: local, production, staging"),
    "missing region": ({"aws_region": ""}, "aws_region is not set for env=local"),
    "non-loopback endpoint for env=local": (
        {"aws_endpoint_url": "http://10.20.30.40:5055"},
        "aws_endpoint_url=http://10.20.30.40:5055 is not a loopback address",
    ),
    "a node group with min_size > max_size": (
        {"eks_nodegroups": [{"name": "app", "instance_types": ["m6i.large"], "min_size": 5, "max_size": 2}]},
        "eks_nodegroups entry app is invalid",
    ),
    "a node group without instance types": (
        {"eks_nodegroups": [{"name": "db", "instance_types": [], "min_size": 1, "max_size": 2}]},
        "instance_types must list at least one type (got [])",
    ),
    "no node group may reach the database": (
        {"eks_nodegroups": [{"name": "app", "instance_types": ["m6i.large"]}]},
        "No entry of eks_nodegroups has database_client: true",
    ),
    "a node group with a key the spec does not know (before any role runs)": (
        {"eks_nodegroups": [{"name": "app", "instance_types": ["m6i.large"], "colour": "blue"}]},
        "eks_nodegroups.colour",
    ),
    "a setting of the wrong type (the role's argument spec, checked by the preflight)": (
        {"database_backup_retention_days": "a week"},
        "database_backup_retention_days",
    ),
    "a region that does not exist (DescribeRegions)": (
        {"aws_region": "eu-west-9"},
        "aws_region=eu-west-9 is not a region enabled for this account (DescribeRegions)",
    ),
    "a node group type a zone does not offer (DescribeInstanceTypeOfferings)": (
        {"eks_nodegroups": [{"name": "app", "instance_types": ["m6i.large", "m6i.huge"]}]},
        "eks_nodegroups: m6i.huge is not offered in eu-west-3a, eu-west-3b, eu-west-3c",
    ),
    "a bastion type its zone does not offer (DescribeInstanceTypeOfferings)": (
        {"bastion_host_instance_type": "t3.gigantic"},
        "bastion_host_instance_type=t3.gigantic is not offered in eu-west-3a, the bastion's zone",
    ),
    "a database major version past its end of standard support": (
        {"database_engine_version": "13.20"},
        "database_engine_version=13.20 is not a supported major version",
    ),
    "a node group outside the app tier": (
        {"eks_nodegroups": [{"name": "db", "instance_types": ["r6i.large"], "tier": "database"}]},
        "tier must be app, the nodes' subnets (got database)",
    ),
    "a public API endpoint open to the world": (
        {"eks_endpoint_public_access": True, "eks_public_access_cidrs": ["0.0.0.0/0"]},
        "eks_endpoint_public_access=true needs eks_public_access_cidrs, an allow-list without 0.0.0.0/0",
    ),
    "a key deletion window outside AWS's range": (
        {"kms_deletion_window_days": 3},
        "kms_deletion_window_days=3 must be 7 to 30",
    ),
    "an unknown database engine": (
        {"database_engine": "mysql"},
        "value of database_engine must be one of: postgres, aurora-postgresql, got: mysql",  # the role's spec
    ),
    "a backup retention outside AWS's range": (
        {"database_backup_retention_days": 36},
        "database_backup_retention_days=36 must be 1 to 35 (AWS's range",
    ),
    "bastion open to the world": (
        {"network_bastion_allowed_cidrs": ["0.0.0.0/0"]},
        "network_bastion_allowed_cidrs=['0.0.0.0/0'] must list the ranges allowed to SSH",
    ),
    "bastion open to half the internet": (
        {"network_bastion_allowed_cidrs": ["0.0.0.0/1"]},
        "0.0.0.0/1 is open to a large part of the internet (wider than /8)",
    ),
    "bastion open to half the IPv6 internet": (
        {"network_bastion_allowed_cidrs": ["::/1"]},
        "::/1 is open to a large part of the internet (wider than /32)",
    ),
    "a bastion allow-list entry that is not a CIDR": (
        {"network_bastion_allowed_cidrs": ["office"]},
        "office is not a CIDR block",
    ),
    "credentials of another account than the environment's": (
        {"aws_account_id": "111122223333"},
        "The credentials belong to account 123456789012 (arn:aws:sts::123456789012:user/moto), but env=local declares "
        "aws_account_id=111122223333",
    ),
    "a Kubernetes version EKS no longer supports": (
        {"strata_kubernetes_version": "1.31"},
        "eks_version=1.31 (strata_kubernetes_version in inventories/local/group_vars/all/env.yml) is not a version",
    ),
}


def vpc_ids(cloud: Cloud) -> list[str]:
    return [v["VpcId"] for v in cloud.client("ec2").describe_vpcs()["Vpcs"]]


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_fails_early_and_creates_nothing(private_cloud: Cloud, tmp_path: Path, case: str) -> None:
    overrides, message = CASES[case]
    extra = tmp_path / "extra.json"
    extra.write_text(json.dumps({"env": "local", **overrides}))
    before = vpc_ids(private_cloud)

    result = private_cloud.playbook("site.yml", "-e", f"@{extra}")

    assert result.returncode != 0
    assert message in " ".join(result.output.split()), result.output[-3000:]
    assert vpc_ids(private_cloud) == before


@pytest.mark.parametrize("env", ["staging", "production"])
def test_real_environments_refuse_the_embedded_cloud(private_cloud: Cloud, env: str) -> None:
    result = private_cloud.playbook("site.yml", "-e", f"env={env}", "-e", f"aws_endpoint_url={private_cloud.endpoint}")
    assert result.returncode != 0
    assert f"only env=local may use a custom endpoint. Remove aws_endpoint_url from inventories/{env}" in " ".join(
        result.output.split()
    )


@pytest.mark.parametrize("endpoint", ["http://10.20.30.40:5055", "https://eks.eu-west-3.amazonaws.com"])
def test_a_rehearsal_refuses_anything_but_loopback(private_cloud: Cloud, endpoint: str) -> None:
    result = private_cloud.playbook("site.yml", "-e", "env=production", "-e", f"strata_rehearsal_endpoint={endpoint}")
    assert result.returncode != 0
    assert f"strata_rehearsal_endpoint={endpoint} is not a loopback address" in " ".join(result.output.split())


@pytest.mark.parametrize("env", ["staging", "production"])
def test_real_environments_refuse_an_ambient_endpoint(private_cloud: Cloud, env: str) -> None:
    result = private_cloud.playbook(
        "site.yml", "-e", f"env={env}", extra_env={"AWS_ENDPOINT_URL": private_cloud.endpoint}
    )
    assert result.returncode != 0
    assert "Unset AWS_ENDPOINT_URL before running against AWS" in " ".join(result.output.split())


@pytest.mark.parametrize("env", ["staging", "production"])
def test_real_environments_parse_and_list_their_tasks(env: str, private_cloud: Cloud) -> None:
    """staging/production are checked offline only: syntax and the task list, never a call to AWS."""
    for flag in ("--syntax-check", "--list-tasks"):
        result = private_cloud.playbook("site.yml", "-e", f"env={env}", flag)
        assert result.returncode == 0, result.output[-3000:]
    assert "network : Ensure the VPC and its CIDR blocks" in result.output


def test_check_mode_on_an_empty_cloud_creates_nothing(private_cloud: Cloud) -> None:
    before = vpc_ids(private_cloud)
    result = private_cloud.playbook("site.yml", "-e", "env=local", "--check")
    assert result.returncode == 0, result.output[-3000:]
    assert "Check mode: the VPC strata-local would be created" in result.output
    assert "Check mode: the cluster strata-local would be created once the network and the key exist" in " ".join(
        result.output.split()
    )
    flat = " ".join(result.output.split())
    assert "Check mode: the database strata-local would be created once the network and the key exist" in flat
    # The VPC, the keys, and the parts that need no network (repository, bucket, backup
    # vault, role and plan) report what they would create; nothing exists afterwards.
    assert result.recap["changed"] >= 2
    assert "Check mode: the repository strata/api would be created" in flat
    assert vpc_ids(private_cloud) == before


def test_a_changed_primary_vpc_block_is_refused_not_duplicated(private_cloud: Cloud) -> None:
    """ec2_vpc_net finds a VPC by name and primary block: another block would create a second strata-local."""
    ec2 = private_cloud.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.99.0.0/16")["Vpc"]["VpcId"]
    ec2.create_tags(
        Resources=[vpc], Tags=[{"Key": "Name", "Value": "strata-local"}, {"Key": "env", "Value": "local"},
                               {"Key": "managed-by", "Value": "strata"}]
    )  # fmt: skip
    before = vpc_ids(private_cloud)
    try:
        result = private_cloud.playbook("site.yml", "-e", "env=local")
        assert result.returncode != 0
        assert "The VPC strata-local exists with the primary block 10.99.0.0/16, but network_address_plan" in " ".join(
            result.output.split()
        ), result.output[-3000:]
        assert vpc_ids(private_cloud) == before
    finally:
        ec2.delete_vpc(VpcId=vpc)


def test_staging_cannot_take_productions_addresses(private_cloud: Cloud, tmp_path: Path) -> None:
    """Rehearsed (the only way staging reaches the embedded cloud): staging with production's plan is refused by the
    preflight, before anything exists; with its own (the seed's table in 10.8.0.0/13) it is not."""
    production = yaml.safe_load((ROOT / "inventories/production/group_vars/all/network.yml").read_text())
    extra = tmp_path / "extra.json"
    extra.write_text(json.dumps({
        "env": "staging", "strata_rehearsal_endpoint": private_cloud.endpoint,
        "network_address_plan": production["network_address_plan"],
    }))  # fmt: skip
    before = vpc_ids(private_cloud)
    result = private_cloud.playbook("site.yml", "-e", f"@{extra}")
    assert result.returncode != 0
    assert (
        "env=staging: network_address_plan.tiers.public.cidr: 10.6.0.0/22 overlaps production's tiers.public "
        "(10.6.0.0/22)" in " ".join(result.output.split())
    ), result.output[-3000:]
    assert vpc_ids(private_cloud) == before
    own = private_cloud.playbook(
        "playbooks/preflight.yml", "-e", "env=staging", "-e", f"strata_rehearsal_endpoint={private_cloud.endpoint}"
    )
    assert own.returncode == 0, own.output[-3000:]
