"""WooCommerce webhooks through the real endpoint, on both databases: orders placed exactly
as WooCommerce says, the save-time ping, re-deliveries, signatures, quarantine."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from api_helpers import count, problem
from fastapi.testclient import TestClient

from legato.bootstrap import Runtime

FIXTURES = Path(__file__).parent.parent / "fixtures" / "intake" / "woocommerce"
SECRET = "wc-webhook-secret-4f1a"


def fixture(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    return doc


def webhook(
    body: dict[str, Any] | bytes, topic: str = "order.created", secret: str = SECRET
) -> dict[str, Any]:
    """The request WooCommerce makes: JSON body, X-WC-Webhook-* headers, signed."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    resource, _, event = topic.partition(".")
    signature = base64.b64encode(hmac.new(secret.encode(), raw, hashlib.sha256).digest()).decode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "WooCommerce/9.1.0 Hookshot (WordPress/6.6)",
        "X-WC-Webhook-Source": "https://shop.example/",
        "X-WC-Webhook-Topic": topic,
        "X-WC-Webhook-Resource": resource,
        "X-WC-Webhook-Event": event,
        "X-WC-Webhook-Signature": signature,
        "X-WC-Webhook-ID": "142",
        "X-WC-Webhook-Delivery-ID": hashlib.md5(raw + topic.encode()).hexdigest(),
    }
    return {"content": raw, "headers": headers}


@pytest.fixture
def woo(client: TestClient, admin: dict[str, str]) -> dict[str, str]:
    """Channel WOO (GBP, trusts WooCommerce's prices) whose SKU map knows the shop's ids."""

    def post(path: str, body: dict[str, Any]) -> None:
        r = client.post(path, json=body, headers=admin)
        assert r.status_code == 201, r.text

    for sku in ("TEA-100", "MUG-200", "SENCHA-100"):
        post("/api/v1/products", {"sku": sku, "name": sku.title(), "prices": {"GBP": "1.00"}})
    post("/api/v1/channels", {
        "code": "WOO", "name": "WooCommerce shop", "type": "ecommerce", "adapter": "woocommerce",
        "currency": "GBP", "secrets": {"webhook_secret": SECRET},
        "settings": {"price_policy": "trust",
                     "sku_map": {"product:93": "TEA-100", "Bar3": "MUG-200", "variation:23": "MUG-200"}},
    })  # fmt: skip
    return admin


def _order(client: TestClient, headers: dict[str, str], number: str) -> dict[str, Any]:
    r = client.get(f"/api/v1/orders/{number}", headers=headers)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def _lines(order: dict[str, Any]) -> list[tuple[str, ...]]:
    keys = ("sku", "quantity", "unit_price", "discount", "tax_rate", "tax", "total")
    return [tuple(format(Decimal(str(ln[k])).normalize(), "f") if k != "sku" else ln[k] for k in keys)
            for ln in order["lines"]]  # fmt: skip


def _money(order: dict[str, Any], key: str) -> Decimal:
    return Decimal(str(order["totals"][key]))


def test_the_documented_order_is_placed_paid_exactly_as_woocommerce_says(
    client: TestClient, woo: dict[str, str]
) -> None:
    r = client.post("/intake/WOO", **webhook(fixture("order_created_paid.json")))
    assert r.status_code == 201, r.text
    result = r.json()
    assert result["state"] == "processed" and result["orders"][0]["created"] is True
    order = _order(client, woo, result["orders"][0]["number"])
    assert (order["channel"], order["external_reference"], order["currency"]) == ("WOO", "727", "USD")
    assert _lines(order) == [
        ("TEA-100", "2", "3", "0", "0.075", "0.45", "6.45"),
        ("MUG-200", "1", "12", "0", "0.075", "0.9", "12.9"),
    ]
    assert _money(order, "shipping") == Decimal("10.00")
    assert _money(order, "grand_total") == Decimal("29.35")
    assert order["payment_status"] == "paid"
    assert order["customer"]["email"] == "john.doe@example.com" and order["customer"]["name"] == "John Doe"
    assert order["shipping_address"]["line1"] == "969 Market"
    assert order["billing_address"]["country"] == "US"
    entry = client.get(f"/api/v1/inbox/{result['inbox_id']}", headers=woo).json()
    assert entry["topic"] == "order.created" and entry["delivery_id"] and entry["state"] == "processed"


def test_a_coupon_and_vat_order_adds_up_to_woocommerces_total(
    client: TestClient, woo: dict[str, str]
) -> None:
    doc = fixture("order_created_coupon_vat.json")
    r = client.post("/intake/WOO", **webhook(doc))
    assert r.status_code == 201, r.text
    order = _order(client, woo, r.json()["orders"][0]["number"])
    assert _lines(order) == [
        ("TEA-100", "3", "4.166667", "1.25", "0.2", "2.25", "13.5"),
        ("MUG-200", "1", "10", "1", "0.2", "1.8", "10.8"),
    ]
    assert _money(order, "discount") == Decimal(doc["discount_total"])
    assert _money(order, "tax") == Decimal(doc["total_tax"])
    assert _money(order, "grand_total") == Decimal(doc["total"])
    assert order["payment_status"] == "unpaid"
    assert order["notes"] == doc["customer_note"]


def test_the_save_time_ping_is_answered_and_creates_nothing(
    client: TestClient, woo: dict[str, str], runtime: Runtime
) -> None:
    r = client.post(
        "/intake/WOO",
        content=b"webhook_id=142",
        headers={"Content-Type": "application/x-www-form-urlencoded",
                 "User-Agent": "WooCommerce/9.1.0 Hookshot (WordPress/6.6)"},
    )  # fmt: skip
    assert r.status_code == 200 and r.content == b"pong"
    assert count(runtime, "orders") == 0


def test_a_redelivery_makes_one_order(client: TestClient, woo: dict[str, str], runtime: Runtime) -> None:
    request = webhook(fixture("order_created_paid.json"))
    assert client.post("/intake/WOO", **request).status_code == 201
    again = client.post("/intake/WOO", **request)
    assert again.status_code == 200 and again.json()["state"] == "duplicate"
    assert count(runtime, "orders") == 1


def test_a_wrong_signature_is_401_and_kept_as_rejected(
    client: TestClient, woo: dict[str, str], runtime: Runtime
) -> None:
    p = problem(client.post("/intake/WOO", **webhook(fixture("order_created_paid.json"), secret="guess")),
                401, "signature_invalid")  # fmt: skip
    rejected = client.get("/api/v1/inbox?state=rejected", headers=woo).json()["items"]
    assert [e["id"] for e in rejected] == [p["inbox_id"]]
    assert count(runtime, "orders") == 0


@pytest.mark.parametrize(
    ("change", "path"),
    [
        (lambda raw: raw[:200], "$"),
        (lambda raw: raw.replace(b'"quantity": 1,', b'"quantity": "one",'), "$.line_items[1].quantity"),
        (lambda raw: raw.replace(b'"quantity": 2,', b'"quantity": 100000000,'), "$.line_items[0].quantity"),
        (lambda raw: raw.replace(b'"currency": "USD"', b'"currency": "BTC"'), "$.currency"),
    ],
)
def test_a_bad_payload_is_quarantined_with_its_reason_and_makes_no_order(
    client: TestClient, woo: dict[str, str], runtime: Runtime, change: Any, path: str
) -> None:
    raw = change(json.dumps(fixture("order_created_paid.json")).encode())
    r = client.post("/intake/WOO", **webhook(raw))
    assert r.status_code == 202, r.text  # WooCommerce switches off a webhook after 5 non-2xx answers
    p = r.json()
    assert p["state"] == "quarantined" and [e["path"] for e in p["errors"]] == [path]
    entry = client.get(f"/api/v1/inbox/{p['inbox_id']}", headers=woo).json()
    assert entry["state"] == "quarantined" and entry["reason"] and entry["errors"][0]["path"] == path
    assert entry["body"] == raw.decode()
    assert count(runtime, "orders") == 0


def test_an_unmapped_product_is_quarantined_then_replayed_once_mapped(
    client: TestClient, woo: dict[str, str], runtime: Runtime
) -> None:
    doc = fixture("order_created_paid.json")
    doc["line_items"][1]["sku"] = "UNKNOWN-9"
    p = client.post("/intake/WOO", **webhook(doc)).json()
    assert p["inbox_id"] and count(runtime, "orders") == 0
    channel = client.get("/api/v1/channels/WOO", headers=woo).json()
    channel["settings"]["sku_map"]["UNKNOWN-9"] = "MUG-200"
    del channel["secrets"]  # write-only; left out, the stored ones are kept
    r = client.put("/api/v1/channels/WOO", headers=woo, json=channel)
    assert r.status_code == 200, r.text
    replayed = client.post(f"/api/v1/inbox/{p['inbox_id']}/replay", headers=woo)
    assert replayed.status_code == 201, replayed.text
    assert count(runtime, "orders") == 1


def test_an_update_applies_the_new_address_and_note(client: TestClient, woo: dict[str, str]) -> None:
    number = client.post("/intake/WOO", **webhook(fixture("order_created_coupon_vat.json"))).json()["orders"][
        0
    ]["number"]
    r = client.post("/intake/WOO", **webhook(fixture("order_updated_processing.json"), "order.updated"))
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "processed"
    order = _order(client, woo, number)
    assert order["shipping_address"]["name"] == "Tom Hart" and order["shipping_address"]["city"] == "Bath"
    assert order["notes"] == "Please ring the bell twice."


def test_an_update_that_reports_the_payment_marks_the_order_paid(
    client: TestClient, woo: dict[str, str]
) -> None:
    number = client.post("/intake/WOO", **webhook(fixture("order_created_coupon_vat.json"))).json()["orders"][
        0
    ]["number"]
    client.post("/intake/WOO", **webhook(fixture("order_updated_processing.json"), "order.updated"))
    assert _order(client, woo, number)["payment_status"] == "paid"


def test_an_update_that_arrives_first_places_the_order(client: TestClient, woo: dict[str, str]) -> None:
    r = client.post("/intake/WOO", **webhook(fixture("order_updated_processing.json"), "order.updated"))
    assert r.status_code == 201, r.text
    order = _order(client, woo, r.json()["orders"][0]["number"])
    assert order["payment_status"] == "paid" and order["external_reference"] == "1042"
    assert order["notes"] == "Please ring the bell twice."


def test_a_cancelled_update_cancels_the_order(client: TestClient, woo: dict[str, str]) -> None:
    number = client.post("/intake/WOO", **webhook(fixture("order_created_coupon_vat.json"))).json()["orders"][
        0
    ]["number"]
    r = client.post("/intake/WOO", **webhook(fixture("order_updated_cancelled.json"), "order.updated"))
    assert r.status_code == 200, r.text
    assert _order(client, woo, number)["status"] == "cancelled"


def test_other_topics_are_kept_as_ignored(client: TestClient, woo: dict[str, str], runtime: Runtime) -> None:
    r = client.post("/intake/WOO", **webhook({"id": 93, "name": "Woo Single #1"}, "product.updated"))
    assert r.status_code == 200 and r.json()["state"] == "ignored"
    assert count(runtime, "orders") == 0
