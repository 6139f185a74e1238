"""`make up`, a second run and check mode that change nothing, the secrets no output shows, the getting-started
page's commands as written."""

from __future__ import annotations

import json

import boto3
import pytest
import yaml

from strata.tools import docs
from tests.helpers import REGION, ROOT, Background, run, venv_env
from tests.integration.lifecycle.support import KUBERNETES_VERSION, Lab

pytestmark = pytest.mark.integration


def test_make_up_prints_the_topology_and_the_endpoint(lab: Lab) -> None:
    out = lab.up_output
    assert f"Embedded cloud endpoint: {lab.endpoint}" in out
    assert "strata-local: primary 10.0.0.0/22, secondary 10.2.0.0/22, 10.4.0.0/22, 10.6.0.0/22" in out
    assert "subnets app      eu-west-3a 10.4.1.0/24, eu-west-3b 10.4.2.0/24, eu-west-3c 10.4.3.0/24" in out
    assert out.count("NAT gateway nat-") == 3
    assert f"EKS cluster strata-local {KUBERNETES_VERSION} (ACTIVE)" in out
    assert "node group app      3 instance(s): eu-west-3a, eu-west-3b, eu-west-3c" in out
    assert "database strata-local postgres multi-AZ=True" in out
    assert "private zone local.strata.internal" in out


def test_site_reports_the_kubernetes_parts_skipped_without_a_cluster(lab: Lab) -> None:
    text = " ".join(lab.up_output.split())
    assert "SKIPPED, no cluster: no cluster configured for env=local" in text
    assert "Render them offline with -e kubernetes_render_dir=DIR" in text


def test_the_database_password_never_appears_in_any_output(lab: Lab) -> None:
    rds = boto3.client("rds", region_name=REGION, endpoint_url=lab.endpoint)
    (db,) = rds.describe_db_instances(DBInstanceIdentifier="strata-local")["DBInstances"]
    secrets = boto3.client("secretsmanager", region_name=REGION, endpoint_url=lab.endpoint)
    password = json.loads(secrets.get_secret_value(SecretId=db["MasterUserSecret"]["SecretArn"])["SecretString"])[
        "password"
    ]
    assert "ESTABLISH LOCAL CONNECTION" in lab.up_output  # the first run really was -vvv
    assert password not in lab.up_output
    # The create call's throw-away password is generated inside a no_log task: nothing of
    # the task's arguments is printed, even at -vvv.
    assert "master_user_password" not in lab.up_output
    lab.password = password  # the -vvv second run below is searched for it too


def test_second_run_with_only_the_venv_changes_nothing_and_shows_no_secret(lab: Lab) -> None:
    secret = yaml.safe_load((ROOT / "inventories/local/group_vars/all/aws.yml").read_text())["aws_secret_key"]
    # Check mode runs beside the second run (both only read a converged environment; the
    # next test collects it): two cores, half the wall time.
    lab.check = Background([str(ROOT / ".venv/bin/ansible-playbook"), "site.yml", "-e", "env=local", "--check"],
                           venv_env(**lab.extra))  # fmt: skip
    second = lab.playbook("site.yml", "-e", "env=local", "-vvv")
    assert second.returncode == 0, second.output[-4000:]
    assert second.recap["changed"] == 0, second.output[-4000:]
    assert "secret_key: VALUE_SPECIFIED_IN_NO_LOG_PARAMETER" in second.output  # the key was passed...
    assert secret not in second.output  # ...but its value never shown, even at -vvv
    assert lab.password and lab.password not in second.output
    assert "master_user_password" not in second.output


def test_check_mode_on_the_converged_environment_changes_nothing(lab: Lab) -> None:
    check = lab.check.wait() if lab.check else lab.playbook("site.yml", "-e", "env=local", "--check")
    assert check.returncode == 0, check.output[-4000:]
    assert check.recap["changed"] == 0, check.output[-4000:]


def test_the_getting_started_commands_work_as_written(lab: Lab) -> None:
    """docs/getting-started.md's local commands, as written but for this runtime's port: `make up` is the fixture's,
    `make down` ends the destroy test below, and `make test` is CI's own command."""
    commands = docs.local_commands()
    assert commands[0] == "make up" and commands[-1] == "make down" and "make test" in commands
    url = f"http://127.0.0.1:{lab.runtime_ports['traefik_web']}"
    for command in commands[1:-1]:
        if command == "make test":
            continue
        result = run(["bash", "-c", command.replace("http://127.0.0.1:8180", url)], lab.make_env())
        assert result.returncode == 0, (command, result.output[-3000:])
        if command.startswith("scripts/smoke.sh"):
            assert result.output.count("ok   ") == 4, result.output
