"""The lifecycle's shared parts: the Lab (one embedded cloud, SSH lab and runtime), helpers, and the destroy checks."""

from __future__ import annotations

import datetime
import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import yaml

from strata.domain import fleet
from strata.tools import cloud
from tests.helpers import REGION, ROOT, Background, Run, free_port, port_is_free, run, venv_env

# The environment's Kubernetes version (inventories/local/group_vars/all/env.yml): the cluster runs it.
KUBERNETES_VERSION = yaml.safe_load((ROOT / "inventories/local/group_vars/all/env.yml").read_text())[
    "strata_kubernetes_version"
]

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
        self.monitor_password = ""
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

    def lab_services(self) -> dict[str, dict[str, Any]]:
        """The lab's managed services by role (database, endpoint): address, names, port, netns."""
        state = json.loads((self.lab_state / "lab.json").read_text())
        return {s["role"]: s for s in state["services"]}

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


def tags(resource: dict[str, Any]) -> dict[str, str]:
    return fleet.tags_of(resource)


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


def destroy_and_down(lab: Lab) -> None:
    """`make destroy` leaves nothing tagged, the lab and the runtime are gone, then `make down` changes nothing and
    stops the cloud. Run by the package fixture once every layer's checks are done (a failure is reported there)."""
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
    # The keys of the data that outlives the environment (the final snapshot, the backups) are kept, tagged
    # retained=data; the others wait out the longest deletion window AWS allows (30 days), their aliases gone.
    keys = {
        k["KeyId"]: kms.describe_key(KeyId=k["KeyId"])["KeyMetadata"]
        for k in kms.list_keys()["Keys"]
        if "strata" in kms.describe_key(KeyId=k["KeyId"])["KeyMetadata"].get("Description", "")
    }
    purposes = {key: {t["TagKey"]: t["TagValue"] for t in kms.list_resource_tags(KeyId=key)["Tags"]} for key in keys}
    kept = {purposes[k]["purpose"] for k, m in keys.items() if m["KeyState"] == "Enabled"}
    assert kept == {"database", "backup"} and all(
        purposes[k].get("retained") == "data" for k, m in keys.items() if m["KeyState"] == "Enabled"
    )
    pending = [m for m in keys.values() if m["KeyState"] == "PendingDeletion"]
    assert {purposes[m["KeyId"]]["purpose"] for m in pending} == {"eks", "storage"}
    for metadata in pending:
        window = metadata["DeletionDate"] - datetime.datetime.now(datetime.UTC)
        assert datetime.timedelta(days=29) < window <= datetime.timedelta(days=30), window
    assert "Kept alias/strata-local-database, alias/strata-local-backup" in " ".join(destroy.output.split())
    assert "retained on purpose: arn:aws:kms:" in destroy.output

    rds = boto3.client("rds", region_name=REGION, endpoint_url=lab.endpoint)
    assert rds.describe_db_instances()["DBInstances"] == []
    final = [s["DBSnapshotIdentifier"] for s in rds.describe_db_snapshots(SnapshotType="manual")["DBSnapshots"]]
    assert len(final) == 1 and final[0].startswith("strata-local-final-"), final
    # ...and the key that decrypts it is one of the kept ones.
    (snapshot,) = rds.describe_db_snapshots(DBSnapshotIdentifier=final[0])["DBSnapshots"]
    assert kms.describe_key(KeyId=snapshot["KmsKeyId"])["KeyMetadata"]["KeyState"] == "Enabled"
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
