"""The lab's managed services (strata.tools.lab_services): which of the embedded cloud's databases and cluster
endpoints become lab hosts, where, and under which names - against moto's RDS and EKS, one call each."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from strata.domain import fleet
from strata.tools import lab_services

REGION = "eu-west-3"


@pytest.fixture
def account(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        monkeypatch.setenv(key, value)
    with mock_aws():
        ec2 = boto3.client("ec2", region_name=REGION)
        vpc = ec2.create_vpc(CidrBlock="10.2.0.0/16")["Vpc"]["VpcId"]
        subnets = {}
        for index, zone in enumerate("abc", start=1):
            subnets[f"database-{zone}"] = ec2.create_subnet(
                VpcId=vpc, CidrBlock=f"10.2.{index}.0/24", AvailabilityZone=f"{REGION}{zone}"
            )["Subnet"]["SubnetId"]
            subnets[f"app-{zone}"] = ec2.create_subnet(
                VpcId=vpc, CidrBlock=f"10.2.{10 + index}.0/24", AvailabilityZone=f"{REGION}{zone}"
            )["Subnet"]["SubnetId"]
        group = ec2.create_security_group(GroupName="db", Description="db", VpcId=vpc)["GroupId"]
        rds = boto3.client("rds", region_name=REGION)
        rds.create_db_subnet_group(
            DBSubnetGroupName="strata-staging",
            DBSubnetGroupDescription="db",
            SubnetIds=[subnets[f"database-{z}"] for z in "abc"],
        )

        def database(name: str, env: str) -> None:
            rds.create_db_instance(
                DBInstanceIdentifier=name,
                Engine="postgres",
                DBInstanceClass="db.t4g.medium",
                DBName="strata",
                MasterUsername="strata_admin",
                MasterUserPassword="not-a-secret-0",
                AllocatedStorage=20,
                DBSubnetGroupName="strata-staging",
                VpcSecurityGroupIds=[group],
                AvailabilityZone=f"{REGION}b",
                Tags=fleet.tag_list(fleet.owned_tags(env)),
            )

        database("strata-staging", "staging")
        database("strata-production", "production")  # another environment's: not this lab's
        eks = boto3.client("eks", region_name=REGION)
        eks.create_cluster(
            name="strata-staging",
            roleArn="arn:aws:iam::123456789012:role/cluster",
            resourcesVpcConfig={"subnetIds": [subnets["app-c"], subnets["app-a"]], "securityGroupIds": [group]},
            tags=fleet.owned_tags("staging"),
        )
        described = {s["SubnetId"]: s for s in ec2.describe_subnets()["Subnets"]}
        yield {"subnets": described, "ids": subnets, "group": group}


def test_the_environments_database_and_endpoint_are_found_in_their_subnets(account: dict[str, Any]) -> None:
    found = lab_services.discover(None, REGION, "staging", account["subnets"])  # type: ignore[arg-type]
    assert [(s["role"], s["id"]) for s in found] == [("database", "strata-staging"), ("endpoint", "strata-staging")]
    database, endpoint = found
    assert database["subnet_id"] == account["ids"]["database-b"]  # its zone's subnet of the DB subnet group
    assert database["names"][0].startswith("strata-staging.") and database["names"][0].endswith(".rds.amazonaws.com")
    assert (database["port"], database["user"], database["dbname"]) == (5432, "strata_admin", "strata")
    assert database["groups"] == [account["group"]]
    assert endpoint["subnet_id"] == account["ids"]["app-a"]  # the first zone of the cluster's subnets
    assert endpoint["port"] == 443 and endpoint["names"][0].endswith(".eks.amazonaws.com")


def test_addresses_come_from_the_top_of_the_subnet_skip_taken_ones_and_avoid_the_reserved(
    account: dict[str, Any],
) -> None:
    found = lab_services.discover(None, REGION, "staging", account["subnets"])  # type: ignore[arg-type]
    twice = [*found, {**found[0], "id": "reader"}]
    placed = lab_services.place(twice, taken=["10.2.2.254"])
    assert [s["address"] for s in placed] == ["10.2.2.253", "10.2.11.254", "10.2.2.252"]
    assert lab_services.place(twice, taken=["10.2.2.254"]) == placed  # the same every run
    tiny = lab_services.place([{**found[0], "subnet": "10.9.0.0/28"}], taken=[])
    assert ipaddress.ip_address(tiny[0]["address"]) == ipaddress.ip_address("10.9.0.14")  # .15 is the broadcast


def test_every_name_resolves_on_the_lab_hosts(account: dict[str, Any]) -> None:
    found = lab_services.discover(None, REGION, "staging", account["subnets"])  # type: ignore[arg-type]
    placed = lab_services.place(found, taken=[])
    assert lab_services.add_hosts(placed) == [
        f"--add-host={placed[0]['names'][0]}:{placed[0]['address']}",
        f"--add-host={placed[1]['names'][0]}:{placed[1]['address']}",
    ]
