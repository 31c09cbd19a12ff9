"""Pricing mechanisms and channel lists through HTTP: a product priced by slabs or by rental
periods, inputs on the line, the breakdown on the order, errors named by their path."""

from __future__ import annotations

from decimal import Decimal as D
from typing import Any

from api_helpers import order_body, place, problem
from fastapi.testclient import TestClient

SLABS = {
    "mechanism": "slabs",
    "currencies": {
        "GBP": {
            "mode": "graduated",
            "bands": [{"up_to": "10", "price": "5.00"}, {"up_to": None, "price": "4.00"}],
        }
    },
}
RENTAL = {
    "mechanism": "rental",
    "currencies": {"GBP": {"rates": {"day": "25.00", "week": "120.00"}, "rule": "cheapest"}},
}


def _product(client: TestClient, headers: dict[str, str], sku: str, pricing: dict[str, Any]) -> Any:
    return client.post(
        "/api/v1/products", headers=headers, json={"sku": sku, "name": sku.title(), "pricing": pricing}
    )


def test_a_slab_priced_product_is_charged_band_by_band_and_the_order_shows_how(
    client: TestClient, shop: dict[str, str]
) -> None:
    r = _product(client, shop, "BOLT", SLABS)
    assert r.status_code == 201, r.text
    assert r.json()["pricing"]["mechanism"] == "slabs"
    order = place(client, shop, order_body("WEB", ("BOLT", 25)))
    (line,) = order["lines"]
    assert D(line["amount"]) == D("110.00")  # 10 x 5.00 + 15 x 4.00
    assert line["price_source"] == "product"
    assert line["detail"]["mechanism"] == "slabs"
    assert [D(p["amount"]) for p in line["detail"]["parts"]] == [D("50.00"), D("60.00")]
    again = client.get(f"/api/v1/orders/{order['number']}", headers=shop).json()
    assert again["lines"][0]["detail"] == line["detail"]  # stored with the order, not recomputed


def test_a_rental_line_carries_its_period_and_takes_the_cheapest_combination(
    client: TestClient, shop: dict[str, str]
) -> None:
    assert _product(client, shop, "SCAFFOLD", RENTAL).status_code == 201
    body = order_body("WEB", ("SCAFFOLD", 2))
    body["lines"][0]["inputs"] = {"start": "2026-12-01T08:00:00Z", "end": "2026-12-10T08:00:00Z"}
    order = place(client, shop, body)
    (line,) = order["lines"]
    assert D(line["amount"]) == D("340.00")  # per unit: 1 week + 2 days = 170.00; 2 units
    assert line["detail"]["inputs"]["start"].startswith("2026-12-01")


def test_a_rental_without_its_period_is_refused_naming_the_input(
    client: TestClient, shop: dict[str, str]
) -> None:
    assert _product(client, shop, "SCAFFOLD", RENTAL).status_code == 201
    r = client.post("/api/v1/orders", headers=shop, json=order_body("WEB", ("SCAFFOLD", 1)))
    body = problem(r, 422, "validation")
    assert any(e["path"].startswith("$.lines[0].inputs.") for e in body["errors"]), body


def test_a_bad_mechanism_configuration_is_refused_when_saved_with_its_path(
    client: TestClient, shop: dict[str, str]
) -> None:
    bad = {
        "mechanism": "slabs",
        "currencies": {"GBP": {"mode": "graduated", "bands": [{"up_to": None, "price": 4.5}]}},
    }
    body = problem(_product(client, shop, "BOLT", bad), 422, "validation")
    assert [e["path"] for e in body["errors"]] == ["$.pricing.currencies.GBP.bands[0].price"]
    unknown = {"mechanism": "astrology", "currencies": {"GBP": {}}}
    body = problem(_product(client, shop, "BOLT", unknown), 422, "validation")
    assert "astrology" in body["errors"][0]["message"]


def test_a_channel_list_prices_the_channels_orders_before_the_base_list(
    client: TestClient, shop: dict[str, str]
) -> None:
    r = client.post(
        "/api/v1/pricelists",
        headers=shop,
        json={"code": "WEB-GBP", "name": "Web prices", "currency": "GBP", "channel": "WEB",
              "items": {"TEA-100": "3.99"},
              "item_pricing": {"POT-300": SLABS["currencies"]["GBP"] | {"mechanism": "slabs"}}},
    )  # fmt: skip
    assert r.status_code == 201, r.text
    assert r.json()["channel"] == "WEB"
    order = place(client, shop, order_body("WEB", ("TEA-100", 1), ("POT-300", 12), ("MUG-200", 1)))
    sources = [(ln["sku"], ln["price_source"]) for ln in order["lines"]]
    assert sources == [
        ("TEA-100", "channel_list:WEB-GBP"),
        ("POT-300", "channel_list:WEB-GBP"),
        ("MUG-200", "product"),
    ]
    assert D(order["lines"][1]["amount"]) == D("58.00")  # 10 x 5.00 + 2 x 4.00
    # a matched account's contract still comes first, on every channel
    other = client.post(
        "/api/v1/pricelists", headers=shop,
        json={"code": "NOPE", "name": "x", "currency": "GBP", "channel": "NO-SUCH"},
    )  # fmt: skip
    assert problem(other, 422, "validation")["errors"][0]["path"] == "$.channel"
