"""Load test of a running catalog service (`make load-test LOAD_URL=https://...`), headless, with pass/fail
thresholds: the run fails when more than LOAD_MAX_FAILURE_RATIO of the requests fail or when the 95th percentile of
the response time exceeds LOAD_MAX_P95_MS. Reads dominate, as in the service's expected traffic; writes create items
in one category made at the start (and deleted items after)."""

from __future__ import annotations

import logging
import os
import uuid
from typing import Any

import httpx
from locust import HttpUser, between, events, task

MAX_FAILURE_RATIO = float(os.environ.get("LOAD_MAX_FAILURE_RATIO", "0.01"))
MAX_P95_MS = float(os.environ.get("LOAD_MAX_P95_MS", "500"))


class Shopper(HttpUser):  # type: ignore[misc]
    wait_time = between(0.1, 0.5)
    category_id: int = 0

    @task(8)
    def list_items(self) -> None:
        self.client.get("/api/v1/items?limit=20", name="/api/v1/items")

    @task(2)
    def list_categories(self) -> None:
        self.client.get("/api/v1/categories?limit=20", name="/api/v1/categories")

    @task(1)
    def write_then_delete(self) -> None:
        sku = f"LOAD-{uuid.uuid4().hex[:12].upper()}"
        body = {"sku": sku, "name": "load", "category_id": Shopper.category_id, "price_cents": 100}
        created = self.client.post("/api/v1/items", json=body, name="/api/v1/items [POST]")
        if created.status_code == 201:
            self.client.delete(f"/api/v1/items/{created.json()['id']}", name="/api/v1/items/{id} [DELETE]")


@events.test_start.add_listener
def make_a_category(environment: Any, **_: Any) -> None:
    """One category for the run's writes, made before the users start (the API cannot delete categories)."""
    created = httpx.post(
        f"{environment.host.rstrip('/')}/api/v1/categories",
        json={"slug": f"load-{uuid.uuid4().hex[:12]}", "name": "made by tests/load"},
        timeout=10,
    )
    created.raise_for_status()
    Shopper.category_id = int(created.json()["id"])


@events.quitting.add_listener
def enforce_thresholds(environment: Any, **_: Any) -> None:
    total = environment.stats.total
    p95 = total.get_response_time_percentile(0.95) or 0
    ratio = total.fail_ratio
    verdict = ratio <= MAX_FAILURE_RATIO and p95 <= MAX_P95_MS
    logging.info(
        "load test: %d requests, failure ratio %.4f (max %.4f), p95 %.0f ms (max %.0f): %s",
        total.num_requests, ratio, MAX_FAILURE_RATIO, p95, MAX_P95_MS, "PASS" if verdict else "FAIL",
    )  # fmt: skip
    if total.num_requests == 0 or not verdict:
        environment.process_exit_code = 1
