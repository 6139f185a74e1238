"""`make bench` stays runnable: a small run of the same code, checked for what it measured
(host counts and the lab's command results), not for how fast it was."""

from __future__ import annotations

import re

import pytest

from tests.helpers import VENV_BIN, run, venv_env

pytestmark = pytest.mark.integration


def test_a_small_benchmark_measures_every_row() -> None:
    argv = [str(VENV_BIN / "python"), "-m", "strata.tools.bench", "--instances", "30", "--groups", "3"]
    result = run([*argv, "--lab-nodes", "3", "--repeat", "1"], venv_env(), timeout=900)
    assert result.returncode == 0, result.output[-4000:]
    out = result.output
    assert "fleet: 30 instances in 3 node groups + a bastion" in out
    rows = dict(re.findall(r"^\| (.+?) \| (\d+) \| [\d.]+ \| [\d.]+x \|$", out, re.MULTILINE))
    # Every discovery finds the 30 nodes and the bastion; aws_ec2 was configured to match.
    for name in (
        "raw boto3 describe_instances (baseline)",
        "strata_fleet, cold",
        "strata_fleet, cached",
        "amazon.aws.aws_ec2, same groups",
    ):
        assert rows[name] == "31", name
    # The fan-out ran `true` on the 3 lab nodes in every configuration.
    fan_out = {k: v for k, v in rows.items() if "3 nodes" in k}
    assert len(fan_out) == 4 and set(fan_out.values()) == {"3"}
