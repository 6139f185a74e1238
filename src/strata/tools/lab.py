"""The SSH lab of env=local: a real sshd host for every instance the embedded cloud reports.

    strata-lab up     [--env local] [--endpoint URL] [--state-dir DIR]   idempotent
    strata-lab down   [--state-dir DIR]                                  idempotent
    strata-lab status [--state-dir DIR]                                  exit 0 when every host answers
    strata-lab sync   [--state-dir DIR]                                  re-apply the estate's rules, no restart
    strata-lab image                                                     build or find the base image, print its name

For each running instance of the environment (the bastion and the node groups' instances)
the lab starts a podman container running sshd, inside a network namespace of its own, at
the instance's private address. The topology mirrors the VPC:

    controller --veth (public subnet's .1 <-> bastion address)--> bastion
    bastion --eth1--> bridge in the namespace "<prefix>vpc" <-- every node

The controller has a route to the bastion's address only, from an address of the bastion's SSH allow-list (the
operator's public address, as AWS sees it through the internet gateway); every VPC block of the environment is
blackholed on the host, so a node is unreachable from the controller and nothing addressed to the lab's range can
leave the machine. The bastion's namespace does not forward, so the only way to a node is an SSH hop through the
bastion.

Each host enforces what AWS would: its security groups (stateful, allow-only, a group as a peer meaning its
members' addresses) and its subnet's network ACL (stateless, first match, the final deny), read from the embedded
cloud and translated by strata.domain.packet_filter into nftables rules in the host's own namespace. `up` and
`sync` apply them; `status` says per host how many rules it enforces and whether they still match the estate.

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

from strata.domain import fleet, packet_filter
from strata.tools import lab_services
from strata.tools.baseimage import Base, ImageError, sh
from strata.tools.cloud import DEFAULT_PORT, DUMMY_CREDENTIALS, endpoint_url

PROJECT_ROOT = Path(__file__).resolve().parents[3]
DEFAULT_STATE_DIR = PROJECT_ROOT / ".state" / "lab"
PACKAGES = ["openssh-server", "python3", "sudo"]
USER = "ec2-user"
PREFIX = "slab-"
TABLE = "strata_lab"  # the nftables table of the estate's rules in each host's namespace
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
    missing = [tool for tool in ("podman", "ip", "nft", "ssh-keygen", "debootstrap") if not shutil.which(tool)]
    if missing:
        raise LabError(
            f"the lab needs {', '.join(missing)}: run scripts/bootstrap-host.sh as root (it installs podman, runc, "
            "debootstrap, iproute2, nftables and openssh-client), or install them with your package manager"
        )
    if os.geteuid() != 0:
        raise LabError("the lab creates network namespaces and routes: run it as root (make up does on CI and here)")


def ensure_image(log: Any = print) -> str:
    """The lab's base image: from podman's store, else from the cached rootfs, else built."""
    return BASE.ensure(log)


def estate(endpoint: str, region: str, env: str) -> dict[str, Any]:
    """One read of the environment: its fleet's running instances (the SSH hosts), its managed services (the
    database, the cluster endpoint - lab_services), its VPC blocks, and what the packet filters are made from: the
    VPC's security groups, network ACLs and subnets, and every interface's groups (instances and services alike:
    the group-as-peer rules need their addresses)."""
    ec2 = boto3.client("ec2", region_name=region, endpoint_url=endpoint)
    vpcs = ec2.describe_vpcs(Filters=fleet.owned_filters(env))["Vpcs"]
    blocks = sorted({a["CidrBlock"] for v in vpcs for a in v.get("CidrBlockAssociationSet", [])})
    in_vpc = [{"Name": "vpc-id", "Values": [v["VpcId"] for v in vpcs]}]
    subnets = {s["SubnetId"]: s for s in ec2.describe_subnets(Filters=in_vpc)["Subnets"]}
    running = [*in_vpc, {"Name": "instance-state-name", "Values": list(fleet.RUNNING_STATES)}]
    listed = [
        i
        for page in ec2.get_paginator("describe_instances").paginate(Filters=running)
        for r in page["Reservations"]
        for i in r["Instances"]
        if i.get("PrivateIpAddress")
    ]
    hosts = []
    for instance, member in fleet.members(listed, env=env):
        subnet = subnets.get(instance.get("SubnetId", ""))
        if subnet is None:
            continue
        hosts.append(
            {
                "id": instance["InstanceId"],
                "role": member.role,
                "address": instance["PrivateIpAddress"],
                "subnet": subnet["CidrBlock"],
                "subnet_id": subnet["SubnetId"],
                "groups": sorted(g["GroupId"] for g in instance.get("SecurityGroups", [])),
                "zone": instance.get("Placement", {}).get("AvailabilityZone", ""),
            }
        )
    hosts.sort(key=lambda i: (i["role"] != fleet.BASTION, i["role"], i["address"]))
    services = lab_services.place(
        lab_services.discover(endpoint, region, env, subnets), (i["PrivateIpAddress"] for i in listed)
    )
    interfaces = [
        *({"PrivateIpAddress": i["PrivateIpAddress"], "SecurityGroups": i.get("SecurityGroups", [])} for i in listed),
        *(
            {"PrivateIpAddress": s["address"], "SecurityGroups": [{"GroupId": g} for g in s["groups"]]}
            for s in services
        ),
    ]
    rules = {
        "security_groups": ec2.describe_security_groups(Filters=in_vpc)["SecurityGroups"],
        "network_acls": ec2.describe_network_acls(Filters=in_vpc)["NetworkAcls"],
        "subnets": list(subnets.values()),
        "members": packet_filter.group_members(interfaces),
    }
    return {"hosts": hosts, "services": services, "blocks": blocks, "rules": rules}


def host_rules(host: dict[str, Any], rules: dict[str, Any]) -> tuple[packet_filter.HostPolicy, str]:
    """A host's policy, and the digest of what it says (its groups' rules in any order - AWS lists a re-added rule
    last - its subnet's ACL entries in rule order, the members' addresses they name)."""
    policy = packet_filter.host_policy(
        host["address"],
        group_ids=host["groups"],
        subnet_id=host["subnet_id"],
        security_groups=rules["security_groups"],
        network_acls=rules["network_acls"],
        subnets=rules["subnets"],
        members=rules["members"],
    )
    return policy, packet_filter.policy_digest(policy)


def operator_address(bastion: dict[str, Any], rules: dict[str, Any]) -> str:
    """The controller's address as the bastion sees it: inside the first range its groups admit SSH from (the
    operator's public address, through the internet gateway in AWS)."""
    policy, _ = host_rules(bastion, rules)
    for rule in policy.sg_in:
        if rule.protocol in ("tcp", "all") and (rule.ports is None or rule.ports[0] <= 22 <= rule.ports[1]):
            for cidr in rule.peers:
                network = ipaddress.ip_network(cidr)
                if network.version == 4 and network.prefixlen >= 8:
                    return str(network.network_address if network.prefixlen == 32 else network[1])
    raise LabError(
        "the bastion's security groups admit SSH from no IPv4 range of /8 or narrower: set "
        "network_bastion_allowed_cidrs (inventories/<env>/group_vars/all/network.yml) and converge"
    )


def _key(host: dict[str, Any]) -> str:
    """A host's key in the lab's records: an instance's id; a service's role and id (the database and the cluster
    are both named after the environment)."""
    service = host["role"] in (lab_services.DATABASE, lab_services.ENDPOINT)
    return f"{host['role']}/{host['id']}" if service else str(host["id"])


def enforce(state: dict[str, Any], rules: dict[str, Any]) -> dict[str, Any]:
    """Load each host's and each service's packet filter into its namespace, atomically replacing the previous one
    (nft -f: one transaction); nothing restarts. Returns {_key(host): {"rules": n, "digest": d}}."""
    enforced = {}
    hosts = [(h, m["netns"]) for h, m in zip(state["hosts"], state["members"], strict=True)]
    for host, netns in [*hosts, *((s, s["netns"]) for s in state.get("services", []))]:
        policy, digest = host_rules(host, rules)
        ruleset = packet_filter.nftables(policy, TABLE)
        script = f"table inet {TABLE}\ndelete table inet {TABLE}\n{ruleset}"
        sh("ip", "netns", "exec", netns, "nft", "-f", "-", input=script)
        count = len(policy.sg_in) + len(policy.sg_out) + len(policy.acl_in) + len(policy.acl_out)
        enforced[_key(host)] = {"rules": count, "digest": digest}
    return enforced


def keygen(path: Path, comment: str) -> str:
    if not path.exists():
        sh("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path))
    return Path(f"{path}.pub").read_text().strip()


def _gateway(subnet: str) -> str:
    return str(ipaddress.ip_network(subnet)[1])


def _wait_port(address: str, port: int, namespace: str | None, timeout: float = 20.0, what: str = "sshd") -> None:
    # sshd speaks first (its banner); a service's port only needs to accept.
    probe = f"import socket; socket.create_connection(('{address}', {port}), timeout=2)" + (
        ".recv(4)" if what == "sshd" else ""
    )
    command = [sys.executable, "-c", probe]
    if namespace:
        command = ["ip", "netns", "exec", namespace, *command]
    deadline = time.monotonic() + timeout
    while True:
        if sh(*command, check=False).returncode == 0:
            return
        if time.monotonic() > deadline:
            raise LabError(f"{what} at {address}:{port} did not answer within {timeout:.0f}s")
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


def _wire_bastion(host: dict[str, Any], index: int, ns: str, vpc_ns: str, *, blocks: list[str], operator: str) -> None:
    """controller <-> bastion: a point-to-point link, the controller's side holding the operator's address (inside
    the bastion's SSH allow-list, as AWS sees a client through the internet gateway); eth1 reaches the nodes. The
    bastion routes only that address back: no default route, nothing of the namespace reaches the host's network."""
    outside = f"slh{index}"
    sh("ip", "link", "add", outside, "type", "veth", "peer", "name", "eth0", "netns", ns)
    sh("ip", "addr", "add", f"{operator}/32", "peer", f"{host['address']}/32", "dev", outside)
    sh("ip", "link", "set", outside, "up")
    sh("ip", "-n", ns, "addr", "add", f"{host['address']}/32", "peer", f"{operator}/32", "dev", "eth0")
    sh("ip", "-n", ns, "link", "set", "eth0", "up")
    sh("ip", "-n", ns, "link", "add", "eth1", "type", "veth", "peer", "name", f"slv{index}", "netns", vpc_ns)
    sh("ip", "-n", ns, "link", "set", "eth1", "up")
    for block in blocks:
        sh("ip", "-n", ns, "route", "add", block, "dev", "eth1", "src", host["address"])
    _bridge(vpc_ns, index)


def _bridge(vpc_ns: str, index: int) -> None:
    """Put the VPC side of a host's link (slv<index>) on the VPC's bridge."""
    sh("ip", "-n", vpc_ns, "link", "set", f"slv{index}", "master", "br0")
    sh("ip", "-n", vpc_ns, "link", "set", f"slv{index}", "up")


def _wire_node(host: dict[str, Any], index: int, ns: str, vpc_ns: str, blocks: list[str]) -> None:
    """A node (or a service's interface): one leg on the VPC bridge, every VPC block on-link. The caller made the
    namespace and brought its loopback up."""
    prefix = ipaddress.ip_network(host["subnet"]).prefixlen
    sh("ip", "-n", ns, "link", "add", "eth0", "type", "veth", "peer", "name", f"slv{index}", "netns", vpc_ns)
    sh("ip", "-n", ns, "addr", "add", f"{host['address']}/{prefix}", "dev", "eth0")
    sh("ip", "-n", ns, "link", "set", "eth0", "up")
    for block in blocks:
        sh("ip", "-n", ns, "route", "add", block, "dev", "eth0")
    _bridge(vpc_ns, index)


def _start(image: str, member: str, *, ns: str, state: dict[str, Any], host: dict[str, Any], keys: Path) -> None:
    host_key, authorized_keys = keys / f"{host['id']}_ssh_host_ed25519_key", keys / "authorized_keys"
    env = state["env"]
    sh(
        "podman", "run", "-d", "--replace", "--name", member, "--hostname", "ip-" + host["address"].replace(".", "-"),
        "--network", f"ns:/run/netns/{ns}", "--cap-add", "AUDIT_WRITE", *lab_services.add_hosts(state["services"]),
        "--label", f"{LABEL}={env}", "--env", f"STRATA_LAB_ROLE={host['role']}",
        "--volume", f"{host_key}:/etc/ssh/ssh_host_ed25519_key:ro,Z",
        "--volume", f"{authorized_keys}:/home/{USER}/.ssh/authorized_keys:ro,Z",
        image,
    )  # fmt: skip


def up(
    endpoint: str, region: str, env: str, state_dir: Path, *, log: Any = print, limit_nodes: int | None = None
) -> dict[str, Any]:
    """Start (or keep) a host for every running instance and a server for every managed service; `limit_nodes`
    caps the nodes (benchmarks)."""
    ensure_tools()
    found = estate(endpoint, region, env)
    bastions = [h for h in found["hosts"] if h["role"] == "bastion"]
    hosts = bastions + [h for h in found["hosts"] if h["role"] != "bastion"][:limit_nodes]
    if not bastions:
        raise LabError(f"no running bastion in env={env}: converge it first (ansible-playbook site.yml -e env={env})")
    if len(bastions) > 1:
        raise LabError(f"{len(bastions)} bastions are running in env={env}; the lab expects one")
    rules, services = found["rules"], found["services"]
    operator = operator_address(bastions[0], rules)
    previous = read_state(state_dir)
    if (
        previous
        and previous.get("hosts") == hosts
        and [_service_record(s) for s in previous.get("services", [])] == services
        and previous.get("operator") == operator
        and status(state_dir, quiet=True, check_rules=False) == 0
    ):
        previous["enforced"] = enforce(previous, rules)
        (state_dir / "lab.json").write_text(json.dumps(previous, indent=2))
        log(f"lab: {len(hosts)} host(s) and {len(services)} service(s) already up; the estate's rules re-applied")
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
    state: dict[str, Any] = {
        "env": env, "endpoint": endpoint, "region": region, "blocks": found["blocks"], "hosts": hosts, "members": [],
        "operator": operator, "services": [],
    }  # fmt: skip
    (state_dir / "lab.json").write_text(json.dumps(state, indent=2))  # so that down() can clean a partial start
    vpc_ns = _wire_vpc(state["blocks"])
    _start_services(state, state_dir, services, vpc_ns)
    _start_hosts(state, state_dir, vpc_ns, image=image, keys=keys)
    state["enforced"] = enforce(state, rules)
    (state_dir / "lab.json").write_text(json.dumps(state, indent=2))
    bastion = bastions[0]
    _wait_port(bastion["address"], 22, None)
    bastion_ns = state["members"][hosts.index(bastion)]["netns"]
    for host in hosts:
        if host is not bastion:
            _wait_port(host["address"], 22, bastion_ns)
    served = "".join(f"; {s['role']} {s['id']} at {s['address']} ({lab_services.describe(s)})" for s in services)
    log(
        f"lab: {len(hosts)} host(s) up: bastion {bastion['address']} (SSH from {operator}), {len(hosts) - 1} node(s)"
        f" behind it{served}; each enforces its security groups and network ACL"
    )
    return state


def _service_record(service: dict[str, Any]) -> dict[str, Any]:
    """A running service's record as the estate describes it (without the lab's own keys)."""
    return {k: v for k, v in service.items() if k not in ("netns", "folder")}


def _start_services(state: dict[str, Any], state_dir: Path, services: list[dict[str, Any]], vpc_ns: str) -> None:
    """Each managed service at its address: its namespace on the VPC's bridge, its server (lab_services)."""
    ca = lab_services.endpoint_ca(state_dir)
    for index, service in enumerate(services, start=len(state["hosts"])):
        ns = f"{PREFIX}{index}"
        folder = state_dir / "services" / service["id"]
        state["services"].append({**service, "netns": ns, "folder": str(folder)})
        (state_dir / "lab.json").write_text(json.dumps(state, indent=2))
        sh("ip", "netns", "add", ns)
        sh("ip", "-n", ns, "link", "set", "lo", "up")
        _wire_node(service, index, ns, vpc_ns, state["blocks"])
        lab_services.start(service, ns, folder, endpoint=state["endpoint"], region=state["region"], ca=ca)
        _wait_port(service["address"], service["port"], ns, what=service["role"])


def _start_hosts(state: dict[str, Any], state_dir: Path, vpc_ns: str, *, image: str, keys: Path) -> None:
    """Per host (the bastion first): its namespace and links, its host key, its container."""
    hosts, blocks, operator = state["hosts"], state["blocks"], state["operator"]
    known_hosts = []
    bastion = hosts[0]
    for index, host in enumerate(hosts):
        ns, member = f"{PREFIX}{index}", f"{PREFIX}{host['id']}"
        state["members"].append({"id": host["id"], "netns": ns, "container": member})
        (state_dir / "lab.json").write_text(json.dumps(state, indent=2))
        sh("ip", "netns", "add", ns)
        sh("ip", "-n", ns, "link", "set", "lo", "up")
        if host is bastion:
            _wire_bastion(host, index, ns, vpc_ns, blocks=blocks, operator=operator)
        else:
            _wire_node(host, index, ns, vpc_ns, blocks)
        host_key = keys / f"{host['id']}_ssh_host_ed25519_key"
        known_hosts.append(f"{host['address']} {' '.join(keygen(host_key, host['id']).split()[:2])}")
        _start(image, member, ns=ns, state=state, host=host, keys=keys)
    (state_dir / "known_hosts").write_text("\n".join(known_hosts) + "\n")


def sync(state_dir: Path, log: Any = print) -> dict[str, Any]:
    """Re-apply the estate's current rules to the running hosts and services (after a converge changed a group or
    an ACL)."""
    state = read_state(state_dir)
    if not state:
        raise LabError("the lab is not running: make up (or strata-lab up)")
    found = estate(state["endpoint"], state.get("region", "eu-west-3"), state["env"])
    state["enforced"] = enforce(state, found["rules"])
    (state_dir / "lab.json").write_text(json.dumps(state, indent=2))
    log(f"lab: the estate's rules re-applied to {len(state['hosts'])} host(s) and {len(state['services'])} service(s)")
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
    services = (state or {}).get("services", [])
    for service in services:
        lab_services.stop(service, Path(service["folder"]))
    namespaces = sorted(p.name for p in Path("/run/netns").glob(f"{PREFIX}*")) if Path("/run/netns").exists() else []
    for ns in namespaces:
        sh("ip", "netns", "del", ns, check=False)
    for block in (state or {}).get("blocks", []):
        sh("ip", "route", "del", "blackhole", block, check=False)
    if state_dir.exists():
        shutil.rmtree(state_dir)
    removed = f"lab: removed {len(containers)} host(s) and {len(services)} service(s)"
    message = removed if containers or state else "lab: nothing to remove"
    log(message)
    return message


def _filtering(
    host: dict[str, Any], netns: str, state: dict[str, Any], rules: dict[str, Any] | None
) -> tuple[str, bool]:
    """What the host's packet filter enforces, as status prints it, and whether it is wrong (missing or stale)."""
    enforced = state.get("enforced", {}).get(_key(host))
    loaded = sh("ip", "netns", "exec", netns, "nft", "list", "table", "inet", TABLE, check=False)
    if enforced is None or loaded.returncode != 0:
        return "NO RULES LOADED", True
    current = host_rules(host, rules)[1] if rules else None
    match = "" if current is None else (" match the estate" if current == enforced["digest"] else " STALE")
    stale = current is not None and current != enforced["digest"]
    return f"{enforced['rules']} rules ({enforced['digest']}{match})", stale


def status(state_dir: Path, quiet: bool = False, check_rules: bool = True) -> int:
    state = read_state(state_dir)
    say = (lambda _msg: None) if quiet else print
    if not state:
        say("lab: not running")
        return 1
    bastion = state["hosts"][0]
    bastion_ns = state["members"][0]["netns"]
    rules: dict[str, Any] | None = None
    if check_rules:
        try:
            rules = estate(state["endpoint"], state.get("region", "eu-west-3"), state["env"])["rules"]
        except Exception as exc:  # the embedded cloud may be down: say so, still probe sshd
            say(f"lab: cannot read the estate's rules ({exc}); rule digests not checked")
    failures = 0
    for host, member in zip(state["hosts"], state["members"], strict=True):
        filtering, wrong = _filtering(host, member["netns"], state, rules)
        failures += wrong
        try:
            _wait_port(host["address"], 22, None if host is bastion else bastion_ns, timeout=3)
            say(f"{host['role']:<8} {host['id']}  {host['address']:<15} {host['zone']}  sshd up, {filtering}")
        except LabError as exc:
            failures += 1
            say(f"{host['role']:<8} {host['id']}  {host['address']:<15} {host['zone']}  {exc}, {filtering}")
    for service in state.get("services", []):
        filtering, wrong = _filtering(service, service["netns"], state, rules)
        failures += wrong
        where = f"{service['role']:<8} {service['id']}  {service['address']:<15} {service['zone']}"
        try:
            _wait_port(service["address"], service["port"], service["netns"], timeout=3, what=service["role"])
            say(f"{where}  {lab_services.describe(service)} up, {filtering}")
        except LabError as exc:
            failures += 1
            say(f"{where}  {exc}, {filtering}")
    if failures and rules is not None and not quiet:
        say("lab: rules are STALE or missing where marked: strata-lab sync (or make up) re-applies them")
    return 1 if failures else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="strata-lab", description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["up", "down", "status", "sync", "image"])
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
        elif args.command == "sync":
            sync(args.state_dir)
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
