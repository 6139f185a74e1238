"""The embedded cloud: a moto server on loopback, started and stopped by the project.

    strata-cloud start   [--port N] [--state-dir DIR]   idempotent; waits until healthy
    strata-cloud stop    [--state-dir DIR]              idempotent
    strata-cloud status  [--port N] [--state-dir DIR]   exit 0 when healthy
    strata-cloud env     [--port N]                     shell exports for the AWS CLI / boto3
    strata-cloud summary [--port N] [--env local]       what the platform created
    strata-cloud leftovers [--port N] [--env local]     exit 1 if anything tagged remains

The server binds 127.0.0.1 only; its pid and log live under the state folder
(default: .state/cloud in the project).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

DEFAULT_PORT = 5055
HOST = "127.0.0.1"
PROJECT_ROOT = Path(__file__).resolve().parents[3]
DEFAULT_STATE_DIR = PROJECT_ROOT / ".state" / "cloud"
DUMMY_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_EC2_METADATA_DISABLED": "true",
}


def free_port() -> int:
    """A TCP port free on loopback now (for a private cloud, a runtime or a bench beside the user's own)."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def endpoint_url(port: int) -> str:
    return f"http://{HOST}:{port}"


def is_healthy(port: int, timeout: float = 1.0) -> bool:
    """True when a moto server answers its own API on the port."""
    try:
        with urllib.request.urlopen(f"{endpoint_url(port)}/moto-api/config", timeout=timeout) as resp:  # noqa: S310  # nosec B310
            return bool(200 <= resp.status < 300)
    except (urllib.error.URLError, OSError):
        return False


def _read_pid(pid_file: Path) -> int | None:
    try:
        pid = int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass
    # A stale pid file may name a pid that the system has since given to another program:
    # never signal anything but our own server.
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    return pid if b"strata.tools.cloud_server" in cmdline else None


def start(port: int, state_dir: Path, wait_seconds: float = 30.0) -> str:
    state_dir.mkdir(parents=True, exist_ok=True)
    pid_file = state_dir / "moto.pid"
    pid = _read_pid(pid_file)
    if pid is not None and is_healthy(port):
        return f"embedded cloud already running (pid {pid}) at {endpoint_url(port)}"
    if pid is None and is_healthy(port):
        raise SystemExit(
            f"port {port} already serves a moto server that this project did not start "
            f"(no live pid in {pid_file}); stop it or choose another port with STRATA_CLOUD_PORT"
        )
    if pid is not None:
        stop(state_dir)
    command = [sys.executable, "-m", "strata.tools.cloud_server", "-H", HOST, "-p", str(port)]
    # AWS's managed policies (AmazonEKSClusterPolicy, ...) exist in every account; moto
    # loads its copy of the catalog only when asked.
    env = {**os.environ, **DUMMY_CREDENTIALS, "MOTO_IAM_LOAD_MANAGED_POLICIES": "true"}
    with (state_dir / "moto.log").open("ab") as log:
        proc = subprocess.Popen(  # noqa: S603 - fixed command line
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
        )
    pid_file.write_text(f"{proc.pid}\n")
    (state_dir / "moto.port").write_text(f"{port}\n")
    deadline = time.monotonic() + wait_seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pid_file.unlink(missing_ok=True)
            raise SystemExit(f"moto server exited with {proc.returncode}; see {state_dir / 'moto.log'}")
        if is_healthy(port):
            return f"embedded cloud started (pid {proc.pid}) at {endpoint_url(port)}"
        time.sleep(0.2)
    stop(state_dir)
    raise SystemExit(f"moto server did not become healthy within {wait_seconds:.0f}s; see {state_dir / 'moto.log'}")


def stop(state_dir: Path, wait_seconds: float = 10.0) -> str:
    pid_file = state_dir / "moto.pid"
    pid = _read_pid(pid_file)
    if pid is None:
        pid_file.unlink(missing_ok=True)
        return "embedded cloud not running"
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + wait_seconds
    while time.monotonic() < deadline and _alive(pid):
        time.sleep(0.1)
    if _alive(pid):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
    pid_file.unlink(missing_ok=True)
    return f"embedded cloud stopped (pid {pid})"


def _alive(pid: int) -> bool:
    try:
        # Reap it if it is our child; otherwise just probe.
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def shell_env(port: int) -> str:
    values = {**DUMMY_CREDENTIALS, "AWS_ENDPOINT_URL": endpoint_url(port), "AWS_DEFAULT_REGION": "eu-west-3"}
    return "\n".join(f"export {key}={value}" for key, value in values.items())


def _port_from_env() -> int:
    return int(os.environ.get("STRATA_CLOUD_PORT", DEFAULT_PORT))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="strata-cloud", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("action", choices=["start", "stop", "status", "env", "summary", "leftovers"])
    parser.add_argument("--port", type=int, default=_port_from_env())
    parser.add_argument("--state-dir", type=Path, default=Path(os.environ.get("STRATA_CLOUD_STATE", DEFAULT_STATE_DIR)))
    parser.add_argument("--env", default="local", help="environment whose resources `summary` lists")
    parser.add_argument("--region", default="eu-west-3")
    parser.add_argument("--json", action="store_true", help="summary as JSON")
    args = parser.parse_args(argv)

    if args.action == "start":
        print(start(args.port, args.state_dir))
    elif args.action == "stop":
        print(stop(args.state_dir))
    elif args.action == "status":
        healthy = is_healthy(args.port)
        print(f"embedded cloud at {endpoint_url(args.port)}: {'healthy' if healthy else 'not answering'}")
        return 0 if healthy else 1
    elif args.action == "env":
        print(shell_env(args.port))
    else:
        from strata.tools import summary  # noqa: PLC0415 - boto3 is only needed here

        for key, value in DUMMY_CREDENTIALS.items():
            os.environ.setdefault(key, value)
        if args.action == "leftovers":
            remaining, kept = summary.left_and_retained(endpoint_url(args.port), args.region, args.env)
            for resource in remaining:
                print(f"left behind: {resource}")
            for resource in kept:
                print(f"retained on purpose: {resource}")
            print(f"{len(remaining)} resource(s) tagged managed-by=strata env={args.env} remain", end="")
            print(f" ({len(kept)} retained on purpose: final snapshots and their keys)" if kept else "")
            return 1 if remaining else 0
        data: dict[str, Any] = summary.collect(endpoint_url(args.port), args.region, args.env)
        print(json.dumps(data, indent=2) if args.json else summary.render(data, endpoint_url(args.port)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
