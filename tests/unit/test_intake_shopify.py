"""The Shopify adapter: Shopify's documented order webhooks in, Legato's intents out.

Every fixture is a webhook body in Shopify's documented ``Order`` shape. For each, the draft
carries exactly the payload's lines, customer and addresses, and Legato's own pricing of the
draft (``price_line`` and ``compute_totals``) gives back Shopify's ``total_price``.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from legato.domain.catalog import Channel, ChannelSettings, ChannelType, PricePolicy
from legato.domain.commands import LineDraft, OrderDraft
from legato.domain.matching import CustomerRef
from legato.domain.order import Address, OrderLine, Totals, compute_totals, price_line
from legato.intake.adapters import get_adapter
from legato.intake.adapters.shopify import ADAPTER
from legato.intake.base import (
    CancelOrder,
    Delivery,
    Ignore,
    Placed,
    PlaceDraft,
    SignatureInvalid,
    Unparseable,
    UpdateOrder,
)

FIXTURES = Path(__file__).parent.parent / "fixtures" / "intake" / "shopify"
SECRET = "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"
D = Decimal


def raw(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def doc(name: str) -> dict[str, Any]:
    return json.loads(raw(name))  # type: ignore[no-any-return]


def channel(**extra: Any) -> Channel:
    return Channel(
        code="SHOP-US",
        name="Shopify store",
        type=ChannelType.ECOMMERCE,
        adapter="shopify",
        currency="USD",
        settings=ChannelSettings(price_policy=PricePolicy.TRUST, extra=extra),
        secrets={"webhook_secret": SECRET},
    )


def sign(body: bytes, secret: str = SECRET) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def delivery(body: bytes | dict[str, Any], topic: str | None = "orders/create", **headers: str) -> Delivery:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    names = {
        "x-shopify-hmac-sha256": sign(data),
        "x-shopify-shop-domain": "example-store.myshopify.com",
        "x-shopify-api-version": "2024-04",
        "x-shopify-webhook-id": "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043",
        "content-type": "application/json",
    }
    if topic is not None:
        names["x-shopify-topic"] = topic
    names.update({k.lower().replace("_", "-"): v for k, v in headers.items()})
    return Delivery("POST", "/intake/SHOP-US", {}, names, data, datetime(2024, 5, 14, tzinfo=UTC))


def place(body: bytes | dict[str, Any], **extra: Any) -> PlaceDraft:
    intents = ADAPTER.parse(delivery(body), channel(**extra))
    assert len(intents) == 1 and isinstance(intents[0], PlaceDraft), intents
    return intents[0]


def priced(draft: OrderDraft) -> tuple[list[OrderLine], Totals]:
    """Legato's own pricing of the draft, as the pipeline does it on a channel that trusts prices."""
    assert draft.currency is not None
    lines = [
        price_line(
            OrderLine(i + 1, ln.sku, ln.name or "", ln.quantity, ln.unit_price or D(0), "channel",
                      ln.discount, ln.tax_rate),
            draft.currency,
        )
        for i, ln in enumerate(draft.lines)
    ]  # fmt: skip
    return lines, compute_totals(lines, draft.currency, draft.shipping, draft.shipping_tax_rate)


def amount(order: dict[str, Any], key: str, presentment: bool = False) -> Decimal:
    return D(order[f"{key}_set"]["presentment_money"]["amount"]) if presentment else D(order[key])


BOB_ADDRESS = Address(
    name="Bob Norman",
    line1="Chestnut Street 92",
    line2="Apartment 2",
    city="Louisville",
    region="KY",
    postcode="40202",
    country="US",
    phone="+1 502-555-0142",
)


# --- orders/create: what the draft says ---------------------------------------------------------


def test_a_created_order_becomes_one_draft_with_the_payloads_lines_customer_and_addresses() -> None:
    placed = place(raw("orders_create.json"))
    draft = placed.draft
    assert draft.channel_code == "SHOP-US"
    assert draft.external_reference == "5702283772126"
    assert draft.currency == "USD"
    assert draft.lines == (
        LineDraft("IPOD2008GREEN", D(1), D("199.00"), "IPod Nano - 8GB - green", D("19.90"), D("0.06")),
        LineDraft("IPOD2008BLACK", D(2), D("199.00"), "IPod Nano - 8GB - black", D("39.80"), D("0.06")),
    )
    assert draft.customer == CustomerRef(
        name="Bob Norman",
        email="bob.norman@mail.example.com",
        phone="+15025550142",
        properties={"shopify_customer_id": "7039158321262"},
    )
    assert draft.billing_address == BOB_ADDRESS
    assert draft.shipping_address == BOB_ADDRESS
    assert (draft.shipping, draft.shipping_tax_rate) == (D("10.00"), D(0))
    assert draft.tags == ("Imported", "VIP", "discount:TENOFF")
    assert draft.notes == "Please leave at the back door"
    assert placed.paid is True


def test_the_totals_of_a_created_order_are_shopifys_to_the_cent() -> None:
    order = doc("orders_create.json")
    lines, totals = priced(place(raw("orders_create.json")).draft)
    assert totals.subtotal == D(order["total_line_items_price"])
    assert totals.discount == D(order["total_discounts"])
    assert totals.shipping == D(order["total_shipping_price_set"]["shop_money"]["amount"])
    assert totals.tax == D(order["total_tax"])
    assert totals.grand_total == D(order["total_price"]) == D("579.54")
    assert [ln.tax for ln in lines] == [D(item["tax_lines"][0]["price"]) for item in order["line_items"]]


@pytest.mark.parametrize(
    ("fixture", "money"),
    [
        ("orders_create.json", "shop"),
        ("orders_create.json", "presentment"),
        ("orders_create_guest.json", "shop"),
        ("orders_create_presentment.json", "shop"),
        ("orders_create_presentment.json", "presentment"),
        ("orders_create_taxes_included.json", "shop"),
        ("orders_create_taxes_included.json", "presentment"),
    ],
)
def test_every_fixture_totals_to_shopifys_total_price_and_tax(fixture: str, money: str) -> None:
    order = doc(fixture)
    presentment = money == "presentment"
    draft = place(raw(fixture), shopify_money=money).draft
    _, totals = priced(draft)
    assert draft.currency == (order["presentment_currency"] if presentment else order["currency"])
    assert totals.grand_total == amount(order, "total_price", presentment)
    assert totals.tax == amount(order, "total_tax", presentment)
    assert sum(ln.quantity for ln in draft.lines) == sum(i["quantity"] for i in order["line_items"])


def test_shop_money_is_the_default_and_presentment_money_is_the_buyers() -> None:
    shop = place(raw("orders_create_presentment.json")).draft
    assert shop.currency == "USD"
    assert [(ln.sku, ln.unit_price, ln.tax_rate) for ln in shop.lines] == [
        ("IPOD2008PINK", D("199.00"), D("0.13")),
        ("IPOD-CASE-RED", D("24.99"), D("0.13")),
    ]
    assert (shop.shipping, shop.shipping_tax_rate) == (D("10.00"), D("0.13"))
    assert priced(shop)[1].grand_total == D("320.89")

    buyer = place(raw("orders_create_presentment.json"), shopify_money="presentment").draft
    assert buyer.currency == "CAD"
    assert [(ln.sku, ln.unit_price, ln.tax_rate) for ln in buyer.lines] == [
        ("IPOD2008PINK", D("268.65"), D("0.13")),
        ("IPOD-CASE-RED", D("33.74"), D("0.13")),
    ]
    assert (buyer.shipping, buyer.shipping_tax_rate) == (D("13.50"), D("0.13"))
    assert priced(buyer)[1].grand_total == D("433.21")
    assert buyer.customer == CustomerRef(
        name="Ann Tremblay",
        email="ann.tremblay@mail.example.ca",
        phone="+16135550187",
        properties={"shopify_customer_id": "7039158354030"},
    )
    assert buyer.shipping_address == Address(
        name="Ann Tremblay", line1="123 Elm Street", city="Ottawa", region="ON", postcode="K2H 7A8",
        country="CA", phone="+1 613-555-0187",
    )  # fmt: skip
    assert buyer.tags == ("international",)


def test_a_guest_order_without_optional_fields_keeps_what_it_has() -> None:
    placed = place(raw("orders_create_guest.json"))
    draft = placed.draft
    assert draft.lines == (
        LineDraft("variant:44610569208040", D(2), D("25.00"), "Gift Card - $25", tax_rate=D(0)),
    )
    assert draft.customer == CustomerRef(name="Jane Doe", email="jane.doe@mail.example.com")
    assert draft.billing_address == Address(
        name="Jane Doe", line1="1 Market Street", city="San Francisco", region="CA", postcode="94105",
        country="US",
    )  # fmt: skip
    assert draft.shipping_address is None
    assert (draft.shipping, draft.shipping_tax_rate, draft.tags, draft.notes) == (D(0), D(0), (), None)
    assert placed.paid is False  # financial_status "pending"
    assert priced(draft)[1].grand_total == D("50.00")


def test_an_order_with_no_customer_and_no_contact_has_no_customer() -> None:
    order = doc("orders_create_guest.json")
    del order["email"], order["contact_email"], order["billing_address"]
    assert place(order).draft.customer is None


# --- taxes included ---------------------------------------------------------------------------


def test_tax_inclusive_prices_become_net_lines_whose_tax_is_shopifys_tax() -> None:
    order = doc("orders_create_taxes_included.json")
    draft = place(raw("orders_create_taxes_included.json")).draft
    assert draft.currency == "GBP"
    # 3 x 25.00 gross - 11.25 discount = 63.75, of which VAT 10.63: net 53.12. The discount made
    # net is 9.38, so the net amount before it is 62.50, 20.833333 a unit. 53.12 x 20 % is 10.62,
    # not Shopify's 10.63, so the line carries the effective rate 10.63 / 53.12.
    assert draft.lines == (
        LineDraft("TEE-ORG-BLK-M", D(3), D("20.833333"), "Organic Cotton T-Shirt - Black / M", D("9.38"),
                  D("0.200113")),
        LineDraft("MUG-STONE-01", D(1), D("10.00"), "Stoneware Mug", D("1.50"), D("0.2")),
    )  # fmt: skip
    assert (draft.shipping, draft.shipping_tax_rate) == (D("4.16"), D("0.2"))  # 4.99 gross, 0.83 VAT
    lines, totals = priced(draft)
    assert [ln.tax for ln in lines] == [D(i["tax_lines"][0]["price"]) for i in order["line_items"]]
    assert [ln.total for ln in lines] == [D("63.75"), D("10.20")]
    assert totals.shipping + totals.tax - sum(ln.tax for ln in lines) == D("4.99")
    assert totals.tax == D(order["total_tax"]) == D("13.16")
    assert totals.grand_total == D(order["total_price"]) == D("78.94")
    assert draft.tags == ("discount:SUMMER15",)


#: tax rates as Shopify charges them, e.g. a state's and a county's side by side
RATES = [D(r) for r in ("0", "0.01", "0.05", "0.0725", "0.08875", "0.1", "0.13", "0.19", "0.2", "0.25")]


@settings(max_examples=300, deadline=None)
@given(
    cents=st.integers(100, 99_999),  # a unit price from 1.00 (below it, a cent of tax is a rate above 1)
    quantity=st.integers(1, 10),
    off=st.integers(0, 100),
    rates=st.lists(st.sampled_from(RATES), min_size=0, max_size=3),
    included=st.booleans(),
)
def test_any_line_totals_to_what_shopify_charged_with_shopifys_tax(
    cents: int, quantity: int, off: int, rates: list[Decimal], included: bool
) -> None:
    """Several tax lines each rounded, tax taken out of gross prices: Legato's line still
    totals what Shopify charged, with Shopify's tax, to the cent."""
    price = D(cents) / 100
    gross = quantity * price
    discount = (gross * off / 100).quantize(D("0.01"), ROUND_HALF_UP)
    base = gross - discount
    total_rate = sum(rates, D(0))
    if included:
        taxes = [(base * r / (1 + total_rate)).quantize(D("0.01"), ROUND_HALF_UP) for r in rates]
    else:
        taxes = [(base * r).quantize(D("0.01"), ROUND_HALF_UP) for r in rates]
    order = doc("orders_create.json")
    item = order["line_items"][0]
    item.update(price=str(price), quantity=quantity)
    item["discount_allocations"] = [{"amount": str(discount), "discount_application_index": 0}]
    item["tax_lines"] = [
        {"price": str(t), "rate": str(r), "title": "Tax"} for t, r in zip(taxes, rates, strict=True)
    ]
    order.update(line_items=[item], shipping_lines=[], taxes_included=included)
    (line,), _ = priced(place(order).draft)
    assert line.tax == sum(taxes, D(0))
    assert line.total == (base if included else base + line.tax)


# --- discounts, SKUs and shipping --------------------------------------------------------------


def test_discount_allocations_win_over_total_discount_so_nothing_counts_twice() -> None:
    order = doc("orders_create.json")
    order["line_items"][0]["total_discount"] = "19.90"
    assert place(order).draft.lines[0].discount == D("19.90")


def test_an_older_payload_without_allocations_uses_total_discount() -> None:
    order = doc("orders_create.json")
    item = order["line_items"][0]
    del item["discount_allocations"]
    item["total_discount"] = "5.00"
    item["total_discount_set"]["presentment_money"]["amount"] = "5.00"
    assert place(order).draft.lines[0].discount == D("5.00")
    assert place(order, shopify_money="presentment").draft.lines[0].discount == D("5.00")


def test_a_line_without_sku_falls_back_to_variant_then_product_then_title() -> None:
    order = doc("orders_create.json")
    item = order["line_items"][0]
    item["sku"] = None
    assert place(order).draft.lines[0].sku == "variant:39072856"
    item["variant_id"] = None
    assert place(order).draft.lines[0].sku == "product:632910392"
    item["product_id"] = None
    assert place(order).draft.lines[0].sku == "custom:IPod Nano - 8GB"


def test_past_fifty_tags_the_orders_own_last_tags_give_way_to_the_discount_codes() -> None:
    order = doc("orders_create.json")
    order["tags"] = ", ".join(f"t{i}" for i in range(60))
    tags = place(order).draft.tags
    assert len(tags) == 50 and tags[-2:] == ("t48", "discount:TENOFF")


def test_a_long_line_name_is_cut_to_what_legato_keeps() -> None:
    order = doc("orders_create.json")
    order["line_items"][0]["name"] = "Engraved " * 50
    assert place(order).draft.lines[0].name == ("Engraved " * 50).strip()[:300]


def test_a_free_shipping_discount_takes_the_shipping_off() -> None:
    order = doc("orders_create.json")
    line = order["shipping_lines"][0]
    line["discount_allocations"] = [{"amount": "10.00", "discount_application_index": 1}]
    assert place(order).draft.shipping == D(0)


def test_an_order_that_arrives_cancelled_is_placed_then_cancelled() -> None:
    intents = ADAPTER.parse(delivery(raw("orders_cancelled.json")), channel())
    assert [type(i) for i in intents] == [PlaceDraft, CancelOrder]
    assert intents[1] == CancelOrder("5702283772126", "customer")


# --- orders/updated, orders/cancelled, other topics ---------------------------------------------


def test_an_update_places_the_order_if_need_be_and_changes_the_addresses_note_and_tags() -> None:
    placed, *intents = ADAPTER.parse(delivery(raw("orders_updated.json"), "orders/updated"), channel())
    assert isinstance(placed, PlaceDraft) and placed.draft.external_reference == "5702283772126"
    assert intents == [
        UpdateOrder(
            "5702283772126",
            {
                "shipping_address": Address(
                    name="Bob Norman", company="Norman & Sons", line1="410 West Main Street",
                    city="Louisville", region="KY", postcode="40202", country="US", phone="+1 502-555-0142",
                ),
                "billing_address": BOB_ADDRESS,
                "notes": "Deliver to the office, reception desk",
                "tags": ("Imported", "VIP", "Gift", "discount:TENOFF"),
            },
        )
    ]  # fmt: skip


def test_an_update_that_removes_the_note_clears_it() -> None:
    order = doc("orders_updated.json")
    order["note"] = None
    _, intent = ADAPTER.parse(delivery(order, "orders/updated"), channel())
    assert isinstance(intent, UpdateOrder) and intent.changes["notes"] is None


def test_an_update_of_a_cancelled_order_cancels_it() -> None:
    placed, *intents = ADAPTER.parse(delivery(raw("orders_cancelled.json"), "orders/updated"), channel())
    assert isinstance(placed, PlaceDraft)
    assert intents == [CancelOrder("5702283772126", "customer")]


def test_a_cancellation_places_the_order_if_need_be_and_cancels_it_with_shopifys_reason() -> None:
    placed, *intents = ADAPTER.parse(delivery(raw("orders_cancelled.json"), "orders/cancelled"), channel())
    assert isinstance(placed, PlaceDraft) and placed.paid is False  # financial_status "refunded"
    assert placed.draft == place(raw("orders_create.json")).draft
    assert intents == [CancelOrder("5702283772126", "customer")]


def test_a_cancellation_without_a_reason_still_cancels() -> None:
    order = doc("orders_cancelled.json")
    order["cancel_reason"] = None
    assert ADAPTER.parse(delivery(order, "orders/cancelled"), channel())[1:] == [
        CancelOrder("5702283772126", "no reason given")
    ]


def test_a_topic_that_is_not_an_order_change_is_ignored() -> None:
    (intent,) = ADAPTER.parse(delivery(b'{"id": 1}', "products/update"), channel())
    assert isinstance(intent, Ignore) and "products/update" in intent.reason


def test_a_delivery_without_a_topic_is_unparseable() -> None:
    with pytest.raises(Unparseable) as exc:
        ADAPTER.parse(delivery(raw("orders_create.json"), None), channel())
    assert exc.value.issues[0].path == "X-Shopify-Topic"


def test_describe_gives_the_topic_and_the_webhook_id() -> None:
    assert ADAPTER.describe(delivery(b"{}", "orders/create")) == (
        "orders/create",
        "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043",
    )


def test_shopify_needs_no_handshake_and_no_acknowledgement() -> None:
    d = delivery(raw("orders_create.json"))
    assert ADAPTER.handshake(d, channel()) is None
    assert ADAPTER.acknowledge(d, channel(), Placed(1, "SO-000001", "USD", D("579.54"), True)) is None


def test_the_registry_names_this_adapter() -> None:
    assert get_adapter("shopify") is ADAPTER
    assert ADAPTER.name == "shopify"


# --- signatures --------------------------------------------------------------------------------


def test_a_body_signed_with_the_channels_secret_is_accepted() -> None:
    ADAPTER.verify(delivery(raw("orders_create.json")), channel())


@pytest.mark.parametrize(
    "header",
    [
        sign(b"another body"),  # a signature of something else
        sign(raw("orders_create.json"), "not-the-secret"),  # the right body, the wrong key
        "not base64!",
        "",
    ],
)
def test_a_wrong_signature_is_refused(header: str) -> None:
    with pytest.raises(SignatureInvalid):
        ADAPTER.verify(delivery(raw("orders_create.json"), x_shopify_hmac_sha256=header), channel())


def test_a_missing_signature_is_refused() -> None:
    d = delivery(raw("orders_create.json"))
    headers = {k: v for k, v in d.headers.items() if k != "x-shopify-hmac-sha256"}
    with pytest.raises(SignatureInvalid, match="missing"):
        ADAPTER.verify(Delivery(d.method, d.path, d.query, headers, d.body, d.received_at), channel())


def test_a_body_changed_after_signing_is_refused() -> None:
    body = raw("orders_create.json")
    d = delivery(body.replace(b'"quantity": 2', b'"quantity": 20'), x_shopify_hmac_sha256=sign(body))
    with pytest.raises(SignatureInvalid):
        ADAPTER.verify(d, channel())


def test_a_channel_without_a_secret_refuses_everything() -> None:
    ch = channel()
    ch.secrets = {}
    with pytest.raises(SignatureInvalid, match="webhook_secret"):
        ADAPTER.verify(delivery(raw("orders_create.json")), ch)


def test_the_previous_secret_is_accepted_while_it_is_rotated() -> None:
    ch = channel()
    ch.secrets = {"webhook_secret": "the-new-secret", "webhook_secret_previous": SECRET}
    ADAPTER.verify(delivery(raw("orders_create.json")), ch)


def test_a_delivery_from_another_shop_is_refused_when_the_shop_is_set() -> None:
    body = raw("orders_create.json")
    ADAPTER.verify(delivery(body), channel(shopify_shop_domain="Example-Store.myshopify.com"))
    with pytest.raises(SignatureInvalid, match="other-store"):
        ADAPTER.verify(
            delivery(body, x_shopify_shop_domain="other-store.myshopify.com"),
            channel(shopify_shop_domain="example-store.myshopify.com"),
        )


# --- bad input: each with its precise path -------------------------------------------------------


def _set(path: list[Any], value: Any) -> Any:
    def change(order: dict[str, Any]) -> None:
        target: Any = order
        for key in path[:-1]:
            target = target[key]
        if value is _DELETE:
            del target[path[-1]]
        else:
            target[path[-1]] = value

    return change


_DELETE = object()
BAD = [
    (_set(["id"], _DELETE), "$.id"),
    (_set(["id"], "gid://shopify/Order/1"), "$.id"),
    (_set(["id"], True), "$.id"),
    (_set(["currency"], _DELETE), "$.currency"),
    (_set(["currency"], "XYZ"), "$.currency"),
    (_set(["currency"], "usd"), "$.currency"),
    (_set(["taxes_included"], "yes"), "$.taxes_included"),
    (_set(["line_items"], _DELETE), "$.line_items"),
    (_set(["line_items"], []), "$.line_items"),
    (_set(["line_items"], {"0": {}}), "$.line_items"),
    (_set(["line_items", 1], "IPOD2008BLACK"), "$.line_items[1]"),
    (_set(["line_items", 1, "quantity"], _DELETE), "$.line_items[1].quantity"),
    (_set(["line_items", 1, "quantity"], "two"), "$.line_items[1].quantity"),
    (_set(["line_items", 1, "quantity"], 0), "$.line_items[1].quantity"),
    (_set(["line_items", 1, "quantity"], -3), "$.line_items[1].quantity"),
    (_set(["line_items", 1, "quantity"], 1_000_001), "$.line_items[1].quantity"),
    (_set(["line_items", 1, "quantity"], 2.5), "$.line_items[1].quantity"),
    (_set(["line_items", 1, "quantity"], True), "$.line_items[1].quantity"),
    (_set(["line_items", 0, "price"], _DELETE), "$.line_items[0].price"),
    (_set(["line_items", 0, "price"], "one hundred"), "$.line_items[0].price"),
    (_set(["line_items", 0, "price"], "-199.00"), "$.line_items[0].price"),
    (_set(["line_items", 0, "price"], "1e15"), "$.line_items[0].price"),
    (_set(["line_items", 0, "sku"], 4006381333931), "$.line_items[0].sku"),
    (_set(["line_items", 0, "name"], "IPod\x00Nano"), "$.line_items[0].name"),
    (_set(["line_items", 0, "discount_allocations"], "19.90"), "$.line_items[0].discount_allocations"),
    (_set(["line_items", 0, "discount_allocations", 0, "amount"], "lots"),
     "$.line_items[0].discount_allocations[0].amount"),
    (_set(["line_items", 0, "discount_allocations", 0, "amount"], "250.00"),
     "$.line_items[0].discount_allocations"),
    (_set(["line_items", 0, "tax_lines", 0, "rate"], 6), "$.line_items[0].tax_lines[0].rate"),
    (_set(["line_items", 0, "tax_lines", 0, "price"], _DELETE), "$.line_items[0].tax_lines[0].price"),
    (_set(["shipping_lines", 0, "price"], _DELETE), "$.shipping_lines[0].price"),
    (_set(["shipping_lines", 0], None), "$.shipping_lines[0]"),
    (_set(["customer"], "Bob Norman"), "$.customer"),
    (_set(["customer", "email"], 42), "$.customer.email"),
    (_set(["customer", "id"], "abc"), "$.customer.id"),
    (_set(["shipping_address", "country_code"], "USA"), "$.shipping_address.country_code"),
    (_set(["shipping_address", "country_code"], "U1"), "$.shipping_address.country_code"),
    (_set(["billing_address", "zip"], "4" * 40), "$.billing_address.zip"),
    (_set(["note"], "Leave it \x00 here"), "$.note"),
    (_set(["tags"], ["VIP"]), "$.tags"),
    (_set(["tags"], "x" * 65), "$.tags"),
    (_set(["discount_codes", 0, "code"], "C" * 60), "$.discount_codes[0].code"),
]  # fmt: skip


@pytest.mark.parametrize(("change", "path"), BAD, ids=[p for _, p in BAD])
def test_bad_input_is_unparseable_at_its_precise_path(change: Any, path: str) -> None:
    order = doc("orders_create.json")
    change(order)
    with pytest.raises(Unparseable) as exc:
        ADAPTER.parse(delivery(order), channel())
    assert [i.path for i in exc.value.issues] == [path]
    assert exc.value.code == "unparseable"


PRESENTMENT_BAD = [
    (_set(["presentment_currency"], "ZZZ"), "$.presentment_currency"),
    (_set(["presentment_currency"], _DELETE), "$.presentment_currency"),
    (_set(["line_items", 0, "price_set"], _DELETE), "$.line_items[0].price_set"),
    (_set(["line_items", 0, "price_set", "presentment_money"], _DELETE),
     "$.line_items[0].price_set.presentment_money"),
    (_set(["line_items", 0, "price_set", "presentment_money", "currency_code"], "EUR"),
     "$.line_items[0].price_set.presentment_money.currency_code"),
    (_set(["line_items", 1, "tax_lines", 0, "price_set", "presentment_money", "amount"], "x"),
     "$.line_items[1].tax_lines[0].price_set.presentment_money.amount"),
    (_set(["shipping_lines", 0, "price_set"], "13.50"), "$.shipping_lines[0].price_set"),
]  # fmt: skip


@pytest.mark.parametrize(("change", "path"), PRESENTMENT_BAD, ids=[p for _, p in PRESENTMENT_BAD])
def test_bad_presentment_money_is_unparseable_at_its_precise_path(change: Any, path: str) -> None:
    order = doc("orders_create_presentment.json")
    change(order)
    with pytest.raises(Unparseable) as exc:
        ADAPTER.parse(delivery(order), channel(shopify_money="presentment"))
    assert [i.path for i in exc.value.issues] == [path]


@pytest.mark.parametrize(
    "body",
    [
        raw("orders_create.json")[:-200],  # truncated in transit
        b"",
        b"[]",
        b'"an order"',
        b"\xff\xfe{}",  # not UTF-8
        b"[" * 100_000 + b"]" * 100_000,  # nested beyond any parser's depth
    ],
    ids=["truncated", "empty", "array", "string", "not-utf8", "deep"],
)
def test_a_body_that_is_not_a_json_object_is_unparseable_at_the_root(body: bytes) -> None:
    with pytest.raises(Unparseable) as exc:
        ADAPTER.parse(delivery(body), channel())
    assert [i.path for i in exc.value.issues] == ["$"]


@pytest.mark.parametrize("topic", ["orders/updated", "orders/cancelled"])
def test_updates_and_cancellations_need_the_order_id(topic: str) -> None:
    order = doc("orders_cancelled.json")
    del order["id"]
    with pytest.raises(Unparseable) as exc:
        ADAPTER.parse(delivery(order, topic), channel())
    assert [i.path for i in exc.value.issues] == ["$.id"]


def test_an_unknown_money_setting_is_named() -> None:
    with pytest.raises(Unparseable) as exc:
        ADAPTER.parse(delivery(raw("orders_create.json")), channel(shopify_money="buyer"))
    assert [i.path for i in exc.value.issues] == ["settings.shopify_money"]


def test_fixtures_are_left_untouched_by_parsing() -> None:
    order = doc("orders_create.json")
    before = copy.deepcopy(order)
    place(order)
    assert order == before
