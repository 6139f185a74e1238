"""Functional tests of a running catalog service, through its public URL: `make e2e E2E_URL=https://...`.

They run against staging after each deploy (.github/workflows/app.yml), and against env=local's runtime through
Traefik in the lifecycle test. Items they create are deleted at the end; the API has no way to delete a category,
so each run leaves one category named e2e-<random>."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

URL = os.environ.get("STRATA_E2E_URL", "").rstrip("/")
pytestmark = pytest.mark.skipif(not URL, reason="give the service's URL: make e2e E2E_URL=https://...")


@pytest.fixture(scope="module")
def api() -> Iterator[httpx.Client]:
    verify: str | bool = os.environ.get("STRATA_E2E_CA") or True  # a CA bundle for a private certificate
    with httpx.Client(base_url=f"{URL}/api/v1", timeout=10.0, verify=verify) as client:
        yield client


@pytest.fixture(scope="module")
def category(api: httpx.Client) -> Iterator[dict[str, Any]]:
    slug = f"e2e-{uuid.uuid4().hex[:12]}"
    created = api.post("/categories", json={"slug": slug, "name": "made by tests/e2e"})
    assert created.status_code == 201, created.text
    body: dict[str, Any] = created.json()
    yield body


def eventually(read: Callable[[], httpx.Response], want: int, seconds: float = 5.0) -> httpx.Response:
    """Reads may be served by a replica a few milliseconds behind the primary."""
    deadline = time.monotonic() + seconds
    while True:
        response = read()
        if response.status_code == want or time.monotonic() > deadline:
            return response
        time.sleep(0.2)


def test_the_service_is_live_and_ready() -> None:
    assert httpx.get(f"{URL}/healthz", timeout=10).status_code == 200
    assert httpx.get(f"{URL}/readyz", timeout=10).status_code == 200


def test_an_item_is_created_read_filtered_changed_and_deleted(api: httpx.Client, category: dict[str, Any]) -> None:
    sku = f"E2E-{uuid.uuid4().hex[:10].upper()}"
    item = {"sku": sku, "name": "e2e widget", "category_id": category["id"], "price_cents": 1299}
    created = api.post("/items", json=item)
    assert created.status_code == 201, created.text
    item_id = created.json()["id"]
    try:
        read = eventually(lambda: api.get(f"/items/{item_id}"), 200)
        assert read.status_code == 200 and read.json()["sku"] == sku
        listed = eventually(lambda: api.get("/items", params={"category_id": category["id"], "limit": 10}), 200)
        assert [i["sku"] for i in listed.json()["items"]] == [sku]
        changed = api.patch(f"/items/{item_id}", json={"price_cents": 999, "in_stock": False})
        assert changed.status_code == 200, changed.text
        assert (changed.json()["price_cents"], changed.json()["in_stock"]) == (999, False)
        assert api.post("/items", json=item).status_code == 409  # the SKU is taken
    finally:
        assert api.delete(f"/items/{item_id}").status_code == 204
    assert eventually(lambda: api.get(f"/items/{item_id}"), 404).status_code == 404


def test_bad_input_is_refused_with_the_field_named(api: httpx.Client, category: dict[str, Any]) -> None:
    refused = api.post("/items", json={"sku": "", "name": "x", "category_id": category["id"], "price_cents": -1})
    assert refused.status_code == 422
    fields = {tuple(error["loc"])[-1] for error in refused.json()["detail"]}
    assert {"sku", "price_cents"} <= fields
    assert api.get("/items", params={"limit": 1000}).status_code == 422
