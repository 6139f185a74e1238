"""The service's own database identity, for real: a PostgreSQL server that authenticates rds_iam members with IAM
tokens as RDS does (strata.tools.rds_iam_auth through PAM), the migration as the master user with its password read
from Secrets Manager, and the service as its own least-privilege role with a fresh token per new connection.

What this proves for AWS: the service never holds the master password (nor any password), so the RDS-managed
rotation of the master secret cannot break a running pod; the migration reads the secret when it runs, so it
follows a rotation too."""

from __future__ import annotations

import datetime
import json
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import boto3
import botocore.auth
import psycopg
import pytest
from app.tests.pg import Postgres
from fastapi.testclient import TestClient
from moto import mock_aws

from catalog.main import create_app
from catalog.migrate import run
from catalog.settings import Settings
from strata.tools.rds_iam_auth import hba_line, mount_wrapper, pam_setup

REGION = "eu-west-3"
APP_ROLE = "catalog_app"
DATABASE = "catalog_iam"
OWNER = "strata_admin"
MONITOR = "strata_monitor"
API = "/api/v1"


@pytest.fixture(scope="module")
def keys() -> dict[str, str]:
    """The pod's credentials (IRSA hands out temporary ones; any pair signs the same way)."""
    return {"AKIA" + secrets.token_hex(8).upper(): secrets.token_urlsafe(30)}


@pytest.fixture(scope="module")
def rds(tmp_path_factory: pytest.TempPathFactory, keys: dict[str, str]) -> Iterator[tuple[Postgres, Path]]:
    if os.geteuid() != 0:
        pytest.fail("this test runs PostgreSQL in a mount namespace of its own for PAM: run it as root (CI does)")
    folder = tmp_path_factory.mktemp("rds-iam")
    server = Postgres()
    pam_d = pam_setup(folder, host="127.0.0.1", port=server.port, region=REGION, keys=keys)
    try:
        server.init()
        hba = server.data / "pg_hba.conf"
        hba.write_text(hba_line() + hba.read_text())
        server.wrap = mount_wrapper(pam_d, [])
        server.start()
        with psycopg.connect(server.dsn("postgres"), autocommit=True) as conn:
            conn.execute("CREATE ROLE rds_iam")  # RDS has it; its members log in with tokens only
            conn.execute("CREATE ROLE other_iam LOGIN IN ROLE rds_iam")
        yield server, folder / "rds-iam.log"
    finally:
        server.cleanup()


@pytest.fixture(scope="module")
def master(rds: tuple[Postgres, Path]) -> Iterator[dict[str, str]]:
    """The master user and its RDS-managed secret in Secrets Manager (the embedded cloud, in process)."""
    server, _ = rds
    password = secrets.token_urlsafe(16)
    server.create_database(DATABASE, OWNER, password)
    with psycopg.connect(server.dsn("postgres"), autocommit=True) as conn:
        conn.execute(f"ALTER ROLE {OWNER} CREATEROLE")  # as RDS's master user (rds_superuser) may
    with mock_aws():
        client = boto3.client("secretsmanager", region_name=REGION)
        arn = client.create_secret(
            Name="rds!db-test", SecretString=json.dumps({"username": OWNER, "password": password})
        )
        monitor = secrets.token_urlsafe(16)
        monitor_value = json.dumps({"username": MONITOR, "password": monitor})
        monitor_arn = client.create_secret(Name="strata-test/monitor", SecretString=monitor_value)
        yield {"arn": arn["ARN"], "password": password, "monitor_arn": monitor_arn["ARN"], "monitor": monitor}


def rotate(server: Postgres, master: dict[str, str]) -> None:
    """What RDS's managed rotation does: a new master password in the database and in the secret."""
    master["password"] = secrets.token_urlsafe(16)
    with psycopg.connect(server.dsn("postgres"), autocommit=True) as conn:
        conn.execute(f"ALTER ROLE {OWNER} PASSWORD '{master['password']}'")  # test values only
    boto3.client("secretsmanager", region_name=REGION).put_secret_value(
        SecretId=master["arn"], SecretString=json.dumps({"username": OWNER, "password": master["password"]})
    )


def migration(server: Postgres, master: dict[str, str]) -> Settings:
    return Settings(db_host="127.0.0.1", db_port=server.port, db_name=DATABASE, db_user=OWNER, db_auth="secret",
                    db_password_secret=master["arn"], db_region=REGION, db_sslmode="disable", db_app_role=APP_ROLE,
                    db_monitor_role=MONITOR, db_monitor_password_secret=master["monitor_arn"])  # fmt: skip


@pytest.fixture(scope="module")
def migrated(rds: tuple[Postgres, Path], master: dict[str, str]) -> dict[str, Any]:
    return run("upgrade", "head", migration(rds[0], master))


@pytest.fixture
def pod(monkeypatch: pytest.MonkeyPatch, keys: dict[str, str]) -> None:
    """The pod's environment: its own credentials, nothing of the master."""
    ((key_id, secret),) = keys.items()
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key_id)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)


def service(server: Postgres) -> Settings:
    return Settings(db_host="127.0.0.1", db_port=server.port, db_name=DATABASE, db_user=APP_ROLE, db_auth="iam",
                    db_region=REGION, db_sslmode="disable", db_password="")  # fmt: skip


def token(server: Postgres, user: str = APP_ROLE, port: int | None = None) -> str:
    rds_client = boto3.session.Session(region_name=REGION).client("rds")
    return str(rds_client.generate_db_auth_token("127.0.0.1", port or server.port, user))


def connect(server: Postgres, user: str, password: str) -> psycopg.Connection[Any]:
    return psycopg.connect(host="127.0.0.1", port=server.port, dbname=DATABASE, user=user, password=password,
                           connect_timeout=5, autocommit=True)  # fmt: skip


def test_the_migration_reads_the_master_password_when_it_runs_and_follows_a_rotation(
    rds: tuple[Postgres, Path], master: dict[str, str], migrated: dict[str, Any]
) -> None:
    server, _ = rds
    assert migrated["changed"] is True and migrated["after"] == migrated["head"]
    assert migrated["roles"] == {"app": APP_ROLE, "monitor": MONITOR, "changed": True}
    rotate(server, master)
    again = run("upgrade", "head", migration(server, master))
    assert again["changed"] is False and again["roles"]["changed"] is False


def test_the_monitoring_login_sees_statistics_not_data_and_follows_its_secret(
    rds: tuple[Postgres, Path], master: dict[str, str], migrated: dict[str, Any]
) -> None:
    server, _ = rds
    with connect(server, MONITOR, master["monitor"]) as conn:
        assert conn.execute("SELECT count(*) FROM pg_stat_database").fetchone()[0] > 0  # type: ignore[index]
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SELECT * FROM items")
    new = secrets.token_urlsafe(16)
    boto3.client("secretsmanager", region_name=REGION).put_secret_value(
        SecretId=master["monitor_arn"], SecretString=json.dumps({"username": MONITOR, "password": new})
    )
    run("upgrade", "head", migration(server, master))  # the next deploy's Job sets the new one
    connect(server, MONITOR, new).close()
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        connect(server, MONITOR, master["monitor"]).close()
    master["monitor"] = new


def test_the_service_role_reads_and_writes_and_does_nothing_else(
    rds: tuple[Postgres, Path], migrated: dict[str, Any], pod: None
) -> None:
    server, _ = rds
    with connect(server, APP_ROLE, token(server)) as conn:
        assert conn.execute("SELECT current_user").fetchone() == (APP_ROLE,)
        conn.execute("INSERT INTO categories (slug, name) VALUES ('probe', 'Probe')")
        conn.execute("DELETE FROM categories WHERE slug = 'probe'")
        for statement in ("CREATE TABLE probe (id int)", "DROP TABLE items", "CREATE ROLE probe",
                          "ALTER TABLE items ADD COLUMN probe int", "CREATE DATABASE probe"):  # fmt: skip
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)


def test_tokens_are_checked_as_rds_checks_them(rds: tuple[Postgres, Path], migrated: dict[str, Any], pod: None) -> None:
    server, log = rds
    good = token(server)
    past = datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=16)
    with mock.patch.object(botocore.auth, "get_current_datetime", return_value=past):
        expired = token(server)
    signature = good.rsplit("=", 1)[1]
    refused = {
        "another role's token": (APP_ROLE, token(server, user="other_iam")),
        "a tampered signature": (APP_ROLE, good.replace(signature, signature[::-1])),
        "an expired token": (APP_ROLE, expired),
        "another port's token": (APP_ROLE, token(server, port=server.port + 1)),
        "a password": (APP_ROLE, "catalog-local-only"),
    }
    for what, (user, password) in refused.items():
        with pytest.raises(psycopg.OperationalError, match="PAM authentication failed"):
            connect(server, user, password).close()
            pytest.fail(f"{what} was accepted")
    with (
        mock.patch.dict(os.environ, {"AWS_SECRET_ACCESS_KEY": "not-the-pods-key"}),
        pytest.raises(psycopg.OperationalError, match="PAM authentication failed"),
    ):
        connect(server, APP_ROLE, token(server)).close()
    assert "refused catalog_app: the token's signature does not match" in log.read_text()
    connect(server, APP_ROLE, good).close()


def test_the_service_keeps_serving_through_a_master_rotation_and_new_connections(
    rds: tuple[Postgres, Path], master: dict[str, str], migrated: dict[str, Any], pod: None
) -> None:
    server, log = rds
    with TestClient(create_app(service(server))) as client:
        created = client.post(f"{API}/categories", json={"slug": "rotation", "name": "Rotation"})
        assert created.status_code == 201, created.text
        accepted = log.read_text().count(f"accepted {APP_ROLE}")
        with psycopg.connect(server.dsn(DATABASE), autocommit=True) as admin:
            users = admin.execute(
                "SELECT DISTINCT usename FROM pg_stat_activity WHERE application_name LIKE 'catalog-%'"
            )
            assert users.fetchall() == [(APP_ROLE,)]  # the service never logs in as the master
            rotate(server, master)
            # Every pooled connection dies (a failover, a restart of the database): the pool opens new ones,
            # each with a new token; the rotated master password plays no part.
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s", (APP_ROLE,))
        for n in range(20):
            response = client.post(f"{API}/categories", json={"slug": f"after-{n}", "name": f"After {n}"})
            assert response.status_code == 201, response.text
            assert client.get(f"{API}/categories/{response.json()['id']}").status_code == 200
        assert log.read_text().count(f"accepted {APP_ROLE}") > accepted
        assert client.get("/readyz").status_code == 200
