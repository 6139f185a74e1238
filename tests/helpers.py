"""Shared helpers: the project root, environments, playbook runs, a private embedded cloud."""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import threading
import time
import urllib.parse
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import boto3

from strata.tools import cloud
from strata.tools.rehearse import RECAP  # one pattern for ansible-playbook's recap

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = ROOT / ".venv" / "bin"
REGION = "eu-west-3"

# No test may ever reach a real AWS endpoint or the instance-metadata address.
os.environ.update(cloud.DUMMY_CREDENTIALS)
os.environ.pop("AWS_PROFILE", None)
os.environ.pop("AWS_ENDPOINT_URL", None)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def venv_env(**extra: str) -> dict[str, str]:
    """The environment of a user who only activated .venv (plus `extra`)."""
    env = {
        "PATH": f"{VENV_BIN}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "HOME": os.environ.get("HOME", "/root"),
        "VIRTUAL_ENV": str(ROOT / ".venv"),
        "LANG": "C.UTF-8",
        "ANSIBLE_FORCE_COLOR": "false",
        "ANSIBLE_NOCOLOR": "true",
    }
    env.update(extra)
    return env


@dataclass
class Run:
    returncode: int
    output: str

    @property
    def recap(self) -> dict[str, int]:
        match = RECAP.search(self.output)
        assert match, f"no play recap in output:\n{self.output[-3000:]}"
        ok, changed, unreachable, failed = map(int, match.groups())
        return {"ok": ok, "changed": changed, "unreachable": unreachable, "failed": failed}


class Background:
    """A command started now and collected later (two read-only playbook runs side by side)."""

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )

    def wait(self, timeout: int = 900) -> Run:
        output, _ = self.proc.communicate(timeout=timeout)
        return Run(self.proc.returncode, output)


def run(argv: list[str], env: dict[str, str], timeout: int = 900) -> Run:
    proc = subprocess.run(
        argv,
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
        check=False,
    )
    return Run(proc.returncode, proc.stdout)


@dataclass
class Cloud:
    port: int
    endpoint: str

    def client(self, service: str):  # type: ignore[no-untyped-def]
        return boto3.client(service, region_name=REGION, endpoint_url=self.endpoint)

    def playbook(self, *args: str, extra_env: dict[str, str] | None = None) -> Run:
        env = venv_env(STRATA_CLOUD_PORT=str(self.port), **(extra_env or {}))
        return run([str(VENV_BIN / "ansible-playbook"), *args], env)


@dataclass
class LoadResult:
    statuses: Counter[int | str]
    served: int
    seconds: float


def steady_load(
    url: str, seconds: float, threads: int = 4, at: tuple[float, Callable[[], None]] | None = None
) -> LoadResult:
    """GET `url` from `threads` keep-alive connections for `seconds`; `at=(t, fn)` calls fn once after t seconds.
    Every outcome is counted: a status code, or the name of the exception a request ended in."""
    parsed = urllib.parse.urlsplit(url)
    path = parsed.path + (f"?{parsed.query}" if parsed.query else "")
    statuses: Counter[int | str] = Counter()
    lock = threading.Lock()
    start = time.monotonic()
    deadline = start + seconds

    def worker() -> None:
        conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=10)
        while time.monotonic() < deadline:
            try:
                conn.request("GET", path)
                response = conn.getresponse()
                response.read()
                outcome: int | str = response.status
            except (OSError, http.client.HTTPException) as exc:
                outcome = type(exc).__name__
                conn.close()
                conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=10)
            with lock:
                statuses[outcome] += 1
        conn.close()

    pool = [threading.Thread(target=worker, daemon=True) for _ in range(threads)]
    for thread in pool:
        thread.start()
    if at is not None:
        time.sleep(max(0.0, start + at[0] - time.monotonic()))
        at[1]()
    for thread in pool:
        thread.join(timeout=seconds + 30)
    return LoadResult(statuses, sum(statuses.values()), time.monotonic() - start)
