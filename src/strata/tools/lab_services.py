"""The managed services of an environment as hosts of the SSH lab: what AWS runs for the estate at private addresses
of its subnets, given a real server at the same place so that the estate's rules can be tested with packets.

- The database: every RDS instance of the environment (an Aurora cluster's writer and readers alike) gets a real
  PostgreSQL server at an address of the subnet of its zone, from its DB subnet group, guarded by its VPC security
  groups and that subnet's network ACL. Its master user and password are the ones RDS keeps in Secrets Manager
  (MasterUserSecret), its database is the instance's DBName, so what works here is what an operator does on AWS.
- The cluster's API endpoint: the EKS cluster's private endpoint is a network interface in one of its subnets,
  carrying the cluster's security groups. No Kubernetes API server exists here (docs/lab.md), so the lab puts a TLS
  listener there, with a certificate for the endpoint's name from the lab's own CA: reachability and the name are
  what it proves.

The lab's hosts resolve every service's names (the RDS endpoint, Aurora's cluster and reader endpoints, the EKS
endpoint's host name) to these addresses, as the VPC's resolver would.
"""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import json
import os
import signal
import subprocess
import sys
import urllib.parse
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import boto3
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from strata.domain import fleet
from strata.tools.baseimage import ImageError, sh

DATABASE = "database"
ENDPOINT = "endpoint"
# The runtime's PostgreSQL (roles/runtime/defaults/main.yml: runtime_pg_bin); the lab uses the same server.
PG_BIN = Path(os.environ.get("STRATA_LAB_PG_BIN", "/usr/lib/postgresql/15/bin"))
# PostgreSQL refuses to run as root: as in the runtime, a user namespace maps root to an unprivileged uid.
USERNS = ["unshare", "--user", "--map-user=1000", "--map-group=1000"]
ENDPOINT_SERVER = """
import http.server, ssl, sys

class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b'{"kind": "Status", "message": "strata lab: the cluster endpoint address; no Kubernetes API here"}'
        self.send_response(503)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass

server = http.server.ThreadingHTTPServer(("0.0.0.0", int(sys.argv[1])), Handler)
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(sys.argv[2], sys.argv[3])
server.socket = context.wrap_socket(server.socket, server_side=True)
server.serve_forever()
"""


def _owned(tags: Mapping[str, str], env: str) -> bool:
    return all(tags.get(k) == v for k, v in fleet.owned_tags(env).items())


def _subnet_in_zone(subnet_ids: Iterable[str], zone: str, subnets: Mapping[str, Mapping[str, Any]]) -> str | None:
    known = sorted((subnets[s]["AvailabilityZone"], s) for s in subnet_ids if s in subnets)
    in_zone = [s for z, s in known if z == zone]
    candidates = in_zone or [s for _, s in known]
    return candidates[0] if candidates else None


def discover(endpoint: str, region: str, env: str, subnets: Mapping[str, Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The environment's databases and cluster endpoints, without addresses yet (see `place`)."""
    rds = boto3.client("rds", region_name=region, endpoint_url=endpoint)
    clusters = {c["DBClusterIdentifier"]: c for c in rds.describe_db_clusters().get("DBClusters", [])}
    found = []
    for db in (i for page in rds.get_paginator("describe_db_instances").paginate() for i in page["DBInstances"]):
        gone = db.get("DBInstanceStatus") in ("deleting", "stopped")
        if not _owned(fleet.tags_of(db), env) or "Endpoint" not in db or gone:
            continue
        subnet = _subnet_in_zone(
            (s["SubnetIdentifier"] for s in db.get("DBSubnetGroup", {}).get("Subnets", [])),
            db.get("AvailabilityZone", ""),
            subnets,
        )
        if subnet is None:
            continue
        names = [db["Endpoint"]["Address"]]
        cluster = clusters.get(db.get("DBClusterIdentifier") or "")
        if cluster:
            writer = any(
                m["DBInstanceIdentifier"] == db["DBInstanceIdentifier"] and m.get("IsClusterWriter")
                for m in cluster.get("DBClusterMembers", [])
            )
            names.append(cluster["Endpoint"] if writer else cluster.get("ReaderEndpoint", ""))
        found.append(
            {
                "id": db["DBInstanceIdentifier"],
                "role": DATABASE,
                "names": [n for n in names if n],
                "port": int(db["Endpoint"].get("Port", 5432)),
                "groups": sorted(g["VpcSecurityGroupId"] for g in db.get("VpcSecurityGroups", [])),
                "subnet_id": subnet,
                "subnet": subnets[subnet]["CidrBlock"],
                "zone": subnets[subnet]["AvailabilityZone"],
                "user": db.get("MasterUsername") or (cluster or {}).get("MasterUsername", ""),
                "dbname": db.get("DBName") or (cluster or {}).get("DatabaseName") or "postgres",
                "secret": (db.get("MasterUserSecret") or (cluster or {}).get("MasterUserSecret") or {}).get(
                    "SecretArn", ""
                ),
            }
        )
    eks = boto3.client("eks", region_name=region, endpoint_url=endpoint)
    for name in (n for page in eks.get_paginator("list_clusters").paginate() for n in page["clusters"]):
        cluster = eks.describe_cluster(name=name)["cluster"]
        config = cluster.get("resourcesVpcConfig", {})
        if not _owned(cluster.get("tags", {}), env) or not cluster.get("endpoint"):
            continue
        subnet = _subnet_in_zone(config.get("subnetIds", []), "", subnets)
        if subnet is None:
            continue
        groups = [*config.get("securityGroupIds", []), config.get("clusterSecurityGroupId", "")]
        found.append(
            {
                "id": name,
                "role": ENDPOINT,
                "names": [urllib.parse.urlsplit(cluster["endpoint"]).hostname or ""],
                "port": 443,
                "groups": sorted({g for g in groups if g}),
                "subnet_id": subnet,
                "subnet": subnets[subnet]["CidrBlock"],
                "zone": subnets[subnet]["AvailabilityZone"],
            }
        )
    return sorted(found, key=lambda s: (s["role"], s["id"]))


def place(services: list[dict[str, Any]], taken: Iterable[str]) -> list[dict[str, Any]]:
    """Give each service an address of its subnet, from the top down (never one of the five AWS reserves: the
    network, .1 to .3, the last), that no instance holds: deterministic, so every run of the lab computes the same."""
    used = set(taken)
    placed = []
    for service in services:
        network = ipaddress.ip_network(service["subnet"])
        address = next(str(a) for a in reversed(list(network.hosts())[3:]) if str(a) not in used)
        used.add(address)
        placed.append({**service, "address": address})
    return placed


def add_hosts(services: Iterable[Mapping[str, Any]]) -> list[str]:
    """podman run's --add-host arguments: every service name resolves to its address, as the VPC's resolver does."""
    return [f"--add-host={name}:{s['address']}" for s in services for name in s["names"]]


def _secret_password(service: Mapping[str, Any], endpoint: str, region: str) -> str:
    if not service["secret"]:
        raise ImageError(
            f"database {service['id']} has no MasterUserSecret: the platform keeps its master password in Secrets "
            "Manager (roles/database); converge the database role"
        )
    secrets = boto3.client("secretsmanager", region_name=region, endpoint_url=endpoint)
    value = json.loads(secrets.get_secret_value(SecretId=service["secret"])["SecretString"])
    return str(value["password"])


def start_database(service: Mapping[str, Any], ns: str, folder: Path, *, endpoint: str, region: str) -> None:
    """A PostgreSQL server in the namespace `ns`, listening on the instance's port, its master user's password
    the one Secrets Manager holds; scram-sha-256 for every address (the security group and the ACL decide who
    reaches it, as on RDS)."""
    data = folder / "data"
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)
    secret = _secret_password(service, endpoint, region)  # one read of Secrets Manager per start
    if not (data / "PG_VERSION").exists():
        password_file = folder / "password"
        password_file.write_text(secret + "\n")
        password_file.chmod(0o600)
        try:
            sh(
                *USERNS, str(PG_BIN / "initdb"), "-D", str(data), "-U", service["user"], f"--pwfile={password_file}",
                "--auth=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8",
            )  # fmt: skip
        finally:
            password_file.unlink()
        with (data / "pg_hba.conf").open("a") as hba:
            hba.write("host all all 0.0.0.0/0 scram-sha-256\n")
    options = f"-c listen_addresses=* -c port={service['port']} -c unix_socket_directories={folder}"
    sh(
        "ip", "netns", "exec", ns, *USERNS, str(PG_BIN / "pg_ctl"), "-D", str(data), "-l", str(folder / "log"),
        "-o", options, "-w", "-t", "30", "start",
    )  # fmt: skip
    connection = ["-h", str(folder), "-p", str(service["port"]), "-U", service["user"]]
    password = {"PGPASSWORD": secret}
    query = ["-d", "postgres", "-tAc", "SELECT datname FROM pg_database"]
    listed = sh(*USERNS, str(PG_BIN / "psql"), *connection, *query, env=password)
    if service["dbname"] not in listed.stdout.split():
        sh(*USERNS, str(PG_BIN / "createdb"), *connection, service["dbname"], env=password)


def _certificate(names: list[str], key: ec.EllipticCurvePrivateKey, issuer: tuple[x509.Name, Any] | None) -> bytes:
    """A PEM certificate for `names` (the first is the subject), signed by `issuer` (name, key) or self-signed as
    a CA when there is none."""
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    issuer_name, signer = issuer or (subject, key)
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=30))
    )
    if issuer is None:
        builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
    else:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
    return builder.sign(signer, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    path.write_bytes(pem)
    path.chmod(0o600)


def endpoint_ca(folder: Path) -> tuple[Path, Path]:
    """The lab's CA for the endpoint listeners (made once per lab): (certificate, key)."""
    cert_path, key_path = folder / "lab-ca.pem", folder / "lab-ca.key"
    if not cert_path.exists():
        key = ec.generate_private_key(ec.SECP256R1())
        _write_key(key_path, key)
        cert_path.write_bytes(_certificate(["strata lab CA"], key, None))
    return cert_path, key_path


def start_endpoint(service: Mapping[str, Any], ns: str, folder: Path, ca: tuple[Path, Path]) -> None:
    """The TLS listener at the cluster endpoint's address, in the background (its pid in folder/pid), with a
    certificate for the endpoint's name from the lab's CA."""
    folder.mkdir(parents=True, exist_ok=True)
    ca_key = serialization.load_pem_private_key(ca[1].read_bytes(), password=None)
    ca_name = x509.load_pem_x509_certificate(ca[0].read_bytes()).subject
    key = ec.generate_private_key(ec.SECP256R1())
    cert, key_path = folder / "tls.crt", folder / "tls.key"
    _write_key(key_path, key)
    cert.write_bytes(_certificate(service["names"], key, (ca_name, ca_key)))
    server = [sys.executable, "-c", ENDPOINT_SERVER, str(service["port"]), str(cert), str(key_path)]
    with (folder / "log").open("ab") as log:
        proc = subprocess.Popen(  # noqa: S603 - our own interpreter and script
            ["/usr/bin/env", "ip", "netns", "exec", ns, *server],
            stdout=log,
            stderr=log,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    (folder / "pid").write_text(str(proc.pid))


def start(
    service: Mapping[str, Any], ns: str, folder: Path, *, endpoint: str, region: str, ca: tuple[Path, Path]
) -> None:
    if service["role"] == DATABASE:
        start_database(service, ns, folder, endpoint=endpoint, region=region)
    else:
        start_endpoint(service, ns, folder, ca)


def stop(service: Mapping[str, Any], folder: Path) -> None:
    """Stop a service's server (idempotent)."""
    if service["role"] == DATABASE:
        if (folder / "data" / "postmaster.pid").exists():
            sh(*USERNS, str(PG_BIN / "pg_ctl"), "-D", str(folder / "data"), "-m", "immediate", "stop", check=False)
        return
    pid_file = folder / "pid"
    if pid_file.exists():
        with contextlib.suppress(ProcessLookupError, ValueError):
            os.killpg(int(pid_file.read_text()), signal.SIGTERM)
        pid_file.unlink()


def describe(service: Mapping[str, Any]) -> str:
    kind = "postgres" if service["role"] == DATABASE else "TLS listener"
    return f"{kind} :{service['port']} for {', '.join(service['names'])}"
