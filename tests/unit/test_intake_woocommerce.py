"""The WooCommerce adapter: signatures, the ping, and drafts exactly as the payloads say."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from legato.domain.catalog import Channel, ChannelSettings, ChannelType, PricePolicy
from legato.domain.commands import OrderDraft
from legato.domain.matching import CustomerRef
from legato.domain.money import round_amount
from legato.domain.order import Address, OrderLine, Totals, compute_totals, price_line
from legato.intake.adapters import get_adapter
from legato.intake.adapters.woocommerce import ADAPTER, fit_line, fit_rate
from legato.intake.base import (
    CancelOrder,
    Delivery,
    Ignore,
    PlaceDraft,
    Reply,
    SignatureInvalid,
    Unparseable,
    UpdateOrder,
)

FIXTURES = Path(__file__).parent.parent / "fixtures" / "intake" / "woocommerce"
SECRET = "wc-webhook-secret-4f1a"
D = Decimal


def fixture(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    return doc


def woo_channel(**secrets: str) -> Channel:
    return Channel(
        code="WOO",
        name="WooCommerce shop",
        type=ChannelType.ECOMMERCE,
        adapter="woocommerce",
        currency="GBP",
        settings=ChannelSettings(price_policy=PricePolicy.TRUST),
        secrets=secrets if secrets else {"webhook_secret": SECRET},
    )


def sign(body: bytes, secret: str = SECRET) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def delivery(
    body: bytes | dict[str, Any],
    topic: str | None = "order.created",
    *,
    signature: str | None = "auto",
    **headers: str,
) -> Delivery:
    raw = json.dumps(body).encode() if isinstance(body, dict) else body
    h = {k.replace("_", "-").lower(): v for k, v in headers.items()}
    if topic is not None:
        resource, _, event = topic.partition(".")
        h |= {"x-wc-webhook-topic": topic, "x-wc-webhook-resource": resource, "x-wc-webhook-event": event}
    if signature == "auto":
        h["x-wc-webhook-signature"] = sign(raw)
    elif signature is not None:
        h["x-wc-webhook-signature"] = signature
    h |= {"x-wc-webhook-id": "142", "x-wc-webhook-source": "https://shop.example/"}
    return Delivery("POST", "/intake/WOO", {}, h, raw, datetime(2026, 3, 2, tzinfo=UTC))


def place(body: dict[str, Any], topic: str = "order.created") -> PlaceDraft:
    intents = ADAPTER.parse(delivery(body, topic), woo_channel())
    assert isinstance(intents[0], PlaceDraft), intents
    return intents[0]


def totals(draft: OrderDraft) -> Totals:
    """What Legato will compute for the draft (prices trusted, as these channels do)."""
    currency = draft.currency or "GBP"
    lines = [
        price_line(
            OrderLine(i, ln.sku, ln.name or ln.sku, ln.quantity, ln.unit_price or D(0), "channel",
                      ln.discount, ln.tax_rate),
            currency,
        )
        for i, ln in enumerate(draft.lines, 1)
    ]  # fmt: skip
    return compute_totals(lines, currency, draft.shipping, draft.shipping_tax_rate)


def problem_paths(exc: pytest.ExceptionInfo[Unparseable]) -> list[str]:
    return [issue.path for issue in exc.value.issues]


# --- drafts exactly as the payloads say ------------------------------------------------------


def test_the_documented_paid_order_becomes_a_paid_draft_line_for_line() -> None:
    placed = place(fixture("order_created_paid.json"))
    d = placed.draft
    assert placed.paid is True
    assert (d.channel_code, d.external_reference, d.currency) == ("WOO", "727", "USD")
    assert [(ln.sku, ln.quantity, ln.unit_price, ln.discount, ln.tax_rate) for ln in d.lines] == [
        ("product:93", D(2), D("3.00"), D(0), D("0.075")),
        ("Bar3", D(1), D("12.00"), D(0), D("0.075")),
    ]
    assert d.lines[1].name == "Ship Your Idea \u2013 Color: Black, Size: M Test"  # HTML entity decoded
    assert (d.shipping, d.shipping_tax_rate) == (D("10.00"), D(0))
    assert d.customer == CustomerRef(name="John Doe", email="john.doe@example.com", phone="(555) 555-5555")
    expected = Address(
        name="John Doe", line1="969 Market", city="San Francisco", region="CA", postcode="94103", country="US"
    )
    assert d.shipping_address == expected
    assert d.billing_address == Address(
        **expected.as_dict(), phone="(555) 555-5555", email="john.doe@example.com"
    )
    assert d.notes is None
    t = totals(d)
    assert (t.subtotal, t.discount, t.shipping, t.tax, t.grand_total) == (
        D("18.00"), D("0.00"), D("10.00"), D("1.35"), D("29.35"),
    )  # fmt: skip


def test_a_coupon_and_vat_order_keeps_unit_prices_before_the_coupon_and_adds_up_to_the_total() -> None:
    doc = fixture("order_created_coupon_vat.json")
    placed = place(doc)
    d = placed.draft
    assert placed.paid is False  # pending: not paid yet
    assert [(ln.sku, ln.name, ln.quantity, ln.unit_price, ln.discount, ln.tax_rate) for ln in d.lines] == [
        ("TEA-100", "Breakfast Tea & Infuser", D(3), D("4.166667"), D("1.25"), D("0.2")),
        ("MUG-200", "Stoneware Mug", D(1), D("10.00"), D("1.00"), D("0.2")),
    ]
    assert (d.shipping, d.shipping_tax_rate) == (D("4.00"), D("0.2"))
    assert d.customer == CustomerRef(
        name="Amelia Hart",
        email="Amelia.Hart@example.co.uk",
        phone="+44 117 496 0123",
        properties={"woocommerce_customer_id": "58"},
    )
    assert d.billing_address is not None and d.billing_address.company == "Hart & Daughters Ltd"
    assert d.shipping_address == Address(
        name="Amelia Hart",
        line1="14 Larch Road",
        line2="Flat 2",
        city="Bristol",
        postcode="BS6 5AB",
        country="GB",
    )
    assert d.notes == "Please leave the parcel with the neighbour at no. 12."
    t = totals(d)
    assert t.discount == D(doc["discount_total"])
    assert t.tax == D(doc["total_tax"])
    assert t.grand_total == D(doc["total"])


def test_a_guest_order_in_yen_without_optional_fields_has_no_customer_and_no_addresses() -> None:
    doc = fixture("order_created_guest_jpy.json")
    placed = place(doc)
    d = placed.draft
    assert placed.paid is False  # on-hold, awaiting the bank transfer
    assert d.customer is None and d.billing_address is None and d.shipping_address is None
    assert [(ln.sku, ln.quantity, ln.unit_price) for ln in d.lines] == [
        ("variation:23", D(2), D(600)),
        ("SENCHA-100", D(1), D(1500)),
    ]
    assert totals(d).grand_total == D(doc["total"]) == D(2700)


@pytest.mark.parametrize("status", ["processing", "completed"])
def test_an_order_is_paid_when_its_status_says_so_even_without_a_payment_date(status: str) -> None:
    doc = fixture("order_created_coupon_vat.json") | {"status": status, "date_paid": None}
    assert place(doc).paid is True


def test_a_fee_line_becomes_a_line_with_the_fee_sku() -> None:
    doc = fixture("order_created_guest_jpy.json")
    doc["fee_lines"] = [{"id": 9, "name": "Gift wrap", "total": "300", "total_tax": "0", "taxes": []}]
    doc["total"] = "3000"
    d = place(doc).draft
    assert (d.lines[-1].sku, d.lines[-1].name, d.lines[-1].unit_price) == ("fee", "Gift wrap", D(300))
    assert totals(d).grand_total == D(3000)


# --- what each delivery means ----------------------------------------------------------------


def test_an_update_to_processing_places_the_order_if_missing_marks_it_paid_and_applies_the_edits() -> None:
    intents = ADAPTER.parse(
        delivery(fixture("order_updated_processing.json"), "order.updated"), woo_channel()
    )
    assert [type(i) for i in intents] == [PlaceDraft, UpdateOrder]
    placed, update = intents
    assert isinstance(placed, PlaceDraft) and isinstance(update, UpdateOrder)
    assert placed.paid is True and placed.draft.external_reference == "1042"
    assert update.external_reference == "1042"
    assert update.changes["shipping_address"] == Address(
        name="Tom Hart", line1="3 Quay Street", city="Bath", postcode="BA1 1AA", country="GB"
    )
    assert update.changes["notes"] == "Please ring the bell twice."
    assert update.changes["billing_address"].email == "Amelia.Hart@example.co.uk"


@pytest.mark.parametrize("status", ["cancelled", "refunded", "failed"])
def test_an_update_to_a_dead_status_cancels_the_order(status: str) -> None:
    doc = fixture("order_updated_cancelled.json") | {"status": status}
    assert ADAPTER.parse(delivery(doc, "order.updated"), woo_channel()) == [
        CancelOrder("1042", f"WooCommerce order 1042 is {status}")
    ]


def test_an_order_created_already_cancelled_is_placed_then_cancelled_so_it_is_on_record() -> None:
    doc = fixture("order_created_paid.json") | {"status": "cancelled"}
    intents = ADAPTER.parse(delivery(doc), woo_channel())
    assert [type(i) for i in intents] == [PlaceDraft, CancelOrder]


def test_a_checkout_in_progress_is_ignored() -> None:
    doc = fixture("order_created_paid.json") | {"status": "checkout-draft"}
    [intent] = ADAPTER.parse(delivery(doc), woo_channel())
    assert isinstance(intent, Ignore)


@pytest.mark.parametrize("topic", ["product.updated", "order.deleted", "customer.created", None])
def test_other_topics_are_ignored(topic: str | None) -> None:
    [intent] = ADAPTER.parse(delivery({"id": 1}, topic), woo_channel())
    assert isinstance(intent, Ignore)


def test_the_registry_serves_this_adapter() -> None:
    assert get_adapter("woocommerce") is ADAPTER and ADAPTER.name == "woocommerce"


def test_describe_names_the_topic_and_the_delivery_id_under_either_header() -> None:
    body = fixture("order_created_paid.json")
    assert ADAPTER.describe(delivery(body, x_wc_webhook_delivery_id="a1b2")) == ("order.created", "a1b2")
    assert ADAPTER.describe(delivery(body, x_wc_delivery_id="77")) == ("order.created", "77")


# --- signatures and the ping -----------------------------------------------------------------


def test_a_correct_signature_is_accepted() -> None:
    ADAPTER.verify(delivery(fixture("order_created_paid.json")), woo_channel())


@pytest.mark.parametrize(
    "signature", [None, "", "bm90IHRoZSByaWdodCBzaWduYXR1cmU=", sign(b"{}"), sign(b"x", "other")]
)
def test_a_missing_or_wrong_signature_is_refused(signature: str | None) -> None:
    with pytest.raises(SignatureInvalid):
        ADAPTER.verify(delivery(fixture("order_created_paid.json"), signature=signature), woo_channel())


def test_a_body_changed_after_signing_is_refused() -> None:
    good = delivery(fixture("order_created_paid.json"))
    tampered = Delivery(
        good.method,
        good.path,
        good.query,
        good.headers,
        good.body.replace(b"29.35", b"0.01"),
        good.received_at,
    )
    with pytest.raises(SignatureInvalid):
        ADAPTER.verify(tampered, woo_channel())


def test_a_channel_without_its_secret_refuses_everything() -> None:
    with pytest.raises(SignatureInvalid, match="webhook_secret"):
        ADAPTER.verify(delivery(fixture("order_created_paid.json")), woo_channel(other="x"))


def test_the_save_time_ping_is_answered_without_a_signature_and_means_nothing() -> None:
    ping = delivery(b"webhook_id=142", None, signature=None, content_type="application/x-www-form-urlencoded")
    channel = woo_channel()
    assert ADAPTER.handshake(ping, channel) == Reply(200, b"pong")
    ADAPTER.verify(ping, channel)  # let through: it carries nothing to act on
    assert ADAPTER.describe(ping) == ("ping", None)
    assert ADAPTER.parse(ping, channel) == [Ignore("WooCommerce webhook ping")]


@pytest.mark.parametrize(
    ("body", "signature"),
    [(b"webhook_id=142", "forged"), (b"webhook_id=142&x=1", None), (b'{"id": 727}', None)],
)
def test_anything_else_unsigned_is_not_a_ping(body: bytes, signature: str | None) -> None:
    d = delivery(body, "order.created", signature=signature)
    assert ADAPTER.handshake(d, woo_channel()) is None
    with pytest.raises(SignatureInvalid):
        ADAPTER.verify(d, woo_channel())


# --- bad input: the precise field -----------------------------------------------------------


def _bad(mutate: Any) -> dict[str, Any]:
    doc = fixture("order_created_paid.json")
    mutate(doc)
    return doc


@pytest.mark.parametrize(
    ("doc", "path"),
    [
        (_bad(lambda d: d["line_items"][1].update(quantity="two")), "$.line_items[1].quantity"),
        (_bad(lambda d: d["line_items"][1].update(quantity=0)), "$.line_items[1].quantity"),
        (_bad(lambda d: d["line_items"][1].update(quantity=-1)), "$.line_items[1].quantity"),
        (_bad(lambda d: d["line_items"][1].update(quantity=10**9)), "$.line_items[1].quantity"),
        (_bad(lambda d: d["line_items"][1].update(quantity="1.23456")), "$.line_items[1].quantity"),
        (_bad(lambda d: d["line_items"][1].update(quantity=True)), "$.line_items[1].quantity"),
        (_bad(lambda d: d["line_items"][0].update(subtotal="-6.00")), "$.line_items[0].subtotal"),
        (_bad(lambda d: d["line_items"][0].update(total="1e400")), "$.line_items[0].total"),
        (_bad(lambda d: d["line_items"][0].pop("total")), "$.line_items[0].total"),
        (_bad(lambda d: d["line_items"][0].update(sku="", product_id=0)), "$.line_items[0].sku"),
        (_bad(lambda d: d["line_items"].__setitem__(0, "not an object")), "$.line_items[0]"),
        (_bad(lambda d: d.update(line_items={"a": 1})), "$.line_items"),
        (_bad(lambda d: d.update(line_items=[])), "$.line_items"),
        (_bad(lambda d: d.update(currency="BTC")), "$.currency"),
        (_bad(lambda d: d.update(currency="usd dollars")), "$.currency"),
        (_bad(lambda d: d.update(shipping_total="ten")), "$.shipping_total"),
        (_bad(lambda d: d["billing"].update(country="United States")), "$.billing.country"),
        (_bad(lambda d: d.update(shipping="969 Market")), "$.shipping"),
        (_bad(lambda d: d["tax_lines"][0].update(rate_percent="seven")), "$.tax_lines[0].rate_percent"),
        (_bad(lambda d: d.pop("id")), "$.id"),
        (
            _bad(lambda d: d.update(fee_lines=[{"name": "Discount", "total": "-5.00"}])),
            "$.fee_lines[0].total",
        ),
    ],
)
def test_a_bad_field_is_refused_naming_it(doc: dict[str, Any], path: str) -> None:
    with pytest.raises(Unparseable) as exc:
        ADAPTER.parse(delivery(doc), woo_channel())
    assert problem_paths(exc) == [path]
    assert exc.value.code == "unparseable"


@pytest.mark.parametrize(
    "body",
    [b'{"id": 727, "line_items": [', b"", b"[1, 2]", b'"order"', b'{"id": 1, "total": NaN}', b"\xff\xfe"],
)
def test_a_body_that_is_not_a_json_order_is_refused_at_the_root(body: bytes) -> None:
    with pytest.raises(Unparseable) as exc:
        ADAPTER.parse(delivery(body), woo_channel())
    assert problem_paths(exc) == ["$"]


def test_every_bad_line_is_named_at_once() -> None:
    doc = _bad(lambda d: [d["line_items"][0].update(quantity="x"), d["line_items"][1].update(total="y")])
    with pytest.raises(Unparseable) as exc:
        ADAPTER.parse(delivery(doc), woo_channel())
    assert problem_paths(exc) == ["$.line_items[0].quantity", "$.line_items[1].total"]
    assert "2 problems" in exc.value.detail


# --- the arithmetic, for any line ------------------------------------------------------------


@given(
    quantity=st.integers(1, 500),
    unit_cents=st.integers(1, 100_000),
    discount_share=st.integers(0, 100),
    rate=st.sampled_from([D(0), D("0.05"), D("0.075"), D("0.2"), D("0.08875"), D("0.19")]),
    currency=st.sampled_from(["GBP", "JPY", "KWD"]),
)
def test_any_line_reproduces_the_platform_figures_to_the_minor_unit(
    quantity: int, unit_cents: int, discount_share: int, rate: Decimal, currency: str
) -> None:
    """subtotal/quantity, discount and the fitted rate give back the line's net and tax."""
    places = {"GBP": 2, "JPY": 0, "KWD": 3}[currency]
    subtotal = D(unit_cents * quantity).scaleb(-places) / 3  # an awkward per-unit figure
    subtotal = round_amount(subtotal, currency)
    total = round_amount(subtotal * (100 - discount_share) / 100, currency)
    tax = round_amount(total * rate, currency)
    unit, discount = fit_line(subtotal, total, D(quantity), currency)
    fitted = fit_rate(total, tax, currency, [rate])
    line = price_line(OrderLine(1, "X", "X", D(quantity), unit, "channel", discount, fitted), currency)
    assert line.amount - line.discount == total
    assert line.tax == tax
