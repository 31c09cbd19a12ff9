"""Pricing at order creation through HTTP: list price, contract price, trusted channel prices,
the errors that name the line, and rounding to the currency's minor unit."""

from __future__ import annotations

from decimal import Decimal as D

from api_helpers import count, order_body, outbox, place, problem
from fastapi.testclient import TestClient

from legato.bootstrap import Runtime


def _prices(order: dict) -> list[tuple[str, D, str]]:
    """(sku, unit price, source) per line; unit prices compare by value, not by their digits."""
    return [(ln["sku"], D(ln["unit_price"]), ln["price_source"]) for ln in order["lines"]]


def test_lines_take_the_list_price_in_the_order_currency(client: TestClient, shop: dict[str, str]) -> None:
    gbp = place(client, shop, order_body("WEB", ("TEA-100", 1), ("POT-300", 2)))
    assert gbp["currency"] == "GBP"  # the channel's currency
    assert _prices(gbp) == [("TEA-100", D("4.50"), "product"), ("POT-300", D("39.99"), "product")]
    assert gbp["totals"]["grand_total"] == "84.48"
    usd = place(client, shop, order_body("WEB", ("TEA-100", 1), ("MUG-200", 1), currency="USD"))
    assert _prices(usd) == [("TEA-100", D("5.75"), "product"), ("MUG-200", D("15.00"), "product")]


def test_a_matched_account_gets_its_contract_prices_only_in_the_contract_currency(
    client: TestClient, shop: dict[str, str]
) -> None:
    contract = place(
        client,
        shop,
        order_body(
            "WEB", ("TEA-100", 1), ("MUG-200", 1), ("POT-300", 1), customer={"email": "buyer@acme.example"}
        ),
    )
    assert contract["currency"] == "EUR"  # the account's currency
    assert _prices(contract) == [
        ("TEA-100", D("4.00"), "contract:ACME-2026"),
        ("MUG-200", D("12.51"), "contract:ACME-2026:-10%"),
        ("POT-300", D("40.50"), "contract:ACME-2026:-10%"),
    ]
    in_gbp = place(client, shop, order_body("WEB", ("TEA-100", 1), customer={"code": "ACME"}, currency="GBP"))
    assert in_gbp["account"] == "ACME"
    assert _prices(in_gbp) == [("TEA-100", D("4.50"), "product")]


def test_a_pricelist_out_of_force_is_not_applied(client: TestClient, shop: dict[str, str]) -> None:
    r = client.put(
        "/api/v1/pricelists/ACME-2026",
        headers=shop,
        json={
            "code": "ACME-2026",
            "name": "Acme contract",
            "currency": "EUR",
            "items": {"TEA-100": "4.00"},
            "kind": "percent_off",
            "percent_off": "10",
            "valid_from": "2020-01-01",
            "valid_to": "2020-12-31",
        },
    )
    assert r.status_code == 200, r.text
    order = place(client, shop, order_body("B2B", ("TEA-100", 1), customer={"code": "ACME"}))
    assert _prices(order) == [("TEA-100", D("5.20"), "product")]


def test_a_trusted_channel_keeps_the_prices_it_sends_and_others_ignore_them(
    client: TestClient, shop: dict[str, str]
) -> None:
    body = order_body("MKT", ("TEA-100", 2), ("MUG-200", 1))
    body["lines"][0]["unit_price"] = "750"
    trusted = place(client, shop, body)
    assert _prices(trusted) == [("TEA-100", D("750"), "channel"), ("MUG-200", D("2100"), "product")]
    assert trusted["totals"]["grand_total"] == "3600"

    body = order_body("WEB", ("TEA-100", 1))
    body["lines"][0]["unit_price"] = "0.01"
    assert _prices(place(client, shop, body)) == [("TEA-100", D("4.50"), "product")]


def test_a_line_without_a_price_in_the_order_currency_is_a_422_naming_the_line(
    client: TestClient, shop: dict[str, str], runtime: Runtime
) -> None:
    r = client.post("/api/v1/orders", headers=shop, json=order_body("MKT", ("TEA-100", 1), ("POT-300", 1)))
    p = problem(r, 422, "price_not_found")
    # POT-300 has a EUR (base list) price but no JPY one, and no EUR->JPY rate is stored
    assert [(e["path"], e["pointer"], e["code"], e["value"]) for e in p["errors"]] == [
        ("$.lines[1].sku", "/lines/1/sku", "rate_missing", "POT-300")
    ]
    assert "EUR->JPY" in p["errors"][0]["message"]
    assert count(runtime, "orders") == 0 and sum(outbox(runtime).values()) == 0


def test_an_unknown_sku_is_a_422_naming_every_bad_line(
    client: TestClient, shop: dict[str, str], runtime: Runtime
) -> None:
    r = client.post("/api/v1/orders", headers=shop, json=order_body("WEB", ("TEA-100", 1), ("NOPE-1", 1)))
    p = problem(r, 422, "unknown_sku")
    assert [(e["path"], e["code"], e["value"]) for e in p["errors"]] == [
        ("$.lines[1].sku", "unknown_sku", "NOPE-1")
    ]

    r = client.post(
        "/api/v1/orders", headers=shop, json=order_body("MKT", ("POT-300", 1), ("NOPE-1", 1), ("NOPE-2", 1))
    )
    p = problem(r, 422, "unknown_sku")
    assert [(e["path"], e["code"]) for e in p["errors"]] == [
        ("$.lines[0].sku", "rate_missing"),  # no JPY price, no EUR->JPY rate
        ("$.lines[1].sku", "unknown_sku"),
        ("$.lines[2].sku", "unknown_sku"),
    ]
    assert count(runtime, "orders") == 0


def test_an_inactive_product_cannot_be_ordered(client: TestClient, shop: dict[str, str]) -> None:
    r = client.post(
        "/api/v1/products",
        headers=shop,
        json={"sku": "OLD-1", "name": "Old", "prices": {"GBP": "1"}, "active": False},
    )
    assert r.status_code == 201, r.text
    r = client.post("/api/v1/orders", headers=shop, json=order_body("WEB", ("OLD-1", 1)))
    assert problem(r, 422, "unknown_sku")["errors"][0]["path"] == "$.lines[0].sku"


def _jpy_and_kwd_orders(client: TestClient, shop: dict[str, str]) -> tuple[dict, dict]:
    jpy = order_body("MKT", ("TEA-100", 3))
    jpy["lines"][0].update(unit_price="333.3", tax_rate="0.1")
    kwd = order_body("WEB", ("TEA-100", 3), currency="KWD", shipping="1.2345")
    kwd["lines"][0].update(tax_rate="0.05", discount="0.0004")
    return place(client, shop, jpy), place(client, shop, kwd)


def test_totals_are_rounded_to_the_currency_minor_unit(client: TestClient, shop: dict[str, str]) -> None:
    jpy, kwd = _jpy_and_kwd_orders(client, shop)
    assert jpy["lines"][0]["amount"] == "1000"  # 3 x 333.3 = 999.9
    assert jpy["totals"] == {
        "subtotal": "1000",
        "discount": "0",
        "shipping": "0",
        "tax": "100",
        "grand_total": "1100",
        "points": "0",
    }
    assert kwd["lines"][0]["amount"] == "5.250"  # 3 x 1.750
    assert kwd["totals"] == {
        "subtotal": "5.250",
        "discount": "0.000",
        "shipping": "1.235",
        "tax": "0.263",
        "grand_total": "6.748",
        "points": "0.000",
    }


def test_amounts_read_back_in_the_currency_minor_unit(client: TestClient, shop: dict[str, str]) -> None:
    jpy, kwd = _jpy_and_kwd_orders(client, shop)
    for order in (jpy, kwd):
        got = client.get(f"/api/v1/orders/{order['number']}", headers=shop).json()
        assert got["totals"] == order["totals"]
        assert [ln["amount"] for ln in got["lines"]] == [ln["amount"] for ln in order["lines"]]
    listed = {
        o["number"]: o["grand_total"] for o in client.get("/api/v1/orders", headers=shop).json()["items"]
    }
    assert listed == {jpy["number"]: "1100", kwd["number"]: "6.748"}
    contract = place(client, shop, order_body("B2B", ("TEA-100", 1), customer={"code": "ACME"}))
    assert contract["lines"][0]["unit_price"] == "4.00"
