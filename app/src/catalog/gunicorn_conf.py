"""gunicorn's configuration, from the environment: `gunicorn -c python:catalog.gunicorn_conf catalog.main:app`.

uvicorn workers; worker count, timeouts and graceful shutdown from CATALOG_* (catalog.settings.ServerSettings).
On SIGTERM gunicorn stops accepting, lets in-flight requests finish within graceful_timeout, then exits.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from catalog.settings import ServerSettings

_server = ServerSettings()

bind = _server.bind
workers = _server.workers
worker_class = "uvicorn.workers.UvicornWorker"
timeout = _server.timeout
graceful_timeout = _server.graceful_timeout
keepalive = _server.keepalive
max_requests = _server.max_requests
max_requests_jitter = _server.max_requests_jitter
pidfile = _server.pidfile
accesslog = "-" if _server.access_log else None
errorlog = "-"
proc_name = "catalog"
# Workers import the app after the fork: each builds its own pools and reads its own environment.
preload_app = False

# prometheus_client's multiprocess mode: one folder of value files shared by the workers, new at each start.
_owned_dir = not os.environ.get("PROMETHEUS_MULTIPROC_DIR")
if _owned_dir:
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="catalog-metrics-")


# The drain flag: present while the instance drains (catalog.main's /readyz answers 503 while it exists).
os.environ["CATALOG_DRAIN_FILE"] = os.path.join(tempfile.gettempdir(), f"catalog-drain-{os.getpid()}")


def when_ready(server: Any) -> None:
    """With CATALOG_DRAIN_SECONDS > 0, SIGTERM first marks the instance not ready, waits, then stops as usual."""
    if _server.drain_seconds <= 0:
        return
    stop = server.handle_term

    def drain_then_stop() -> None:
        server.log.info("draining for %.1f s: /readyz answers 503 before the listeners close", _server.drain_seconds)
        Path(os.environ["CATALOG_DRAIN_FILE"]).touch()
        time.sleep(_server.drain_seconds)
        stop()

    server.handle_term = drain_then_stop


def child_exit(server: Any, worker: Any) -> None:
    # Imported here, never at the top: prometheus_client picks its value store when first imported, and the
    # master must not import it before PROMETHEUS_MULTIPROC_DIR is set (the workers would inherit in-process
    # values and every instance's /metrics page would be empty).
    from prometheus_client import multiprocess  # noqa: PLC0415

    multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]


def on_exit(server: Any) -> None:
    Path(os.environ["CATALOG_DRAIN_FILE"]).unlink(missing_ok=True)
    if _owned_dir:
        shutil.rmtree(os.environ["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)
