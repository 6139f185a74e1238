"""Fixtures of the module tests: Stubber-backed clients and waits that do not sleep."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.unit.plugins.modules.stubs import strata_aws, stubbed


@pytest.fixture
def eks() -> Iterator[Any]:
    with stubbed("eks") as client:
        yield client


@pytest.fixture
def no_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    """wait_until polls without sleeping (the stubbed answers come in order)."""
    monkeypatch.setattr(strata_aws.time, "sleep", lambda _: None)
