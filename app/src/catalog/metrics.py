"""Prometheus metrics. Under gunicorn (several worker processes) they go through prometheus_client's
multiprocess mode: catalog.gunicorn_conf sets PROMETHEUS_MULTIPROC_DIR before the workers start."""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

REQUESTS = Counter(
    "catalog_http_requests_total",
    "HTTP requests served, by method, route template and status",
    ["method", "route", "status"],
)
LATENCY = Histogram(
    "catalog_http_request_duration_seconds",
    "Time to serve a request, by method and route template",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
IN_FLIGHT = Gauge("catalog_http_requests_in_flight", "Requests being served", multiprocess_mode="livesum")
DB_POOL_SIZE = Gauge(
    "catalog_db_pool_size", "Configured connections per pool (per worker)", ["target"], multiprocess_mode="livesum"
)
DB_CHECKED_OUT = Gauge(
    "catalog_db_pool_checked_out", "Connections in use, by pool target", ["target"], multiprocess_mode="livesum"
)
DB_CHECKOUTS = Counter("catalog_db_pool_checkouts_total", "Connections taken from a pool, by target", ["target"])


def exposition() -> tuple[bytes, str]:
    """The metrics page: every worker's values when running under gunicorn, this process's otherwise."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST
