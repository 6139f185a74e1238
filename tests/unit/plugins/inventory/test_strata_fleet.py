"""The fleet inventory plugin against moto's in-process AWS (a real implementation of the
EC2/EKS APIs, no server): grouping, host variables, the bastion hop, caching, several
clusters in one account, stopped instances and the operator-facing errors."""

from __future__ import annotations

import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from ansible.errors import AnsibleParserError
from ansible.inventory.data import InventoryData
from ansible.inventory.helpers import get_group_vars
from ansible.parsing.dataloader import DataLoader
from ansible.plugins.loader import inventory_loader
from botocore.client import BaseClient
from botocore.exceptions import ClientError
from moto import mock_aws
from tests.helpers import ROOT, free_port

REGION = "eu-west-3"
inventory_loader.add_directory(str(ROOT / "plugins" / "inventory"))


class Account:
    """A small account: one VPC, tiered subnets, clusters with node-group instances, bastions."""

    def __init__(self) -> None:
        self.ec2 = boto3.client("ec2", region_name=REGION)
        self.eks = boto3.client("eks", region_name=REGION)
        vpc = self.ec2.create_vpc(CidrBlock="10.4.0.0/16")["Vpc"]["VpcId"]
        self.subnets = {}
        for index, (tier, zone) in enumerate(
            [("app", "a"), ("app", "b"), ("app", "c"), ("public", "a")],
        ):
            subnet = self.ec2.create_subnet(
                VpcId=vpc, CidrBlock=f"10.4.{index + 1}.0/24", AvailabilityZone=f"{REGION}{zone}"
            )["Subnet"]["SubnetId"]
            self.ec2.create_tags(Resources=[subnet], Tags=[{"Key": "tier", "Value": tier}])
            if tier == "public":
                self.ec2.modify_subnet_attribute(SubnetId=subnet, MapPublicIpOnLaunch={"Value": True})
            self.subnets[(tier, zone)] = subnet
        # Any id: moto does not validate AMIs by default, and listing its catalogue costs seconds.
        self.image = "ami-12c6146b"
        self.vpc = vpc

    def cluster(self, name: str) -> None:
        self.eks.create_cluster(
            name=name,
            roleArn="arn:aws:iam::123456789012:role/cluster",
            resourcesVpcConfig={"subnetIds": [self.subnets[("app", z)] for z in "abc"]},
        )

    def launch(
        self, tags: dict[str, str], tier: str = "app", zone: str = "a", count: int = 1, **extra: Any
    ) -> list[str]:
        reservation = self.ec2.run_instances(
            ImageId=self.image,
            InstanceType="m6i.large" if tier == "app" else "t3.micro",
            MinCount=count,
            MaxCount=count,
            SubnetId=self.subnets[(tier, zone)],
            TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}],
            **extra,
        )
        return [i["InstanceId"] for i in reservation["Instances"]]

    def node(self, env: str, group: str, zone: str = "a", count: int = 1) -> list[str]:
        cluster = f"strata-{env}"
        tags = {"env": env, "eks:cluster-name": cluster, "eks:nodegroup-name": group}
        return self.launch({**tags, f"kubernetes.io/cluster/{cluster}": "owned"}, zone=zone, count=count)

    def bastion(self, env: str) -> str:
        return self.launch({"env": env, "role": "bastion", "Name": f"strata-{env}-bastion"}, tier="public")[0]


@pytest.fixture
def account(monkeypatch: pytest.MonkeyPatch) -> Iterator[Account]:
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "STRATA_AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    with mock_aws():
        yield Account()


def parse(tmp_path: Path, refresh: bool = False, **options: Any) -> InventoryData:
    config = {"plugin": "strata_fleet", "env": "staging", **options}
    path = tmp_path / "fleet.strata_fleet.yml"
    path.write_text(yaml.safe_dump(config))
    plugin = inventory_loader.get("strata_fleet")
    assert plugin.verify_file(str(path))
    inventory = InventoryData()
    plugin.parse(inventory, DataLoader(), str(path), cache=not refresh)
    if getattr(plugin, "_cache", None) is not None and plugin.get_option("cache"):
        plugin.update_cache_if_changed()
    return inventory


def groups_of(inventory: InventoryData) -> dict[str, set[str]]:
    return {
        name: {h.name for h in group.get_hosts()}
        for name, group in inventory.groups.items()
        if name not in {"all", "ungrouped"}
    }


def hostvars(inventory: InventoryData, name: str) -> dict[str, Any]:
    """What a play sees from the inventory: the host's groups' variables, then its own."""
    host = inventory.get_host(name)
    return {**get_group_vars(host.get_groups()), **host.get_vars()}


def test_groups_follow_env_cluster_nodegroup_role_zone_and_tier(account: Account, tmp_path: Path) -> None:
    account.cluster("strata-staging")
    app = account.node("staging", "app", "a") + account.node("staging", "app", "b")
    db = account.node("staging", "db", "c")
    bastion = account.bastion("staging")
    groups = groups_of(parse(tmp_path))
    apps, dbs, b = {f"app-{i}" for i in app}, {f"db-{i}" for i in db}, f"bastion-{bastion}"
    assert groups["nodegroup_app"] == groups["role_app"] == apps
    assert groups["nodegroup_db"] == groups["role_db"] == dbs
    assert groups["bastion"] == groups["role_bastion"] == {b}
    assert groups["nodes"] == apps | dbs
    assert groups["env_staging"] == groups["cluster_strata_staging"] == apps | dbs | {b}
    assert groups["zone_eu_west_3a"] == {f"app-{app[0]}", b}
    assert groups["tier_app"] == apps | dbs
    assert groups["tier_public"] == {b}


def test_private_hosts_go_through_the_bastion_which_is_reached_directly(account: Account, tmp_path: Path) -> None:
    account.cluster("strata-staging")
    (node,) = account.node("staging", "app")
    bastion = account.bastion("staging")
    inventory = parse(tmp_path, ssh_private_key_file="/keys/ops", ssh_known_hosts_file="/keys/known_hosts")
    b = hostvars(inventory, f"bastion-{bastion}")
    n = hostvars(inventory, f"app-{node}")
    public = account.ec2.describe_instances(InstanceIds=[bastion])["Reservations"][0]["Instances"][0]
    assert b["ansible_host"] == public["PublicIpAddress"] != public["PrivateIpAddress"]
    assert "ProxyCommand" not in b["ansible_ssh_common_args"]
    assert n["ansible_host"].startswith("10.4.1.")
    assert n["instance_id"] == node and n["nodegroup"] == "app" and n["availability_zone"] == f"{REGION}a"
    assert n["instance_type"] == "m6i.large" and n["instance_state"] == "running" and n["subnet_tier"] == "app"
    assert n["ansible_user"] == "ec2-user" and n["ansible_ssh_private_key_file"] == "/keys/ops"
    args = shlex.split(n["ansible_ssh_common_args"])
    assert "UserKnownHostsFile=/keys/known_hosts" in args and "StrictHostKeyChecking=yes" in args
    (proxy,) = [a for a in args if a.startswith("ProxyCommand=")]
    hop = shlex.split(proxy.split("=", 1)[1])
    assert hop[:3] == ["ssh", "-W", "%h:%p"]
    assert hop[-1] == public["PublicIpAddress"] and hop[-2:-1] == ["ec2-user"]
    assert "ControlMaster=auto" in hop and "-i" in hop and "/keys/ops" in hop


def test_bastion_private_address_and_proxyjump(account: Account, tmp_path: Path) -> None:
    account.cluster("strata-staging")
    (node,) = account.node("staging", "app")
    bastion = account.bastion("staging")
    inventory = parse(tmp_path, bastion_address="private", bastion_hop="proxyjump", remote_user="admin")
    private = account.ec2.describe_instances(InstanceIds=[bastion])["Reservations"][0]["Instances"][0]
    assert hostvars(inventory, f"bastion-{bastion}")["ansible_host"] == private["PrivateIpAddress"]
    args = shlex.split(hostvars(inventory, f"app-{node}")["ansible_ssh_common_args"])
    assert args == ["-o", f"ProxyJump=admin@{private['PrivateIpAddress']}"]


def test_other_clusters_and_environments_do_not_mix(account: Account, tmp_path: Path) -> None:
    for env in ("staging", "production"):
        account.cluster(f"strata-{env}")
        account.node(env, "app", count=2)
        account.bastion(env)
    account.launch({"env": "staging", "Name": "unrelated"})  # no cluster tag: not a node
    inventory = parse(tmp_path)
    hosts = set(inventory.hosts)
    assert len(hosts) == 3
    assert all(hostvars(inventory, h)["env"] == "staging" for h in hosts)
    other = parse(tmp_path, env="production")
    assert len(other.hosts) == 3 and not hosts & set(other.hosts)


def test_stopped_instances_only_on_request_and_terminated_never(account: Account, tmp_path: Path) -> None:
    account.cluster("strata-staging")
    running, stopped, gone = account.node("staging", "app", count=3)
    account.bastion("staging")
    account.ec2.stop_instances(InstanceIds=[stopped])
    account.ec2.terminate_instances(InstanceIds=[gone])
    assert set(groups_of(parse(tmp_path))["nodegroup_app"]) == {f"app-{running}"}
    with_stopped = parse(tmp_path, include_stopped=True)
    assert set(groups_of(with_stopped)["nodegroup_app"]) == {f"app-{running}", f"app-{stopped}"}
    assert hostvars(with_stopped, f"app-{stopped}")["instance_state"] == "stopped"


def test_managed_node_groups_are_followed_through_their_auto_scaling_groups(account: Account, tmp_path: Path) -> None:
    account.cluster("strata-staging")
    account.eks.create_nodegroup(
        clusterName="strata-staging",
        nodegroupName="metrics",
        nodeRole="arn:aws:iam::123456789012:role/node",
        subnets=[account.subnets[("app", "a")]],
    )
    group = account.eks.describe_nodegroup(clusterName="strata-staging", nodegroupName="metrics")["nodegroup"]
    (asg,) = [a["name"] for a in group["resources"]["autoScalingGroups"]]
    # An instance of that group that carries neither the cluster nor the node-group tag.
    (instance,) = account.launch({"aws:autoscaling:groupName": asg, "env": "staging"})
    account.bastion("staging")
    inventory = parse(tmp_path)
    assert groups_of(inventory)["nodegroup_metrics"] == {f"metrics-{instance}"}


def test_keyed_groups_compose_and_groups_work_as_in_aws_ec2(account: Account, tmp_path: Path) -> None:
    account.cluster("strata-staging")
    (node,) = account.node("staging", "app")
    account.bastion("staging")
    inventory = parse(
        tmp_path,
        keyed_groups=[{"key": "instance_type", "prefix": "type"}],
        compose={"node_label": "'strata.io/nodegroup=' ~ nodegroup"},
        groups={"large": "'large' in instance_type"},
    )
    groups = groups_of(inventory)
    assert f"app-{node}" in groups["type_m6i_large"] and groups["large"] == {f"app-{node}"}
    assert hostvars(inventory, f"app-{node}")["node_label"] == "strata.io/nodegroup=app"


def test_cache_serves_the_last_discovery_until_refreshed(account: Account, tmp_path: Path) -> None:
    account.cluster("strata-staging")
    first, second = account.node("staging", "app", count=2)
    account.bastion("staging")
    cache = {"cache": True, "cache_plugin": "jsonfile", "cache_connection": str(tmp_path / "cache")}
    assert len(parse(tmp_path, **cache).hosts) == 3
    assert any((tmp_path / "cache").iterdir())
    account.ec2.terminate_instances(InstanceIds=[second])
    assert f"app-{second}" in parse(tmp_path, **cache).hosts  # served from the cache
    assert f"app-{second}" not in parse(tmp_path, refresh=True, **cache).hosts  # --flush-cache
    assert f"app-{second}" not in parse(tmp_path, **cache).hosts  # the refresh updated the cache
    assert f"app-{first}" in parse(tmp_path, **cache).hosts


def test_missing_cluster_is_a_clear_error(account: Account, tmp_path: Path) -> None:
    with pytest.raises(AnsibleParserError, match=r"cluster strata-staging not found in eu-west-3\. Converge it"):
        parse(tmp_path)


def test_private_hosts_without_a_bastion_are_refused(account: Account, tmp_path: Path) -> None:
    account.cluster("strata-staging")
    account.node("staging", "app")
    with pytest.raises(AnsibleParserError, match=r"1 private host\(s\) in env=staging but no running bastion"):
        parse(tmp_path)
    # A cluster with no node yet and no bastion is simply empty.
    account.cluster("strata-dev")
    assert not parse(tmp_path, env="dev").hosts


def test_no_credentials_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    # Signing fails before any connection; the endpoint is a closed loopback port anyway.
    with pytest.raises(AnsibleParserError, match=r"no AWS credentials\. Set AWS_PROFILE"):
        parse(tmp_path, endpoint_url=f"http://127.0.0.1:{free_port()}")


def test_unreachable_endpoint_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(AnsibleParserError, match=r"cannot reach http://127\.0\.0\.1:\d+\. For env=local start"):
        dummy = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
        parse(tmp_path, endpoint_url=f"http://127.0.0.1:{free_port()}", **dummy)


def test_refused_credentials_are_a_clear_error(
    account: Account, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """moto accepts any key, so this one call is stubbed with the answer AWS gives to a bad key."""

    def refuse(*_args: Any, **_kwargs: Any) -> None:
        raise ClientError({"Error": {"Code": "UnrecognizedClientException", "Message": "bad"}}, "DescribeCluster")

    monkeypatch.setattr(BaseClient, "_make_api_call", refuse)
    with pytest.raises(AnsibleParserError, match=r"AWS refused the credentials \(UnrecognizedClientException\)"):
        parse(tmp_path)


def test_a_cache_made_with_other_settings_is_not_served(account: Account, tmp_path: Path) -> None:
    account.cluster("strata-staging")
    (node,) = account.node("staging", "app")
    account.bastion("staging")
    cache = {"cache": True, "cache_plugin": "jsonfile", "cache_connection": str(tmp_path / "cache")}
    assert hostvars(parse(tmp_path, **cache), f"app-{node}")["ansible_user"] == "ec2-user"
    assert hostvars(parse(tmp_path, remote_user="admin", **cache), f"app-{node}")["ansible_user"] == "admin"


def test_shared_values_live_on_groups_and_hosts_keep_their_own(account: Account, tmp_path: Path) -> None:
    account.cluster("strata-staging")
    nodes = account.node("staging", "app", count=2)
    account.bastion("staging")
    inventory = parse(tmp_path, ssh_private_key_file="/keys/ops")
    # One bastion hop and one key for every node: set once, on the groups.
    own = inventory.get_host(f"app-{nodes[0]}").get_vars()
    assert "ansible_ssh_common_args" not in own and "ansible_ssh_private_key_file" not in own
    assert own["ansible_host"] != inventory.get_host(f"app-{nodes[1]}").get_vars()["ansible_host"]
    assert "ProxyCommand=" in inventory.groups["nodes"].get_vars()["ansible_ssh_common_args"]
    # env > cluster > nodes > role > node group: a host is a direct member of its narrowest group.
    assert {g.name for g in inventory.groups["nodegroup_app"].get_ancestors()} == {
        "role_app", "nodes", "cluster_strata_staging", "env_staging"
    }  # fmt: skip
    assert {g.name for g in inventory.get_host(f"app-{nodes[0]}").groups} >= {"nodegroup_app", "env_staging"}
