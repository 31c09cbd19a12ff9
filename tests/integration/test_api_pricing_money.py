"""Orders priced with everything money has: tax rules, tax-inclusive channels, converted
prices at stored rates, promotions, vouchers with limits, and loyalty points."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal as D
from typing import Any

import pytest
from api_helpers import order_body, place, problem
from fastapi.testclient import TestClient
from tests.conftest import make_settings

from legato.api.app import create_app
from legato.bootstrap import Runtime, build
from legato.store.apikeys import create_key

GB = {"name": "Jo", "line1": "1 High St", "city": "London", "postcode": "SW1A 1AA", "country": "GB"}


def _ok(r: Any, status: int = 200) -> Any:
    assert r.status_code == status, r.text
    return r.json()


def _tax(client: TestClient, admin: dict[str, str]) -> None:
    for body in (
        {"region": "GB", "tax_class": "standard", "rate": "0.20", "name": "VAT"},
        {"region": "GB", "tax_class": "reduced", "rate": "0.05", "name": "VAT reduced"},
    ):
        _ok(client.put("/api/v1/tax-rates", json=body, headers=admin), 201)


def test_lines_without_a_sent_rate_are_taxed_by_region_and_tax_class(
    client: TestClient, shop: dict[str, str]
) -> None:
    _tax(client, shop)
    book = {"sku": "BOOK-1", "name": "Book", "prices": {"GBP": "10.00"}, "tax_class": "reduced"}
    _ok(client.post("/api/v1/products", headers=shop, json=book), 201)
    body = order_body("WEB", ("TEA-100", 2), ("BOOK-1", 1), shipping_address=GB)
    for ln in body["lines"]:
        ln.pop("tax_rate", None)
    order = place(client, shop, body)
    rates = [(ln["sku"], D(ln["tax_rate"]), ln["detail"]["tax"]["name"]) for ln in order["lines"]]
    assert rates == [("TEA-100", D("0.20"), "VAT"), ("BOOK-1", D("0.05"), "VAT reduced")]
    assert order["totals"]["tax"] == "2.30"  # 9.00 x 20 % + 10.00 x 5 %
    # a rate the channel sent is kept, and says so
    body["lines"][0]["tax_rate"] = "0.10"
    kept = place(client, shop, body)
    assert kept["lines"][0]["tax_rate"] == "0.100000" or D(kept["lines"][0]["tax_rate"]) == D("0.10")
    assert kept["lines"][0]["detail"]["tax"] == {"source": "channel"}


def test_a_tax_inclusive_channel_takes_the_tax_out_of_its_prices(
    client: TestClient, shop: dict[str, str], admin: dict[str, str]
) -> None:
    _tax(client, shop)
    channel = client.get("/api/v1/channels/WEB", headers=admin).json()
    channel["settings"]["prices_include_tax"] = True
    channel.pop("has_secrets", None)
    for key in [
        k for k in channel if k not in ("code", "name", "type", "adapter", "currency", "settings", "active")
    ]:
        channel.pop(key)
    _ok(client.put("/api/v1/channels/WEB", json=channel, headers=admin))
    body = order_body("WEB", ("TEA-100", 2), shipping_address=GB)
    body["lines"][0].pop("tax_rate", None)
    order = place(client, shop, body)
    (line,) = order["lines"]
    assert (line["amount"], line["tax"], line["total"]) == ("9.00", "1.50", "9.00")  # 9.00 / 1.2 = 7.50 net
    assert order["totals"]["grand_total"] == "9.00" and order["totals"]["tax"] == "1.50"
    assert order["pricing"]["prices_include_tax"] is True


def test_a_price_missing_in_the_currency_is_converted_at_the_stored_rate(
    client: TestClient, shop: dict[str, str], admin: dict[str, str]
) -> None:
    today = date.today().isoformat()
    _ok(client.put("/api/v1/rates/EUR/USD", json={"rate": "1.0800", "as_of": today}, headers=admin))
    order = place(client, shop, order_body("WEB", ("POT-300", 1), currency="USD"))  # POT-300: GBP, EUR only
    (line,) = order["lines"]
    assert line["price_source"] == "converted:EUR"
    assert D(line["unit_price"]) == D("48.60")  # 45.00 EUR x 1.08
    assert line["detail"]["fx"]["rate"] == "1.0800" or D(line["detail"]["fx"]["rate"]) == D("1.08")
    assert [f["from"] for f in order["pricing"]["fx"]] == ["EUR"]


@pytest.fixture
def waiting(db_url: str) -> Iterator[tuple[TestClient, dict[str, str]]]:
    """An app whose policy is to hold orders priced on a stale rate."""
    rt = build(make_settings(db_url, fx_stale_policy="wait", fx_max_age_days=2, fx_refresh_minutes=0))
    key = {"Authorization": f"Bearer {create_key(rt.engine, 'admin', ['admin'])}"}
    with TestClient(create_app(rt), raise_server_exceptions=False) as c:
        yield c, key
    rt.close()


def test_an_order_priced_on_a_stale_rate_waits_on_hold_under_the_wait_policy(
    waiting: tuple[TestClient, dict[str, str]], runtime: Runtime
) -> None:
    client, admin = waiting
    _ok(client.post("/api/v1/channels", headers=admin,
                    json={"code": "US", "name": "US shop", "type": "ecommerce", "currency": "USD",
                          "adapter": "rest"}), 201)  # fmt: skip
    _ok(
        client.post(
            "/api/v1/products", headers=admin, json={"sku": "A", "name": "A", "prices": {"EUR": "10.00"}}
        ),
        201,
    )
    old = (date.today() - timedelta(days=10)).isoformat()
    _ok(client.put("/api/v1/rates/EUR/USD", json={"rate": "1.10", "as_of": old}, headers=admin))
    order = place(client, admin, order_body("US", ("A", 1)))
    assert order["status"] == "on_hold"
    assert "stale exchange rate" in order["timeline"][0]["reason"]
    assert order["pricing"]["fx"][0]["stale"] is True


def _promo(client: TestClient, admin: dict[str, str], **body: Any) -> None:
    _ok(client.post("/api/v1/promotions", headers=admin, json=body), 201)


def test_promotions_and_a_voucher_show_separately_and_a_voucher_is_used_only_as_often_as_allowed(
    client: TestClient, shop: dict[str, str]
) -> None:
    _promo(client, shop, code="AUTUMN", name="10 % off", kind="percent", level="order", value="10")
    _promo(
        client, shop, code="FIVER", name="5 off", kind="fixed", level="order", value="5.00", currency="GBP"
    )
    _ok(client.post("/api/v1/vouchers", headers=shop, json={"code": "five-off", "promotion": "FIVER",
                                                                     "usage_limit": 1}), 201)  # fmt: skip
    body = order_body("WEB", ("POT-300", 1), voucher="FIVE-OFF")  # 39.99
    order = place(client, shop, body)
    kinds = [(a["kind"], a["code"], a["amount"]) for a in order["pricing"]["adjustments"]]
    assert kinds == [("promotion", "AUTUMN", "4.00"), ("voucher", "FIVE-OFF", "5.00")]
    assert order["totals"]["discount"] == "9.00"
    assert order["lines"][0]["detail"]["discounts"] == {"promotion": "4.00", "voucher": "5.00"}
    second = client.post(
        "/api/v1/orders", headers=shop, json=order_body("WEB", ("POT-300", 1), voucher="five-off")
    )
    assert problem(second, 422, "voucher_exhausted")["errors"][0]["path"] == "$.voucher"
    unknown = client.post(
        "/api/v1/orders", headers=shop, json=order_body("WEB", ("POT-300", 1), voucher="NOPE")
    )
    assert problem(unknown, 422, "voucher_invalid")["errors"][0]["path"] == "$.voucher"
    assert _ok(client.get("/api/v1/vouchers/FIVE-OFF", headers=shop))["used"] == 1


@pytest.fixture
def loyal(db_url: str) -> Iterator[tuple[TestClient, dict[str, str]]]:
    rt = build(make_settings(db_url, loyalty={"point_value": {"GBP": "0.01"}, "max_share_percent": "50"}))
    key = {"Authorization": f"Bearer {create_key(rt.engine, 'admin', ['admin'])}"}
    with TestClient(create_app(rt), raise_server_exceptions=False) as c:
        yield c, key
    rt.close()


def test_loyalty_points_pay_part_of_an_order_and_leave_the_balance(
    loyal: tuple[TestClient, dict[str, str]],
) -> None:
    client, admin = loyal
    _ok(client.post("/api/v1/channels", headers=admin,
                    json={"code": "WEB", "name": "Web", "type": "ecommerce", "currency": "GBP",
                          "adapter": "rest"}), 201)  # fmt: skip
    _ok(
        client.post(
            "/api/v1/products", headers=admin, json={"sku": "A", "name": "A", "prices": {"GBP": "20.00"}}
        ),
        201,
    )
    _ok(
        client.post(
            "/api/v1/accounts", headers=admin, json={"code": "JO", "name": "Jo", "email": "jo@example.com"}
        ),
        201,
    )
    _ok(
        client.post("/api/v1/accounts/JO/points", headers=admin, json={"points": 1500, "reason": "welcome"}),
        201,
    )
    body = order_body("WEB", ("A", 1), customer={"code": "JO"}, points=500)
    order = place(client, admin, body)
    assert order["totals"]["points"] == "5.00" and order["totals"]["grand_total"] == "15.00"
    assert [a["kind"] for a in order["pricing"]["adjustments"]] == ["points"]
    assert _ok(client.get("/api/v1/accounts/JO/points", headers=admin))["balance"] == 1000
    too_many = client.post(
        "/api/v1/orders",
        headers=admin,
        json=order_body("WEB", ("A", 1), customer={"code": "JO"}, points=1001),
    )
    assert problem(too_many, 422, "points_exceeded")["errors"][0]["path"] == "$.points"
