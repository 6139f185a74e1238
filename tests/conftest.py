"""Fixtures shared by the test tree."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from strata.tools import cloud
from tests.helpers import Cloud, free_port


@pytest.fixture(scope="module")
def private_cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cloud]:
    """A moto server of the test module's own, on a free loopback port."""
    state = tmp_path_factory.mktemp("cloud")
    port = free_port()
    cloud.start(port, state)
    try:
        yield Cloud(port, cloud.endpoint_url(port))
    finally:
        cloud.stop(state)
