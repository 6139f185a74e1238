"""Every Molecule scenario, run as a user would: `molecule test -s NAME` from the root.

The scenarios share nothing (each starts its own embedded cloud on a free port, its own container or its own
processes on its own ports), so they run side by side: at most STRATA_MOLECULE_JOBS at once (default 3; the machine
has two cores and other lanes of `make test` run beside this one), the longest first. Each scenario's time goes to
build/molecule-times.json."""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml

from tests.helpers import ROOT, VENV_BIN, Run, free_port, run, venv_env

pytestmark = pytest.mark.molecule

SCENARIOS = sorted(p.parent.name for p in (ROOT / "molecule").glob("*/molecule.yml"))
ROLES = sorted(p.name for p in (ROOT / "roles").iterdir() if (p / "tasks").is_dir())
BASE = yaml.safe_load((ROOT / ".config/molecule/config.yml").read_text())
# The steps every scenario runs (the list: check mode on empty, converge, idempotence, check mode again -
# the first play of each verify.yml -, verify, side effect where the role has a day-2 action, destroy and leftovers).
SEQUENCE = [
    "dependency",
    "destroy",
    "syntax",
    "create",
    "prepare",
    "check",
    "converge",
    "idempotence",
    "verify",
    "side_effect",
    "destroy",
]
# Measured here (seconds, alone on the machine): the longest start first so the last to finish is a short one.
LONGEST_FIRST = ["dns", "eks", "runtime", "database", "network", "kubernetes", "bastion_host", "preflight"]


def covered_roles(scenario: str) -> set[str]:
    """The roles a scenario converges: its host_vars' molecule_roles, its own name when that is a role, and for the
    kubernetes scenario the parts playbooks/kubernetes.yml runs with the shared role."""
    roles = {scenario} & set(ROLES)
    host_vars = ROOT / "molecule" / scenario / "host_vars"
    for path in [host_vars / "localhost.yml", *sorted((host_vars / "localhost").glob("*.yml"))]:
        if path.exists():
            roles |= set(yaml.safe_load(path.read_text()).get("molecule_roles", []))
    if scenario == "kubernetes":
        roles |= set(yaml.safe_load((ROOT / "playbooks/vars/roles.yml").read_text())["strata_kubernetes_roles"])
    return roles


def cloud_state(name: str) -> Path:
    """Where a scenario's embedded cloud keeps its pid and log (molecule/shared/hosts.yml reads STRATA_CLOUD_STATE)."""
    return ROOT / "build" / "molecule" / name / "cloud"


def server_errors(name: str) -> str:
    """What the scenario's embedded cloud answered with a server error, and its last traceback: an HTTP 500 in a
    role's output says nothing of its cause, the server's log does."""
    log = cloud_state(name) / "moto.log"
    lines = log.read_text(errors="replace").splitlines() if log.exists() else []
    errors = [line for line in lines if re.search(r'" 5\d\d ', line)]
    starts = [i for i, line in enumerate(lines) if line.startswith("Traceback")]
    traceback = lines[starts[-1] : starts[-1] + 60] if starts else []
    return "\n".join(["embedded cloud's server errors:", *errors[-20:], *traceback]) if errors or starts else ""


def _molecule(name: str) -> tuple[Run, float]:
    started = time.monotonic()
    shutil.rmtree(cloud_state(name), ignore_errors=True)
    result = run(
        [str(VENV_BIN / "molecule"), "test", "-s", name],
        venv_env(
            STRATA_CLOUD_PORT=str(free_port()),
            STRATA_CLOUD_STATE=str(cloud_state(name)),
            PY_COLORS="0",
            ANSIBLE_FORCE_COLOR="0",
        ),
        timeout=2400,
    )
    return result, time.monotonic() - started


@pytest.fixture(scope="module")
def runs() -> Iterator[dict[str, Future[tuple[Run, float]]]]:
    # Each scenario's prerun installs requirements.yml into collections/ansible_collections; ansible-galaxy checks
    # then creates that folder, so two scenarios starting together can race on it (FileExistsError, seen on a fresh
    # clone). Made here first, the check finds it.
    (ROOT / "collections" / "ansible_collections").mkdir(parents=True, exist_ok=True)
    order = sorted(SCENARIOS, key=lambda s: LONGEST_FIRST.index(s) if s in LONGEST_FIRST else len(LONGEST_FIRST))
    with ThreadPoolExecutor(max_workers=int(os.environ.get("STRATA_MOLECULE_JOBS", "3"))) as pool:
        futures = {name: pool.submit(_molecule, name) for name in order}
        yield futures
        times = {name: round(f.result()[1]) for name, f in futures.items() if f.done() and not f.exception()}
    (ROOT / "build").mkdir(exist_ok=True)
    (ROOT / "build" / "molecule-times.json").write_text(json.dumps(times, indent=2, sort_keys=True) + "\n")


def test_every_role_has_a_scenario() -> None:
    covered = set().union(*(covered_roles(s) for s in SCENARIOS))
    assert covered == set(ROLES), f"roles without a scenario: {sorted(set(ROLES) - covered)}"


def test_every_scenario_runs_the_whole_sequence() -> None:
    assert BASE["scenario"]["test_sequence"] == SEQUENCE
    for name in SCENARIOS:
        config = yaml.safe_load((ROOT / "molecule" / name / "molecule.yml").read_text())
        assert "test_sequence" not in config.get("scenario", {}), f"{name} overrides the shared sequence"
        verify = yaml.safe_load((ROOT / "molecule" / name / "verify.yml").read_text())
        assert verify[0].get("ansible.builtin.import_playbook") == "../shared/check_again.yml", name


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_scenario(scenario: str, runs: dict[str, Future[tuple[Run, float]]]) -> None:
    result, _ = runs[scenario].result()
    assert result.returncode == 0, result.output[-6000:] + "\n" + server_errors(scenario)
    out = result.output
    steps = ["check", "converge", "idempotence", "verify", "destroy"]
    if (ROOT / "molecule" / scenario / "side_effect.yml").exists():
        steps.append("side_effect")
    for step in steps:
        assert f"{step}: Executed: Successful" in out or f"[{scenario} > {step}] Executed: Successful" in out, step
    assert "Idempotence completed successfully" in out or "idempotence: Executed: Successful" in out
