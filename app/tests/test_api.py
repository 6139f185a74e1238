"""The routes against a real PostgreSQL: reads, writes, pagination, filters, validation, errors."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

API = "/api/v1"


def category(client: TestClient, slug: str = "tools", name: str = "Tools") -> dict[str, Any]:
    response = client.post(f"{API}/categories", json={"slug": slug, "name": name})
    assert response.status_code == 201, response.text
    return response.json()


def item(client: TestClient, category_id: int, sku: str, **fields: Any) -> dict[str, Any]:
    body = {"sku": sku, "name": fields.pop("name", sku.lower()), "price_cents": fields.pop("price_cents", 100)}
    response = client.post(f"{API}/items", json={**body, "category_id": category_id, **fields})
    assert response.status_code == 201, response.text
    return response.json()


def test_item_round_trip(client: TestClient) -> None:
    cat = category(client)
    created = item(client, cat["id"], "HAMMER-1", name="Claw hammer", price_cents=1999, description="16 oz")
    fetched = client.get(f"{API}/items/{created['id']}").json()
    assert fetched == created
    assert fetched["category_id"] == cat["id"] and fetched["in_stock"] is True

    patched = client.patch(f"{API}/items/{created['id']}", json={"price_cents": 1799, "in_stock": False})
    assert patched.status_code == 200
    assert patched.json()["price_cents"] == 1799 and patched.json()["in_stock"] is False
    assert patched.json()["updated_at"] >= created["updated_at"]

    assert client.delete(f"{API}/items/{created['id']}").status_code == 204
    gone = client.get(f"{API}/items/{created['id']}")
    assert gone.status_code == 404 and gone.json() == {"detail": f"item {created['id']} not found"}


def test_unique_keys_conflict(client: TestClient) -> None:
    cat = category(client)
    again = client.post(f"{API}/categories", json={"slug": "tools", "name": "Other"})
    assert again.status_code == 409 and again.json()["detail"] == "category tools already exists"
    item(client, cat["id"], "SAW-1")
    dup = client.post(f"{API}/items", json={"sku": "SAW-1", "name": "x", "price_cents": 1, "category_id": cat["id"]})
    assert dup.status_code == 409


def test_pagination(client: TestClient) -> None:
    cat = category(client)
    for n in range(25):
        item(client, cat["id"], f"BOLT-{n:02d}", price_cents=n)
    first = client.get(f"{API}/items", params={"limit": 10}).json()
    assert first["total"] == 25 and first["limit"] == 10 and first["offset"] == 0
    assert [i["sku"] for i in first["items"]] == [f"BOLT-{n:02d}" for n in range(10)]
    last = client.get(f"{API}/items", params={"limit": 10, "offset": 20}).json()
    assert [i["sku"] for i in last["items"]] == [f"BOLT-{n:02d}" for n in range(20, 25)]
    assert client.get(f"{API}/items", params={"offset": 25}).json()["items"] == []
    assert client.get(f"{API}/items").json()["limit"] == 20  # the default page


def test_pagination_limits_are_422_with_the_field(client: TestClient) -> None:
    too_big = client.get(f"{API}/items", params={"limit": 101})
    assert too_big.status_code == 422
    assert too_big.json()["detail"][0]["loc"] == ["query", "limit"]
    assert too_big.json()["detail"][0]["msg"] == "Input should be less than or equal to 100"
    for params in ({"limit": 0}, {"offset": -1}, {"limit": "ten"}):
        response = client.get(f"{API}/categories", params=params)
        assert response.status_code == 422, params
        assert response.json()["detail"][0]["loc"][0] == "query"


def test_filters_and_sorting(client: TestClient) -> None:
    tools, food = category(client), category(client, "food", "Food")
    item(client, tools["id"], "A-1", name="50% off drill", price_cents=5000)
    item(client, tools["id"], "A-2", name="Drill bit", price_cents=300, in_stock=False)
    item(client, food["id"], "B-1", name="Bread", price_cents=250)

    def skus(**params: Any) -> list[str]:
        response = client.get(f"{API}/items", params=params)
        assert response.status_code == 200, response.text
        return [i["sku"] for i in response.json()["items"]]

    assert skus(category_id=tools["id"]) == ["A-1", "A-2"]
    assert skus(q="drill") == ["A-1", "A-2"]
    assert skus(q="50%") == ["A-1"]  # % is a literal, not a wildcard
    assert skus(q="_") == []
    assert skus(min_price=260, max_price=5000) == ["A-1", "A-2"]
    assert skus(in_stock=False) == ["A-2"]
    assert skus(sort="price") == ["B-1", "A-2", "A-1"]
    assert skus(sort="-price") == ["A-1", "A-2", "B-1"]
    assert skus(min_price=10, max_price=5) == []  # an empty range matches nothing


def test_validation_errors_name_the_field(client: TestClient) -> None:
    cat = category(client)
    cases = [
        ({"sku": "bad sku", "name": "x", "price_cents": 1, "category_id": cat["id"]}, ["body", "sku"]),
        ({"sku": "OK-1", "name": "x", "price_cents": -1, "category_id": cat["id"]}, ["body", "price_cents"]),
        ({"sku": "OK-1", "name": "", "price_cents": 1, "category_id": cat["id"]}, ["body", "name"]),
        ({"sku": "OK-1", "name": "a\x00b", "price_cents": 1, "category_id": cat["id"]}, ["body", "name"]),
        ({"sku": "OK-1", "name": "x", "price_cents": 1, "category_id": cat["id"], "color": "red"}, ["body", "color"]),
        ({"sku": "OK-1", "name": "x", "price_cents": 1}, ["body", "category_id"]),
        ({"sku": "OK-1", "name": "x", "price_cents": 1, "category_id": 999}, ["body", "category_id"]),
    ]
    for body, loc in cases:
        response = client.post(f"{API}/items", json=body)
        assert response.status_code == 422, (body, response.text)
        assert response.json()["detail"][0]["loc"] == loc, body
    assert client.get(f"{API}/items", params={"limit": 100}).json()["total"] == 0  # nothing was written
    null = client.patch(f"{API}/items/1", json={"name": None})
    assert null.status_code in (404, 422)
    it = item(client, cat["id"], "OK-2")
    null_name = client.patch(f"{API}/items/{it['id']}", json={"name": None})
    assert null_name.status_code == 422 and null_name.json()["detail"][0]["loc"] == ["body", "name"]
    assert client.get(f"{API}/items/0").status_code == 422
    assert client.get(f"{API}/items/99999999999").status_code == 422


def test_category_reads(client: TestClient) -> None:
    for slug in ("b-cat", "a-cat", "c-cat"):
        category(client, slug, slug.upper())
    listed = client.get(f"{API}/categories", params={"limit": 2}).json()
    assert listed["total"] == 3 and [c["slug"] for c in listed["items"]] == ["a-cat", "b-cat"]
    one = listed["items"][0]
    assert client.get(f"{API}/categories/{one['id']}").json() == one
    assert client.get(f"{API}/categories/4242").status_code == 404


def test_openapi_is_versioned(client: TestClient) -> None:
    spec = client.get(f"{API}/openapi.json").json()
    assert spec["info"]["title"] == "catalog"
    assert all(path.startswith("/api/v1/") for path in spec["paths"] if path not in ("/healthz", "/readyz"))
    assert client.get(f"{API}/docs").status_code == 200


def test_a_body_that_is_not_json_is_400_and_documented(client: TestClient) -> None:
    """Found by `make dast`: FastAPI answers 400 for a body it cannot decode; the OpenAPI document says so."""
    headers = {"Content-Type": "application/json"}
    for method, path in (("POST", "/api/v1/categories"), ("POST", "/api/v1/items"), ("PATCH", "/api/v1/items/1")):
        response = client.request(method, path, content=b"\x06\xff\xfe\xfd", headers=headers)
        assert response.status_code == 400, (method, path, response.text)
        documented = client.get("/api/v1/openapi.json").json()["paths"][path.replace("/1", "/{item_id}")]
        assert "400" in documented[method.lower()]["responses"], (method, path)
