"""Loading the platform's modules outside Ansible, and boto3 clients under botocore's
Stubber: every request is checked against the real service model, and any call a test
did not expect fails it."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
from botocore.stub import Stubber

ROOT = Path(__file__).resolve().parents[4]


def load(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


# Ansible ships module_utils as ansible.module_utils.<name>; do the same for the import.
strata_aws = load("ansible.module_utils.strata_aws", ROOT / "plugins/module_utils/strata_aws.py")


def load_module(name: str) -> ModuleType:
    return load(name, ROOT / "plugins/modules" / f"{name}.py")


class Failed(Exception):
    """fail_json was called."""


class FakeModule:
    """What the modules' run() uses of AnsibleAWSModule."""

    def __init__(self, params: dict[str, Any], check_mode: bool = False) -> None:
        self.params = params
        self.check_mode = check_mode

    def fail_json(self, msg: str, **_: Any) -> None:
        raise Failed(msg)


@contextmanager
def stubbed(service: str) -> Iterator[Any]:
    client = boto3.client(service, region_name="eu-west-3", aws_access_key_id="x", aws_secret_access_key="y")  # noqa: S106
    with Stubber(client) as stubber:
        client.stubber = stubber
        yield client
        stubber.assert_no_pending_responses()


def not_found(client: Any, operation: str, params: dict[str, Any] | None = None) -> None:
    client.stubber.add_client_error(
        operation, service_error_code="ResourceNotFoundException", http_status_code=404, expected_params=params
    )
