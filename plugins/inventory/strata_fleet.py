# -*- coding: utf-8 -*-
# Apache-2.0 (see LICENSE of the strata project)
"""Ansible inventory plugin: an environment's EKS node groups and bastion, reached through the bastion."""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import re
import shlex
from typing import Any

DOCUMENTATION = r"""
---
name: strata_fleet
short_description: EKS node-group instances and the bastion of one strata environment, SSH through the bastion
description:
  - Discovers the EC2 instances of every node group of one environment's EKS cluster and that environment's
    bastion. Managed node groups are followed through their Auto Scaling groups (C(describe_nodegroup)); self-managed
    ones through the cluster's C(kubernetes.io/cluster/<name>) and C(eks:nodegroup-name) instance tags.
  - Private hosts are reached through the bastion; the bastion itself is reached directly, at its public address,
    or at its private one when I(bastion_address=private) (a controller inside the network).
  - Only the regions in I(regions) are queried. Instances of other clusters and environments in the same account are
    left out, and so are stopped and terminated ones unless I(include_stopped) is set.
  - The configuration file's name must end with C(strata_fleet.yml) or C(strata_fleet.yaml).
version_added: "0.3.0"
author: strata maintainers
extends_documentation_fragment:
  - constructed
  - inventory_cache
options:
  plugin:
    description: Marks the file as this plugin's configuration.
    type: str
    required: true
    choices: [strata_fleet]
  env:
    description: The environment (its resources carry the tag C(env=<env>)).
    type: str
    required: true
  cluster_name:
    description: The environment's EKS cluster; C(strata-<env>) when unset.
    type: str
  regions:
    description: Regions to query; no other region is asked.
    type: list
    elements: str
    default: [eu-west-3]
  endpoint_url:
    description:
      - AWS endpoint for every call (the embedded cloud in env=local). May hold a Jinja expression, for instance
        a port from the environment.
    type: str
    env:
      - name: STRATA_AWS_ENDPOINT_URL
  aws_profile:
    description: Named AWS profile; the standard credential chain when unset.
    type: str
    env:
      - name: AWS_PROFILE
  aws_access_key_id:
    description: Access key; the standard credential chain when unset.
    type: str
  aws_secret_access_key:
    description: Secret key that goes with I(aws_access_key_id).
    type: str
  bastion_tags:
    description: Tags that mark the bastion, besides C(env=<env>).
    type: dict
    default: {role: bastion}
  bastion_address:
    description:
      - How the controller reaches the bastion. C(public) is its public address (a controller outside the VPC);
        C(private) its private one (a controller inside the network, or the local lab).
    type: str
    choices: [public, private]
    default: public
  bastion_hop:
    description:
      - How private hosts go through the bastion. C(proxycommand) runs C(ssh -W) to the bastion with its own
        connection multiplexing, so that every node shares one bastion session (the fast default);
        C(proxyjump) uses C(ProxyJump) and relies on the user's ssh_config for the bastion's key and options.
    type: str
    choices: [proxycommand, proxyjump]
    default: proxycommand
  remote_user:
    description: SSH user of every host (C(ansible_user)).
    type: str
    default: ec2-user
  ssh_private_key_file:
    description:
      - Private key for every host and the bastion hop (C(ansible_ssh_private_key_file)). May hold a Jinja
        expression; a relative path is taken from the folder of the configuration file.
    type: str
  ssh_known_hosts_file:
    description:
      - A known_hosts file used for every host and the bastion hop, with strict host key checking. May hold
        a Jinja expression; a relative path is taken from the folder of the configuration file.
    type: str
  ssh_control_dir:
    description: Folder of the bastion hop's multiplexing sockets.
    type: str
    default: ~/.ansible/cp
  ssh_control_persist:
    description: How long an idle multiplexed bastion session stays open.
    type: str
    default: 300s
  include_stopped:
    description: Also list stopped (and stopping) instances; terminated ones never appear.
    type: bool
    default: false
"""

EXAMPLES = r"""
# inventories/staging/fleet.strata_fleet.yml
plugin: strata_fleet
env: staging
regions: [eu-west-3]
ssh_private_key_file: ~/.ssh/strata-staging
keyed_groups:
  - key: instance_type
    prefix: type
compose:
  ansible_python_interpreter: "'/usr/bin/python3'"
cache: true
cache_plugin: ansible.builtin.jsonfile
cache_connection: ~/.cache/strata/inventory
cache_timeout: 300

# env=local (inventories/local/fleet.strata_fleet.yml) sets, besides env: local,
#   endpoint_url: "http://127.0.0.1:{{ lookup('ansible.builtin.env', 'STRATA_CLOUD_PORT', default='5055') }}"
#   aws_access_key_id / aws_secret_access_key: the embedded cloud's dummy keys
#   bastion_address: private       (the controller sits on the lab's network edge)
"""

from ansible.errors import AnsibleParserError  # noqa: E402
from ansible.plugins.inventory import BaseInventoryPlugin, Cacheable, Constructable  # noqa: E402

try:
    import boto3
    import botocore.exceptions
    from botocore.config import Config
except ImportError:  # pragma: no cover - reported at parse time
    boto3 = None

# The fleet's tag contract has one home, shared with the lab, the summary and the bench.
from strata.domain import fleet  # noqa: E402

RUNNING_STATES = list(fleet.RUNNING_STATES)
STOPPED_STATES = list(fleet.STOPPED_STATES)


def group_parents(hosts: list[tuple[str, dict[str, Any], list[str]]]) -> dict[str, str]:
    """The chain env > cluster > nodes|bastion > role > node group as parent groups, so that a
    host is added to its narrowest groups only (Ansible adds the ancestors itself)."""
    parents: dict[str, str] = {}
    for _, _, groups in hosts:
        chain = [g for g in groups if not g.startswith(("zone_", "tier_"))]
        for parent, child in itertools.pairwise(chain):
            parents[child] = parent
    return parents


def shared_vars(
    hosts: list[tuple[str, dict[str, Any], list[str]]],
) -> tuple[dict[str, dict[str, Any]], dict[str, list[str]]]:
    """Variables every member of a group has with the same value go on the group, once (the
    user, the key, the bastion hop of all nodes, a node group's name, a zone...); each host
    keeps only what no group of its carries. 1,000 hosts set far fewer variables that way,
    and a variable only moves to a group whose members all agree, so no precedence changes
    what any host sees."""
    members: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    rank: dict[str, int] = {}  # ties go to the wider group (env before cluster before nodes...)
    for name, variables, groups in hosts:
        for index, group in enumerate(groups):
            members.setdefault(group, []).append((name, variables))
            rank.setdefault(group, index)
    covered: dict[str, set[str]] = {name: set() for name, _, _ in hosts}
    shared: dict[str, dict[str, Any]] = {}
    for group, hosts_of in sorted(members.items(), key=lambda item: (-len(item[1]), rank[item[0]], item[0])):
        first = hosts_of[0][1]
        common = {
            key: value
            for key, value in first.items()
            if key != "ansible_host" and all(key in v and v[key] == value for _, v in hosts_of[1:])
        }
        fresh = {key: value for key, value in common.items() if any(key not in covered[n] for n, _ in hosts_of)}
        if fresh:
            shared[group] = fresh
            for name, _ in hosts_of:
                covered[name].update(fresh)
    own = {name: [k for k in variables if k not in covered[name]] for name, variables, _ in hosts}
    return shared, own


class Session:
    """A boto3 session whose clients fail fast (a few retries, short connect timeouts). Sessions
    share botocore's data loader within a process: loading the EC2 service model costs more
    than a small listing, and credentials are still resolved anew for every parse."""

    _loader: Any = None

    def __init__(self, **credentials: Any) -> None:
        self.session = boto3.session.Session(**credentials)
        core = self.session._session  # botocore's documented component registry
        if Session._loader is None:
            Session._loader = core.get_component("data_loader")
        else:
            core.register_component("data_loader", Session._loader)

    def client(self, service: str, **kwargs: Any) -> Any:
        config = Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=5, read_timeout=60)
        return self.session.client(service, config=config, **kwargs)


def safe_group(name: str) -> str:
    """A group name Ansible accepts (letters, digits and underscores)."""
    return re.sub(r"[^A-Za-z0-9_]", "_", name)


def control_path(control_dir: str, user: str, address: str) -> str:
    """A short socket path per bastion session (unix sockets allow about 100 bytes)."""
    digest = hashlib.sha1(f"{user}@{address}:22".encode(), usedforsecurity=False).hexdigest()[:12]  # a name
    return f"{control_dir.rstrip('/')}/strata-{digest}"


def ssh_options(known_hosts: str | None) -> list[str]:
    if not known_hosts:
        return []
    return ["-o", "StrictHostKeyChecking=yes", "-o", f"UserKnownHostsFile={known_hosts}"]


def proxy_args(bastion_address: str, settings: dict[str, Any]) -> list[str]:
    """ssh options that route a private host through the bastion."""
    user = settings["remote_user"]
    if settings["bastion_hop"] == "proxyjump":
        return ["-o", f"ProxyJump={user}@{bastion_address}"]
    hop = ["ssh", "-W", "%h:%p", "-o", "BatchMode=yes", "-o", "ControlMaster=auto"]
    hop += ["-o", f"ControlPersist={settings['ssh_control_persist']}"]
    hop += ["-o", f"ControlPath={control_path(settings['ssh_control_dir'], user, bastion_address)}"]
    if settings.get("ssh_private_key_file"):
        hop += ["-i", settings["ssh_private_key_file"]]
    hop += ssh_options(settings.get("ssh_known_hosts_file"))
    hop += ["-l", user, bastion_address]
    return ["-o", "ProxyCommand=" + " ".join(shlex.quote(p) for p in hop)]


def _page(client: Any, call: str, key: str, **kwargs: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for page in client.get_paginator(call).paginate(**kwargs):
        items.extend(page[key])
    return items


def _instances(ec2: Any, filters: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [i for r in _page(ec2, "describe_instances", "Reservations", Filters=filters) for i in r["Instances"]]


def discover_region(eks: Any, ec2: Any, region: str, settings: dict[str, Any]) -> list[dict[str, Any]]:
    """The node-group instances and bastions of one environment's cluster in one region, as plain records."""
    env, cluster = settings["env"], settings["cluster_name"]
    states = RUNNING_STATES + (STOPPED_STATES if settings.get("include_stopped") else [])
    # Managed node groups: their Auto Scaling groups name the instances' group.
    asg_to_group: dict[str, str] = {}
    for listed in _page(eks, "list_nodegroups", "nodegroups", clusterName=cluster):
        name = str(listed)
        described = eks.describe_nodegroup(clusterName=cluster, nodegroupName=name)["nodegroup"]
        for asg in (described.get("resources") or {}).get("autoScalingGroups") or []:
            if asg.get("name"):
                asg_to_group[asg["name"]] = name
    state_filter = {"Name": "instance-state-name", "Values": states}
    # One listing for nodes and bastion: instances with the cluster's tag key OR a bastion tag
    # key (values of one filter are ORed), sorted out by the fleet's classifier. A second listing
    # only for managed groups' instances that lack the cluster tag.
    keys = [fleet.cluster_tag(cluster), *sorted(settings["bastion_tags"])]
    candidates = _instances(ec2, [{"Name": "tag-key", "Values": keys}, state_filter])
    if asg_to_group:
        known = {i["InstanceId"] for i in candidates}
        by_asg = [{"Name": f"tag:{fleet.ASG}", "Values": sorted(asg_to_group)}, state_filter]
        candidates += [i for i in _instances(ec2, by_asg) if i["InstanceId"] not in known]
    found = fleet.members(
        candidates, env=env, cluster=cluster, asg_to_group=asg_to_group, bastion=settings["bastion_tags"]
    )
    found.sort(key=lambda pair: pair[1].kind != "node")  # nodes first, as listed
    subnet_ids = sorted({i["SubnetId"] for i, _ in found if i.get("SubnetId")})
    tiers = {}
    if subnet_ids:
        subnets = _page(ec2, "describe_subnets", "Subnets", SubnetIds=subnet_ids)
        tiers = {s["SubnetId"]: fleet.tags_of(s).get(fleet.TIER, "") for s in subnets}
    records = []
    for instance, member in found:
        tags = fleet.tags_of(instance)
        kind, role, group = member.kind, member.role, member.nodegroup
        records.append(
            {
                "instance_id": instance["InstanceId"],
                "kind": kind,
                "role": role,
                "nodegroup": group,
                "cluster": cluster,
                "env": env,
                "region": region,
                "availability_zone": instance.get("Placement", {}).get("AvailabilityZone", ""),
                "subnet_id": instance.get("SubnetId", ""),
                "subnet_tier": tiers.get(instance.get("SubnetId", ""), ""),
                "instance_type": instance.get("InstanceType", ""),
                "instance_state": instance["State"]["Name"],
                "private_ip_address": instance.get("PrivateIpAddress", ""),
                "public_ip_address": instance.get("PublicIpAddress", ""),
                "launch_time": str(instance.get("LaunchTime", "")),
                "ec2_tags": tags,
            }
        )
    return records


def discover(session: Any, settings: dict[str, Any]) -> dict[str, Any]:
    """Every record of the configured regions, or a clear error for the operator."""
    env, cluster = settings["env"], settings["cluster_name"]
    records: list[dict[str, Any]] = []
    found_cluster = False
    for region in settings["regions"]:
        try:
            eks = session.client("eks", region_name=region, endpoint_url=settings.get("endpoint_url"))
            try:
                eks.describe_cluster(name=cluster)
                found_cluster = True
            except eks.exceptions.ResourceNotFoundException:
                continue
            ec2 = session.client("ec2", region_name=region, endpoint_url=settings.get("endpoint_url"))
            records += discover_region(eks, ec2, region, settings)
        except botocore.exceptions.NoCredentialsError as exc:
            raise AnsibleParserError(
                "strata_fleet: no AWS credentials. Set AWS_PROFILE (or aws_profile in the inventory file), or "
                "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY; env=local uses the inventory's dummy keys."
            ) from exc
        except botocore.exceptions.EndpointConnectionError as exc:
            where = settings.get("endpoint_url") or f"the AWS endpoints of {region}"
            raise AnsibleParserError(
                f"strata_fleet: cannot reach {where}. For env=local start the embedded cloud (make cloud-start or "
                "make up); otherwise check the network path to AWS."
            ) from exc
        except botocore.exceptions.ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in {"UnrecognizedClientException", "InvalidClientTokenId", "AuthFailure", "ExpiredToken"}:
                raise AnsibleParserError(
                    f"strata_fleet: AWS refused the credentials ({code}) in {region}. Refresh them "
                    "(aws sso login, or new keys) and retry."
                ) from exc
            raise AnsibleParserError(f"strata_fleet: {exc}") from exc
    if not found_cluster:
        raise AnsibleParserError(
            f"strata_fleet: cluster {cluster} not found in {', '.join(settings['regions'])}. Converge it first "
            f"(ansible-playbook site.yml -e env={env}), or set cluster_name/regions in the inventory file."
        )
    return {"records": records}


def host_name(record: dict[str, Any]) -> str:
    return f"{record['role']}-{record['instance_id']}"


def host_vars(record: dict[str, Any], bastion: dict[str, Any] | None, settings: dict[str, Any]) -> dict[str, Any]:
    """Connection and description variables of one host (all of them, as compose sees them)."""
    if record["kind"] == "bastion":
        address_key = "private_ip_address" if settings["bastion_address"] == "private" else "public_ip_address"
        address = record[address_key] or record["private_ip_address"]
        extra: list[str] = []
    else:
        address = record["private_ip_address"]
        if bastion is None:
            extra = []
        else:
            bastion_key = "private_ip_address" if settings["bastion_address"] == "private" else "public_ip_address"
            extra = proxy_args(bastion[bastion_key] or bastion["private_ip_address"], settings)
    variables = {k: v for k, v in record.items() if k not in {"kind", "launch_time"}}
    variables["ansible_host"] = address
    variables["ansible_user"] = settings["remote_user"]
    if settings.get("ssh_private_key_file"):
        variables["ansible_ssh_private_key_file"] = settings["ssh_private_key_file"]
    if settings.get("ssh_known_hosts_file"):
        variables["strata_known_hosts_file"] = settings["ssh_known_hosts_file"]
    args = ssh_options(settings.get("ssh_known_hosts_file")) + extra
    if args:
        variables["ansible_ssh_common_args"] = " ".join(shlex.quote(a) for a in args)
    return variables


def plan(records: list[dict[str, Any]], settings: dict[str, Any]) -> list[tuple[str, dict[str, Any], list[str]]]:
    """(host name, variables, groups) of every host; fails when private hosts have no bastion to go through."""
    bastions = sorted(
        (r for r in records if r["kind"] == "bastion" and r["instance_state"] == "running"),
        key=lambda r: (r["launch_time"], r["instance_id"]),
    )
    bastion = bastions[-1] if bastions else None
    nodes = [r for r in records if r["kind"] == "node"]
    if nodes and bastion is None:
        raise AnsibleParserError(
            f"strata_fleet: {len(nodes)} private host(s) in env={settings['env']} but no running bastion tagged "
            f"{settings['bastion_tags']} and env={settings['env']}. Converge it (ansible-playbook site.yml "
            f"-e env={settings['env']} --tags bastion_host) or start it, then retry."
        )
    hosts = []
    for record in records:
        # Listed from the widest group to the narrowest; group_parents() nests them.
        groups = [
            f"env_{safe_group(record['env'])}",
            f"cluster_{safe_group(record['cluster'])}",
            "nodes" if record["kind"] == "node" else "bastion",
            f"role_{safe_group(record['role'])}",
        ]
        if record["kind"] == "node":
            groups.append(f"nodegroup_{safe_group(record['nodegroup'])}")
        groups.append(f"zone_{safe_group(record['availability_zone'])}")
        if record["subnet_tier"]:
            groups.append(f"tier_{safe_group(record['subnet_tier'])}")
        hosts.append((host_name(record), host_vars(record, bastion, settings), groups))
    return hosts


class InventoryModule(BaseInventoryPlugin, Constructable, Cacheable):  # type: ignore[misc]
    NAME = "strata_fleet"

    _config_dir = "."

    def verify_file(self, path: str) -> bool:
        return super().verify_file(path) and path.endswith(("strata_fleet.yml", "strata_fleet.yaml"))

    def _setting(self, name: str) -> Any:
        value = self.get_option(name)
        if isinstance(value, str) and "{{" in value:
            value = self.templar.template(value)
        return value

    def settings(self) -> dict[str, Any]:
        env = self._setting("env")
        names = [
            "regions",
            "endpoint_url",
            "bastion_tags",
            "bastion_address",
            "bastion_hop",
            "remote_user",
            "ssh_private_key_file",
            "ssh_known_hosts_file",
            "ssh_control_dir",
            "ssh_control_persist",
            "include_stopped",
        ]
        settings = {name: self._setting(name) for name in names}
        for name in ("ssh_private_key_file", "ssh_known_hosts_file"):
            if settings[name]:
                settings[name] = os.path.normpath(os.path.join(self._config_dir, os.path.expanduser(settings[name])))
        settings["env"] = env
        settings["cluster_name"] = self._setting("cluster_name") or fleet.resource_name(env)
        return settings

    def _session(self) -> Any:
        if boto3 is None:
            raise AnsibleParserError("strata_fleet needs boto3 and botocore on the controller (pip install boto3)")
        key, secret = self.get_option("aws_access_key_id"), self.get_option("aws_secret_access_key")
        if key or secret:
            return Session(aws_access_key_id=key, aws_secret_access_key=secret)
        return Session(profile_name=self.get_option("aws_profile"))

    def parse(self, inventory: Any, loader: Any, path: str, cache: bool = True) -> None:
        super().parse(inventory, loader, path)
        self._read_config_data(path)
        self._config_dir = os.path.dirname(os.path.abspath(path))
        settings = self.settings()
        # The cache holds the planned inventory (hosts, shared group variables, nesting), so a
        # cached run only applies it; it is valid for these settings only. It is stored as one
        # JSON string: ansible-core 2.19's cache decoder inspects every object it reads, which
        # made reading 1,000 planned hosts slower than discovering them again.
        digest = hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()
        cache_key = self.get_cache_key(path)
        use_cache = self.get_option("cache") and cache
        update_cache = self.get_option("cache") and not cache
        planned = None
        if use_cache:
            try:
                cached = self._cache[cache_key]
                planned = json.loads(cached["planned"]) if cached.get("digest") == digest else None
            except KeyError:
                pass
            update_cache = planned is None
        if planned is None:
            hosts = plan(discover(self._session(), settings)["records"], settings)
            shared, own = shared_vars(hosts)
            planned = {"hosts": hosts, "shared": shared, "own": own, "parents": group_parents(hosts)}
        if update_cache:
            self._cache[cache_key] = {"digest": digest, "planned": json.dumps(planned)}
        self.populate(planned)

    def populate(self, planned: dict[str, Any]) -> None:
        hosts, shared, own, parents = planned["hosts"], planned["shared"], planned["own"], planned["parents"]
        strict = self.get_option("strict")
        composing = bool(self.get_option("compose") or self.get_option("groups") or self.get_option("keyed_groups"))
        for group in sorted({g for _, _, groups in hosts for g in groups}):
            self.inventory.add_group(group)
            for key, value in shared.get(group, {}).items():
                self.inventory.set_variable(group, key, value)
        for child, parent in sorted(parents.items()):
            self.inventory.add_child(parent, child)
        inner = set(parents.values())
        for name, variables, groups in hosts:
            self.inventory.add_host(name)
            for group in groups:
                if group not in inner:
                    self.inventory.add_child(group, name)
            for key in own[name]:
                self.inventory.set_variable(name, key, variables[key])
            if composing:
                self._set_composite_vars(self.get_option("compose"), variables, name, strict=strict)
                self._add_host_to_composed_groups(self.get_option("groups"), variables, name, strict=strict)
                self._add_host_to_keyed_groups(self.get_option("keyed_groups"), variables, name, strict=strict)
