"""deploy.yml and rollback.yml against the embedded cloud: the database snapshot before a release, the release
history in SSM, the restore of a snapshot; the cluster part is reported as skipped (no Kubernetes API here)."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from tests.helpers import REGION, VENV_BIN, Cloud, Run, run, venv_env

DB = "strata-local"


def playbook(cloud: Cloud, name: str, *args: str) -> Run:
    argv = [str(VENV_BIN / "ansible-playbook"), f"playbooks/{name}.yml", "-e", "env=local", *args]
    return run(argv, venv_env(STRATA_CLOUD_PORT=str(cloud.port)))


def text(result: Run) -> str:
    return " ".join(result.output.split())


@pytest.fixture(scope="module")
def rds(private_cloud: Cloud) -> Any:
    ec2 = boto3.client("ec2", region_name=REGION, endpoint_url=private_cloud.endpoint)
    vpc = ec2.create_vpc(CidrBlock="10.2.0.0/22")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.2.{i}.0/24", AvailabilityZone=f"eu-west-3{zone}")["Subnet"][
            "SubnetId"
        ]
        for i, zone in ((1, "a"), (2, "b"))
    ]
    group = ec2.create_security_group(GroupName="strata-local-database", Description="db", VpcId=vpc)["GroupId"]
    client = boto3.client("rds", region_name=REGION, endpoint_url=private_cloud.endpoint)
    client.create_db_subnet_group(DBSubnetGroupName=DB, DBSubnetGroupDescription="db", SubnetIds=subnets)
    client.create_db_instance(
        DBInstanceIdentifier=DB, Engine="postgres", DBInstanceClass="db.t4g.medium", AllocatedStorage=20,
        MasterUsername="strata_admin", ManageMasterUserPassword=True, MultiAZ=True, DBSubnetGroupName=DB,
        VpcSecurityGroupIds=[group],
        Tags=[{"Key": "managed-by", "Value": "strata"}, {"Key": "env", "Value": "local"}],
    )  # fmt: skip
    return client


def snapshots(rds: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = rds.describe_db_snapshots(DBInstanceIdentifier=DB, SnapshotType="manual")[
        "DBSnapshots"
    ]
    return found


def test_deploy_without_a_version_names_the_variable_and_snapshots_nothing(private_cloud: Cloud, rds: Any) -> None:
    bad = playbook(private_cloud, "deploy")
    assert bad.returncode != 0
    assert "Give the release to deploy: -e app_version=<image tag> (now unset)" in text(bad)
    assert snapshots(rds) == []


def test_deploy_snapshots_the_database_first_then_reports_the_rollout_skipped(private_cloud: Cloud, rds: Any) -> None:
    result = playbook(private_cloud, "deploy", "-e", "app_version=1.1.0")
    assert result.returncode == 0, result.output[-4000:]
    (snapshot,) = snapshots(rds)
    assert snapshot["DBSnapshotIdentifier"].startswith("strata-local-pre-1-1-0-")
    tags = {t["Key"]: t["Value"] for t in rds.list_tags_for_resource(ResourceName=snapshot["DBSnapshotArn"])["TagList"]}
    assert tags["purpose"] == "pre-deploy" and tags["app_version"] == "1.1.0" and tags["managed-by"] == "strata"
    out = text(result)
    assert "SKIPPED, no cluster: no cluster configured for env=local (kubernetes_cluster_source=kubeconfig" in out
    assert f"The snapshot {snapshot['DBSnapshotIdentifier']} was taken; nothing was rolled out" in out
    assert "no release was recorded" in out
    ssm = boto3.client("ssm", region_name=REGION, endpoint_url=private_cloud.endpoint)
    assert ssm.describe_parameters()["Parameters"] == []


def test_rollback_restores_the_snapshot_taken_before_the_release_it_leaves(private_cloud: Cloud, rds: Any) -> None:
    (snapshot,) = snapshots(rds)
    ssm = boto3.client("ssm", region_name=REGION, endpoint_url=private_cloud.endpoint)
    history = [
        {"version": "1.0.0", "digest": "", "snapshot": "", "platform": "v0", "deployed_at": "2026-11-01T10:00:00Z"},
        {"version": "1.1.0", "digest": "", "snapshot": snapshot["DBSnapshotIdentifier"], "platform": "v0",
         "deployed_at": "2026-11-02T10:00:00Z"},
    ]  # fmt: skip
    ssm.put_parameter(Name="/strata/local/releases", Value=json.dumps(history), Type="String")
    result = playbook(private_cloud, "rollback", "-e", "rollback_restore_snapshot=true")
    assert result.returncode == 0, result.output[-4000:]
    out = text(result)
    assert "env=local runs 1.1.0 (deployed 2026-11-02T10:00:00Z); 2 release(s) recorded" in out
    assert f"Rolling env=local back from 1.1.0 to 1.0.0 ; database: restore {snapshot['DBSnapshotIdentifier']}" in out
    restored = [
        i for i in rds.describe_db_instances()["DBInstances"] if i["DBInstanceIdentifier"].startswith(f"{DB}-restored-")
    ]
    (instance,) = restored
    assert instance["DBInstanceClass"] == "db.t4g.medium" and instance["MultiAZ"] is True
    assert instance["DBSubnetGroup"]["DBSubnetGroupName"] == DB
    original = rds.describe_db_instances(DBInstanceIdentifier=DB)["DBInstances"][0]
    assert [g["VpcSecurityGroupId"] for g in instance["VpcSecurityGroups"]] == [
        g["VpcSecurityGroupId"] for g in original["VpcSecurityGroups"]
    ]
    tags = {t["Key"]: t["Value"] for t in instance["TagList"]}
    assert tags["restored_from"] == snapshot["DBSnapshotIdentifier"] and tags["env"] == "local"
    assert f"RESTORED {snapshot['DBSnapshotIdentifier']} into {instance['DBInstanceIdentifier']}" in out
    assert f"--tags dns -e dns_database_identifier={instance['DBInstanceIdentifier']}" in out
    # The service connects to the RDS endpoint (verify-full): it moves by its identifier, not by the private name.
    assert f"--tags k8s_app,k8s_observability -e kubernetes_db_identifier={instance['DBInstanceIdentifier']}" in out
    assert "SKIPPED, no cluster" in out and "The service was not rolled back" in out


def test_rollback_refuses_a_version_it_never_ran_and_an_unknown_chart(private_cloud: Cloud, rds: Any) -> None:
    before = len(rds.describe_db_instances()["DBInstances"])
    unknown = playbook(private_cloud, "rollback", "-e", "rollback_to=9.9.9", "-e", "rollback_restore_snapshot=true")
    assert unknown.returncode != 0
    assert "No release to return to in /strata/local/releases: no earlier release is 9.9.9" in text(unknown)
    chart = playbook(private_cloud, "rollback", "-e", "rollback_chart=nginx")
    assert chart.returncode != 0
    assert "rollback_chart=nginx must be one of traefik, cert-manager" in text(chart)
    assert len(rds.describe_db_instances()["DBInstances"]) == before  # nothing restored by a refused run
