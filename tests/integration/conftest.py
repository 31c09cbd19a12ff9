"""API fixtures: an app on the parametrised database and keys with each scope."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from legato.api.app import create_app
from legato.bootstrap import Runtime
from legato.store.apikeys import create_key


@pytest.fixture
def client(runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(runtime), raise_server_exceptions=False) as c:
        yield c


def _headers(runtime: Runtime, *scopes: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {create_key(runtime.engine, '-'.join(scopes), list(scopes))}"}


@pytest.fixture
def admin(runtime: Runtime) -> dict[str, str]:
    """Headers of an API key with the admin scope."""
    return _headers(runtime, "admin")


@pytest.fixture
def reader(runtime: Runtime) -> dict[str, str]:
    return _headers(runtime, "orders:read")


@pytest.fixture
def writer(runtime: Runtime) -> dict[str, str]:
    return _headers(runtime, "orders:write")


@pytest.fixture
def cataloguer(runtime: Runtime) -> dict[str, str]:
    return _headers(runtime, "catalog:write")


@pytest.fixture
def shop(client: TestClient, admin: dict[str, str]) -> dict[str, str]:
    """A small catalogue: channels WEB (GBP, guest), B2B (EUR, reject unknown customers),
    MKT (JPY, trusts its prices); products in GBP/EUR/JPY/KWD/USD; a contracted account."""

    def post(path: str, body: dict) -> None:
        r = client.post(path, json=body, headers=admin)
        assert r.status_code == 201, r.text

    post(
        "/api/v1/channels",
        {
            "code": "WEB",
            "name": "Web shop",
            "type": "ecommerce",
            "currency": "GBP",
            "adapter": "shopify",
            "secrets": {"webhook_secret": "s3cret"},
        },
    )
    post(
        "/api/v1/channels",
        {
            "code": "B2B",
            "name": "Trade portal",
            "type": "b2b",
            "currency": "EUR",
            "adapter": "portal",
            "settings": {"match_keys": ["code", "email", "erp_ref"], "on_no_match": "reject"},
        },
    )
    post(
        "/api/v1/channels",
        {
            "code": "MKT",
            "name": "Marketplace JP",
            "type": "marketplace",
            "currency": "JPY",
            "settings": {"price_policy": "trust"},
        },
    )
    for sku, prices in {
        "TEA-100": {"GBP": "4.50", "EUR": "5.20", "JPY": "800", "KWD": "1.750", "USD": "5.75"},
        "MUG-200": {"GBP": "12.00", "EUR": "13.90", "JPY": "2100", "USD": "15.00"},
        "POT-300": {"GBP": "39.99", "EUR": "45.00"},
    }.items():
        post("/api/v1/products", {"sku": sku, "name": sku.title(), "prices": prices, "category": "kitchen"})
    post(
        "/api/v1/pricelists",
        {
            "code": "ACME-2026",
            "name": "Acme contract",
            "currency": "EUR",
            "items": {"TEA-100": "4.00"},
            "kind": "percent_off",
            "percent_off": "10",
        },
    )
    post(
        "/api/v1/accounts",
        {
            "code": "ACME",
            "name": "Acme Trading",
            "email": "buyer@acme.example",
            "erp_ref": "ERP-77",
            "currency": "EUR",
            "pricelist": "ACME-2026",
            "tier": "gold",
        },
    )
    return admin
