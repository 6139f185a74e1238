"""The SSH lab of env=local: a real sshd host for every instance the embedded cloud reports.

    strata-lab up     [--env local] [--endpoint URL] [--state-dir DIR]   idempotent
    strata-lab down   [--state-dir DIR]                                  idempotent
    strata-lab status [--state-dir DIR]                                  exit 0 when every host answers
    strata-lab image                                                     build or find the base image, print its name

For each running instance of the environment (the bastion and the node groups' instances)
the lab starts a podman container running sshd, inside a network namespace of its own, at
the instance's private address. The topology mirrors the VPC:

    controller --veth (public subnet's .1 <-> bastion address)--> bastion
    bastion --eth1--> bridge in the namespace "<prefix>vpc" <-- every node

The controller has a route to the bastion's address only; every VPC block of the
environment is blackholed on the host, so a node is unreachable from the controller and
nothing addressed to the lab's range can leave the machine. The bastion's namespace does
not forward, so the only way to a node is an SSH hop through the bastion.

Key material (the operator's key, every host's host key, a known_hosts file) is made per
lab under the state folder and removed by `down`. The base image is built once with
debootstrap and cached under ~/.cache/strata/lab, keyed by its inputs.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import boto3

from strata.domain import fleet
from strata.tools.baseimage import Base, ImageError, sh
from strata.tools.cloud import DEFAULT_PORT, DUMMY_CREDENTIALS, endpoint_url

PROJECT_ROOT = Path(__file__).resolve().parents[3]
DEFAULT_STATE_DIR = PROJECT_ROOT / ".state" / "lab"
PACKAGES = ["openssh-server", "python3", "sudo"]
USER = "ec2-user"
PREFIX = "slab-"
LABEL = "io.strata.lab"
# Runs as the container's PID 1: the kubelet stand-in (its /healthz, as the real kubelet
# serves on 10248) on nodes, then sshd in the foreground.
INIT = """#!/bin/sh
set -e
mkdir -p /run/sshd /var/lib/kubelet-standin
if [ "$STRATA_LAB_ROLE" != bastion ]; then
  echo ok > /var/lib/kubelet-standin/healthz
  python3 -m http.server 10248 --bind 127.0.0.1 --directory /var/lib/kubelet-standin >/dev/null 2>&1 &
  echo $! > /run/kubelet-standin.pid
fi
exec /usr/sbin/sshd -D -e
"""
SETUP = f"""set -e
useradd --create-home --shell /bin/bash {USER}
echo '{USER} ALL=(ALL) NOPASSWD:ALL' > /etc/sudoers.d/90-{USER}
chmod 0440 /etc/sudoers.d/90-{USER}
install -d -m 0700 -o {USER} -g {USER} /home/{USER}/.ssh
rm -f /etc/ssh/ssh_host_*
apt-get clean
rm -rf /var/lib/apt/lists/* /usr/share/doc/* /usr/share/man/* /usr/share/locale/*
"""


# Commands run with podman's working configuration; their failures (and the lab's own) are LabError.
LabError = ImageError


BASE = Base(
    kind="lab",
    packages=tuple(PACKAGES),
    setup=SETUP,
    files={"/usr/local/sbin/strata-lab-init": (INIT, 0o755)},
    changes=("CMD=/usr/local/sbin/strata-lab-init",),
)


def image_name() -> str:
    return BASE.name


def ensure_tools() -> None:
    missing = [tool for tool in ("podman", "ip", "ssh-keygen", "debootstrap") if not shutil.which(tool)]
    if missing:
        raise LabError(
            f"the lab needs {', '.join(missing)}: run scripts/bootstrap-host.sh as root (it installs podman, runc, "
            "debootstrap, iproute2 and openssh-client), or install them with your package manager"
        )
    if os.geteuid() != 0:
        raise LabError("the lab creates network namespaces and routes: run it as root (make up does on CI and here)")


def ensure_image(log: Any = print) -> str:
    """The lab's base image: from podman's store, else from the cached rootfs, else built."""
    return BASE.ensure(log)


def instances(endpoint: str, region: str, env: str) -> tuple[list[dict[str, Any]], list[str]]:
    """(running instances of the environment that are fleet members, the CIDR blocks of its VPCs)."""
    ec2 = boto3.client("ec2", region_name=region, endpoint_url=endpoint)
    owned = fleet.owned_filters(env)
    blocks = sorted(
        {a["CidrBlock"] for v in ec2.describe_vpcs(Filters=owned)["Vpcs"] for a in v.get("CidrBlockAssociationSet", [])}
    )
    subnets = {s["SubnetId"]: s for s in ec2.describe_subnets(Filters=owned)["Subnets"]}
    running = [*owned, {"Name": "instance-state-name", "Values": list(fleet.RUNNING_STATES)}]
    listed = [
        i
        for page in ec2.get_paginator("describe_instances").paginate(Filters=running)
        for r in page["Reservations"]
        for i in r["Instances"]
    ]
    found = []
    for instance, member in fleet.members(listed, env=env):
        subnet = subnets.get(instance.get("SubnetId", ""))
        if subnet is None or not instance.get("PrivateIpAddress"):
            continue
        found.append(
            {
                "id": instance["InstanceId"],
                "role": member.role,
                "address": instance["PrivateIpAddress"],
                "subnet": subnet["CidrBlock"],
                "zone": instance.get("Placement", {}).get("AvailabilityZone", ""),
            }
        )
    found.sort(key=lambda i: (i["role"] != fleet.BASTION, i["role"], i["address"]))
    return found, blocks


def keygen(path: Path, comment: str) -> str:
    if not path.exists():
        sh("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path))
    return Path(f"{path}.pub").read_text().strip()


def _gateway(subnet: str) -> str:
    return str(ipaddress.ip_network(subnet)[1])


def _wait_port(address: str, port: int, namespace: str | None, timeout: float = 20.0) -> None:
    probe = f"import socket; socket.create_connection(('{address}', {port}), timeout=2).recv(4)"
    command = [sys.executable, "-c", probe]
    if namespace:
        command = ["ip", "netns", "exec", namespace, *command]
    deadline = time.monotonic() + timeout
    while True:
        if sh(*command, check=False).returncode == 0:
            return
        if time.monotonic() > deadline:
            raise LabError(f"sshd at {address}:{port} did not answer within {timeout:.0f}s")
        time.sleep(0.2)


def read_state(state_dir: Path) -> dict[str, Any] | None:
    path = state_dir / "lab.json"
    return json.loads(path.read_text()) if path.exists() else None


def _wire_vpc(blocks: list[str]) -> str:
    """Blackhole every VPC block on the host; the namespace whose bridge stands for the VPC."""
    for block in blocks:
        sh("ip", "route", "replace", "blackhole", block)
    vpc_ns = f"{PREFIX}vpc"
    sh("ip", "netns", "add", vpc_ns)
    sh("ip", "-n", vpc_ns, "link", "add", "br0", "type", "bridge")
    sh("ip", "-n", vpc_ns, "link", "set", "br0", "up")
    return vpc_ns


def _wire_bastion(host: dict[str, Any], index: int, ns: str, vpc_ns: str, blocks: list[str]) -> None:
    """controller <-> bastion: a point-to-point link whose controller side holds the public
    subnet's router address (.1), as the VPC router does in AWS; eth1 reaches the nodes."""
    gateway, outside = _gateway(host["subnet"]), f"slh{index}"
    sh("ip", "link", "add", outside, "type", "veth", "peer", "name", "eth0", "netns", ns)
    sh("ip", "addr", "add", f"{gateway}/32", "peer", f"{host['address']}/32", "dev", outside)
    sh("ip", "link", "set", outside, "up")
    sh("ip", "-n", ns, "addr", "add", f"{host['address']}/32", "peer", f"{gateway}/32", "dev", "eth0")
    sh("ip", "-n", ns, "link", "set", "eth0", "up")
    sh("ip", "-n", ns, "link", "add", "eth1", "type", "veth", "peer", "name", f"slv{index}", "netns", vpc_ns)
    sh("ip", "-n", ns, "link", "set", "eth1", "up")
    for block in blocks:
        sh("ip", "-n", ns, "route", "add", block, "dev", "eth1", "src", host["address"])


def _wire_node(host: dict[str, Any], index: int, ns: str, vpc_ns: str, blocks: list[str]) -> None:
    """A node: one leg on the VPC bridge, every VPC block on-link."""
    prefix = ipaddress.ip_network(host["subnet"]).prefixlen
    sh("ip", "-n", ns, "link", "add", "eth0", "type", "veth", "peer", "name", f"slv{index}", "netns", vpc_ns)
    sh("ip", "-n", ns, "addr", "add", f"{host['address']}/{prefix}", "dev", "eth0")
    sh("ip", "-n", ns, "link", "set", "eth0", "up")
    for block in blocks:
        sh("ip", "-n", ns, "route", "add", block, "dev", "eth0")


def _start(image: str, member: str, *, ns: str, env: str, host: dict[str, Any], keys: Path) -> None:
    host_key, authorized_keys = keys / f"{host['id']}_ssh_host_ed25519_key", keys / "authorized_keys"
    sh(
        "podman", "run", "-d", "--replace", "--name", member, "--hostname", "ip-" + host["address"].replace(".", "-"),
        "--network", f"ns:/run/netns/{ns}", "--cap-add", "AUDIT_WRITE",
        "--label", f"{LABEL}={env}", "--env", f"STRATA_LAB_ROLE={host['role']}",
        "--volume", f"{host_key}:/etc/ssh/ssh_host_ed25519_key:ro,Z",
        "--volume", f"{authorized_keys}:/home/{USER}/.ssh/authorized_keys:ro,Z",
        image,
    )  # fmt: skip


def up(
    endpoint: str, region: str, env: str, state_dir: Path, *, log: Any = print, limit_nodes: int | None = None
) -> dict[str, Any]:
    """Start (or keep) a host for every running instance; `limit_nodes` caps the nodes (benchmarks)."""
    ensure_tools()
    found, blocks = instances(endpoint, region, env)
    bastions = [h for h in found if h["role"] == "bastion"]
    hosts = bastions + [h for h in found if h["role"] != "bastion"][:limit_nodes]
    if not bastions:
        raise LabError(f"no running bastion in env={env}: converge it first (ansible-playbook site.yml -e env={env})")
    if len(bastions) > 1:
        raise LabError(f"{len(bastions)} bastions are running in env={env}; the lab expects one")
    previous = read_state(state_dir)
    if previous and previous.get("hosts") == hosts and status(state_dir, quiet=True) == 0:
        log(f"lab: {len(hosts)} host(s) already up")
        return previous
    if previous is None and Path(f"/run/netns/{PREFIX}vpc").exists():
        raise LabError("another lab is up on this machine (state elsewhere); stop it first: make down")
    down(state_dir, log=lambda _msg: None)
    image = ensure_image(log)
    state_dir.mkdir(parents=True, exist_ok=True)
    keys = state_dir / "keys"
    keys.mkdir(exist_ok=True)
    user_key = keygen(state_dir / "id_ed25519", f"strata-lab-{env}")
    (keys / "authorized_keys").write_text(user_key + "\n")
    (keys / "authorized_keys").chmod(0o644)
    state: dict[str, Any] = {"env": env, "endpoint": endpoint, "blocks": blocks, "hosts": hosts, "members": []}
    (state_dir / "lab.json").write_text(json.dumps(state, indent=2))  # so that down() can clean a partial start
    vpc_ns = _wire_vpc(blocks)
    known_hosts = []
    bastion = bastions[0]
    for index, host in enumerate(hosts):
        ns, member = f"{PREFIX}{index}", f"{PREFIX}{host['id']}"
        state["members"].append({"id": host["id"], "netns": ns, "container": member})
        (state_dir / "lab.json").write_text(json.dumps(state, indent=2))
        sh("ip", "netns", "add", ns)
        sh("ip", "-n", ns, "link", "set", "lo", "up")
        if host is bastion:
            _wire_bastion(host, index, ns, vpc_ns, blocks)
        else:
            _wire_node(host, index, ns, vpc_ns, blocks)
        sh("ip", "-n", vpc_ns, "link", "set", f"slv{index}", "master", "br0")
        sh("ip", "-n", vpc_ns, "link", "set", f"slv{index}", "up")
        host_key = keys / f"{host['id']}_ssh_host_ed25519_key"
        known_hosts.append(f"{host['address']} {' '.join(keygen(host_key, host['id']).split()[:2])}")
        _start(image, member, ns=ns, env=env, host=host, keys=keys)
    (state_dir / "known_hosts").write_text("\n".join(known_hosts) + "\n")
    _wait_port(bastion["address"], 22, None)
    bastion_ns = state["members"][hosts.index(bastion)]["netns"]
    for host in hosts:
        if host is not bastion:
            _wait_port(host["address"], 22, bastion_ns)
    log(f"lab: {len(hosts)} host(s) up: bastion {bastion['address']}, {len(hosts) - 1} node(s) behind it")
    return state


def down(state_dir: Path, log: Any = print) -> str:
    state = read_state(state_dir)
    members = (state or {}).get("members", [])
    containers = [m["container"] for m in members]
    # Also whatever a crashed run left: every container labelled as the lab's.
    listed = sh("podman", "ps", "-a", "--filter", f"label={LABEL}", "--format", "{{.Names}}", check=False)
    containers += [c for c in listed.stdout.split() if c not in containers] if listed.returncode == 0 else []
    if containers:
        sh("podman", "rm", "-f", "-t", "0", *containers, check=False)
    namespaces = sorted(p.name for p in Path("/run/netns").glob(f"{PREFIX}*")) if Path("/run/netns").exists() else []
    for ns in namespaces:
        sh("ip", "netns", "del", ns, check=False)
    for block in (state or {}).get("blocks", []):
        sh("ip", "route", "del", "blackhole", block, check=False)
    if state_dir.exists():
        shutil.rmtree(state_dir)
    message = f"lab: removed {len(containers)} host(s)" if containers or state else "lab: nothing to remove"
    log(message)
    return message


def status(state_dir: Path, quiet: bool = False) -> int:
    state = read_state(state_dir)
    say = (lambda _msg: None) if quiet else print
    if not state:
        say("lab: not running")
        return 1
    bastion = state["hosts"][0]
    bastion_ns = state["members"][0]["netns"]
    failures = 0
    for host in state["hosts"]:
        try:
            _wait_port(host["address"], 22, None if host is bastion else bastion_ns, timeout=3)
            say(f"{host['role']:<8} {host['id']}  {host['address']:<15} {host['zone']}  sshd up")
        except LabError as exc:
            failures += 1
            say(f"{host['role']:<8} {host['id']}  {host['address']:<15} {host['zone']}  {exc}")
    return 1 if failures else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="strata-lab", description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["up", "down", "status", "image"])
    parser.add_argument("--env", default="local")
    parser.add_argument("--region", default="eu-west-3")
    port = int(os.environ.get("STRATA_CLOUD_PORT", DEFAULT_PORT))
    parser.add_argument("--endpoint", default=endpoint_url(port))
    parser.add_argument("--state-dir", type=Path, default=Path(os.environ.get("STRATA_LAB_STATE", DEFAULT_STATE_DIR)))
    args = parser.parse_args(argv)
    # The lab only ever talks to the embedded cloud: its dummy credentials, no metadata probe.
    for key, value in DUMMY_CREDENTIALS.items():
        os.environ.setdefault(key, value)
    try:
        if args.command == "up":
            up(args.endpoint, args.region, args.env, args.state_dir)
        elif args.command == "down":
            down(args.state_dir)
        elif args.command == "image":
            ensure_tools()
            print(ensure_image(log=lambda msg: print(msg, file=sys.stderr)))
        else:
            return status(args.state_dir)
    except LabError as exc:
        print(f"strata-lab: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
