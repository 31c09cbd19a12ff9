"""Promotions, vouchers, loyalty points and tax rates through HTTP, on both databases: what is
stored comes back, floats and bad settings are refused with field paths, scopes are enforced."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from api_helpers import paths, problem, same
from fastapi.testclient import TestClient

from legato.bootstrap import Runtime
from legato.store.promotions import writing

DOCS = Path(__file__).parents[2] / "docs" / "pricing"
TEA10 = {"code": "TEA10", "name": "10 % off tea", "kind": "percent", "value": "10", "categories": ["tea"]}
DEFAULTS = {
    "level": "line",
    "currency": None,
    "skus": [],
    "tags": [],
    "min_subtotal": None,
    "buy_qty": None,
    "get_qty": None,
    "channels": [],
    "valid_from": None,
    "valid_to": None,
    "active": True,
    "priority": 0,
    "exclusive": False,
}


def example(page: str, name: str) -> Any:
    found = re.search(rf"<!-- example: {name} -->\s*```json\n(.*?)```", (DOCS / page).read_text(), re.S)
    assert found, f"no example {name!r} in {page}"
    return json.loads(found.group(1))


def post(client: TestClient, headers: dict[str, str], path: str, body: dict[str, Any]) -> dict[str, Any]:
    r = client.post(path, json=body, headers=headers)
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def test_the_documented_promotions_and_voucher_are_created_read_and_listed(
    client: TestClient, cataloguer: dict[str, str], reader: dict[str, str]
) -> None:
    bodies = example("promotions.md", "promotions")
    for body in bodies:
        created = post(client, cataloguer, "/api/v1/promotions", body)
        assert same(created, {**DEFAULTS, "value": "0", "categories": [], **body}), created
        assert same(client.get(f"/api/v1/promotions/{body['code']}", headers=reader).json(), created)
    pair = example("promotions.md", "voucher")
    post(client, cataloguer, "/api/v1/promotions", pair["promotion"])
    voucher = post(client, cataloguer, "/api/v1/vouchers", {**pair["voucher"], "code": "welcome5"})
    assert voucher["code"] == "WELCOME5" and voucher["promotion"]["code"] == "WELCOME"
    assert (voucher["used"], voucher["remaining"], voucher["usage_limit"]) == (0, 1000, 1000)
    assert client.get("/api/v1/vouchers/Welcome5", headers=reader).json() == voucher

    first = client.get("/api/v1/promotions?limit=3", headers=reader).json()
    rest = client.get(f"/api/v1/promotions?cursor={first['next_cursor']}", headers=reader).json()
    assert [p["code"] for p in first["items"] + rest["items"]] == [b["code"] for b in bodies] + ["WELCOME"]
    assert rest["next_cursor"] is None
    vouchers = client.get("/api/v1/vouchers", headers=reader).json()
    assert vouchers == {"items": [voucher], "next_cursor": None}


def test_a_voucher_shows_its_uses_once_orders_redeem_it(
    client: TestClient, cataloguer: dict[str, str], runtime: Runtime
) -> None:
    post(client, cataloguer, "/api/v1/promotions", {**TEA10, "level": "order"})
    post(client, cataloguer, "/api/v1/vouchers", {"code": "TEA", "promotion": "TEA10", "usage_limit": 3})
    with writing(runtime.engine) as s:
        s.redeem("tea", 1, None)
        s.redeem("tea", 2, None)
    got = client.get("/api/v1/vouchers/TEA", headers=cataloguer).json()
    assert (got["used"], got["remaining"]) == (2, 1)


def test_money_as_a_json_number_with_a_fraction_is_refused_with_its_path(
    client: TestClient, cataloguer: dict[str, str]
) -> None:
    p = problem(
        client.post("/api/v1/promotions", json={**TEA10, "value": 10.5}, headers=cataloguer),
        422,
        "validation",
    )
    assert paths(p) == ["$.value"] and "decimal string" in p["errors"][0]["message"]
    body = {"region": "GB", "tax_class": "standard", "rate": 0.2, "name": "VAT"}
    assert paths(
        problem(client.put("/api/v1/tax-rates", json=body, headers=cataloguer), 422, "validation")
    ) == ["$.rate"]
    assert post(client, cataloguer, "/api/v1/promotions", {**TEA10, "value": 10})["value"] == "10"


def test_a_promotion_that_makes_no_sense_is_refused_naming_every_bad_field(
    client: TestClient, cataloguer: dict[str, str]
) -> None:
    body = {
        "code": "BAD",
        "name": "Bad",
        "kind": "buy_x_get_y",
        "level": "order",
        "value": "150",
        "min_subtotal": "10",
        "valid_from": "2026-02-01",
        "valid_to": "2026-01-01",
    }
    p = problem(client.post("/api/v1/promotions", json=body, headers=cataloguer), 422, "validation")
    assert sorted(paths(p)) == ["$.buy_qty", "$.currency", "$.get_qty", "$.level", "$.valid_to", "$.value"]
    body = {"code": "EURO", "name": "Euro", "kind": "fixed", "value": "5", "currency": "ABC"}
    p = problem(client.post("/api/v1/promotions", json=body, headers=cataloguer), 422, "validation")
    assert p["errors"][0]["code"] == "unknown_currency"


def test_a_patch_changes_only_what_it_sends_and_keeps_the_promotion_valid(
    client: TestClient, cataloguer: dict[str, str]
) -> None:
    post(client, cataloguer, "/api/v1/promotions", {**TEA10, "valid_to": "2026-12-31"})
    r = client.patch(
        "/api/v1/promotions/TEA10",
        json={"value": "15", "valid_to": None, "tags": ["organic"]},
        headers=cataloguer,
    )
    assert r.status_code == 200, r.text
    got = client.get("/api/v1/promotions/TEA10", headers=cataloguer).json()
    assert (got["value"], got["valid_to"], got["tags"], got["categories"]) == (
        "15",
        None,
        ["organic"],
        ["tea"],
    )
    p = problem(
        client.patch("/api/v1/promotions/TEA10", json={"name": None, "priority": None}, headers=cataloguer),
        422,
        "validation",
    )
    assert sorted(paths(p)) == ["$.name", "$.priority"] and p["errors"][0]["code"] == "null"
    p = problem(
        client.patch("/api/v1/promotions/TEA10", json={"kind": "fixed"}, headers=cataloguer),
        422,
        "validation",
    )
    assert paths(p) == ["$.currency"]
    problem(
        client.patch("/api/v1/promotions/TEA10", json={"code": "X"}, headers=cataloguer), 422, "validation"
    )
    problem(
        client.patch("/api/v1/promotions/NOPE", json={"value": "1"}, headers=cataloguer), 404, "not_found"
    )
    assert client.get("/api/v1/promotions/TEA10", headers=cataloguer).json() == got


def test_duplicates_unknown_codes_and_missing_promotions_get_precise_problems(
    client: TestClient, cataloguer: dict[str, str]
) -> None:
    post(client, cataloguer, "/api/v1/promotions", TEA10)
    assert paths(
        problem(client.post("/api/v1/promotions", json=TEA10, headers=cataloguer), 409, "duplicate")
    ) == ["$.code"]
    problem(client.get("/api/v1/promotions/NOPE", headers=cataloguer), 404, "not_found")
    problem(client.get("/api/v1/vouchers/NOPE", headers=cataloguer), 404, "not_found")
    p = problem(
        client.post("/api/v1/vouchers", json={"code": "V1", "promotion": "NOPE"}, headers=cataloguer),
        422,
        "validation",
    )
    assert paths(p) == ["$.promotion"] and p["errors"][0]["code"] == "unknown_promotion"
    post(client, cataloguer, "/api/v1/vouchers", {"code": "V1", "promotion": "TEA10"})
    problem(
        client.post("/api/v1/vouchers", json={"code": "v1", "promotion": "TEA10"}, headers=cataloguer),
        409,
        "duplicate",
    )
    p = problem(
        client.post(
            "/api/v1/vouchers",
            json={"code": "V2", "promotion": "TEA10", "usage_limit": 0},
            headers=cataloguer,
        ),
        422,
        "validation",
    )
    assert paths(p) == ["$.usage_limit"]


def test_points_are_credited_and_debited_with_a_reason_and_never_below_zero(
    client: TestClient, shop: dict[str, str], reader: dict[str, str]
) -> None:
    url = "/api/v1/accounts/ACME/points"
    assert client.get(url, headers=reader).json() == {
        "account": "ACME",
        "balance": 0,
        "ledger": [],
        "next_cursor": None,
    }
    credit = post(client, shop, url, {"points": 1200, "reason": "sign-up bonus"})
    assert credit["balance"] == 1200 and credit["ledger"][0]["points"] == 1200
    assert post(client, shop, url, {"points": -200, "reason": "correction"})["balance"] == 1000
    p = problem(
        client.post(url, json={"points": -1001, "reason": "too much"}, headers=shop), 422, "points_exceeded"
    )
    assert paths(p) == ["$.points"] and p["detail"] == "1001 points asked, the balance is 1000"
    for bad in (
        {"points": 0, "reason": "x"},
        {"points": 1.5, "reason": "x"},
        {"points": 10**10, "reason": "x"},
    ):
        assert paths(problem(client.post(url, json=bad, headers=shop), 422, "validation")) == ["$.points"]
    problem(client.post(url, json={"points": 5}, headers=shop), 422, "validation")  # a reason is required

    newest = client.get(f"{url}?limit=1", headers=reader).json()
    assert newest["balance"] == 1000 and [e["reason"] for e in newest["ledger"]] == ["correction"]
    older = client.get(f"{url}?cursor={newest['next_cursor']}", headers=reader).json()
    assert [(e["points"], e["reason"]) for e in older["ledger"]] == [(1200, "sign-up bonus")]
    problem(client.get("/api/v1/accounts/NOPE/points", headers=reader), 404, "not_found")
    problem(
        client.post("/api/v1/accounts/NOPE/points", json={"points": 1, "reason": "x"}, headers=shop),
        404,
        "not_found",
    )


def test_the_documented_tax_rates_are_upserted_listed_and_deleted(
    client: TestClient, cataloguer: dict[str, str], reader: dict[str, str]
) -> None:
    rates = example("tax.md", "rates")
    for body in rates:
        r = client.put("/api/v1/tax-rates", json=body, headers=cataloguer)
        assert r.status_code == 201, r.text
        assert same(r.json(), body)
    changed = {**rates[0], "rate": "0.175", "name": "VAT 17.5%"}
    r = client.put("/api/v1/tax-rates", json=changed, headers=cataloguer)
    assert r.status_code == 200 and same(r.json(), changed)
    listed = client.get("/api/v1/tax-rates", headers=reader).json()["items"]
    expected = sorted([changed, *rates[1:]], key=lambda x: (x["region"], x["tax_class"]))
    assert same(listed, expected)
    assert client.delete("/api/v1/tax-rates/GB/zero", headers=cataloguer).status_code == 204
    problem(client.delete("/api/v1/tax-rates/GB/zero", headers=cataloguer), 404, "not_found")
    assert len(client.get("/api/v1/tax-rates", headers=reader).json()["items"]) == len(rates) - 1
    bad = {"region": "gb", "tax_class": "Standard", "rate": "1.5", "name": ""}
    p = problem(client.put("/api/v1/tax-rates", json=bad, headers=cataloguer), 422, "validation")
    assert sorted(paths(p)) == ["$.name", "$.rate", "$.region", "$.tax_class"]


def test_the_documented_channel_setting_for_tax_inclusive_prices_is_kept(
    client: TestClient, admin: dict[str, str]
) -> None:
    channel = post(client, admin, "/api/v1/channels", example("tax.md", "channel"))
    assert channel["settings"]["prices_include_tax"] is True


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("post", "/api/v1/promotions", TEA10),
        ("patch", "/api/v1/promotions/TEA10", {"active": False}),
        ("post", "/api/v1/vouchers", {"code": "V", "promotion": "TEA10"}),
        ("post", "/api/v1/accounts/ACME/points", {"points": 5, "reason": "x"}),
        ("put", "/api/v1/tax-rates", {"region": "GB", "tax_class": "zero", "rate": "0", "name": "VAT 0%"}),
        ("delete", "/api/v1/tax-rates/GB/zero", None),
    ],
)
def test_writing_needs_the_catalogue_scope_and_reading_any_key(
    client: TestClient, reader: dict[str, str], method: str, path: str, body: dict[str, Any] | None
) -> None:
    r = client.request(method, path, json=body, headers=reader)
    assert problem(r, 403, "forbidden")["required_scope"] == "catalog:write"
    problem(client.get("/api/v1/promotions"), 401, "unauthorized")
    for url in ("/api/v1/promotions", "/api/v1/vouchers", "/api/v1/tax-rates"):
        assert client.get(url, headers=reader).status_code == 200
