"""Migrations up and down on a real PostgreSQL, and the CLI's contract with Ansible (one JSON line)."""

from __future__ import annotations

import json

import psycopg
import pytest
from app.tests.pg import Postgres

from catalog import migrate
from catalog.settings import Settings


def tables(postgres: Postgres, settings: Settings) -> set[str]:
    with psycopg.connect(postgres.dsn(settings.db_name)) as conn:
        rows = conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'").fetchall()
    return {row[0] for row in rows}


def test_up_down_up(postgres: Postgres, fresh_db: Settings) -> None:
    first = migrate.run("upgrade", "head", fresh_db)
    assert first == {"before": None, "after": "0002", "head": "0002", "changed": True}
    assert tables(postgres, fresh_db) == {"alembic_version", "categories", "items"}
    assert migrate.run("upgrade", "head", fresh_db)["changed"] is False

    assert migrate.run("downgrade", "0001", fresh_db)["after"] == "0001"
    assert tables(postgres, fresh_db) == {"alembic_version", "categories"}
    assert migrate.run("downgrade", "base", fresh_db)["after"] is None
    assert tables(postgres, fresh_db) == {"alembic_version"}
    assert migrate.run("upgrade", "head", fresh_db)["after"] == "0002"


def test_cli_prints_one_json_line(
    fresh_db: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for key, value in {
        "CATALOG_DB_PORT": str(fresh_db.db_port),
        "CATALOG_DB_NAME": fresh_db.db_name,
        "CATALOG_DB_USER": fresh_db.db_user,
        "CATALOG_DB_PASSWORD": fresh_db.db_password.get_secret_value(),
        "CATALOG_DB_SSLMODE": "disable",
    }.items():
        monkeypatch.setenv(key, value)
    assert migrate.main(["upgrade"]) == 0
    assert json.loads(capsys.readouterr().out)["changed"] is True
    assert migrate.main(["current"]) == 0
    assert json.loads(capsys.readouterr().out) == {"before": "0002", "after": "0002", "head": "0002", "changed": False}

    monkeypatch.setenv("CATALOG_DB_PASSWORD", "wrong-password")
    assert migrate.main(["upgrade"]) == 1
    err = capsys.readouterr().err
    assert json.loads(err)["error"].startswith("OperationalError") and "wrong-password" not in err
    with pytest.raises(SystemExit):
        migrate.main(["downgrade"])
