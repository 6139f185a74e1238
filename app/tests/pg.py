"""A throwaway PostgreSQL server (the real program, Debian's postgresql-15) on a free loopback port.

PostgreSQL refuses to run as root. As root, the server runs in a user namespace of its own where the invoking
root is an ordinary uid (`unshare --user --map-user=1000`): the files stay root's, no other user needs access to
the (possibly private) folders above the data directory, and nothing global changes."""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg

PG_BIN = Path(os.environ.get("STRATA_PG_BIN", "/usr/lib/postgresql/15/bin"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Postgres:
    def __init__(self, settings: dict[str, str] | None = None) -> None:
        if not (PG_BIN / "postgres").exists():
            raise RuntimeError(f"PostgreSQL 15 not found in {PG_BIN}: run `make host` (installs postgresql-15)")
        self.root = Path(tempfile.mkdtemp(prefix="catalog-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self.password = secrets.token_urlsafe(16)
        self.proc: subprocess.Popen[bytes] | None = None
        self.settings = settings or {}  # more `-c name=value` (ssl=on, ...)
        self.wrap: list[str] = []  # runs the server (e.g. rds_iam_auth.mount_wrapper's PAM namespace)

    @staticmethod
    def _unprivileged(argv: list[str]) -> list[str]:
        # unshare execs the program (no wrapper process between us and the server's signals).
        if os.geteuid() == 0:
            return ["unshare", "--user", "--map-user=1000", "--map-group=1000", *argv]
        return argv

    def init(self) -> None:
        pwfile = self.root / "pw"
        pwfile.write_text(self.password)
        subprocess.run(
            self._unprivileged(
                [
                    str(PG_BIN / "initdb"),
                    "-D",
                    str(self.data),
                    "-U",
                    "postgres",
                    f"--pwfile={pwfile}",
                    "--auth=scram-sha-256",
                    "-E",
                    "UTF8",
                    "--locale=C.UTF-8",
                ]
            ),
            check=True,
            capture_output=True,
        )
        pwfile.unlink()

    def start(self) -> None:
        log = open(self.root / "server.log", "ab")  # noqa: SIM115 - the server keeps it
        self.proc = subprocess.Popen(
            self.wrap
            + self._unprivileged(
                [
                    str(PG_BIN / "postgres"),
                    "-D",
                    str(self.data),
                    "-p",
                    str(self.port),
                    "-c",
                    "listen_addresses=127.0.0.1",
                    "-c",
                    "unix_socket_directories=",
                    "-c",
                    "fsync=off",
                    "-c",
                    "max_connections=200",
                    *(arg for name, value in self.settings.items() for arg in ("-c", f"{name}={value}")),
                ]
            ),
            stdout=log,
            stderr=log,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                psycopg.connect(self.dsn("postgres"), connect_timeout=1).close()
                return
            except psycopg.OperationalError:
                if self.proc.poll() is not None:
                    raise RuntimeError((self.root / "server.log").read_text()) from None
                time.sleep(0.2)
        raise RuntimeError("PostgreSQL did not start within 30 s")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)  # "fast" shutdown: SIGTERM ("smart") waits for every client
            self.proc.wait(timeout=30)
        self.proc = None

    def dsn(self, database: str, user: str = "postgres", password: str | None = None) -> str:
        return f"postgresql://{user}:{password or self.password}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str, owner: str, password: str) -> None:
        with psycopg.connect(self.dsn("postgres"), autocommit=True) as conn:
            conn.execute(f"CREATE ROLE \"{owner}\" LOGIN PASSWORD '{password}'")  # test names only
            conn.execute(f'CREATE DATABASE "{name}" OWNER "{owner}"')

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)
