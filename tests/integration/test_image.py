"""The catalog's image: built with podman here (make image), non-root, no build tools, a passing health check,
and the same image migrating and serving against a real PostgreSQL (loopback, host network)."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from app.tests.pg import Postgres

from strata.tools import image
from strata.tools.baseimage import CONTAINERS_CONF
from tests.helpers import Run, free_port, run, venv_env

pytestmark = pytest.mark.integration
CONTAINER = "strata-catalog-test"


def podman(*args: str) -> Run:
    return run(["podman", *args], venv_env(CONTAINERS_CONF=str(CONTAINERS_CONF)), timeout=600)


@pytest.fixture(scope="module")
def built() -> str:
    tag = f"{image.REPOSITORY}:test"
    out = image.build(tag, log=lambda _msg: None)
    assert out.startswith(tag)
    return tag


@pytest.fixture
def database(tmp_path: Path) -> Iterator[tuple[Postgres, Path]]:
    server = Postgres()
    server.init()
    server.start()
    server.create_database("catalog", "catalog", "image-test-password")
    # Mounted like a Kubernetes Secret: one file per key, readable by the image's uid.
    secrets = tmp_path / "secrets"
    secrets.mkdir(mode=0o755)
    (secrets / "catalog_db_password").write_text("image-test-password")
    (secrets / "catalog_db_password").chmod(0o644)
    try:
        yield server, secrets
    finally:
        podman("rm", "--force", "--time", "0", CONTAINER)
        server.cleanup()


def test_the_image_runs_as_non_root_and_ships_no_build_tools(built: str) -> None:
    inspected = json.loads(podman("image", "inspect", built).output)[0]
    config = inspected["Config"]
    assert config["User"] == "10001:10001"
    assert inspected["Healthcheck"]["Test"] == ["CMD", "python3", "-m", "catalog.healthcheck"]
    assert config["Labels"]["org.opencontainers.image.version"] == image.version()
    probe = (
        "id -u; id -gn; for t in pip pip3 gcc cc make; do command -v $t; done; python3 -c 'import pip' 2>&1 | tail -1"
    )
    out = podman("run", "--rm", "--network", "none", "--no-healthcheck", built, "sh", "-c", probe).output.splitlines()
    assert out[:2] == ["10001", "catalog"]
    assert out[2:] and "No module named 'pip'" in out[-1], out  # and no tool was found in between
    assert len(out) == 3, out


def test_the_image_migrates_serves_and_passes_its_health_check(built: str, database: tuple[Postgres, Path]) -> None:
    server, secrets = database
    port = free_port()
    env = [
        f"CATALOG_DB_PORT={server.port}", "CATALOG_DB_SSLMODE=disable", "CATALOG_SECRETS_DIR=/run/secrets/catalog",
        f"CATALOG_BIND=127.0.0.1:{port}", "CATALOG_WORKERS=1",
    ]  # fmt: skip
    flags = [arg for e in env for arg in ("--env", e)] + [
        "--network",
        "host",
        "-v",
        f"{secrets}:/run/secrets/catalog:ro",
    ]

    migrate = podman(
        "run", "--rm", "--health-interval", "disable", *flags, built, "python3", "-m", "catalog.migrate", "upgrade"
    )
    assert migrate.returncode == 0, migrate.output
    assert json.loads(migrate.output.strip().splitlines()[-1])["after"] == "0002"

    started = podman("run", "-d", "--name", CONTAINER, "--health-interval", "disable", *flags, built)
    assert started.returncode == 0, started.output
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as response:
                assert json.load(response)["status"] == "ready"
                break
        except (urllib.error.URLError, OSError):
            assert time.monotonic() < deadline, podman("logs", CONTAINER).output[-3000:]
            time.sleep(0.5)
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/v1/categories",
        data=json.dumps({"slug": "boxed", "name": "Boxed"}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
        assert response.status == 201

    health = podman("healthcheck", "run", CONTAINER)
    assert health.returncode == 0, health.output
    top = podman("top", CONTAINER, "user").output.split()
    assert set(top[1:]) == {"catalog"}, top  # every process of the container, gunicorn's workers included

    podman("stop", "--time", "20", CONTAINER)
    state = json.loads(podman("inspect", CONTAINER).output)[0]["State"]
    assert state["ExitCode"] == 0  # a graceful shutdown on SIGTERM
    logs = podman("logs", CONTAINER).output
    assert '"msg": "stopped"' in logs and "image-test-password" not in logs
