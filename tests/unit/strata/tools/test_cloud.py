"""The embedded cloud's lifecycle: start is idempotent, stop never signals a stranger."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from strata.tools import cloud
from tests.helpers import free_port


def test_start_twice_then_stop(tmp_path: Path) -> None:
    port = free_port()
    try:
        assert "started" in cloud.start(port, tmp_path)
        assert cloud.is_healthy(port)
        assert "already running" in cloud.start(port, tmp_path)
    finally:
        assert "stopped" in cloud.stop(tmp_path)
    assert not cloud.is_healthy(port)
    assert cloud.stop(tmp_path) == "embedded cloud not running"


def test_a_stale_pid_file_naming_another_program_is_ignored(tmp_path: Path) -> None:
    stranger = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        (tmp_path / "moto.pid").write_text(f"{stranger.pid}\n")
        assert cloud.stop(tmp_path) == "embedded cloud not running"
        assert stranger.poll() is None  # still alive: not ours, not signalled
    finally:
        stranger.kill()
        stranger.wait()
