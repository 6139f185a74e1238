"""Every Molecule scenario, run as a user would: `molecule test -s NAME` from the root."""

from __future__ import annotations

import pytest

from tests.helpers import ROOT, VENV_BIN, free_port, run, venv_env

pytestmark = pytest.mark.molecule

SCENARIOS = sorted(p.parent.name for p in (ROOT / "molecule").glob("*/molecule.yml"))


def test_scenarios_exist() -> None:
    assert "network" in SCENARIOS


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_scenario(scenario: str) -> None:
    result = run(
        [str(VENV_BIN / "molecule"), "test", "-s", scenario],
        venv_env(STRATA_CLOUD_PORT=str(free_port()), PY_COLORS="0"),
        timeout=1500,
    )
    assert result.returncode == 0, result.output[-6000:]
    assert "Idempotence completed successfully" in result.output or "idempotence: Executed: Successful" in result.output
