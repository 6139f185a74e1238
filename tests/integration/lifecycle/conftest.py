"""One fixture for the whole package: `make up` once (its -vvv output kept for the secret checks), every layer's
checks, then `make destroy` / `make down` with their own checks, and a cleanup that runs whatever failed."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from strata.tools import cloud, docs
from tests.helpers import free_port, port_is_free
from tests.integration.lifecycle.support import Lab, destroy_and_down


@pytest.fixture(scope="package")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    port = cloud.DEFAULT_PORT if port_is_free(cloud.DEFAULT_PORT) else free_port()
    lab = Lab(port, tmp_path_factory.mktemp("cloud"))
    assert docs.local_commands()[0] == "make up", "docs/getting-started.md must start with the command run here"
    # -vvv: the first run is the one that creates the database, so its output is the one
    # that would show a password if anything leaked it.
    try:
        # Inside the try: a failed `make up` must not leave its embedded cloud, lab or runtime running.
        up = lab.make("up", ANSIBLE_VERBOSITY="3")
        assert up.returncode == 0, up.output[-4000:]
        lab.up_output = up.output
        yield lab
        destroy_and_down(lab)
    finally:
        # After a failed test too (make destroy has usually done both already).
        lab.runtime_playbook("-e", "runtime_state=absent")
        lab.make("lab-down")
        cloud.stop(lab.state)
