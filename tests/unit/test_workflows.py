"""The CI/CD workflows call only what exists: every `make` target, script and reusable workflow they name."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import yaml

from strata.tools import docs

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = sorted((ROOT / ".github/workflows").glob("*.yml"))
MAKE_TARGET = re.compile(r"^([a-z][a-z0-9-]*):", re.MULTILINE)


def make_targets() -> set[str]:
    return set(MAKE_TARGET.findall((ROOT / "Makefile").read_text()))


def values_of(node: Any, key: str) -> list[str]:
    """Every string under `key` in a workflow, however deep (run: scripts, uses: references)."""
    if isinstance(node, dict):
        found = [node[key]] if isinstance(node.get(key), str) else []
        return found + [v for value in node.values() for v in values_of(value, key)]
    if isinstance(node, list):
        return [v for value in node for v in values_of(value, key)]
    return []


def runs(node: Any) -> list[str]:
    return values_of(node, "run")


def uses(node: Any) -> list[str]:
    return values_of(node, "uses")


def test_there_are_workflows_for_each_concern() -> None:
    names = {p.stem for p in WORKFLOWS}
    assert {"ci", "app", "platform", "deploy", "operate", "docs", "release"} <= names


def test_every_make_target_and_script_a_workflow_calls_exists() -> None:
    targets = make_targets()
    called_targets: set[str] = set()
    for workflow in WORKFLOWS:
        for script in runs(yaml.safe_load(workflow.read_text())):
            for target in re.findall(r"(?:^|&&|;)\s*make ([a-z][a-z0-9-]*)", script, re.MULTILINE):
                called_targets.add(target)
                assert target in targets, f"{workflow.name}: make {target} does not exist"
            for path in re.findall(r"(?:^|\s)((?:scripts/|\.ci/)[\w./-]+)", script):
                assert (ROOT / path).is_file(), f"{workflow.name}: {path} does not exist"
                assert os.access(ROOT / path, os.X_OK), f"{workflow.name}: {path} is not executable"
            for playbook in re.findall(r"\b((?:playbooks/)?[\w-]+\.yml)\b", script):
                if playbook.startswith("playbooks/") or playbook == "site.yml":
                    assert (ROOT / playbook).is_file(), f"{workflow.name}: {playbook} does not exist"
    assert {
        "lint",
        "fast-tests",
        "molecule",
        "k8s-tests",
        "security",
        "image",
        "e2e",
        "load-test",
        "dast",
    } <= called_targets


def test_every_local_workflow_a_workflow_uses_exists() -> None:
    for workflow in WORKFLOWS:
        for ref in uses(yaml.safe_load(workflow.read_text())):
            if ref.startswith("./"):
                assert (ROOT / ref).is_file(), f"{workflow.name}: {ref} does not exist"
            else:
                # A tag can be moved to other code (it happened to tj-actions/changed-files); a commit cannot.
                assert re.fullmatch(r"[\w-]+/[\w./-]+@[0-9a-f]{40}", ref), f"{workflow.name}: {ref}: pin a SHA"
        for line in workflow.read_text().splitlines():
            if re.search(r"uses: [\w-]+/", line):
                assert re.search(r"@[0-9a-f]{40} # v\d", line), f"{workflow.name}: add # vX.Y.Z: {line}"


def test_deployments_never_overlap_per_environment_and_production_waits_for_staging() -> None:
    for name in ("deploy", "operate", "platform"):
        workflow = yaml.safe_load((ROOT / f".github/workflows/{name}.yml").read_text())
        for job in workflow["jobs"].values():
            if "steps" in job and any("ansible-playbook" in r for r in runs(job)):
                assert job["concurrency"]["group"].startswith("deploy-"), name
                assert job["concurrency"]["cancel-in-progress"] is False, name
                assert "environment" in job, name  # protection rules (production: reviewers) apply
    app = yaml.safe_load((ROOT / ".github/workflows/app.yml").read_text())["jobs"]
    assert "staging-tests" in app["production"]["needs"]
    assert app["production"]["with"]["app_image_digest"] == app["staging"]["with"]["app_image_digest"]


def test_the_getting_started_page_only_names_commands_that_exist() -> None:
    targets = make_targets()
    for command in docs.local_commands():
        if command.startswith("make "):
            assert command.split()[1] in targets, command
        else:
            assert (ROOT / command.split()[0]).exists() or command.startswith(".venv/"), command
