"""make rehearse for staging and production: each environment's own inventory and code paths (managed node groups,
Aurora with readers, deletion protection) through converge, a second converge, check mode, destroy and a second
destroy, against a private embedded cloud on loopback. The converged estate is read back for what only those code
paths do."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml

from strata.tools import cloud, rehearse
from tests.helpers import REGION, ROOT, free_port

pytestmark = pytest.mark.integration


class Rehearsed:
    def __init__(self, result: rehearse.Rehearsal, seen: dict[str, Any], printed: str) -> None:
        self.result, self.seen, self.printed = result, seen, printed


def read_back(env: str, endpoint: str) -> dict[str, Any]:
    """What the converged estate holds, read with boto3 before the rehearsal destroys it."""

    def client(service: str) -> Any:
        return boto3.client(service, region_name=REGION, endpoint_url=endpoint)

    name = f"strata-{env}"
    ec2, eks, rds = client("ec2"), client("eks"), client("rds")
    groups = {
        g["GroupName"]: g["GroupId"]
        for g in ec2.describe_security_groups(Filters=[{"Name": "tag:env", "Values": [env]}])["SecurityGroups"]
    }
    nodegroups = {}
    for group in eks.list_nodegroups(clusterName=name)["nodegroups"]:
        described = eks.describe_nodegroup(clusterName=name, nodegroupName=group)["nodegroup"]
        template = described.get("launchTemplate") or {}
        versions = ec2.describe_launch_template_versions(LaunchTemplateName=template["name"], Versions=["$Latest"])
        data = versions["LaunchTemplateVersions"][0]["LaunchTemplateData"]
        nodegroups[group] = {"security_groups": data.get("SecurityGroupIds", []), "template": template["name"]}
    clusters = rds.describe_db_clusters()["DBClusters"]
    instances = rds.describe_db_instances()["DBInstances"]
    iam = client("iam")
    policies = {
        role: {p: iam.get_role_policy(RoleName=role, PolicyName=p)["PolicyDocument"]
               for p in iam.list_role_policies(RoleName=role)["PolicyNames"]}
        for role in (f"{name}-catalog", f"{name}-catalog-migrate")
    }  # fmt: skip
    monitor = client("secretsmanager").describe_secret(SecretId=f"{name}/monitor")["ARN"]
    return {
        "policies": policies,
        "monitor_secret": monitor,
        "groups": groups,
        "nodegroups": nodegroups,
        "clusters": clusters,
        "instances": instances,
        "cluster_version": eks.describe_cluster(name=name)["cluster"]["version"],
    }


@pytest.fixture(scope="module", params=rehearse.ENVS)
def rehearsed(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rehearsed]:
    env = str(request.param)
    work = tmp_path_factory.mktemp(f"rehearse-{env}")
    port = free_port()
    cloud.start(port, work / "cloud")
    seen: dict[str, Any] = {}
    printed: list[str] = []
    try:
        result = rehearse.rehearse(
            env,
            port,
            work,
            log=work / "rehearsal.log",
            out=printed.append,
            inspect=lambda endpoint: seen.update(read_back(env, endpoint)),
        )
        yield Rehearsed(result, seen, "\n".join(printed))
    finally:
        cloud.stop(work / "cloud")


def log_tail(r: Rehearsed) -> str:
    log = r.result.log
    return rehearse.report(r.result) + ("\n" + Path(log).read_text()[-6000:] if log and Path(log).exists() else "")


def test_every_step_holds(rehearsed: Rehearsed) -> None:
    """Check mode on the empty cloud creates nothing; converge; again with changed=0; check mode changed=0; destroy;
    again with changed=0; nothing tagged left."""
    names = [s.name for s in rehearsed.result.steps]
    assert names[:5] == [
        "check mode, empty cloud", "check mode created nothing", "converge", "second converge", "check mode, converged"
    ]  # fmt: skip
    assert names[-3:] == ["destroy", "second destroy", "nothing tagged left"]
    assert rehearsed.result.ok, log_tail(rehearsed)


def test_it_prints_the_summary_make_up_prints(rehearsed: Rehearsed) -> None:
    env = rehearsed.result.env
    assert f"EKS cluster strata-{env} " in rehearsed.printed
    assert f"private zone {env}.strata.internal" in rehearsed.printed
    assert f"Embedded cloud endpoint: {rehearsed.result.endpoint}" in rehearsed.printed


def test_it_announces_what_the_embedded_cloud_cannot_serve(rehearsed: Rehearsed) -> None:
    text = " ".join(Path(rehearsed.result.log or "").read_text().split())
    assert f"REHEARSAL of env={rehearsed.result.env} against {rehearsed.result.endpoint}" in text
    for api in ("CreateAddon", "CreateAccessEntry", "CreateBackupSelection"):
        assert api in text
    assert "SKIPPED, not emulated: EKS add-ons" in text


def test_managed_node_groups_carry_the_app_and_cluster_security_groups(rehearsed: Rehearsed) -> None:
    """A launch template that names no security group leaves managed nodes with the cluster's only: the database
    (5432 from the db-clients group) and the bastion's SSH rule would not reach them. The database's clients (app,
    metrics) carry the db-clients group, the others do not."""
    env = rehearsed.result.env
    nodegroups = rehearsed.seen["nodegroups"]
    assert sorted(nodegroups) == ["app", "db", "logs", "metrics"]
    app_sg = rehearsed.seen["groups"][f"strata-{env}-app"]
    clients_sg = rehearsed.seen["groups"][f"strata-{env}-db-clients"]
    for name, group in nodegroups.items():
        assert app_sg in group["security_groups"], (name, group)
        assert (clients_sg in group["security_groups"]) is (name in ("app", "metrics")), (name, group)


def test_the_cluster_runs_the_environments_kubernetes_version(rehearsed: Rehearsed) -> None:
    env_yml = ROOT / "inventories" / rehearsed.result.env / "group_vars/all/env.yml"
    assert rehearsed.seen["cluster_version"] == yaml.safe_load(env_yml.read_text())["strata_kubernetes_version"]


def test_the_service_and_its_migration_are_scoped_to_the_environments_database(rehearsed: Rehearsed) -> None:
    """IAM database authentication names the instance's DbiResourceId, or Aurora's cluster DbClusterResourceId (the
    cluster's endpoints and members all answer to it); the migration reads that database's secrets only."""
    env = rehearsed.result.env
    name = f"strata-{env}"
    seen = rehearsed.seen
    if env == "production":
        (db,) = [c for c in seen["clusters"] if c["DBClusterIdentifier"] == name]
        resource = db["DbClusterResourceId"]
    else:
        (db,) = [i for i in seen["instances"] if i["DBInstanceIdentifier"] == name]
        resource = db["DbiResourceId"]
    account = db["MasterUserSecret"]["SecretArn"].split(":")[4]
    login = seen["policies"][f"{name}-catalog"]
    assert list(login) == [f"{name}-database-login"]
    (connect,) = login[f"{name}-database-login"]["Statement"]
    assert connect["Resource"] == [f"arn:aws:rds-db:{REGION}:{account}:dbuser:{resource}/catalog_app"]
    secrets = seen["policies"][f"{name}-catalog-migrate"]
    assert list(secrets) == [f"{name}-database-secrets"]
    read, _decrypt = secrets[f"{name}-database-secrets"]["Statement"]
    assert read["Resource"] == [db["MasterUserSecret"]["SecretArn"], seen["monitor_secret"]]


def test_the_database_is_the_environments_own(rehearsed: Rehearsed) -> None:
    env = rehearsed.result.env
    if env == "production":
        (cluster,) = [c for c in rehearsed.seen["clusters"] if c["DBClusterIdentifier"] == f"strata-{env}"]
        assert cluster["Engine"] == "aurora-postgresql" and cluster["DeletionProtection"] is True
        assert cluster["BackupRetentionPeriod"] == 30
        members = cluster["DBClusterMembers"]
        assert sum(m["IsClusterWriter"] for m in members) == 1 and len(members) == 3  # a writer, two readers
        steps = [s.name for s in rehearsed.result.steps]
        assert "destroy refused (protected)" in steps and "protection off" in steps
    else:
        (instance,) = [i for i in rehearsed.seen["instances"] if i["DBInstanceIdentifier"] == f"strata-{env}"]
        assert instance["Engine"] == "postgres" and instance["MultiAZ"] is True
        assert instance["BackupRetentionPeriod"] == 7
