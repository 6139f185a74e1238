"""scripts/extra-vars.py: workflow inputs reach ansible-playbook as one JSON document of validated values."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest
import yaml

from tests.helpers import ROOT

SCRIPT = ROOT / "scripts/extra-vars.py"


def extra_vars(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), *arguments], capture_output=True, text=True, check=False)


def test_valid_inputs_become_json() -> None:
    digest = "sha256:" + "ab" * 32
    done = extra_vars(
        "env=production", "app_version=1.4.0", f"app_image_digest={digest}", "rollback_restore_snapshot=true"
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {
        "env": "production", "app_version": "1.4.0", "app_image_digest": digest, "rollback_restore_snapshot": True
    }  # fmt: skip


@pytest.mark.parametrize(
    "argument",
    [
        "app_version=1.0 env=production",  # what `-e "app_version=$V"` would have split into two variables
        "app_version=1.0\nenv=production",
        'app_version={"env": "production"}',
        "env=local",
        "env=staging production",
        "app_image_digest=latest",
        "rollback_restore_snapshot=yes",
        "kubernetes_state=absent",  # not an input of any workflow
        "app_version",
    ],
)
def test_anything_else_is_refused_before_running(argument: str) -> None:
    done = extra_vars("env=staging", argument)
    assert done.returncode == 2 and done.stdout == "" and "extra-vars: refused" in done.stderr


def test_no_workflow_passes_an_input_as_key_value() -> None:
    """Every `-e` of a workflow is the JSON of scripts/extra-vars.py, never `-e "name=$INPUT"`."""
    for path in sorted((ROOT / ".github/workflows").glob("*.yml")):
        text = path.read_text()
        assert not re.search(r'-e\s+"?[a-z_]+=\$', text), path.name
        for job in yaml.safe_load(text)["jobs"].values():
            for step in job.get("steps", []):
                if "ansible-playbook" in str(step.get("run", "")):
                    assert "scripts/extra-vars.py" in step["run"], (path.name, step.get("name"))
