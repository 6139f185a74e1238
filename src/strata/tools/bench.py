"""make bench: the fleet inventory's discovery and the SSH fan-out through the bastion.

Everything runs in one invocation against one private embedded cloud, so that every figure
is reported as a ratio against a baseline measured beside it:

1. Discovery of 1,000 instances in 20 node groups plus a bastion (in-process, best of N):
   the raw boto3 listing (baseline), strata_fleet cold and cached, and amazon.aws.aws_ec2
   configured to produce the same groups.
2. A command on 20 lab nodes through the bastion: Ansible's defaults (5 forks, no
   pipelining, an unmultiplexed bastion hop; baseline) beside the platform's settings
   (ansible.cfg: 20 forks, pipelining, ControlPersist, the inventory's multiplexed hop).

    python -m strata.tools.bench [--instances 1000] [--groups 20] [--lab-nodes 20] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import yaml  # type: ignore[import-untyped]
from ansible.inventory.manager import InventoryManager
from ansible.parsing.dataloader import DataLoader
from ansible.plugins.loader import init_plugin_loader, inventory_loader

from strata.domain import fleet
from strata.tools import cloud, lab

REGION = "eu-west-3"
ENV = "bench"
SSH_ENV = "benchssh"
ROOT = Path(__file__).resolve().parents[3]
VENV_BIN = Path(sys.executable).parent


def build_fleet(endpoint: str, instances: int, groups: int, env: str = ENV, octet: int = 4) -> None:
    """A VPC 10.<octet>.0.0/16, subnets in three zones, the cluster strata-<env>, `instances`
    node instances over `groups` node groups (tagged as self-managed groups are), one bastion."""
    ec2 = boto3.client("ec2", region_name=REGION, endpoint_url=endpoint)
    eks = boto3.client("eks", region_name=REGION, endpoint_url=endpoint)
    cluster = fleet.resource_name(env)
    tags = fleet.tag_list(fleet.owned_tags(env))
    vpc = ec2.create_vpc(CidrBlock=f"10.{octet}.0.0/16", TagSpecifications=[{"ResourceType": "vpc", "Tags": tags}])
    vpc_id = vpc["Vpc"]["VpcId"]
    subnets = []
    for index, zone in enumerate("abc"):
        subnet = ec2.create_subnet(
            VpcId=vpc_id,
            CidrBlock=f"10.{octet}.{16 * index}.0/20",
            AvailabilityZone=f"{REGION}{zone}",
            TagSpecifications=[{"ResourceType": "subnet", "Tags": [*tags, *fleet.tag_list({fleet.TIER: "app"})]}],
        )
        subnets.append(subnet["Subnet"]["SubnetId"])
    public = ec2.create_subnet(
        VpcId=vpc_id,
        CidrBlock=f"10.{octet}.100.0/24",
        AvailabilityZone=f"{REGION}a",
        TagSpecifications=[{"ResourceType": "subnet", "Tags": [*tags, *fleet.tag_list({fleet.TIER: "public"})]}],
    )["Subnet"]["SubnetId"]
    eks.create_cluster(
        name=cluster, roleArn="arn:aws:iam::123456789012:role/bench", resourcesVpcConfig={"subnetIds": subnets}
    )
    image = "ami-12c6146b"  # the embedded cloud does not validate AMI ids
    # The platform's shape of security groups, which the lab enforces: SSH to the bastion from an allow-list
    # (TEST-NET-1), SSH to the nodes from the bastion's group.
    bastion_sg = ec2.create_security_group(GroupName=f"{cluster}-bastion", Description="bench", VpcId=vpc_id)["GroupId"]
    node_sg = ec2.create_security_group(GroupName=f"{cluster}-app", Description="bench", VpcId=vpc_id)["GroupId"]
    ssh = {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22}
    ec2.authorize_security_group_ingress(
        GroupId=bastion_sg, IpPermissions=[{**ssh, "IpRanges": [{"CidrIp": "192.0.2.0/24"}]}]
    )
    ec2.authorize_security_group_ingress(
        GroupId=node_sg, IpPermissions=[{**ssh, "UserIdGroupPairs": [{"GroupId": bastion_sg}]}]
    )

    def launch(count: int, subnet: str, extra: list[dict[str, str]], group: str = node_sg) -> None:
        ec2.run_instances(
            ImageId=image,
            InstanceType="m6i.large",
            MinCount=count,
            MaxCount=count,
            SubnetId=subnet,
            SecurityGroupIds=[group],
            TagSpecifications=[{"ResourceType": "instance", "Tags": [*tags, *extra]}],
        )

    for group in range(groups):
        name = f"group{group:02d}"
        per_group = instances // groups + (1 if group < instances % groups else 0)
        node_tags = fleet.tag_list(fleet.node_tags(cluster, name))
        for index in range(3):
            count = per_group // 3 + (1 if index < per_group % 3 else 0)
            if count:
                launch(count, subnets[index], node_tags)
    launch(1, public, fleet.tag_list(fleet.bastion_tags(cluster)), bastion_sg)


def best(repeat: int, action: Callable[[], Any]) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = action()
        times.append(time.perf_counter() - start)
    return min(times), result


def raw_listing(endpoint: str) -> int:
    ec2 = boto3.client("ec2", region_name=REGION, endpoint_url=endpoint)
    return sum(
        len(r["Instances"]) for page in ec2.get_paginator("describe_instances").paginate() for r in page["Reservations"]
    )


def inventory_hosts(path: Path) -> int:
    manager = InventoryManager(loader=DataLoader(), sources=[str(path)])
    return len(manager.get_hosts())


def write(path: Path, config: dict[str, Any]) -> Path:
    # Block-style YAML: a JSON document is valid YAML, but the ini plugin, tried before, would
    # leave a host named "{" behind from its first line.
    path.write_text("---\n" + yaml.safe_dump(config, sort_keys=False))
    return path


def discovery(endpoint: str, work: Path, repeat: int) -> list[tuple[str, float, int]]:
    init_plugin_loader([])
    inventory_loader.add_directory(str(ROOT / "plugins" / "inventory"))
    common = {
        "plugin": "strata_fleet",
        "env": ENV,
        "endpoint_url": endpoint,
        "aws_access_key_id": "testing",
        "aws_secret_access_key": "testing",
    }
    cold = write(work / "cold.strata_fleet.yml", common)
    cache = {"cache": True, "cache_plugin": "ansible.builtin.jsonfile", "cache_connection": str(work / "cache")}
    cached = write(work / "cached.strata_fleet.yml", {**common, **cache})
    aws_ec2 = write(
        work / "same.aws_ec2.yml",
        {
            "plugin": "amazon.aws.aws_ec2",
            "regions": [REGION],
            "endpoint_url": endpoint,
            "aws_access_key_id": "testing",
            "aws_secret_access_key": "testing",
            "filters": {"tag:env": ENV, "instance-state-name": ["pending", "running"]},
            "hostnames": ["instance-id"],
            "keyed_groups": [
                {"key": f"tags['{fleet.NODEGROUP}']", "prefix": "nodegroup"},
                {"key": "tags['eks:cluster-name']", "prefix": "cluster"},
                {"key": "tags.env", "prefix": "env"},
                {"key": "tags.role", "prefix": "role"},
                {"key": "placement.availability_zone", "prefix": "zone"},
            ],
            "compose": {"ansible_host": "private_ip_address"},
        },
    )
    rows = [("raw boto3 describe_instances (baseline)", *best(repeat, lambda: raw_listing(endpoint)))]
    rows.append(("strata_fleet, cold", *best(repeat, lambda: inventory_hosts(cold))))
    inventory_hosts(cached)  # fills the cache
    rows.append(("strata_fleet, cached", *best(repeat, lambda: inventory_hosts(cached))))
    rows.append(("amazon.aws.aws_ec2, same groups", *best(repeat, lambda: inventory_hosts(aws_ec2))))
    return rows


def fan_out(endpoint: str, work: Path, nodes: int, repeat: int) -> list[tuple[str, float, int]]:
    """A command on `nodes` lab nodes through the bastion, Ansible's defaults beside the platform's.
    A fleet of its own (env benchssh), so that the inventory lists exactly the lab's hosts."""
    build_fleet(endpoint, nodes, 2, env=SSH_ENV, octet=5)
    state = work / "lab"
    lab.up(endpoint, REGION, SSH_ENV, state, log=lambda _msg: None)
    config = write(
        work / "lab.strata_fleet.yml",
        {
            "plugin": "strata_fleet",
            "env": SSH_ENV,
            "endpoint_url": endpoint,
            "aws_access_key_id": "testing",
            "aws_secret_access_key": "testing",
            "bastion_address": "private",
            "ssh_private_key_file": str(state / "id_ed25519"),
            "ssh_known_hosts_file": str(state / "known_hosts"),
            "ssh_control_dir": str(work / "cp"),
            # Discovery is measured above; here the cached inventory keeps it out of the figures.
            "cache": True,
            "cache_plugin": "ansible.builtin.jsonfile",
            "cache_connection": str(work / "lab-cache"),
            "cache_timeout": 3600,
        },
    )
    started = lab.read_state(state) or {}
    hosts = [h for h in started["hosts"] if h["role"] != "bastion"]
    inventory_hosts(config)  # fills the cache
    limit = "nodes"
    bastion = started["hosts"][0]["address"]
    plain_hop = (
        f"-o StrictHostKeyChecking=yes -o UserKnownHostsFile={state / 'known_hosts'} "
        f"-o ProxyCommand='ssh -W %h:%p -o BatchMode=yes -o UserKnownHostsFile={state / 'known_hosts'} "
        f"-i {state / 'id_ed25519'} -l ec2-user {bastion}'"
    )
    defaults_cfg = work / "defaults.cfg"
    defaults_cfg.write_text(f"[defaults]\ninventory_plugins = {ROOT / 'plugins/inventory'}\n")

    def ansible(platform: bool) -> int:
        env = {**os.environ, "ANSIBLE_HOST_KEY_CHECKING": "true"}
        argv = [str(VENV_BIN / "ansible"), "-i", str(config), limit, "-m", "ansible.builtin.command", "-a", "true"]
        if platform:
            env["ANSIBLE_CONFIG"] = str(ROOT / "ansible.cfg")
            env["ANSIBLE_SSH_CONTROL_PATH_DIR"] = str(work / "cp")
        else:
            env["ANSIBLE_CONFIG"] = str(defaults_cfg)
            env["ANSIBLE_SSH_CONTROL_PATH_DIR"] = str(work / "cp-defaults")
            argv += ["-e", f"ansible_ssh_common_args={plain_hop!r}"]
        proc = subprocess.run(argv, env=env, capture_output=True, text=True, check=False, cwd=ROOT)  # noqa: S603
        if proc.returncode != 0:
            which = "platform" if platform else "defaults"
            raise SystemExit(f"bench: ansible failed ({which}):\n{proc.stdout[-3000:]}")
        return proc.stdout.count("CHANGED")

    def fresh(platform: bool) -> int:
        for folder in ("cp", "cp-defaults"):
            subprocess.run(["pkill", "-f", str(work / folder)], check=False)  # noqa: S603,S607 - close masters
            shutil.rmtree(work / folder, ignore_errors=True)
        return ansible(platform)

    try:
        return [
            (f"Ansible defaults, {len(hosts)} nodes, new connections (baseline)", *best(repeat, lambda: fresh(False))),
            (f"platform settings, {len(hosts)} nodes, new connections", *best(repeat, lambda: fresh(True))),
            (f"Ansible defaults, {len(hosts)} nodes, second command", *best(repeat, lambda: ansible(False))),
            (f"platform settings, {len(hosts)} nodes, second command", *best(repeat, lambda: ansible(True))),
        ]
    finally:
        subprocess.run(["pkill", "-f", str(work)], check=False)  # noqa: S603,S607
        lab.down(state, log=lambda _msg: None)


def report(title: str, rows: list[tuple[str, float, int]]) -> str:
    baseline = rows[0][1]
    lines = [f"## {title}", "", "| run | hosts | best of runs (s) | ratio to baseline |"]
    lines += ["| --- | ---: | ---: | ---: |"]
    lines += [f"| {name} | {hosts} | {seconds:.3f} | {seconds / baseline:.2f}x |" for name, seconds, hosts in rows]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="strata-bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--instances", type=int, default=1000)
    parser.add_argument("--groups", type=int, default=20)
    parser.add_argument("--lab-nodes", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip-lab", action="store_true", help="only the discovery figures (no root, no podman)")
    args = parser.parse_args(argv)
    for key, value in cloud.DUMMY_CREDENTIALS.items():
        os.environ[key] = value
    os.environ["ANSIBLE_INVENTORY_UNPARSED_FAILED"] = "true"
    work = Path(tempfile.mkdtemp(prefix="strata-bench-"))
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    state = work / "cloud"
    cloud.start(port, state)
    endpoint = cloud.endpoint_url(port)
    try:
        started = time.perf_counter()
        build_fleet(endpoint, args.instances, args.groups)
        print(f"fleet: {args.instances} instances in {args.groups} node groups + a bastion, "
              f"built in {time.perf_counter() - started:.1f}s\n")  # fmt: skip
        print(report("Inventory discovery (in-process)", discovery(endpoint, work, args.repeat)))
        if not args.skip_lab:
            print(report("A command on lab nodes through the bastion", fan_out(endpoint, work, args.lab_nodes, 1)))
    finally:
        cloud.stop(state)
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
