"""Channels, products, accounts and pricelists through HTTP: create, read, list, replace."""

from __future__ import annotations

from typing import Any

import pytest
from api_helpers import paths, problem, same
from fastapi.testclient import TestClient
from sqlalchemy import select

from legato.bootstrap import Runtime
from legato.store import tables

#: resource -> (key field, a valid body, a changed field for PUT)
RESOURCES: dict[str, tuple[str, dict[str, Any], dict[str, Any]]] = {
    "channels": (
        "code",
        {
            "code": "POS-1",
            "name": "Till",
            "type": "retail",
            "currency": "GBP",
            "adapter": "pos",
            "settings": {"match_keys": ["phone"], "on_no_match": "guest", "price_policy": "catalog"},
        },
        {"name": "Till by the door", "active": False},
    ),
    "products": (
        "sku",
        {
            "sku": "SPOON-1",
            "name": "Spoon",
            "category": "cutlery",
            "tags": ["steel"],
            "dimensions": {"length": "15.5", "width": "3", "height": "1"},
            "weight_kg": "0.05",
            "prices": {"GBP": "1.99", "EUR": "2.25"},
        },
        {"name": "Tea spoon", "prices": {"GBP": "2.49"}},
    ),
    "accounts": (
        "code",
        {
            "code": "BOB",
            "name": "Bob's Cafe",
            "email": "bob@cafe.example",
            "phone": "+441632960001",
            "erp_ref": "ERP-1",
            "properties": {"vat": "GB1", "seats": 12},
            "tier": "silver",
            "region": "north",
            "currency": "GBP",
            "credit_limit": "5000",
            "payment_terms": "net30",
        },
        {"name": "Bob's Bistro", "tier": "gold"},
    ),
    "pricelists": (
        "code",
        {
            "code": "PL-1",
            "name": "Summer",
            "currency": "GBP",
            "kind": "fixed",
            "items": {"SPOON-1": "1.50"},
            "valid_from": "2026-01-01",
            "valid_to": "2026-12-31",
        },
        {"name": "Summer sale", "items": {"SPOON-1": "1.25", "CUP-9": "3.00"}},
    ),
}


@pytest.mark.parametrize("resource", list(RESOURCES))
def test_a_catalogue_record_is_created_read_and_replaced_by_its_code_and_its_code_is_unique(
    client: TestClient, admin: dict[str, str], resource: str
) -> None:
    key, body, change = RESOURCES[resource]
    created = client.post(f"/api/v1/{resource}", json=body, headers=admin)
    assert created.status_code == 201, created.text
    for field, value in body.items():
        assert same(created.json()[field], value), field

    got = client.get(f"/api/v1/{resource}/{body[key]}", headers=admin)
    assert got.status_code == 200, got.text
    assert same(got.json(), created.json())

    duplicate = client.post(f"/api/v1/{resource}", json={**body, "name": "Another"}, headers=admin)
    p = problem(duplicate, 409, "duplicate")
    assert paths(p) == [f"$.{key}"]
    assert p["errors"][0]["code"] == "duplicate"

    replaced = client.put(f"/api/v1/{resource}/{body[key]}", json={**body, **change}, headers=admin)
    assert replaced.status_code == 200, replaced.text
    again = client.get(f"/api/v1/{resource}/{body[key]}", headers=admin).json()
    for field, value in change.items():
        assert same(replaced.json()[field], value)
        assert same(again[field], value)


@pytest.mark.parametrize("resource", list(RESOURCES))
def test_an_unknown_code_is_404_and_a_body_code_differing_from_the_path_is_422(
    client: TestClient, admin: dict[str, str], resource: str
) -> None:
    key, body, _ = RESOURCES[resource]
    problem(client.get(f"/api/v1/{resource}/{body[key]}", headers=admin), 404, "not_found")
    problem(client.put(f"/api/v1/{resource}/{body[key]}", json=body, headers=admin), 404, "not_found")

    assert client.post(f"/api/v1/{resource}", json=body, headers=admin).status_code == 201
    r = client.put(
        f"/api/v1/{resource}/{body[key]}", json={**body, key: "OTHER", "name": "Renamed"}, headers=admin
    )
    p = problem(r, 422, "validation")
    assert p["errors"][0]["path"] == f"$.{key}"
    assert p["errors"][0]["pointer"] == f"/{key}"
    assert p["errors"][0]["code"] == "mismatch"
    assert client.get(f"/api/v1/{resource}/{body[key]}", headers=admin).json()["name"] == body["name"]
    problem(client.get(f"/api/v1/{resource}/OTHER", headers=admin), 404, "not_found")


@pytest.mark.parametrize("resource", ["channels", "products", "accounts"])
def test_a_catalogue_list_pages_through_every_record_once_with_its_cursor(
    client: TestClient, admin: dict[str, str], resource: str
) -> None:
    key, body, _ = RESOURCES[resource]
    codes = [f"R-{i}" for i in range(5)]
    for code in codes:
        assert client.post(f"/api/v1/{resource}", json={**body, key: code}, headers=admin).status_code == 201
    seen: list[str] = []
    cursor = None
    for _ in range(10):
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = client.get(f"/api/v1/{resource}", params=params, headers=admin)
        assert page.status_code == 200, page.text
        assert len(page.json()["items"]) <= 2
        seen += [item[key] for item in page.json()["items"]]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
    assert seen == codes


def test_pricelists_are_listed_with_a_cursor(client: TestClient, admin: dict[str, str]) -> None:
    _, body, _ = RESOURCES["pricelists"]
    for code in ("PL-A", "PL-B", "PL-C"):
        assert (
            client.post("/api/v1/pricelists", json={**body, "code": code}, headers=admin).status_code == 201
        )
    first = client.get("/api/v1/pricelists", params={"limit": 2}, headers=admin)
    assert first.status_code == 200, first.text
    second = client.get(
        "/api/v1/pricelists", params={"limit": 2, "cursor": first.json()["next_cursor"]}, headers=admin
    )
    assert [p["code"] for p in first.json()["items"] + second.json()["items"]] == ["PL-A", "PL-B", "PL-C"]
    assert second.json()["next_cursor"] is None


# --- business checks ------------------------------------------------------------------


def test_a_channel_may_match_on_known_keys_or_a_custom_property_and_nothing_else(
    client: TestClient, admin: dict[str, str]
) -> None:
    _, body, _ = RESOURCES["channels"]
    r = client.post(
        "/api/v1/channels", json={**body, "settings": {"match_keys": ["email", "shoe_size"]}}, headers=admin
    )
    p = problem(r, 422, "validation")
    assert paths(p) == ["$.settings.match_keys[1]"]
    assert p["errors"][0]["pointer"] == "/settings/match_keys/1"
    r = client.post(
        "/api/v1/channels", json={**body, "settings": {"match_keys": ["property:vat"]}}, headers=admin
    )
    assert r.status_code == 201, r.text
    assert r.json()["settings"]["match_keys"] == ["property:vat"]


def test_an_unknown_currency_is_refused_where_it_appears(client: TestClient, admin: dict[str, str]) -> None:
    _, product, _ = RESOURCES["products"]
    p = problem(
        client.post("/api/v1/products", json={**product, "prices": {"GBP": "1", "QQQ": "2"}}, headers=admin),
        422,
        "validation",
    )
    assert paths(p) == ["$.prices.QQQ"]
    assert p["errors"][0]["code"] == "unknown_currency"
    _, channel, _ = RESOURCES["channels"]
    p = problem(
        client.post("/api/v1/channels", json={**channel, "currency": "QQQ"}, headers=admin), 422, "validation"
    )
    assert paths(p) == ["$.currency"]


def test_an_account_must_name_an_existing_pricelist_and_keeps_it(
    client: TestClient, admin: dict[str, str]
) -> None:
    _, acc, _ = RESOURCES["accounts"]
    p = problem(
        client.post("/api/v1/accounts", json={**acc, "pricelist": "NOPE"}, headers=admin), 422, "validation"
    )
    assert paths(p) == ["$.pricelist"]
    assert p["errors"][0]["code"] == "unknown_pricelist"
    assert client.get("/api/v1/accounts/BOB", headers=admin).status_code == 404
    _, pl, _ = RESOURCES["pricelists"]
    assert client.post("/api/v1/pricelists", json=pl, headers=admin).status_code == 201
    r = client.post("/api/v1/accounts", json={**acc, "pricelist": "PL-1"}, headers=admin)
    assert r.status_code == 201, r.text
    assert client.get("/api/v1/accounts/BOB", headers=admin).json()["pricelist"] == "PL-1"


def test_an_account_email_and_phone_are_stored_normalised(client: TestClient, admin: dict[str, str]) -> None:
    _, acc, _ = RESOURCES["accounts"]
    client.post(
        "/api/v1/accounts",
        json={**acc, "email": " Bob@Cafe.EXAMPLE ", "phone": "+44 (1632) 960-001"},
        headers=admin,
    )
    got = client.get("/api/v1/accounts/BOB", headers=admin).json()
    assert (got["email"], got["phone"]) == ("bob@cafe.example", "+441632960001")


def test_a_pricelist_that_ends_before_it_starts_is_refused(client: TestClient, admin: dict[str, str]) -> None:
    _, pl, _ = RESOURCES["pricelists"]
    r = client.post(
        "/api/v1/pricelists", json={**pl, "valid_from": "2026-06-01", "valid_to": "2026-05-01"}, headers=admin
    )
    assert paths(problem(r, 422, "validation")) == ["$.valid_to"]


def test_replacing_a_pricelist_replaces_its_items(client: TestClient, admin: dict[str, str]) -> None:
    _, pl, _ = RESOURCES["pricelists"]
    client.post("/api/v1/pricelists", json=pl, headers=admin)
    client.put("/api/v1/pricelists/PL-1", json={**pl, "items": {"CUP-9": "3.00"}}, headers=admin)
    assert list(client.get("/api/v1/pricelists/PL-1", headers=admin).json()["items"]) == ["CUP-9"]


# --- channel secrets --------------------------------------------------------------------


def _secrets_column(rt: Runtime, code: str) -> str | None:
    with rt.engine.connect() as conn:
        return conn.execute(
            select(tables.channels.c.secrets).where(tables.channels.c.code == code)
        ).scalar_one()


def _stored_secrets(rt: Runtime, code: str) -> dict[str, str]:
    with rt.uow() as uow:
        channel = uow.channels.get_by_code(code)
    assert channel is not None
    return channel.secrets


def test_channel_secrets_are_never_returned_only_masked(client: TestClient, shop: dict[str, str]) -> None:
    responses = [
        client.get("/api/v1/channels/WEB", headers=shop),
        client.get("/api/v1/channels", headers=shop),
        client.put(
            "/api/v1/channels/WEB",
            headers=shop,
            json={
                "code": "WEB",
                "name": "Web shop",
                "type": "ecommerce",
                "currency": "GBP",
                "adapter": "shopify",
                "secrets": {"api_token": "t0ken-value"},
            },
        ),
        client.post(
            "/api/v1/channels",
            headers=shop,
            json={
                "code": "WOO",
                "name": "Woo",
                "type": "ecommerce",
                "currency": "GBP",
                "secrets": {"key": "w00-secret"},
            },
        ),
    ]
    for r in responses:
        assert r.status_code in (200, 201), r.text
        for plain in ("s3cret", "t0ken-value", "w00-secret"):
            assert plain not in r.text
    assert responses[0].json()["secrets"] == {"webhook_secret": "********"}
    assert responses[2].json()["secrets"] == {"api_token": "********", "webhook_secret": "********"}
    listed = {c["code"]: c["secrets"] for c in responses[1].json()["items"]}
    assert listed == {"WEB": {"webhook_secret": "********"}, "B2B": {}, "MKT": {}}


def test_channel_secrets_are_stored_encrypted_and_a_put_without_secrets_keeps_them(
    client: TestClient, shop: dict[str, str], runtime: Runtime
) -> None:
    token = _secrets_column(runtime, "WEB")
    assert token is not None and token.startswith("gAAAAA")  # a Fernet token
    assert "s3cret" not in token and "webhook_secret" not in token
    assert _stored_secrets(runtime, "WEB") == {"webhook_secret": "s3cret"}
    assert _secrets_column(runtime, "B2B") is None  # no secrets: nothing stored

    r = client.put(
        "/api/v1/channels/WEB",
        headers=shop,
        json={
            "code": "WEB",
            "name": "Web shop (new)",
            "type": "ecommerce",
            "currency": "GBP",
            "adapter": "shopify",
        },
    )
    assert r.status_code == 200, r.text
    assert r.json()["name"] == "Web shop (new)"
    assert r.json()["secrets"] == {"webhook_secret": "********"}
    token = _secrets_column(runtime, "WEB")
    assert token is not None and token.startswith("gAAAAA") and "s3cret" not in token
    assert _stored_secrets(runtime, "WEB") == {"webhook_secret": "s3cret"}


def test_replacing_a_channel_with_a_secret_changes_only_that_secret(
    client: TestClient, shop: dict[str, str], runtime: Runtime
) -> None:
    base = {"code": "WEB", "name": "Web shop", "type": "ecommerce", "currency": "GBP", "adapter": "shopify"}
    client.put("/api/v1/channels/WEB", headers=shop, json={**base, "secrets": {"api_token": "abc"}})
    client.put("/api/v1/channels/WEB", headers=shop, json={**base, "secrets": {"webhook_secret": "rotated"}})
    assert _stored_secrets(runtime, "WEB") == {"webhook_secret": "rotated", "api_token": "abc"}
