"""The contract, end to end: `make up`, a second run and check mode with nothing changed,
the topology read back from the embedded cloud, then `make destroy` / `make down` leaving
nothing behind. The tests of this module run in order and share one embedded cloud.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import signal
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import psycopg
import pytest
import yaml

from strata.domain import fleet
from strata.tools import cloud, docs
from tests.helpers import REGION, ROOT, Background, Run, free_port, port_is_free, run, steady_load, venv_env

# The environment's Kubernetes version (inventories/local/group_vars/all/env.yml): the cluster runs it.
KUBERNETES_VERSION = yaml.safe_load((ROOT / "inventories/local/group_vars/all/env.yml").read_text())[
    "strata_kubernetes_version"
]

pytestmark = pytest.mark.integration

TIERS = {"public": "10.6", "app": "10.4", "database": "10.2", "admin": "10.0"}
ZONES = ["eu-west-3a", "eu-west-3b", "eu-west-3c"]


class Lab:
    def __init__(self, port: int, state: Path) -> None:
        self.port = port
        self.state = state
        self.endpoint = cloud.endpoint_url(port)
        # On the default port, the second run below needs no variable at all; on another
        # port (a developer's own `make up` holds 5055), only STRATA_CLOUD_PORT is set.
        self.extra = {} if port == cloud.DEFAULT_PORT else {"STRATA_CLOUD_PORT": str(port)}
        # The SSH lab's keys and known_hosts live beside the cloud's state, not in the clone.
        self.lab_state = state / "lab"
        self.extra["STRATA_LAB_STATE"] = str(self.lab_state)
        # The runtime (PostgreSQL, the service, Traefik, Prometheus) too, on its default ports when they are free.
        self.runtime_state = state / "runtime"
        defaults = yaml.safe_load((ROOT / "roles/runtime/defaults/main.yml").read_text())["runtime_ports"]
        flat = [p for v in defaults.values() for p in (v if isinstance(v, list) else [v])]
        self.runtime_ports = (
            defaults
            if all(port_is_free(p) for p in flat)
            else {k: [free_port() for _ in v] if isinstance(v, list) else free_port() for k, v in defaults.items()}
        )
        self.runtime_env = {"STRATA_RUNTIME_STATE": str(self.runtime_state)}
        if self.runtime_ports != defaults:
            self.runtime_env["STRATA_RUNTIME_PORTS"] = json.dumps(self.runtime_ports)
        self.ec2 = boto3.client("ec2", region_name=REGION, endpoint_url=self.endpoint)
        self.up_output = ""
        self.password = ""
        self.check: Background | None = None

    def make_env(self, **extra: str) -> dict[str, str]:
        """What a user's shell would hold for this lab: its cloud, lab and runtime folders and ports."""
        return venv_env(
            STRATA_CLOUD_PORT=str(self.port),
            STRATA_CLOUD_STATE=str(self.state),
            STRATA_LAB_STATE=str(self.lab_state),
            **self.runtime_env,
            **extra,
        )

    def make(self, target: str, **extra: str) -> Run:
        return run(["make", target], self.make_env(**extra))

    def runtime_argv(self, *args: str) -> list[str]:
        ports = ["-e", json.dumps({"runtime_ports": self.runtime_ports})]
        state = ["-e", f"runtime_state_dir={self.runtime_state}"]
        return [
            str(ROOT / ".venv/bin/ansible-playbook"),
            "playbooks/runtime.yml",
            "-e",
            "env=local",
            *state,
            *ports,
            *args,
        ]

    def runtime_playbook(self, *args: str) -> Run:
        return run(self.runtime_argv(*args), venv_env(**self.extra))

    @property
    def runtime(self) -> dict[str, Any]:
        manifest: dict[str, Any] = json.loads((self.runtime_state / "runtime.json").read_text())
        return manifest

    def playbook(self, *args: str) -> Run:
        return run([str(ROOT / ".venv/bin/ansible-playbook"), *args], venv_env(**self.extra))

    def ansible(self, *args: str) -> Run:
        return run([str(ROOT / ".venv/bin/ansible"), "-i", "inventories/local", *args], venv_env(**self.extra))

    def ops(self, name: str, *args: str) -> Run:
        return self.playbook("-i", "inventories/local", f"playbooks/ops/{name}.yml", *args)

    def lab_hosts(self) -> list[dict[str, Any]]:
        state = json.loads((self.lab_state / "lab.json").read_text())
        return [{**h, **m} for h, m in zip(state["hosts"], state["members"], strict=True)]

    def ssh(self, address: str, *args: str, user: str = "ec2-user") -> Run:
        """A plain ssh from the controller with the lab's key, strict host key checking."""
        key, known = self.lab_state / "id_ed25519", self.lab_state / "known_hosts"
        options = ["-o", "BatchMode=yes", "-o", "ConnectTimeout=5", "-o", "StrictHostKeyChecking=yes"]
        options += ["-o", f"UserKnownHostsFile={known}", "-i", str(key)]
        return run(["ssh", *options, *args, f"{user}@{address}", "true"], venv_env())

    def owned(self, call: str, key: str, **filters: Any) -> list[dict[str, Any]]:
        wanted = [{"Name": "tag:managed-by", "Values": ["strata"]}, {"Name": "tag:env", "Values": ["local"]}]
        # tag_tier=... -> tag:tier, vpc_id=... -> vpc-id
        names = {k: "tag:" + k[4:] if k.startswith("tag_") else k.replace("_", "-") for k in filters}
        wanted += [{"Name": names[k], "Values": v} for k, v in filters.items()]
        return list(getattr(self.ec2, call)(Filters=wanted)[key])


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    port = cloud.DEFAULT_PORT if port_is_free(cloud.DEFAULT_PORT) else free_port()
    lab = Lab(port, tmp_path_factory.mktemp("cloud"))
    assert docs.local_commands()[0] == "make up", "docs/getting-started.md must start with the command run here"
    # -vvv: the first run is the one that creates the database, so its output is the one
    # that would show a password if anything leaked it.
    up = lab.make("up", ANSIBLE_VERBOSITY="3")
    assert up.returncode == 0, up.output[-4000:]
    lab.up_output = up.output
    try:
        yield lab
    finally:
        # After a failed test too (make destroy has usually done both already).
        lab.runtime_playbook("-e", "runtime_state=absent")
        lab.make("lab-down")
        cloud.stop(lab.state)


def tags(resource: dict[str, Any]) -> dict[str, str]:
    return fleet.tags_of(resource)


def test_make_up_prints_the_topology_and_the_endpoint(lab: Lab) -> None:
    out = lab.up_output
    assert f"Embedded cloud endpoint: {lab.endpoint}" in out
    assert "strata-local: primary 10.0.0.0/22, secondary 10.2.0.0/22, 10.4.0.0/22, 10.6.0.0/22" in out
    assert "subnets app      eu-west-3a 10.4.1.0/24, eu-west-3b 10.4.2.0/24, eu-west-3c 10.4.3.0/24" in out
    assert out.count("NAT gateway nat-") == 3
    assert f"EKS cluster strata-local {KUBERNETES_VERSION} (ACTIVE)" in out
    assert "node group app      3 instance(s): eu-west-3a, eu-west-3b, eu-west-3c" in out
    assert "database strata-local postgres multi-AZ=True" in out
    assert "private zone local.strata.internal" in out


def test_vpc_blocks_dns_and_tags(lab: Lab) -> None:
    (vpc,) = lab.owned("describe_vpcs", "Vpcs")
    assert vpc["CidrBlock"] == "10.0.0.0/22"
    blocks = sorted(
        a["CidrBlock"] for a in vpc["CidrBlockAssociationSet"] if a["CidrBlockState"]["State"] == "associated"
    )
    assert blocks == ["10.0.0.0/22", "10.2.0.0/22", "10.4.0.0/22", "10.6.0.0/22"]
    for attribute in ("enableDnsSupport", "enableDnsHostnames"):
        key = attribute[0].upper() + attribute[1:]
        assert lab.ec2.describe_vpc_attribute(VpcId=vpc["VpcId"], Attribute=attribute)[key]["Value"] is True
    assert tags(vpc) == {"Name": "strata-local", "managed-by": "strata", "env": "local", "project": "strata"}


def test_subnets_per_tier_and_zone(lab: Lab) -> None:
    subnets = lab.owned("describe_subnets", "Subnets")
    assert len(subnets) == 12
    seen = {(tags(s)["tier"], s["AvailabilityZone"]): s for s in subnets}
    for tier, prefix in TIERS.items():
        for index, zone in enumerate(ZONES, start=1):
            subnet = seen[(tier, zone)]
            assert subnet["CidrBlock"] == f"{prefix}.{index}.0/24"
            assert tags(subnet)["zone"] == zone
            assert tags(subnet)["Name"] == f"strata-local-{tier}-{zone[-1]}"
            assert subnet["MapPublicIpOnLaunch"] is False
            assert (tags(subnet).get("kubernetes.io/role/elb") == "1") is (tier == "public")
            assert (tags(subnet).get("kubernetes.io/role/internal-elb") == "1") is (tier == "app")


def test_one_nat_gateway_with_a_tagged_eip_per_public_subnet(lab: Lab) -> None:
    public = {
        s["SubnetId"]: s["AvailabilityZone"] for s in lab.owned("describe_subnets", "Subnets", tag_tier=["public"])
    }
    nats = lab.owned("describe_nat_gateways", "NatGateways", state=["available"])
    assert sorted(public[n["SubnetId"]] for n in nats) == ZONES
    allocations = {a["AllocationId"] for n in nats for a in n["NatGatewayAddresses"]}
    eips = lab.owned("describe_addresses", "Addresses")
    assert {e["AllocationId"] for e in eips} == allocations and len(allocations) == 3


def test_routes_per_zone(lab: Lab) -> None:
    subnets = {s["SubnetId"]: s for s in lab.owned("describe_subnets", "Subnets")}
    nat_zone = {
        n["NatGatewayId"]: subnets[n["SubnetId"]]["AvailabilityZone"]
        for n in lab.owned("describe_nat_gateways", "NatGateways", state=["available"])
    }
    (igw,) = lab.owned("describe_internet_gateways", "InternetGateways")
    tables = lab.owned("describe_route_tables", "RouteTables")
    assert len(tables) == 10  # one public + one per private tier and zone
    routed = Counter()
    for table in tables:
        default = [r for r in table["Routes"] if r.get("DestinationCidrBlock") == "0.0.0.0/0"]
        assert len(default) == 1, table
        for assoc in table["Associations"]:
            if assoc.get("Main"):
                continue
            subnet = subnets[assoc["SubnetId"]]
            tier = tags(subnet)["tier"]
            routed[tier] += 1
            if tier == "public":
                assert default[0]["GatewayId"] == igw["InternetGatewayId"]
            else:
                assert nat_zone[default[0]["NatGatewayId"]] == subnet["AvailabilityZone"]
    assert routed == {"public": 3, "app": 3, "database": 3, "admin": 3}


def test_network_acls_of_database_and_admin(lab: Lab) -> None:
    acls = {tags(a)["tier"]: a for a in lab.owned("describe_network_acls", "NetworkAcls")}
    assert set(acls) == {"database", "admin"}
    subnets = {s["SubnetId"]: tags(s)["tier"] for s in lab.owned("describe_subnets", "Subnets")}
    for tier, acl in acls.items():
        assert sorted(subnets[a["SubnetId"]] for a in acl["Associations"]) == [tier] * 3

    def entries(tier: str, egress: bool) -> dict[int, tuple[str, str, int, int]]:
        return {
            e["RuleNumber"]: (e["RuleAction"], e["CidrBlock"], e["PortRange"]["From"], e["PortRange"]["To"])
            for e in acls[tier]["Entries"]
            if e["Egress"] is egress and e["RuleNumber"] < 32767
        }

    assert entries("database", egress=False) == {
        100: ("allow", "10.4.0.0/22", 5432, 5432),
        190: ("deny", "0.0.0.0/0", 5432, 5432),
        200: ("allow", "0.0.0.0/0", 1024, 65535),
    }
    assert entries("database", egress=True)[100] == ("allow", "10.4.0.0/22", 1024, 65535)
    assert entries("admin", egress=False) == {
        100: ("allow", "10.6.0.0/22", 22, 22),
        200: ("allow", "0.0.0.0/0", 1024, 65535),
    }


def test_security_groups_least_privilege(lab: Lab) -> None:
    groups = {g["GroupName"]: g for g in lab.owned("describe_security_groups", "SecurityGroups")}
    assert set(groups) == {f"strata-local-{n}" for n in ("bastion", "app", "database", "endpoints")}
    bastion, app, database = (groups[f"strata-local-{n}"] for n in ("bastion", "app", "database"))

    (ssh,) = bastion["IpPermissions"]
    assert (ssh["IpProtocol"], ssh["FromPort"], ssh["ToPort"]) == ("tcp", 22, 22)
    assert [r["CidrIp"] for r in ssh["IpRanges"]] == ["192.0.2.0/24"]

    (db,) = database["IpPermissions"]
    assert (db["IpProtocol"], db["FromPort"], db["ToPort"]) == ("tcp", 5432, 5432)
    assert db["IpRanges"] == []
    assert [p["GroupId"] for p in db["UserIdGroupPairs"]] == [app["GroupId"]]
    assert database["IpPermissionsEgress"] == []

    app_ssh = [p for p in app["IpPermissions"] if p.get("FromPort") == 22]
    assert [g["GroupId"] for p in app_ssh for g in p["UserIdGroupPairs"]] == [bastion["GroupId"]]
    assert all(not any(r["CidrIp"] == "0.0.0.0/0" for r in p["IpRanges"]) for p in app["IpPermissions"])


def test_vpc_endpoints(lab: Lab) -> None:
    endpoints = {e["ServiceName"]: e for e in lab.owned("describe_vpc_endpoints", "VpcEndpoints")}
    s3 = endpoints.pop(f"com.amazonaws.{REGION}.s3")
    assert s3["VpcEndpointType"] == "Gateway"
    assert len(s3["RouteTableIds"]) == 10
    assert sorted(endpoints) == [f"com.amazonaws.{REGION}.{s}" for s in ("ecr.api", "ecr.dkr", "logs", "sts")]
    app_subnets = {s["SubnetId"] for s in lab.owned("describe_subnets", "Subnets", tag_tier=["app"])}
    for endpoint in endpoints.values():
        assert endpoint["VpcEndpointType"] == "Interface"
        assert set(endpoint["SubnetIds"]) == app_subnets


def test_flow_logs_to_a_log_group_through_a_scoped_role(lab: Lab) -> None:
    (vpc,) = lab.owned("describe_vpcs", "Vpcs")
    (flow_log,) = lab.ec2.describe_flow_logs(Filters=[{"Name": "resource-id", "Values": [vpc["VpcId"]]}])["FlowLogs"]
    assert (flow_log["TrafficType"], flow_log["LogDestinationType"]) == ("ALL", "cloud-watch-logs")
    assert flow_log["LogGroupName"] == "/strata-local/vpc-flow-logs"
    assert flow_log["MaxAggregationInterval"] == 60
    assert tags(flow_log)["managed-by"] == "strata"
    logs = boto3.client("logs", region_name=REGION, endpoint_url=lab.endpoint)
    (group,) = logs.describe_log_groups(logGroupNamePrefix="/strata-local/vpc-flow-logs")["logGroups"]
    assert group["retentionInDays"] == 30
    iam = boto3.client("iam", region_name=REGION, endpoint_url=lab.endpoint)
    role = iam.get_role(RoleName="strata-local-vpc-flow-logs")["Role"]
    assert flow_log["DeliverLogsPermissionArn"] == role["Arn"]
    (statement,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "vpc-flow-logs.amazonaws.com"}
    account = role["Arn"].split(":")[4]
    assert statement["Condition"]["StringEquals"] == {"aws:SourceAccount": account}
    assert statement["Condition"]["ArnLike"] == {"aws:SourceArn": f"arn:aws:ec2:{REGION}:{account}:vpc-flow-log/*"}
    policy = iam.get_role_policy(RoleName="strata-local-vpc-flow-logs", PolicyName="deliver-to-log-group")
    write = policy["PolicyDocument"]["Statement"][0]
    assert write["Resource"][0].endswith(":log-group:/strata-local/vpc-flow-logs")


def test_kms_keys_one_per_purpose_with_rotation(lab: Lab) -> None:
    kms = boto3.client("kms", region_name=REGION, endpoint_url=lab.endpoint)
    for purpose in ("eks", "database", "storage", "backup"):
        key = kms.describe_key(KeyId=f"alias/strata-local-{purpose}")["KeyMetadata"]
        assert key["KeyState"] == "Enabled" and key["KeyManager"] == "CUSTOMER"
        assert kms.get_key_rotation_status(KeyId=key["KeyId"])["KeyRotationEnabled"] is True


def test_eks_cluster_private_encrypted_logged_in_the_app_subnets(lab: Lab) -> None:
    eks = boto3.client("eks", region_name=REGION, endpoint_url=lab.endpoint)
    cluster = eks.describe_cluster(name="strata-local")["cluster"]
    assert cluster["status"] == "ACTIVE" and cluster["version"] == KUBERNETES_VERSION
    app_subnets = {s["SubnetId"] for s in lab.owned("describe_subnets", "Subnets", tag_tier=["app"])}
    vpc = cluster["resourcesVpcConfig"]
    assert set(vpc["subnetIds"]) == app_subnets and len(app_subnets) == 3
    assert (vpc["endpointPrivateAccess"], vpc["endpointPublicAccess"]) == (True, False)
    kms = boto3.client("kms", region_name=REGION, endpoint_url=lab.endpoint)
    key_arn = kms.describe_key(KeyId="alias/strata-local-eks")["KeyMetadata"]["Arn"]
    assert cluster["encryptionConfig"] == [{"resources": ["secrets"], "provider": {"keyArn": key_arn}}]
    enabled = {t for entry in cluster["logging"]["clusterLogging"] if entry["enabled"] for t in entry["types"]}
    assert enabled == {"api", "audit", "authenticator", "controllerManager", "scheduler"}
    assert cluster["tags"]["managed-by"] == "strata" and cluster["tags"]["env"] == "local"
    iam = boto3.client("iam", region_name=REGION, endpoint_url=lab.endpoint)
    assert cluster["roleArn"] == iam.get_role(RoleName="strata-local-cluster")["Role"]["Arn"]
    attached = iam.list_attached_role_policies(RoleName="strata-local-cluster")["AttachedPolicies"]
    assert [p["PolicyName"] for p in attached] == ["AmazonEKSClusterPolicy"]
    issuer = cluster["identity"]["oidc"]["issuer"].removeprefix("https://")
    providers = [p["Arn"] for p in iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]]
    assert any(arn.endswith(f":oidc-provider/{issuer}") for arn in providers)
    trust = iam.get_role(RoleName="strata-local-ebs-csi")["Role"]["AssumeRolePolicyDocument"]["Statement"][0]
    assert (
        trust["Condition"]["StringEquals"][f"{issuer}:sub"] == "system:serviceaccount:kube-system:ebs-csi-controller-sa"
    )
    # The workloads' roles (IRSA): each trusts only its service account and carries one inline policy.
    for name, subject in (("catalog", "local:catalog"), ("cluster-autoscaler", "kube-system:cluster-autoscaler"),
                          ("velero", "velero:velero")):  # fmt: skip
        role = iam.get_role(RoleName=f"strata-local-{name}")["Role"]
        condition = role["AssumeRolePolicyDocument"]["Statement"][0]["Condition"]["StringEquals"]
        assert condition == {f"{issuer}:sub": f"system:serviceaccount:{subject}", f"{issuer}:aud": "sts.amazonaws.com"}
        assert iam.list_role_policies(RoleName=f"strata-local-{name}")["PolicyNames"] == [f"strata-local-{name}"]
        assert iam.list_attached_role_policies(RoleName=f"strata-local-{name}")["AttachedPolicies"] == []
    statement = iam.get_role_policy(RoleName="strata-local-catalog", PolicyName="strata-local-catalog")
    (read,) = statement["PolicyDocument"]["Statement"]
    assert read["Resource"].startswith("arn:aws:secretsmanager:eu-west-3:") and read["Resource"].endswith(
        ":secret:rds!*"
    )


def test_site_reports_the_kubernetes_parts_skipped_without_a_cluster(lab: Lab) -> None:
    text = " ".join(lab.up_output.split())
    assert "SKIPPED, no cluster: no cluster configured for env=local" in text
    assert "Render them offline with -e k8s_render_dir=DIR" in text


def test_node_groups_have_one_instance_per_zone_behind_imdsv2_templates(lab: Lab) -> None:
    autoscaling = boto3.client("autoscaling", region_name=REGION, endpoint_url=lab.endpoint)
    app_subnets = {s["SubnetId"] for s in lab.owned("describe_subnets", "Subnets", tag_tier=["app"])}
    for group in ("app", "db", "logs", "metrics"):
        (asg,) = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[f"strata-local-{group}"])[
            "AutoScalingGroups"
        ]
        asg_tags = {t["Key"]: t["Value"] for t in asg["Tags"]}
        assert asg_tags["kubernetes.io/cluster/strata-local"] == "owned"
        assert asg_tags["eks:nodegroup-name"] == group
        assert asg_tags["k8s.io/cluster-autoscaler/node-template/label/strata.io/nodegroup"] == group
        assert set(asg["VPCZoneIdentifier"].split(",")) == app_subnets
        instances = lab.ec2.describe_instances(InstanceIds=[i["InstanceId"] for i in asg["Instances"]])
        placed = sorted(
            (i["Placement"]["AvailabilityZone"], i["SubnetId"] in app_subnets, tags(i)["role"])
            for r in instances["Reservations"]
            for i in r["Instances"]
        )
        assert placed == [(zone, True, group) for zone in ZONES]
        (version,) = lab.ec2.describe_launch_template_versions(
            LaunchTemplateName=f"strata-local-{group}", Versions=["$Latest"]
        )["LaunchTemplateVersions"]
        data = version["LaunchTemplateData"]
        assert data["MetadataOptions"]["HttpTokens"] == "required"
        assert data["BlockDeviceMappings"][0]["Ebs"]["Encrypted"] is True
        assert version["VersionNumber"] == 1  # a second run added no version
    assert "SKIPPED, not emulated: EKS add-ons" in lab.up_output
    assert "SKIPPED, not emulated: EKS access entries" in lab.up_output


def test_database_multi_az_private_encrypted_backed_up_with_its_secret(lab: Lab) -> None:
    rds = boto3.client("rds", region_name=REGION, endpoint_url=lab.endpoint)
    (db,) = rds.describe_db_instances(DBInstanceIdentifier="strata-local")["DBInstances"]
    assert (db["Engine"], db["MultiAZ"], db["PubliclyAccessible"]) == ("postgres", True, False)
    kms = boto3.client("kms", region_name=REGION, endpoint_url=lab.endpoint)
    key_arn = kms.describe_key(KeyId="alias/strata-local-database")["KeyMetadata"]["Arn"]
    assert db["StorageEncrypted"] is True and db["KmsKeyId"] == key_arn
    assert (db["BackupRetentionPeriod"], db["PreferredBackupWindow"]) == (7, "02:00-03:00")
    assert db["PreferredMaintenanceWindow"] == "sun:03:30-sun:04:30"
    assert db["IAMDatabaseAuthenticationEnabled"] is True and db["DeletionProtection"] is False
    assert db["MonitoringInterval"] == 60 and db["MonitoringRoleArn"].endswith(":role/strata-local-rds-monitoring")
    database_subnets = lab.owned("describe_subnets", "Subnets", tag_tier=["database"])
    group = db["DBSubnetGroup"]
    assert {s["SubnetIdentifier"] for s in group["Subnets"]} == {s["SubnetId"] for s in database_subnets}
    assert sorted(s["SubnetAvailabilityZone"]["Name"] for s in group["Subnets"]) == ZONES
    (sg,) = lab.owned("describe_security_groups", "SecurityGroups", group_name=["strata-local-database"])
    assert [g["VpcSecurityGroupId"] for g in db["VpcSecurityGroups"]] == [sg["GroupId"]]
    parameters = rds.describe_db_parameters(DBParameterGroupName="strata-local-postgres16")["Parameters"]
    assert {p["ParameterName"]: p.get("ParameterValue") for p in parameters}["rds.force_ssl"] == "1"
    secret = db["MasterUserSecret"]
    assert secret["KmsKeyId"] == key_arn
    secrets = boto3.client("secretsmanager", region_name=REGION, endpoint_url=lab.endpoint)
    assert secrets.describe_secret(SecretId=secret["SecretArn"])["ARN"] == secret["SecretArn"]


def test_the_database_password_never_appears_in_any_output(lab: Lab) -> None:
    rds = boto3.client("rds", region_name=REGION, endpoint_url=lab.endpoint)
    (db,) = rds.describe_db_instances(DBInstanceIdentifier="strata-local")["DBInstances"]
    secrets = boto3.client("secretsmanager", region_name=REGION, endpoint_url=lab.endpoint)
    password = json.loads(secrets.get_secret_value(SecretId=db["MasterUserSecret"]["SecretArn"])["SecretString"])[
        "password"
    ]
    assert "ESTABLISH LOCAL CONNECTION" in lab.up_output  # the first run really was -vvv
    assert password not in lab.up_output
    # The create call's throw-away password is generated inside a no_log task: nothing of
    # the task's arguments is printed, even at -vvv.
    assert "master_user_password" not in lab.up_output
    lab.password = password  # the -vvv second run below is searched for it too


def test_one_bastion_in_a_public_subnet_found_by_its_tags(lab: Lab) -> None:
    found = lab.ec2.describe_instances(
        Filters=[
            {"Name": "tag:role", "Values": ["bastion"]},
            {"Name": "tag:env", "Values": ["local"]},
            {"Name": "instance-state-name", "Values": ["running"]},
        ]
    )["Reservations"]
    (bastion,) = [i for r in found for i in r["Instances"]]
    (subnet,) = lab.ec2.describe_subnets(SubnetIds=[bastion["SubnetId"]])["Subnets"]
    assert tags(subnet)["tier"] == "public"
    assert bastion.get("PublicIpAddress")
    assert [g["GroupName"] for g in bastion["SecurityGroups"]] == ["strata-local-bastion"]
    assert bastion["IamInstanceProfile"]["Arn"].endswith(":instance-profile/strata-local-bastion")
    assert bastion["MetadataOptions"]["HttpTokens"] == "required"


def test_registry_storage_dns_and_backup(lab: Lab) -> None:
    ecr = boto3.client("ecr", region_name=REGION, endpoint_url=lab.endpoint)
    (repo,) = ecr.describe_repositories(repositoryNames=["strata/api"])["repositories"]
    assert repo["imageTagMutability"] == "IMMUTABLE" and repo["imageScanningConfiguration"]["scanOnPush"] is True
    assert repo["encryptionConfiguration"]["encryptionType"] == "KMS"
    rules = json.loads(ecr.get_lifecycle_policy(repositoryName="strata/api")["lifecyclePolicyText"])["rules"]
    assert [r["selection"]["tagStatus"] for r in rules] == ["untagged", "any"]

    s3 = boto3.client("s3", region_name=REGION, endpoint_url=lab.endpoint)
    bucket = "strata-local-artifacts-123456789012"
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    (rule,) = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert all(block.values()) and len(block) == 4
    (deny,) = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])["Statement"]
    assert deny["Effect"] == "Deny" and deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}

    route53 = boto3.client("route53", region_name=REGION, endpoint_url=lab.endpoint)
    (zone,) = [z for z in route53.list_hosted_zones()["HostedZones"] if z["Name"] == "local.strata.internal."]
    assert zone["Config"]["PrivateZone"] is True
    (vpc,) = lab.owned("describe_vpcs", "Vpcs")
    assert [v["VPCId"] for v in route53.get_hosted_zone(Id=zone["Id"])["VPCs"]] == [vpc["VpcId"]]
    records = {
        r["Name"]: (r["Type"], [v["Value"] for v in r["ResourceRecords"]])
        for r in route53.list_resource_record_sets(HostedZoneId=zone["Id"])["ResourceRecordSets"]
    }
    rds = boto3.client("rds", region_name=REGION, endpoint_url=lab.endpoint)
    (db,) = rds.describe_db_instances(DBInstanceIdentifier="strata-local")["DBInstances"]
    assert records["db.local.strata.internal."] == ("CNAME", [db["Endpoint"]["Address"]])
    bastion = lab.ec2.describe_instances(Filters=[{"Name": "tag:role", "Values": ["bastion"]}])["Reservations"]
    private_ip = [i["PrivateIpAddress"] for r in bastion for i in r["Instances"] if i["State"]["Name"] == "running"]
    assert records["bastion.local.strata.internal."] == ("A", private_ip)

    backup = boto3.client("backup", region_name=REGION, endpoint_url=lab.endpoint)
    vault = backup.describe_backup_vault(BackupVaultName="strata-local")
    kms = boto3.client("kms", region_name=REGION, endpoint_url=lab.endpoint)
    assert vault["EncryptionKeyArn"] == kms.describe_key(KeyId="alias/strata-local-backup")["KeyMetadata"]["Arn"]
    (plan,) = [p for p in backup.list_backup_plans()["BackupPlansList"] if p["BackupPlanName"] == "strata-local"]
    (daily,) = backup.get_backup_plan(BackupPlanId=plan["BackupPlanId"])["BackupPlan"]["Rules"]
    assert (daily["TargetBackupVaultName"], daily["Lifecycle"]["DeleteAfterDays"]) == ("strata-local", 35)
    assert "SKIPPED, not emulated: the backup selection of strata-local" in " ".join(lab.up_output.split())


def test_every_subnet_is_inside_a_vpc_block(lab: Lab) -> None:
    (vpc,) = lab.owned("describe_vpcs", "Vpcs")
    blocks = [ipaddress.ip_network(a["CidrBlock"]) for a in vpc["CidrBlockAssociationSet"]]
    for subnet in lab.owned("describe_subnets", "Subnets"):
        assert any(ipaddress.ip_network(subnet["CidrBlock"]).subnet_of(b) for b in blocks)  # type: ignore[arg-type]


def test_second_run_with_only_the_venv_changes_nothing_and_shows_no_secret(lab: Lab) -> None:
    secret = yaml.safe_load((ROOT / "inventories/local/group_vars/all/aws.yml").read_text())["aws_secret_key"]
    # Check mode runs beside the second run (both only read a converged environment; the
    # next test collects it): two cores, half the wall time.
    lab.check = Background([str(ROOT / ".venv/bin/ansible-playbook"), "site.yml", "-e", "env=local", "--check"],
                           venv_env(**lab.extra))  # fmt: skip
    second = lab.playbook("site.yml", "-e", "env=local", "-vvv")
    assert second.returncode == 0, second.output[-4000:]
    assert second.recap["changed"] == 0, second.output[-4000:]
    assert "secret_key: VALUE_SPECIFIED_IN_NO_LOG_PARAMETER" in second.output  # the key was passed...
    assert secret not in second.output  # ...but its value never shown, even at -vvv
    assert lab.password and lab.password not in second.output
    assert "master_user_password" not in second.output


def test_check_mode_on_the_converged_environment_changes_nothing(lab: Lab) -> None:
    check = lab.check.wait() if lab.check else lab.playbook("site.yml", "-e", "env=local", "--check")
    assert check.returncode == 0, check.output[-4000:]
    assert check.recap["changed"] == 0, check.output[-4000:]


def test_ansible_reaches_the_bastion_directly_and_every_node_through_it(lab: Lab) -> None:
    inventory = [str(ROOT / ".venv/bin/ansible-inventory"), "-i", "inventories/local", "--graph"]
    graph = run(inventory, venv_env(**lab.extra))
    assert graph.returncode == 0, graph.output[-3000:]
    for group in ("@bastion:", "@nodes:", "@nodegroup_app:", "@nodegroup_metrics:", "@zone_eu_west_3c:", "@tier_app:"):
        assert group in graph.output
    ping = lab.ansible("all", "-m", "ansible.builtin.ping", "-o")
    assert ping.returncode == 0, ping.output[-3000:]
    hosts = lab.lab_hosts()
    assert len(hosts) == 13 and [h["role"] for h in hosts].count("bastion") == 1
    for host in hosts:
        assert f"{host['role']}-{host['id']} | SUCCESS" in ping.output
    # Each node answered from its own container at its own address.
    names = lab.ansible("nodes", "-m", "ansible.builtin.command", "-a", "hostname -I", "-o")
    assert names.returncode == 0, names.output[-3000:]
    for host in hosts[1:]:
        assert f"{host['role']}-{host['id']} | CHANGED | rc=0 | (stdout) {host['address']}" in names.output


def test_a_node_is_unreachable_from_the_controller_except_through_the_bastion(lab: Lab) -> None:
    bastion, node = lab.lab_hosts()[0], lab.lab_hosts()[1]
    assert lab.ssh(bastion["address"]).returncode == 0
    direct = lab.ssh(node["address"])
    assert direct.returncode == 255 and "port 22" in direct.output, direct.output
    with pytest.raises(OSError):  # the host's blackhole route: not even a SYN leaves
        socket.create_connection((node["address"], 22), timeout=3)
    key, known = lab.lab_state / "id_ed25519", lab.lab_state / "known_hosts"
    hop = f"ssh -W %h:%p -o BatchMode=yes -o UserKnownHostsFile={known} -i {key} ec2-user@{bastion['address']}"
    through = lab.ssh(node["address"], "-o", f"ProxyCommand={hop}")
    assert through.returncode == 0, through.output


def test_the_bastion_refuses_root_and_passwords_and_its_role_is_idempotent(lab: Lab) -> None:
    bastion = lab.lab_hosts()[0]["address"]
    root = lab.ssh(bastion, user="root")
    assert root.returncode == 255 and "Permission denied (publickey)" in root.output
    password = lab.ssh(bastion, "-o", "PubkeyAuthentication=no", "-o", "PreferredAuthentications=password")
    assert password.returncode == 255 and "Permission denied (publickey)" in password.output
    again = lab.playbook("-i", "inventories/local", "playbooks/hosts.yml", "-e", "env=local")
    assert again.returncode == 0, again.output[-3000:]
    assert re.search(r"bastion-i-\w+\s+:\s+ok=\d+\s+changed=0\s+unreachable=0\s+failed=0", again.output), again.output


def test_patch_stops_at_the_batch_of_an_unhealthy_node_and_leaves_the_rest(lab: Lab) -> None:
    apps = sorted((h for h in lab.lab_hosts() if h["role"] == "app"), key=lambda h: f"app-{h['id']}")
    assert len(apps) == 3
    first, sick, last = apps
    podman = ["podman", "exec", sick["container"], "sh", "-c"]
    env = venv_env(CONTAINERS_CONF=str(ROOT / "lab/containers.conf"))
    assert run([*podman, "kill $(cat /run/kubelet-standin.pid)"], env).returncode == 0
    patch = lab.ops("patch", "-e", "target=nodegroup_app", "-e", "patch_health_retries=1", "-e", "patch_health_delay=1")
    assert patch.returncode != 0
    assert f"patch stopped at the batch app-{sick['id']}: app-{sick['id']} failed" in patch.output
    assert "Check the host's health before the next batch" in patch.output
    patched = {}
    for host in apps:
        log = run(["podman", "exec", host["container"], "cat", "/var/log/strata-patch.log"], env)
        patched[host["id"]] = log.returncode == 0 and "patched by strata" in log.output
    assert patched == {first["id"]: True, sick["id"]: True, last["id"]: False}
    assert f"app-{last['id']}" not in patch.output  # never even started


def test_run_collect_ssh_config_and_db_tunnel(lab: Lab, tmp_path: Path) -> None:
    bastion, node = lab.lab_hosts()[0], lab.lab_hosts()[1]
    ran = lab.ops("run", "-e", "target=nodes", "-e", "cmd='cat /etc/hostname'")
    assert ran.returncode == 0, ran.output[-3000:]
    assert len(re.findall(r"changed=1\s+unreachable=0\s+failed=0", ran.output)) == 12
    stat = '{"module_args": {"path": "/etc/ssh"}}'
    module = lab.ops("run", "-e", "target=bastion", "-e", "module=ansible.builtin.stat", "-e", stat)
    assert module.returncode == 0, module.output[-3000:]
    refused = lab.ops("run", "-e", "target=bastion")
    assert refused.returncode != 0 and "give exactly one of -e cmd" in refused.output

    collected = lab.ops("collect", "-e", "target=bastion", "-e", f"collect_dest={tmp_path / 'collect'}")
    assert collected.returncode == 0, collected.output[-3000:]
    facts = json.loads((tmp_path / "collect" / f"bastion-{bastion['id']}" / "facts.json").read_text())
    assert facts["hostname"] == "ip-" + bastion["address"].replace(".", "-")  # the bastion container itself
    assert (tmp_path / "collect" / f"bastion-{bastion['id']}" / "var/log/dpkg.log").is_file()

    config = tmp_path / "ssh" / "config"
    written = lab.ops("ssh-config", "-e", "env=local", "-e", f"ssh_config_dest={config}")
    assert written.returncode == 0, written.output[-3000:]
    hostname = run(["ssh", "-F", str(config), f"{node['role']}-{node['id']}", "cat", "/etc/hostname"], venv_env())
    assert hostname.returncode == 0 and "ip-" + node["address"].replace(".", "-") in hostname.output

    port = free_port()
    tunnel = ["-e", "env=local", "-e", f"db_tunnel_local_port={port}", "-e", f"db_tunnel_control={tmp_path / 'ctl'}"]
    opened = lab.ops("db-tunnel", *tunnel, "-e", f"db_tunnel_host={node['address']}", "-e", "db_tunnel_port=22")
    assert opened.returncode == 0, opened.output[-3000:]
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
            assert conn.recv(8) == b"SSH-2.0-"  # the node's sshd, through the bastion
    finally:
        closed = lab.ops("db-tunnel", *tunnel, "-e", "db_tunnel_state=absent")
    assert closed.returncode == 0 and not (tmp_path / "ctl").exists()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=2)


# --- The runtime (playbooks/runtime.yml, run by make up): the N-tier path for real on this machine. ---


def http(url: str, method: str = "GET", body: dict[str, Any] | None = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def wait_for(predicate: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.5)
    raise AssertionError(f"not within {seconds} s: {what}")


def runtime_pid(lab: Lab, name: str) -> int:
    (pidfile,) = (lab.runtime_state / "run").glob(f"*-{name}.pid")
    return int(pidfile.read_text())


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"


def prometheus(lab: Lab, query: str) -> list[dict[str, Any]]:
    url = f"{lab.runtime['prometheus']}/api/v1/query?" + urllib.parse.urlencode({"query": query})
    status, body = http(url)
    assert status == 200, body
    result: list[dict[str, Any]] = body["data"]["result"]
    return result


def test_make_up_prints_the_runtime_urls_and_keeps_its_passwords_out_of_the_output(lab: Lab) -> None:
    m = lab.runtime
    assert f"API through Traefik  {m['api']}/items" in lab.up_output
    assert f"OpenAPI page         {m['openapi']}" in lab.up_output
    assert f"Prometheus           {m['prometheus']}/targets" in lab.up_output
    secrets = sorted((lab.runtime_state / "secrets").iterdir())
    assert [p.name for p in secrets] == ["catalog_db_password", "pgpass", "postgres", "replicator"]
    for path in secrets:
        assert path.stat().st_mode & 0o077 == 0, path
        if path.name != "pgpass":
            assert len(path.read_text()) == 32 and path.read_text() not in lab.up_output, path.name  # -vvv run
    assert "ESTABLISH LOCAL CONNECTION" in lab.up_output


def test_runtime_second_run_and_check_mode_change_nothing(lab: Lab) -> None:
    check = Background(lab.runtime_argv("--check"), venv_env(**lab.extra))
    second = lab.runtime_playbook()
    checked = check.wait()
    assert second.returncode == 0 and second.recap["changed"] == 0, second.output[-4000:]
    assert checked.returncode == 0 and checked.recap["changed"] == 0, checked.output[-4000:]


def test_a_write_through_traefik_is_read_back_from_the_standby(lab: Lab) -> None:
    api = lab.runtime["api"]
    status, category = http(f"{api}/categories", "POST", {"slug": "lifecycle", "name": "Lifecycle"})
    assert status == 201, category
    body = {"sku": "LIFE-1", "name": "x", "price_cents": 5, "category_id": category["id"]}
    status, item = http(f"{api}/items", "POST", body)
    assert status == 201, item

    password = (lab.runtime_state / "secrets/catalog_db_password").read_text()
    standby = f"host=127.0.0.1 port={lab.runtime['postgres_standby']} dbname=catalog user=catalog password={password}"
    with psycopg.connect(standby, autocommit=True) as conn:
        assert conn.execute("SELECT pg_is_in_recovery()").fetchone() == (True,)  # a hot standby, read-only

        def replicated() -> bool:
            return conn.execute("SELECT sku FROM items WHERE id = %s", (item["id"],)).fetchone() == ("LIFE-1",)

        wait_for(replicated, 10, "the item reaches the standby")

    def checkouts() -> dict[str, float]:
        """Pool checkouts by target, summed over the instances (each /metrics page covers its workers)."""
        line = re.compile(r'^catalog_db_pool_checkouts_total\{target="(\w+)"\} (\S+)$', re.MULTILINE)
        total = {"primary": 0.0, "replica": 0.0}
        for url in lab.runtime["instances"]:
            page = urllib.request.urlopen(f"{url}/metrics", timeout=5).read().decode()  # noqa: S310
            for target, value in line.findall(page):
                total[target] += float(value)
        return total

    # Traefik's health checks (/readyz) take one primary and one replica connection each: they move both counters
    # alike. 20 reads through Traefik must move the replica's 20 further than the primary's.
    before = checkouts()
    for _ in range(20):
        assert http(f"{api}/items/{item['id']}") == (200, item)  # read through Traefik, from the standby
    after = checkouts()
    assert (after["replica"] - before["replica"]) - (after["primary"] - before["primary"]) >= 20, (before, after)


def test_stopping_an_instance_under_load_loses_no_request(lab: Lab) -> None:
    first, second = lab.runtime["instances"][:2]
    pid = runtime_pid(lab, f"catalog-{first.rsplit(':', 1)[1]}")
    try:
        load = steady_load(f"{lab.runtime['api']}/items?limit=5", seconds=30, threads=4,
                           at=(10, lambda: os.kill(pid, signal.SIGTERM)))  # fmt: skip
        assert set(load.statuses) == {200}, load.statuses  # no 5xx, no reset, no refused connection
        assert load.served > 300, load
        assert not pid_alive(pid)
        with pytest.raises(OSError):
            urllib.request.urlopen(f"{first}/healthz", timeout=2)  # noqa: S310 - it is really gone
        log = (lab.runtime_state / "log/traefik-access.log").read_text().splitlines()[-50:]
        assert {json.loads(line)["ServiceURL"] for line in log} == {second}  # Traefik routed around it
    finally:  # the role notices and starts it again (the next tests need it whatever happened here)
        again = lab.runtime_playbook("--tags", "runtime_app")
    assert again.returncode == 0, again.output[-3000:]
    assert again.recap["changed"] == 1, again.output[-3000:]
    assert http(f"{first}/readyz")[0] == 200


def test_readyz_is_503_while_postgres_is_stopped_and_200_after(lab: Lab) -> None:
    instance = lab.runtime["instances"][0]
    primary = runtime_pid(lab, "postgres-primary")
    os.kill(primary, signal.SIGINT)  # PostgreSQL's fast shutdown
    try:
        wait_for(lambda: not pid_alive(primary), 30, "PostgreSQL stops")
        status, body = http(f"{instance}/readyz")
        assert (status, body["database"]) == (503, "unreachable"), body
        assert http(f"{instance}/healthz")[0] == 200  # alive, only not ready
        assert http(f"{instance}/api/v1/items")[0] == 200  # reads go on, from the hot standby
        write = http(f"{instance}/api/v1/categories", "POST", {"slug": "while-down", "name": "x"})
        assert write == (503, {"detail": "database unavailable"})  # writes need the primary: 503, not 500
    finally:  # the next tests need PostgreSQL whatever happened here
        started = lab.runtime_playbook("--tags", "runtime_postgres")
    assert started.returncode == 0, started.output[-3000:]
    assert started.recap["changed"] >= 1
    wait_for(lambda: http(f"{instance}/readyz")[0] == 200, 20, "/readyz back to 200")


def test_prometheus_sees_every_target_up_and_the_request_counter_rising(lab: Lab) -> None:
    def all_up() -> bool:
        up = {(r["metric"]["job"], r["metric"]["instance"]): r["value"][1] for r in prometheus(lab, "up")}
        return len(up) >= 5 and set(up.values()) == {"1"}

    wait_for(all_up, 30, "every target up (catalog x2, traefik, postgres, prometheus)")
    jobs = {r["metric"]["job"] for r in prometheus(lab, "up")}
    assert jobs == {"catalog", "traefik", "postgres", "prometheus"}

    def total() -> float:
        return sum(float(r["value"][1]) for r in prometheus(lab, "catalog_http_requests_total"))

    before = total()
    for _ in range(20):
        http(f"{lab.runtime['api']}/items?limit=1")
    wait_for(lambda: total() >= before + 20, 30, "catalog_http_requests_total rises by the 20 requests")
    _, rules = http(f"{lab.runtime['prometheus']}/api/v1/rules")
    loaded = {r["name"]: r["health"] for g in rules["data"]["groups"] for r in g["rules"]}
    assert {"CatalogInstanceDown", "CatalogHighErrorRate", "CatalogHighLatency", "PostgresDown"} <= set(loaded)
    assert set(loaded.values()) == {"ok"}


def test_bench_reports_throughput_and_latency_through_traefik_and_direct(lab: Lab) -> None:
    """`make bench`'s HTTP part, short, against this runtime: four rows, every request answered 2xx."""
    argv = [str(ROOT / ".venv/bin/python"), "-m", "strata.tools.bench_http", "--runtime", str(lab.runtime_state)]
    result = run([*argv, "--seconds", "2", "--connections", "4"], venv_env(**lab.extra))
    assert result.returncode == 0, result.output[-3000:]
    row = r"^\| ((?:read|write), [^|]+) \| (\d+) \| ([\d.]+) \| ([\d.]+) \| ([\d.]+) \| (\d+) \| ([\d.]+)x \|$"
    rows = re.findall(row, result.output, re.MULTILINE)
    assert [r[0].split(",")[0] for r in rows] == ["read", "read", "write", "write"], result.output
    for name, requests, rps, p50, p99, errors, _ratio in rows:
        assert int(requests) > 0 and float(rps) > 0, name
        assert 0 < float(p50) <= float(p99), name
        assert errors == "0", name
    assert rows[0][6] == "1.00" and rows[2][6] == "1.00"  # each baseline against itself


def test_the_getting_started_commands_work_as_written(lab: Lab) -> None:
    """docs/getting-started.md's local commands, as written but for this runtime's port: `make up` is the fixture's,
    `make down` ends the destroy test below, and `make test` is CI's own command."""
    commands = docs.local_commands()
    assert commands[0] == "make up" and commands[-1] == "make down" and "make test" in commands
    url = f"http://127.0.0.1:{lab.runtime_ports['traefik_web']}"
    for command in commands[1:-1]:
        if command == "make test":
            continue
        result = run(["bash", "-c", command.replace("http://127.0.0.1:8180", url)], lab.make_env())
        assert result.returncode == 0, (command, result.output[-3000:])
        if command.startswith("scripts/smoke.sh"):
            assert result.output.count("ok   ") == 4, result.output


def test_the_staging_checks_pass_against_the_runtime(lab: Lab) -> None:
    """What app.yml runs against staging after a deploy, short, against this runtime through Traefik."""
    url = f"http://127.0.0.1:{lab.runtime_ports['traefik_web']}"
    load = lab.make("load-test", LOAD_URL=url, LOAD_USERS="4", LOAD_TIME="5s")
    assert load.returncode == 0, load.output[-3000:]
    assert re.search(r"load test: [1-9]\d* requests, failure ratio 0\.0000 .*: PASS", load.output), load.output[-3000:]
    dast = lab.make("dast", DAST_URL=url, DAST_EXAMPLES="5")
    assert dast.returncode == 0, dast.output[-3000:]


def test_destroy_leaves_nothing_tagged_and_down_stops_the_cloud(lab: Lab) -> None:
    destroy = lab.make("destroy")
    assert destroy.returncode == 0, destroy.output[-4000:]
    assert "0 resource(s) tagged managed-by=strata env=local remain" in destroy.output
    # The lab went with the instances: no container, namespace, blackhole route or key left.
    assert "lab: removed 13 host(s)" in destroy.output
    # The runtime went too: its folder, its processes, its ports.
    assert not lab.runtime_state.exists()
    ports = [p for v in lab.runtime_ports.values() for p in (v if isinstance(v, list) else [v])]
    assert all(port_is_free(p) for p in ports), ports
    containers = run(
        ["podman", "ps", "-a", "--filter", "label=io.strata.lab", "--format", "{{.Names}}"],
        venv_env(CONTAINERS_CONF=str(ROOT / "lab/containers.conf")),
    )
    assert containers.returncode == 0 and containers.output.strip() == ""
    assert not list(Path("/run/netns").glob("slab-*"))
    assert "blackhole 10." not in run(["ip", "route"], venv_env()).output
    assert not lab.lab_state.exists()
    # Read back independently of the project's own leftovers check.
    for call, key in (
        ("describe_vpcs", "Vpcs"),
        ("describe_subnets", "Subnets"),
        ("describe_route_tables", "RouteTables"),
        ("describe_internet_gateways", "InternetGateways"),
        ("describe_network_acls", "NetworkAcls"),
        ("describe_security_groups", "SecurityGroups"),
        ("describe_addresses", "Addresses"),
    ):
        assert lab.owned(call, key) == [], call
    assert lab.owned("describe_nat_gateways", "NatGateways", state=["pending", "available"]) == []
    assert [e for e in lab.owned("describe_vpc_endpoints", "VpcEndpoints") if e["State"] != "deleted"] == []
    assert [v["VpcId"] for v in lab.ec2.describe_vpcs()["Vpcs"] if not v["IsDefault"]] == []
    assert lab.ec2.describe_flow_logs()["FlowLogs"] == []
    iam = boto3.client("iam", region_name=REGION, endpoint_url=lab.endpoint)
    assert [r["RoleName"] for r in iam.list_roles()["Roles"] if r["RoleName"].startswith("strata-")] == []
    logs = boto3.client("logs", region_name=REGION, endpoint_url=lab.endpoint)
    assert logs.describe_log_groups(logGroupNamePrefix="/strata-local")["logGroups"] == []
    assert logs.describe_log_groups(logGroupNamePrefix="/aws/eks/strata-local")["logGroups"] == []
    eks = boto3.client("eks", region_name=REGION, endpoint_url=lab.endpoint)
    assert eks.list_clusters()["clusters"] == []
    assert iam.list_open_id_connect_providers()["OpenIDConnectProviderList"] == []
    autoscaling = boto3.client("autoscaling", region_name=REGION, endpoint_url=lab.endpoint)
    assert autoscaling.describe_auto_scaling_groups()["AutoScalingGroups"] == []
    live = [
        i["InstanceId"]
        for r in lab.ec2.describe_instances()["Reservations"]
        for i in r["Instances"]
        if i["State"]["Name"] != "terminated"
    ]
    assert live == []
    assert lab.ec2.describe_launch_templates()["LaunchTemplates"] == []
    kms = boto3.client("kms", region_name=REGION, endpoint_url=lab.endpoint)
    # The platform's keys wait out their deletion window (their aliases are gone with them).
    keys = [
        k
        for k in kms.list_keys()["Keys"]
        if "strata" in kms.describe_key(KeyId=k["KeyId"])["KeyMetadata"].get("Description", "")
    ]
    assert len(keys) == 4
    assert {kms.describe_key(KeyId=k["KeyId"])["KeyMetadata"]["KeyState"] for k in keys} == {"PendingDeletion"}

    rds = boto3.client("rds", region_name=REGION, endpoint_url=lab.endpoint)
    assert rds.describe_db_instances()["DBInstances"] == []
    final = [s["DBSnapshotIdentifier"] for s in rds.describe_db_snapshots(SnapshotType="manual")["DBSnapshots"]]
    assert len(final) == 1 and final[0].startswith("strata-local-final-"), final
    assert "Final snapshot kept: strata-local-final-" in destroy.output
    ecr = boto3.client("ecr", region_name=REGION, endpoint_url=lab.endpoint)
    assert ecr.describe_repositories()["repositories"] == []
    s3 = boto3.client("s3", region_name=REGION, endpoint_url=lab.endpoint)
    assert s3.list_buckets()["Buckets"] == []
    route53 = boto3.client("route53", region_name=REGION, endpoint_url=lab.endpoint)
    assert route53.list_hosted_zones()["HostedZones"] == []
    backup = boto3.client("backup", region_name=REGION, endpoint_url=lab.endpoint)
    assert backup.list_backup_plans()["BackupPlansList"] == []
    assert [v["BackupVaultName"] for v in backup.list_backup_vaults()["BackupVaultList"]] == []

    down = lab.make("down")  # destroys again (nothing left: no change), then stops the cloud
    assert down.returncode == 0, down.output[-4000:]
    assert down.recap["changed"] == 0, down.output[-4000:]
    assert "embedded cloud stopped" in down.output
    assert not cloud.is_healthy(lab.port)
    assert not (lab.state / "moto.pid").exists()
