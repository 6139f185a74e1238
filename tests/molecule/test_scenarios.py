"""Every Molecule scenario, run as a user would: `molecule test -s NAME` from the root.

The scenarios share nothing (each starts its own embedded cloud on a free port, or its own
container), so they run side by side and each test collects its own."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.helpers import ROOT, VENV_BIN, Background, free_port, venv_env

pytestmark = pytest.mark.molecule

SCENARIOS = sorted(p.parent.name for p in (ROOT / "molecule").glob("*/molecule.yml"))


@pytest.fixture(scope="module")
def runs() -> Iterator[dict[str, Background]]:
    # Each scenario's prerun installs requirements.yml into collections/ansible_collections; ansible-galaxy checks
    # then creates that folder, so two scenarios starting together can race on it (FileExistsError, seen on a fresh
    # clone). Made here first, the check finds it.
    (ROOT / "collections" / "ansible_collections").mkdir(parents=True, exist_ok=True)
    started = {
        name: Background(
            [str(VENV_BIN / "molecule"), "test", "-s", name],
            venv_env(STRATA_CLOUD_PORT=str(free_port()), PY_COLORS="0"),
        )
        for name in SCENARIOS
    }
    yield started
    for run in started.values():
        if run.proc.poll() is None:
            run.proc.kill()


def test_scenarios_exist() -> None:
    assert {"network", "bastion_sshd"} <= set(SCENARIOS)


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_scenario(scenario: str, runs: dict[str, Background]) -> None:
    result = runs[scenario].wait(timeout=1500)
    assert result.returncode == 0, result.output[-6000:]
    assert "Idempotence completed successfully" in result.output or "idempotence: Executed: Successful" in result.output
