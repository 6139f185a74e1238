"""A real PostgreSQL for the whole session; a migrated database per test module, emptied between tests."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import psycopg
import pytest
from app.tests.pg import Postgres
from fastapi.testclient import TestClient

from catalog.main import create_app
from catalog.migrate import run
from catalog.settings import Settings


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    server = Postgres()
    try:
        server.init()
        server.start()
        yield server
    finally:
        server.cleanup()


def settings_for(server: Postgres, database: str, password: str, **extra: object) -> Settings:
    return Settings(
        db_host="127.0.0.1",
        db_port=server.port,
        db_name=database,
        db_user=database,
        db_password=password,  # type: ignore[arg-type]
        db_sslmode="disable",
        log_format="json",
        **extra,  # type: ignore[arg-type]
    )


@pytest.fixture
def fresh_db(postgres: Postgres) -> Settings:
    """An empty database of the test's own (no migrations run)."""
    name = f"t_{secrets.token_hex(4)}"
    password = secrets.token_urlsafe(12)
    postgres.create_database(name, name, password)
    return settings_for(postgres, name, password)


@pytest.fixture(scope="module")
def migrated(postgres: Postgres) -> Settings:
    name = f"m_{secrets.token_hex(4)}"
    password = secrets.token_urlsafe(12)
    postgres.create_database(name, name, password)
    settings = settings_for(postgres, name, password)
    run("upgrade", "head", settings)
    return settings


@pytest.fixture
def client(migrated: Settings, postgres: Postgres) -> Iterator[TestClient]:
    with psycopg.connect(postgres.dsn(migrated.db_name), autocommit=True) as conn:
        conn.execute("TRUNCATE items, categories RESTART IDENTITY CASCADE")
    with TestClient(create_app(migrated)) as test_client:
        yield test_client
