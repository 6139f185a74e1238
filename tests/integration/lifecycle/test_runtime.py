"""The runtime (playbooks/runtime.yml, run by make up): the N-tier path for real on this machine, and what CI runs
against staging."""

from __future__ import annotations

import json
import os
import re
import signal
import tomllib
import urllib.error
import urllib.parse
import urllib.request

import psycopg
import pytest

from tests.helpers import ROOT, Background, run, steady_load, venv_env
from tests.integration.lifecycle.support import Lab, http, pid_alive, prometheus, runtime_pid, wait_for

pytestmark = pytest.mark.integration


def test_make_up_prints_the_runtime_urls_and_keeps_its_passwords_out_of_the_output(lab: Lab) -> None:
    m = lab.runtime
    assert f"API through Traefik  {m['api']}/items" in lab.up_output
    assert f"OpenAPI page         {m['openapi']}" in lab.up_output
    assert f"Prometheus           {m['prometheus']}/targets" in lab.up_output
    secrets = sorted((lab.runtime_state / "secrets").iterdir())
    tls = [f"db-{who}.{kind}" for who in ("ca", "server") for kind in ("csr", "key", "pem")]
    assert [p.name for p in secrets] == ["catalog_db_password", *tls, "pgpass", "postgres", "replicator"]
    for path in secrets:
        assert path.stat().st_mode & 0o077 == 0, path
        if path.name in ("catalog_db_password", "postgres", "replicator"):
            assert len(path.read_text()) == 32 and path.read_text() not in lab.up_output, path.name  # -vvv run
    assert "ESTABLISH LOCAL CONNECTION" in lab.up_output


def test_runtime_second_run_and_check_mode_change_nothing(lab: Lab) -> None:
    check = Background(lab.runtime_argv("--check"), venv_env(**lab.extra))
    second = lab.runtime_playbook()
    checked = check.wait()
    assert second.returncode == 0 and second.recap["changed"] == 0, second.output[-4000:]
    assert checked.returncode == 0 and checked.recap["changed"] == 0, checked.output[-4000:]


def test_the_database_speaks_tls_only_and_the_service_verifies_it(lab: Lab) -> None:
    """As on AWS (rds.force_ssl, verify-full against the RDS CAs): the servers refuse plain connections, present the
    runtime CA's certificate for 127.0.0.1, and every connection of the service is encrypted."""
    secrets = lab.runtime_state / "secrets"
    password = (secrets / "postgres").read_text()
    primary = f"host=127.0.0.1 port={lab.runtime['postgres_primary']} dbname=postgres user=postgres password={password}"
    with pytest.raises(psycopg.OperationalError, match="no encryption"):
        psycopg.connect(f"{primary} sslmode=disable", connect_timeout=3).close()
    verified = f"{primary} sslmode=verify-full sslrootcert={secrets / 'db-ca.pem'}"
    with psycopg.connect(verified, autocommit=True) as conn:
        assert conn.execute("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").fetchone() == (True,)
        service = conn.execute(
            "SELECT bool_and(s.ssl), count(*) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid)"
            " WHERE a.usename = 'catalog'"
        ).fetchone()
        assert service is not None and service[0] is True and service[1] > 0, service
        replication = conn.execute("SELECT bool_and(s.ssl) FROM pg_stat_ssl s JOIN pg_stat_replication r USING (pid)")
        assert replication.fetchone() == (True,)  # the standby streams over TLS too


def test_a_write_through_traefik_is_read_back_from_the_standby(lab: Lab) -> None:
    api = lab.runtime["api"]
    status, category = http(f"{api}/categories", "POST", {"slug": "lifecycle", "name": "Lifecycle"})
    assert status == 201, category
    body = {"sku": "LIFE-1", "name": "x", "price_cents": 5, "category_id": category["id"]}
    status, item = http(f"{api}/items", "POST", body)
    assert status == 201, item

    password = (lab.runtime_state / "secrets/catalog_db_password").read_text()
    standby = f"host=127.0.0.1 port={lab.runtime['postgres_standby']} dbname=catalog user=catalog password={password}"
    with psycopg.connect(standby, autocommit=True) as conn:
        assert conn.execute("SELECT pg_is_in_recovery()").fetchone() == (True,)  # a hot standby, read-only

        def replicated() -> bool:
            return conn.execute("SELECT sku FROM items WHERE id = %s", (item["id"],)).fetchone() == ("LIFE-1",)

        wait_for(replicated, 10, "the item reaches the standby")

    def checkouts() -> dict[str, float]:
        """Pool checkouts by target, summed over the instances (each /metrics page covers its workers)."""
        line = re.compile(r'^catalog_db_pool_checkouts_total\{target="(\w+)"\} (\S+)$', re.MULTILINE)
        total = {"primary": 0.0, "replica": 0.0}
        for url in lab.runtime["instances"]:
            page = urllib.request.urlopen(f"{url}/metrics", timeout=5).read().decode()  # noqa: S310
            for target, value in line.findall(page):
                total[target] += float(value)
        return total

    # Traefik's health checks (/readyz) take one primary and one replica connection each: they move both counters
    # alike. 20 reads through Traefik must move the replica's 20 further than the primary's.
    before = checkouts()
    for _ in range(20):
        assert http(f"{api}/items/{item['id']}") == (200, item)  # read through Traefik, from the standby
    after = checkouts()
    assert (after["replica"] - before["replica"]) - (after["primary"] - before["primary"]) >= 20, (before, after)


def test_stopping_an_instance_under_load_loses_no_request(lab: Lab) -> None:
    first, second = lab.runtime["instances"][:2]
    pid = runtime_pid(lab, f"catalog-{first.rsplit(':', 1)[1]}")
    try:
        load = steady_load(f"{lab.runtime['api']}/items?limit=5", seconds=30, threads=4,
                           at=(10, lambda: os.kill(pid, signal.SIGTERM)))  # fmt: skip
        assert set(load.statuses) == {200}, load.statuses  # no 5xx, no reset, no refused connection
        assert load.served > 300, load
        assert not pid_alive(pid)
        with pytest.raises(OSError):
            urllib.request.urlopen(f"{first}/healthz", timeout=2)  # noqa: S310 - it is really gone
        log = (lab.runtime_state / "log/traefik-access.log").read_text().splitlines()[-50:]
        assert {json.loads(line)["ServiceURL"] for line in log} == {second}  # Traefik routed around it
    finally:  # the role notices and starts it again (the next tests need it whatever happened here)
        again = lab.runtime_playbook("--tags", "runtime_app")
    assert again.returncode == 0, again.output[-3000:]
    assert again.recap["changed"] == 1, again.output[-3000:]
    assert http(f"{first}/readyz")[0] == 200


def test_readyz_is_503_while_postgres_is_stopped_and_200_after(lab: Lab) -> None:
    instance = lab.runtime["instances"][0]
    primary = runtime_pid(lab, "postgres-primary")
    os.kill(primary, signal.SIGINT)  # PostgreSQL's fast shutdown
    try:
        wait_for(lambda: not pid_alive(primary), 30, "PostgreSQL stops")
        status, body = http(f"{instance}/readyz")
        assert (status, body["database"]) == (503, "unreachable"), body
        assert http(f"{instance}/healthz")[0] == 200  # alive, only not ready
        assert http(f"{instance}/api/v1/items")[0] == 200  # reads go on, from the hot standby
        write = http(f"{instance}/api/v1/categories", "POST", {"slug": "while-down", "name": "x"})
        assert write == (503, {"detail": "database unavailable"})  # writes need the primary: 503, not 500
    finally:  # the next tests need PostgreSQL whatever happened here
        started = lab.runtime_playbook("--tags", "runtime_postgres")
    assert started.returncode == 0, started.output[-3000:]
    assert started.recap["changed"] >= 1
    wait_for(lambda: http(f"{instance}/readyz")[0] == 200, 20, "/readyz back to 200")


def test_prometheus_sees_every_target_up_and_the_request_counter_rising(lab: Lab) -> None:
    def all_up() -> bool:
        up = {(r["metric"]["job"], r["metric"]["instance"]): r["value"][1] for r in prometheus(lab, "up")}
        return len(up) >= 5 and set(up.values()) == {"1"}

    wait_for(all_up, 30, "every target up (catalog x2, traefik, postgres, prometheus)")
    jobs = {r["metric"]["job"] for r in prometheus(lab, "up")}
    assert jobs == {"catalog", "traefik", "postgres", "prometheus"}

    def total() -> float:
        return sum(float(r["value"][1]) for r in prometheus(lab, "catalog_http_requests_total"))

    before = total()
    for _ in range(20):
        http(f"{lab.runtime['api']}/items?limit=1")
    wait_for(lambda: total() >= before + 20, 30, "catalog_http_requests_total rises by the 20 requests")
    _, rules = http(f"{lab.runtime['prometheus']}/api/v1/rules")
    loaded = {r["name"]: r["health"] for g in rules["data"]["groups"] for r in g["rules"]}
    assert {"CatalogInstanceDown", "CatalogHighErrorRate", "CatalogHighLatency", "PostgresDown"} <= set(loaded)
    assert set(loaded.values()) == {"ok"}


def test_bench_reports_throughput_and_latency_through_traefik_and_direct(lab: Lab) -> None:
    """`make bench`'s HTTP part, short, against this runtime: four rows, every request answered 2xx."""
    argv = [str(ROOT / ".venv/bin/python"), "-m", "strata.tools.bench_http", "--runtime", str(lab.runtime_state)]
    result = run([*argv, "--seconds", "2", "--connections", "4"], venv_env(**lab.extra))
    assert result.returncode == 0, result.output[-3000:]
    row = r"^\| ((?:read|write), [^|]+) \| (\d+) \| ([\d.]+) \| ([\d.]+) \| ([\d.]+) \| (\d+) \| ([\d.]+)x \|$"
    rows = re.findall(row, result.output, re.MULTILINE)
    assert [r[0].split(",")[0] for r in rows] == ["read", "read", "write", "write"], result.output
    for name, requests, rps, p50, p99, errors, _ratio in rows:
        assert int(requests) > 0 and float(rps) > 0, name
        assert 0 < float(p50) <= float(p99), name
        assert errors == "0", name
    assert rows[0][6] == "1.00" and rows[2][6] == "1.00"  # each baseline against itself


def test_the_staging_checks_pass_against_the_runtime(lab: Lab) -> None:
    """What app.yml runs against staging after a deploy, short, against this runtime through Traefik."""
    url = f"http://127.0.0.1:{lab.runtime_ports['traefik_web']}"
    load = lab.make("load-test", LOAD_URL=url, LOAD_USERS="4", LOAD_TIME="5s")
    assert load.returncode == 0, load.output[-3000:]
    assert re.search(r"load test: [1-9]\d* requests, failure ratio 0\.0000 .*: PASS", load.output), load.output[-3000:]
    dast = lab.make("dast", DAST_URL=url, DAST_EXAMPLES="5")
    assert dast.returncode == 0, dast.output[-3000:]
    # The smoke test after a deploy checks the version it deployed, not just a 200.
    version = tomllib.loads((ROOT / "app/pyproject.toml").read_text())["project"]["version"]
    same = run(["scripts/smoke.sh", url, version], lab.make_env())
    assert same.returncode == 0 and f"ok   version {version}" in same.output, same.output
    other = run(["scripts/smoke.sh", url, "0.0.0-not-deployed"], lab.make_env())
    assert other.returncode != 0 and f"FAIL version {version} (want 0.0.0-not-deployed)" in other.output
