"""Platform-wide values have one home each: the environment's group_vars (inventories/<env>/group_vars/all/env.yml).
The name, the Kubernetes version and its support dates; and nothing else builds the name."""

from __future__ import annotations

import datetime
import re
from pathlib import Path

import pytest
import yaml
from jinja2 import Environment

from strata.domain import fleet
from tests.helpers import ROOT

ENVS = sorted(p.name for p in (ROOT / "inventories").iterdir() if (p / "group_vars/all/env.yml").is_file())
VERSIONS = yaml.safe_load((ROOT / "roles/eks/vars/main.yml").read_text())["__eks_kubernetes_versions"]


def env_vars(env: str) -> dict[str, str]:
    return dict(yaml.safe_load((ROOT / "inventories" / env / "group_vars/all/env.yml").read_text()))


def test_every_environment_is_known() -> None:
    assert ENVS == ["local", "production", "staging"]


@pytest.mark.parametrize("env", ENVS)
def test_the_name_rule_is_the_fleet_models(env: str) -> None:
    values = env_vars(env)
    template = Environment(autoescape=False).from_string(values["strata_name"])  # noqa: S701 - YAML, not HTML
    name = template.render(strata_env=values["strata_env"])
    assert name == fleet.resource_name(env)


@pytest.mark.parametrize("env", ENVS)
def test_the_kubernetes_version_is_in_standard_support(env: str) -> None:
    """Fails on the day the pinned version leaves EKS standard support (the dated table of roles/eks/vars)."""
    version = env_vars(env)["strata_kubernetes_version"]
    assert version in VERSIONS, f"{env}: {version} is not in roles/eks/vars/main.yml"
    end = datetime.date.fromisoformat(VERSIONS[version]["end_of_standard_support"])
    assert datetime.datetime.now(datetime.UTC).date() <= end, (
        f"{env}: Kubernetes {version} left EKS standard support on {end}: move strata_kubernetes_version on"
    )


def test_the_version_table_is_consistent() -> None:
    for version, row in VERSIONS.items():
        released, standard, extended = (
            datetime.date.fromisoformat(row[k])
            for k in ("released", "end_of_standard_support", "end_of_extended_support")
        )
        assert released < standard < extended, version
        assert row["kube-proxy"].startswith(f"v{version}."), version  # kube-proxy follows the minor version
        assert re.match(r"^v1\.\d+\.\d+-eksbuild\.\d+$", row["coredns"]), version


# A resource name built from the environment anywhere but the platform-wide value: strata-{{ env }},
# 'strata-' ~ strata_env, f"strata-{env}"...
BUILT_NAME = re.compile(r"strata-\{\{\s*(strata_)?env\b|['\"]strata-['\"]\s*~|f['\"]strata-\{(env|self\.env)")


def test_no_resource_name_is_built_outside_the_shared_value() -> None:
    allowed = {ROOT / "inventories" / env / "group_vars/all/env.yml" for env in ENVS}
    allowed.add(ROOT / "src/strata/domain/fleet.py")
    roots = ["roles", "playbooks", "inventories", "plugins", "src", "molecule", "site.yml"]
    offenders = []
    for root in roots:
        base = ROOT / root
        paths = [base] if base.is_file() else [p for p in base.rglob("*") if p.suffix in {".yml", ".j2", ".py"}]
        for path in paths:
            if path in allowed:
                continue
            for number, line in enumerate(path.read_text().splitlines(), 1):
                if BUILT_NAME.search(line):
                    offenders.append(f"{Path(path).relative_to(ROOT)}:{number}: {line.strip()}")
    assert offenders == [], "use strata_name (Ansible) or strata.domain.fleet.resource_name (Python):\n" + "\n".join(
        offenders
    )


def test_one_tag_classifier() -> None:
    """Which instance is a node and which the bastion is decided in strata.domain.fleet only."""
    pattern = re.compile(r"""["']eks:nodegroup-name["']|\.get\(["']role["']\)\s*==|\{t\["Key"\]: t\["Value"\]""")
    offenders = [
        str(path.relative_to(ROOT))
        for root in ("src", "plugins")
        for path in (ROOT / root).rglob("*.py")
        if path != ROOT / "src/strata/domain/fleet.py" and pattern.search(path.read_text())
    ]
    assert offenders == []
