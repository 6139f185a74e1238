"""The runtime's role before anything starts: check mode on an empty state folder creates nothing, and bad
input fails with the variable's name and the fix, leaving nothing behind."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import VENV_BIN, Run, run, venv_env

pytestmark = pytest.mark.integration


def runtime(*args: str) -> Run:
    return run([str(VENV_BIN / "ansible-playbook"), "playbooks/runtime.yml", *args], venv_env())


def test_check_mode_on_an_empty_state_folder_creates_nothing(tmp_path: Path) -> None:
    state = tmp_path / "runtime"
    result = runtime("-e", "env=local", "-e", f"runtime_state_dir={state}", "--check")
    assert result.returncode == 0, result.output[-3000:]
    assert result.recap["changed"] > 0  # it reports what it would start...
    assert not state.exists()  # ...and starts, writes and generates nothing


PORTS = {"postgres_primary": 56432, "postgres_standby": 56433, "app": [8201], "traefik_web": 8280,
         "traefik_admin": 8281, "prometheus": 9390, "postgres_exporter": 9387}  # fmt: skip
CASES = {
    "another environment": (
        ["-e", "env=staging"],
        "playbooks/runtime.yml runs env=local's runtime on this machine only",
    ),
    "a relative state folder": (["-e", "runtime_state_dir=state"], "runtime_state_dir must be an absolute path"),
    "two servers on one port": (
        ["-e", json.dumps({"runtime_ports": {**PORTS, "prometheus": 56432}})],
        "runtime_ports must give distinct ports between 1024 and 65535",
    ),
    "no instance": (["-e", json.dumps({"runtime_ports": {**PORTS, "app": []}})], "at least one app instance"),
    "no PostgreSQL": (["-e", "runtime_pg_bin=/nonexistent"], "run `make host` (installs Debian's postgresql-15)"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_names_the_variable_and_starts_nothing(tmp_path: Path, case: str) -> None:
    args, message = CASES[case]
    state = tmp_path / "runtime"
    result = runtime("-e", "env=local", "-e", f"runtime_state_dir={state}", *args)
    assert result.returncode != 0
    assert message in " ".join(result.output.split()), result.output[-3000:]
    if case != "a relative state folder":
        assert not state.exists()
