"""Health, readiness, metrics, request ids, logs, settings, replicas, tracing."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path

import pytest
from app.tests.pg import Postgres, free_port
from fastapi.testclient import TestClient
from pydantic import ValidationError

from catalog.main import create_app
from catalog.migrate import head_revision
from catalog.observability import JsonFormatter
from catalog.settings import LOCAL_DEFAULT_PASSWORD, Settings


def test_healthz_and_readyz(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {
        "status": "ready",
        "database": "ok",
        "schema_revision": head_revision(),
        "expected_revision": head_revision(),
        "replica": "none",
    }


def test_readyz_is_503_while_the_instance_drains(
    client: TestClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    flag = tmp_path / "drain"
    monkeypatch.setenv("CATALOG_DRAIN_FILE", str(flag))
    assert client.get("/readyz").status_code == 200
    flag.touch()  # what gunicorn's SIGTERM handler does first (catalog.gunicorn_conf.when_ready)
    draining = client.get("/readyz")
    assert draining.status_code == 503 and draining.json()["status"] == "draining"
    assert client.get("/api/v1/items").status_code == 200  # it still serves while it drains


def test_readyz_is_503_when_the_database_is_down(migrated: Settings) -> None:
    down = migrated.model_copy(update={"db_port": free_port()})
    with TestClient(create_app(down)) as client:
        assert client.get("/healthz").status_code == 200  # the process is alive
        ready = client.get("/readyz")
        assert ready.status_code == 503 and ready.json()["database"] == "unreachable"
        listing = client.get("/api/v1/items")
        assert listing.status_code == 503 and listing.json() == {"detail": "database unavailable"}


def test_readyz_is_503_until_migrations_reach_head(fresh_db: Settings) -> None:
    with TestClient(create_app(fresh_db)) as client:
        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["database"] == "schema behind" and ready.json()["schema_revision"] is None


def test_request_id_is_propagated_and_logged(client: TestClient) -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logging.getLogger("catalog.access").addHandler(handler)
    given = client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert given.headers["X-Request-ID"] == "abc-123"
    made = client.get("/healthz", headers={"X-Request-ID": "not valid!"})
    assert made.headers["X-Request-ID"] != "not valid!" and len(made.headers["X-Request-ID"]) == 32
    logging.getLogger("catalog.access").removeHandler(handler)
    access = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert {"request_id": "abc-123", "route": "/healthz", "status": 200, "method": "GET"}.items() <= access[0].items()
    assert access[1]["request_id"] == made.headers["X-Request-ID"]


def test_metrics_use_route_templates(client: TestClient) -> None:
    client.get("/api/v1/items/4242")
    page = client.get("/metrics").text
    assert 'catalog_http_requests_total{method="GET",route="/api/v1/items/{item_id}",status="404"}' in page
    assert "catalog_http_request_duration_seconds_bucket" in page
    assert "catalog_http_requests_in_flight" in page
    assert 'catalog_db_pool_checkouts_total{target="primary"}' in page


def test_reads_go_to_the_replica_writes_to_the_primary(migrated: Settings) -> None:
    from catalog import metrics

    # The same server stands in for the replica here; the runtime test uses a real streaming standby.
    settings = migrated.model_copy(update={"db_replica_host": "127.0.0.1", "db_replica_port": migrated.db_port})

    def checkouts(target: str) -> float:
        return metrics.DB_CHECKOUTS.labels(target)._value.get()  # type: ignore[attr-defined,no-any-return]

    with TestClient(create_app(settings)) as client:
        before = checkouts("primary"), checkouts("replica")
        client.get("/api/v1/items")
        assert (checkouts("primary"), checkouts("replica")) == (before[0], before[1] + 1)
        client.post("/api/v1/categories", json={"slug": "replica-check", "name": "R"})
        assert (checkouts("primary"), checkouts("replica")) == (before[0] + 1, before[1] + 1)
        assert client.get("/readyz").json()["replica"] == "ok"


@pytest.mark.parametrize("env", ["dev", "staging", "production"])
def test_default_secret_is_refused_outside_local(env: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CATALOG_ENV", env)
    for password in (LOCAL_DEFAULT_PASSWORD, ""):
        monkeypatch.setenv("CATALOG_DB_PASSWORD", password)
        with pytest.raises(ValidationError, match="CATALOG_DB_PASSWORD"):
            Settings()
    monkeypatch.setenv("CATALOG_DB_PASSWORD", "from-secrets-manager")
    monkeypatch.setenv("CATALOG_DB_SSLMODE", "verify-full")
    monkeypatch.setenv("CATALOG_DB_SSLROOTCERT", "rds")
    assert Settings().env == env
    assert "from-secrets-manager" not in repr(Settings())  # SecretStr keeps it out of logs and reprs


def test_production_requires_tls_to_the_database(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CATALOG_ENV", "production")
    monkeypatch.setenv("CATALOG_DB_PASSWORD", "x")
    monkeypatch.setenv("CATALOG_DB_SSLMODE", "prefer")
    with pytest.raises(ValidationError, match="CATALOG_DB_SSLMODE"):
        Settings()


def test_server_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CATALOG_WORKERS", "3")
    monkeypatch.setenv("CATALOG_GRACEFUL_TIMEOUT", "7")
    monkeypatch.setenv("CATALOG_BIND", "127.0.0.1:9999")
    import importlib

    from catalog import gunicorn_conf

    conf = importlib.reload(gunicorn_conf)
    assert (conf.workers, conf.graceful_timeout, conf.bind) == (3, 7, "127.0.0.1:9999")
    assert conf.worker_class == "uvicorn.workers.UvicornWorker"


def test_tracing_is_off_unless_an_endpoint_is_set(migrated: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    assert create_app(migrated).state.tracing is False
    traced = migrated.model_copy(update={"otel_endpoint": f"http://127.0.0.1:{free_port()}"})
    app = create_app(traced)
    assert app.state.tracing is True
    logging.getLogger("opentelemetry").setLevel(logging.CRITICAL)  # the exporter's endpoint is closed on purpose


def test_postgres_helper_refuses_a_missing_server(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    from app.tests import pg

    monkeypatch.setattr(pg, "PG_BIN", pg.Path("/nonexistent"))
    with pytest.raises(RuntimeError, match="make host"):
        Postgres()
