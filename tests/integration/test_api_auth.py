"""API keys and scopes: who may call what."""

from __future__ import annotations

from api_helpers import count, key_headers, order_body, problem
from fastapi.testclient import TestClient

from legato.bootstrap import Runtime
from legato.store.apikeys import revoke_keys

CHANNEL = {"code": "POS", "name": "Till", "type": "retail", "currency": "GBP"}
PRODUCT = {"sku": "CUP-1", "name": "Cup", "prices": {"GBP": "3"}}


def test_a_request_without_a_key_is_a_401_problem(client: TestClient, shop: dict[str, str]) -> None:
    for method, path in (
        ("GET", "/api/v1/orders"),
        ("POST", "/api/v1/orders"),
        ("GET", "/api/v1/channels/WEB"),
        ("PUT", "/api/v1/accounts/ACME"),
        ("POST", "/api/v1/quotes/1/convert"),
    ):
        r = client.request(method, path, json={})
        assert problem(r, 401, "unauthorized")["detail"].startswith("send an API key")


def test_a_key_is_taken_as_bearer_or_x_api_key_and_an_unknown_malformed_or_revoked_one_is_a_401(
    client: TestClient, shop: dict[str, str], runtime: Runtime
) -> None:
    revoked = key_headers(runtime, "leaver", "admin")
    assert client.get("/api/v1/orders", headers=revoked).status_code == 200
    assert revoke_keys(runtime.engine, "leaver") == 1
    real = shop["Authorization"].removeprefix("Bearer ")
    prefix = real.split("_")[1]
    for headers in (
        revoked,
        {"Authorization": "Bearer lgt_000000000000_nope"},
        {"Authorization": f"Bearer lgt_{prefix}_wrong-secret"},
        {"Authorization": "Bearer nonsense"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"X-API-Key": "lgt_x_y"},
    ):
        r = client.get("/api/v1/orders", headers=headers)
        problem(r, 401, "unauthorized")
    assert client.get("/api/v1/orders", headers={"X-API-Key": real}).status_code == 200


def test_a_key_without_the_scope_is_a_403_naming_the_required_scope(
    client: TestClient, shop: dict[str, str], reader: dict[str, str], runtime: Runtime
) -> None:
    p = problem(client.post("/api/v1/orders", json=order_body(), headers=reader), 403, "forbidden")
    assert p["required_scope"] == "orders:write"
    p = problem(client.post("/api/v1/quotes", json=order_body(), headers=reader), 403, "forbidden")
    assert p["required_scope"] == "orders:write"
    p = problem(
        client.post("/api/v1/orders/1/transitions", json={"to": "processing"}, headers=reader),
        403,
        "forbidden",
    )
    assert p["required_scope"] == "orders:write"
    assert count(runtime, "orders") == 0


def test_orders_write_implies_orders_read_but_not_the_catalogue(
    client: TestClient, shop: dict[str, str], writer: dict[str, str]
) -> None:
    r = client.post("/api/v1/orders", json=order_body(), headers=writer)
    assert r.status_code == 201, r.text
    assert client.get(f"/api/v1/orders/{r.json()['number']}", headers=writer).status_code == 200
    assert client.get("/api/v1/orders", headers=writer).status_code == 200
    assert client.get("/api/v1/channels", headers=writer).status_code == 200
    p = problem(client.post("/api/v1/products", json=PRODUCT, headers=writer), 403, "forbidden")
    assert p["required_scope"] == "catalog:write"


def test_the_catalogue_needs_catalog_write_and_channels_need_admin(
    client: TestClient, shop: dict[str, str], cataloguer: dict[str, str], reader: dict[str, str]
) -> None:
    assert client.post("/api/v1/products", json=PRODUCT, headers=cataloguer).status_code == 201
    account = {"code": "NEW", "name": "New Co"}
    assert client.post("/api/v1/accounts", json=account, headers=cataloguer).status_code == 201
    pricelist = {"code": "PL-9", "name": "Nine", "currency": "GBP"}
    assert client.post("/api/v1/pricelists", json=pricelist, headers=cataloguer).status_code == 201
    assert client.get("/api/v1/accounts/NEW", headers=cataloguer).status_code == 200  # implies orders:read
    for method, path, body in (
        ("POST", "/api/v1/channels", CHANNEL),
        ("PUT", "/api/v1/channels/WEB", {**CHANNEL, "code": "WEB"}),
    ):
        p = problem(client.request(method, path, json=body, headers=cataloguer), 403, "forbidden")
        assert p["required_scope"] == "admin"
    for path, body in (
        ("/api/v1/products", PRODUCT),
        ("/api/v1/accounts", account),
        ("/api/v1/pricelists", pricelist),
    ):
        p = problem(client.post(path, json={**body}, headers=reader), 403, "forbidden")
        assert p["required_scope"] == "catalog:write"
    p = problem(client.post("/api/v1/orders", json=order_body(), headers=cataloguer), 403, "forbidden")
    assert p["required_scope"] == "orders:write"


def test_operations_endpoints_and_the_openapi_need_no_key(client: TestClient) -> None:
    for path in ("/healthz", "/readyz", "/metrics", "/openapi.json"):
        assert client.get(path).status_code == 200, path
