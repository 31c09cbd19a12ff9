"""Shopify webhooks through the real endpoint, on both databases: Shopify's documented order
payloads placed exactly as Shopify says, re-deliveries, signatures, quarantine, updates and
cancellations."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from api_helpers import count, problem
from fastapi.testclient import TestClient

from legato.bootstrap import Runtime

FIXTURES = Path(__file__).parent.parent / "fixtures" / "intake" / "shopify"
SECRET = "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"
REF = "5702283772126"  # the id of the order in orders_create.json, orders_updated.json, orders_cancelled.json


def fixture(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    return doc


def webhook(
    body: dict[str, Any] | bytes, topic: str = "orders/create", secret: str = SECRET
) -> dict[str, Any]:
    """The request Shopify makes: the JSON body and its X-Shopify-* headers, signed."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    digest = hmac.new(secret.encode(), raw, hashlib.sha256).digest()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "Shopify-Captain-Hook",
        "X-Shopify-Topic": topic,
        "X-Shopify-Hmac-Sha256": base64.b64encode(digest).decode(),
        "X-Shopify-Shop-Domain": "example-store.myshopify.com",
        "X-Shopify-API-Version": "2024-04",
        "X-Shopify-Webhook-Id": hashlib.sha1(raw + topic.encode()).hexdigest(),
        "X-Shopify-Triggered-At": "2024-05-14T14:21:34.312877522Z",
    }
    return {"content": raw, "headers": headers}


@pytest.fixture
def shopify(client: TestClient, admin: dict[str, str]) -> dict[str, str]:
    """Channels SHOP-US (shop money) and SHOP-CA (presentment money) for one Shopify store,
    trusting its prices; the SKU map knows the gift card's variant, which has no SKU."""

    def post(path: str, body: dict[str, Any]) -> None:
        r = client.post(path, json=body, headers=admin)
        assert r.status_code == 201, r.text

    skus = ("IPOD2008GREEN", "IPOD2008BLACK", "IPOD2008PINK", "IPOD-CASE-RED", "TEE-ORG-BLK-M",
            "MUG-STONE-01", "GIFTCARD-25")  # fmt: skip
    for sku in skus:
        post("/api/v1/products", {"sku": sku, "name": sku.title(), "prices": {"USD": "1.00"}})
    for code, money in (("SHOP-US", "shop"), ("SHOP-CA", "presentment")):
        post("/api/v1/channels", {
            "code": code, "name": f"Shopify {code}", "type": "ecommerce", "adapter": "shopify",
            "currency": "USD", "secrets": {"webhook_secret": SECRET},
            "settings": {"price_policy": "trust", "match_keys": ["email", "property:shopify_customer_id"],
                         "sku_map": {"variant:44610569208040": "GIFTCARD-25"}, "shopify_money": money},
        })  # fmt: skip
    return admin


def _order(client: TestClient, headers: dict[str, str], number: str) -> dict[str, Any]:
    r = client.get(f"/api/v1/orders/{number}", headers=headers)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def _placed(
    client: TestClient, headers: dict[str, str], name: str, channel: str = "SHOP-US"
) -> dict[str, Any]:
    r = client.post(f"/intake/{channel}", **webhook(fixture(name)))
    assert r.status_code == 201, r.text
    return _order(client, headers, r.json()["orders"][0]["number"])


def _lines(order: dict[str, Any]) -> list[tuple[str, ...]]:
    keys = ("sku", "quantity", "unit_price", "discount", "tax_rate", "tax", "total")
    return [tuple(format(Decimal(str(ln[k])).normalize(), "f") if k != "sku" else ln[k] for k in keys)
            for ln in order["lines"]]  # fmt: skip


def _money(order: dict[str, Any], key: str) -> Decimal:
    return Decimal(str(order["totals"][key]))


def _entry(client: TestClient, headers: dict[str, str], inbox_id: int) -> dict[str, Any]:
    body: dict[str, Any] = client.get(f"/api/v1/inbox/{inbox_id}", headers=headers).json()
    return body


def test_the_documented_order_is_placed_paid_exactly_as_shopify_says(
    client: TestClient, shopify: dict[str, str]
) -> None:
    doc = fixture("orders_create.json")
    r = client.post("/intake/SHOP-US", **webhook(doc))
    assert r.status_code == 201, r.text
    result = r.json()
    assert result["state"] == "processed" and result["orders"][0]["created"] is True
    order = _order(client, shopify, result["orders"][0]["number"])
    assert (order["channel"], order["external_reference"], order["currency"]) == ("SHOP-US", REF, "USD")
    assert _lines(order) == [
        ("IPOD2008GREEN", "1", "199", "19.9", "0.06", "10.75", "189.85"),
        ("IPOD2008BLACK", "2", "199", "39.8", "0.06", "21.49", "379.69"),
    ]
    assert [ln["name"] for ln in order["lines"]] == ["IPod Nano - 8GB - green", "IPod Nano - 8GB - black"]
    assert _money(order, "subtotal") == Decimal(doc["total_line_items_price"])
    assert _money(order, "discount") == Decimal(doc["total_discounts"])
    assert _money(order, "shipping") == Decimal(doc["total_shipping_price_set"]["shop_money"]["amount"])
    assert _money(order, "tax") == Decimal(doc["total_tax"])
    assert _money(order, "grand_total") == Decimal(doc["total_price"]) == Decimal("579.54")
    assert order["payment_status"] == "paid"
    assert order["customer"] == {"name": "Bob Norman", "email": "bob.norman@mail.example.com",
                                 "phone": "+15025550142", "code": None, "erp_ref": None}  # fmt: skip
    address = {"name": "Bob Norman", "line1": "Chestnut Street 92", "line2": "Apartment 2",
               "city": "Louisville", "region": "KY", "postcode": "40202", "country": "US",
               "phone": "+1 502-555-0142"}  # fmt: skip
    assert order["billing_address"] == order["shipping_address"] == address
    assert order["tags"] == ["Imported", "VIP", "discount:TENOFF"]
    assert order["notes"] == "Please leave at the back door"
    assert order["inbox_id"] == result["inbox_id"]
    entry = _entry(client, shopify, result["inbox_id"])
    assert (entry["topic"], entry["state"], entry["order_id"]) == ("orders/create", "processed", order["id"])
    assert entry["delivery_id"] == webhook(doc)["headers"]["X-Shopify-Webhook-Id"]


@pytest.mark.parametrize(
    ("name", "channel", "money"),
    [
        ("orders_create.json", "SHOP-US", "shop_money"),
        ("orders_create_guest.json", "SHOP-US", "shop_money"),
        ("orders_create_presentment.json", "SHOP-US", "shop_money"),
        ("orders_create_presentment.json", "SHOP-CA", "presentment_money"),
        ("orders_create_taxes_included.json", "SHOP-US", "shop_money"),
    ],
)
def test_every_documented_order_adds_up_to_shopifys_total(
    client: TestClient, shopify: dict[str, str], name: str, channel: str, money: str
) -> None:
    doc = fixture(name)
    order = _placed(client, shopify, name, channel)
    assert order["currency"] == doc["total_price_set"][money]["currency_code"]
    assert _money(order, "grand_total") == Decimal(doc["total_price_set"][money]["amount"])
    assert _money(order, "tax") == Decimal(doc["total_tax_set"][money]["amount"])
    assert [Decimal(ln["quantity"]) for ln in order["lines"]] == [i["quantity"] for i in doc["line_items"]]


def test_a_guest_order_is_placed_through_the_sku_map_without_an_account(
    client: TestClient, shopify: dict[str, str]
) -> None:
    order = _placed(client, shopify, "orders_create_guest.json")
    assert _lines(order) == [("GIFTCARD-25", "2", "25", "0", "0", "0", "50")]
    assert (
        order["customer"]["name"] == "Jane Doe" and order["customer"]["email"] == "jane.doe@mail.example.com"
    )
    assert order["account"] is None and order["shipping_address"] is None
    assert order["payment_status"] == "unpaid" and order["tags"] == []


def test_presentment_money_places_the_order_in_the_buyers_currency(
    client: TestClient, shopify: dict[str, str]
) -> None:
    order = _placed(client, shopify, "orders_create_presentment.json", "SHOP-CA")
    assert order["currency"] == "CAD"
    assert _lines(order) == [
        ("IPOD2008PINK", "1", "268.65", "0", "0.13", "34.92", "303.57"),
        ("IPOD-CASE-RED", "3", "33.74", "0", "0.13", "13.16", "114.38"),
    ]
    assert _money(order, "shipping") == Decimal("13.50") and _money(order, "grand_total") == Decimal("433.21")


def test_tax_inclusive_prices_are_placed_net_with_shopifys_vat(
    client: TestClient, shopify: dict[str, str]
) -> None:
    doc = fixture("orders_create_taxes_included.json")
    order = _placed(client, shopify, "orders_create_taxes_included.json")
    assert order["currency"] == "GBP"
    assert _lines(order) == [
        ("TEE-ORG-BLK-M", "3", "20.833333", "9.38", "0.200113", "10.63", "63.75"),
        ("MUG-STONE-01", "1", "10", "1.5", "0.2", "1.7", "10.2"),
    ]
    assert _money(order, "tax") == Decimal(doc["total_tax"])
    assert _money(order, "grand_total") == Decimal(doc["total_price"])


# --- re-deliveries ------------------------------------------------------------------------------


def test_a_redelivery_answers_200_and_keeps_one_order(
    client: TestClient, shopify: dict[str, str], runtime: Runtime
) -> None:
    request = webhook(fixture("orders_create.json"))
    assert client.post("/intake/SHOP-US", **request).status_code == 201
    again = client.post("/intake/SHOP-US", **request)
    assert again.status_code == 200, again.text
    assert again.json()["state"] == "duplicate"
    assert count(runtime, "orders") == 1 and count(runtime, "inbox") == 2


def test_five_concurrent_redeliveries_make_exactly_one_order(
    client: TestClient, shopify: dict[str, str], runtime: Runtime
) -> None:
    request = webhook(fixture("orders_create.json"))
    with ThreadPoolExecutor(5) as pool:
        answers = list(pool.map(lambda _: client.post("/intake/SHOP-US", **request), range(5)))
    assert sorted(a.status_code for a in answers) == [200, 200, 200, 200, 201], [a.text for a in answers]
    assert len({a.json()["orders"][0]["id"] for a in answers}) == 1
    assert count(runtime, "orders") == 1 and count(runtime, "order_lines") == 2
    assert count(runtime, "inbox") == 5


# --- signatures ---------------------------------------------------------------------------------


def test_a_wrong_or_missing_signature_is_401_and_kept_as_rejected(
    client: TestClient, shopify: dict[str, str], runtime: Runtime
) -> None:
    wrong = webhook(fixture("orders_create.json"), secret="someone-elses-secret")
    p = problem(client.post("/intake/SHOP-US", **wrong), 401, "signature_invalid")
    assert p["inbox_id"] > 0
    missing = webhook(fixture("orders_create.json"))
    del missing["headers"]["X-Shopify-Hmac-Sha256"]
    problem(client.post("/intake/SHOP-US", **missing), 401, "signature_invalid")
    rejected = client.get("/api/v1/inbox?state=rejected", headers=shopify).json()["items"]
    assert [(e["channel"], e["topic"]) for e in rejected] == [("SHOP-US", "orders/create")] * 2
    assert _entry(client, shopify, p["inbox_id"])["body"] == wrong["content"].decode()
    assert count(runtime, "orders") == 0


# --- bad input: a precise error, kept in the inbox, no order -------------------------------------


def _change(**changes: Any) -> bytes:
    doc = fixture("orders_create.json")
    for key, value in changes.items():
        target: Any = doc
        *parents, last = key.split("__")
        for part in parents:
            target = target[int(part)] if part.isdigit() else target[part]
        if value is None:
            del target[last]
        else:
            target[last] = value
    return json.dumps(doc).encode()


@pytest.mark.parametrize(
    ("body", "code", "path"),
    [
        (json.dumps(fixture("orders_create.json")).encode()[:-300], "unparseable", "$"),
        (_change(line_items__1__quantity=None), "unparseable", "$.line_items[1].quantity"),
        (_change(line_items__1__price=None), "unparseable", "$.line_items[1].price"),
        (_change(id=None), "unparseable", "$.id"),
        (_change(line_items__1__sku="IPOD2008SILVER"), "unknown_sku", "$.lines[1].sku"),
        (_change(line_items__0__quantity=5_000_000), "unparseable", "$.line_items[0].quantity"),
        (_change(line_items__0__quantity=0), "unparseable", "$.line_items[0].quantity"),
        (_change(currency="XBT"), "unparseable", "$.currency"),
    ],
    ids=["truncated", "no-quantity", "no-price", "no-id", "unknown-sku", "absurd-quantity", "zero-quantity",
         "wrong-currency"],
)  # fmt: skip
def test_bad_input_is_quarantined_with_its_precise_path_and_makes_no_order(
    client: TestClient, shopify: dict[str, str], runtime: Runtime, body: bytes, code: str, path: str
) -> None:
    r = client.post("/intake/SHOP-US", **webhook(body))
    assert r.status_code == 202, r.text  # stored and quarantined; Shopify drops a failing subscription
    p = r.json()
    assert (p["state"], p["code"]) == ("quarantined", code)
    assert path in [e["path"] for e in p["errors"]], p
    entry = _entry(client, shopify, p["inbox_id"])
    assert entry["state"] == "quarantined" and entry["body"] == body.decode() and entry["errors"]
    assert entry["topic"] == "orders/create"
    assert count(runtime, "orders") == 0 and count(runtime, "order_lines") == 0


def test_a_quarantined_unknown_sku_is_placed_once_the_sku_map_knows_it(
    client: TestClient, shopify: dict[str, str], runtime: Runtime
) -> None:
    p = client.post("/intake/SHOP-US", **webhook(_change(line_items__1__sku="IPOD2008SILVER"))).json()
    channel = client.get("/api/v1/channels/SHOP-US", headers=shopify).json()
    channel["settings"]["sku_map"]["IPOD2008SILVER"] = "IPOD2008BLACK"
    channel.pop("secrets")
    assert client.put("/api/v1/channels/SHOP-US", headers=shopify, json=channel).status_code == 200
    replayed = client.post(f"/api/v1/inbox/{p['inbox_id']}/replay", headers=shopify)
    assert replayed.status_code == 201, replayed.text
    assert count(runtime, "orders") == 1


def test_a_10_mb_body_is_stored_and_quarantined_as_too_large(
    client: TestClient, shopify: dict[str, str], runtime: Runtime
) -> None:
    doc = fixture("orders_create.json")
    doc["note"] = "x" * (10 * 1024 * 1024)
    r = client.post("/intake/SHOP-US", **webhook(doc))
    assert r.status_code == 202, r.text
    assert [(e["path"], e["code"]) for e in r.json()["errors"]] == [("$", "too_large")]
    entry = client.get(f"/api/v1/inbox/{r.json()['inbox_id']}", headers=shopify).json()
    assert entry["state"] == "quarantined" and entry["size"] > 10 * 1024 * 1024
    assert count(runtime, "orders") == 0


# --- orders/updated and orders/cancelled ---------------------------------------------------------


def test_an_update_changes_the_address_note_and_tags(client: TestClient, shopify: dict[str, str]) -> None:
    placed = _placed(client, shopify, "orders_create.json")
    r = client.post("/intake/SHOP-US", **webhook(fixture("orders_updated.json"), "orders/updated"))
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "processed"
    order = _order(client, shopify, placed["number"])
    assert order["shipping_address"]["line1"] == "410 West Main Street"
    assert order["shipping_address"]["company"] == "Norman & Sons"
    assert order["notes"] == "Deliver to the office, reception desk"
    assert order["tags"] == ["Imported", "VIP", "Gift", "discount:TENOFF"]
    assert order["lines"] == placed["lines"] and order["totals"] == placed["totals"]
    assert order["timeline"][-1]["kind"] == "edited"


def test_an_update_that_overtakes_the_creation_places_the_order_as_updated(
    client: TestClient, shopify: dict[str, str], runtime: Runtime
) -> None:
    early = client.post("/intake/SHOP-US", **webhook(fixture("orders_updated.json"), "orders/updated"))
    assert early.status_code == 201, early.text
    order = _order(client, shopify, early.json()["orders"][0]["number"])
    assert order["notes"] == "Deliver to the office, reception desk"
    assert order["shipping_address"]["line1"] == "410 West Main Street"
    late = client.post("/intake/SHOP-US", **webhook(fixture("orders_create.json")))
    assert late.status_code == 200 and late.json()["state"] == "duplicate"
    assert count(runtime, "orders") == 1


def test_a_cancellation_that_overtakes_the_creation_places_and_cancels_the_order(
    client: TestClient, shopify: dict[str, str], runtime: Runtime
) -> None:
    early = client.post("/intake/SHOP-US", **webhook(fixture("orders_cancelled.json"), "orders/cancelled"))
    assert early.status_code == 201, early.text
    assert _order(client, shopify, early.json()["orders"][0]["number"])["status"] == "cancelled"
    late = client.post("/intake/SHOP-US", **webhook(fixture("orders_create.json")))
    assert late.status_code == 200 and count(runtime, "orders") == 1


def test_a_cancellation_cancels_the_order_with_shopifys_reason(
    client: TestClient, shopify: dict[str, str]
) -> None:
    placed = _placed(client, shopify, "orders_create.json")
    r = client.post("/intake/SHOP-US", **webhook(fixture("orders_cancelled.json"), "orders/cancelled"))
    assert r.status_code == 200, r.text
    assert (r.json()["state"], r.json()["reason"]) == ("processed", "cancelled")
    order = _order(client, shopify, placed["number"])
    assert order["status"] == "cancelled"
    assert order["timeline"][-1]["reason"] == "cancelled in SHOP-US: customer"


def _transition(client: TestClient, headers: dict[str, str], number: str, to: str) -> None:
    r = client.post(f"/api/v1/orders/{number}/transitions", json={"to": to}, headers=headers)
    assert r.status_code == 200, r.text


def test_a_cancellation_of_a_processing_order_cancels_it_since_the_lifecycle_allows_it(
    client: TestClient, shopify: dict[str, str]
) -> None:
    placed = _placed(client, shopify, "orders_create.json")
    _transition(client, shopify, placed["number"], "processing")
    r = client.post("/intake/SHOP-US", **webhook(fixture("orders_cancelled.json"), "orders/cancelled"))
    assert r.status_code == 200, r.text
    order = _order(client, shopify, placed["number"])
    assert order["status"] == "cancelled"
    assert order["timeline"][-1]["reason"] == "cancelled in SHOP-US: customer"


def test_a_cancellation_of_a_completed_order_is_noted_and_changes_nothing(
    client: TestClient, shopify: dict[str, str]
) -> None:
    placed = _placed(client, shopify, "orders_create.json")
    _transition(client, shopify, placed["number"], "processing")
    _transition(client, shopify, placed["number"], "completed")
    r = client.post("/intake/SHOP-US", **webhook(fixture("orders_cancelled.json"), "orders/cancelled"))
    assert r.status_code == 200, r.text
    assert "completed" in r.json()["reason"]
    assert _order(client, shopify, placed["number"])["status"] == "completed"


def test_an_order_that_arrives_already_cancelled_is_placed_and_cancelled(
    client: TestClient, shopify: dict[str, str], runtime: Runtime
) -> None:
    r = client.post("/intake/SHOP-US", **webhook(fixture("orders_cancelled.json")))
    assert r.status_code == 201, r.text
    order = _order(client, shopify, r.json()["orders"][0]["number"])
    assert order["status"] == "cancelled" and count(runtime, "orders") == 1


def test_other_topics_are_kept_and_ignored(
    client: TestClient, shopify: dict[str, str], runtime: Runtime
) -> None:
    r = client.post("/intake/SHOP-US", **webhook({"id": 632910392, "title": "IPod Nano"}, "products/update"))
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "ignored" and "products/update" in r.json()["reason"]
    assert count(runtime, "orders") == 0 and count(runtime, "inbox") == 1
