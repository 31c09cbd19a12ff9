"""The Square (POS) adapter: signatures, RetrieveOrder against a real local server, and
drafts exactly as the orders say."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from legato.domain.catalog import Channel, ChannelSettings, ChannelType, PricePolicy
from legato.domain.commands import OrderDraft
from legato.domain.matching import CustomerRef
from legato.domain.order import Address, OrderLine, Totals, compute_totals, price_line
from legato.intake.adapters import get_adapter
from legato.intake.adapters.square import ADAPTER, money_at
from legato.intake.base import (
    CancelOrder,
    Delivery,
    Ignore,
    PlaceDraft,
    SignatureInvalid,
    Unparseable,
    UpdateOrder,
)

FIXTURES = Path(__file__).parent.parent / "fixtures" / "intake" / "square"
SIGNATURE_KEY = "sq-signature-key-Zx81"
TOKEN = "EAAAl-test-access-token"
VERSION = "2025-01-23"
NOTIFICATION_URL = "https://legato.example/intake/POS-NYC"
D = Decimal


def fixture(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    return doc


# --- a real Square stand-in on loopback ------------------------------------------------------


@dataclass
class FakeSquare:
    """GET /v2/orders/{id} as Square documents it: Bearer token and Square-Version required."""

    url: str = ""
    orders: dict[str, dict[str, Any]] = field(default_factory=dict)
    seen: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    delay: float = 0.0


def _handler(state: FakeSquare) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:  # keep the test output quiet
            pass

        def _send(self, status: int, body: dict[str, Any]) -> None:
            raw = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def do_GET(self) -> None:
            state.seen.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
            if state.delay:
                time.sleep(state.delay)
            if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                err = {"category": "AUTHENTICATION_ERROR", "code": "UNAUTHORIZED", "detail": "bad token"}
                return self._send(401, {"errors": [err]})
            if not self.headers.get("Square-Version"):
                err = {"category": "INVALID_REQUEST_ERROR", "code": "BAD_REQUEST", "detail": "no version"}
                return self._send(400, {"errors": [err]})
            prefix = "/v2/orders/"
            order_id = self.path[len(prefix) :] if self.path.startswith(prefix) else ""
            if order_id == "EMPTY":
                return self._send(200, {})
            if order_id not in state.orders:
                detail = f"Could not find order with id `{order_id}`."
                err = {"category": "INVALID_REQUEST_ERROR", "code": "NOT_FOUND", "detail": detail}
                return self._send(404, {"errors": [err]})
            return self._send(200, {"order": state.orders[order_id]})

    return Handler


@pytest.fixture
def square() -> Iterator[FakeSquare]:
    state = FakeSquare()
    for name in (
        "retrieve_order_pos_paid.json",
        "retrieve_order_documented.json",
        "retrieve_order_inclusive_jpy.json",
    ):
        order = fixture(name)["order"]
        state.orders[order["id"]] = order
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield state
    server.shutdown()
    server.server_close()
    thread.join(5)


def pos_channel(square: FakeSquare | None = None, *, adapter: str = "pos", **extra: Any) -> Channel:
    settings: dict[str, Any] = {"notification_url": NOTIFICATION_URL, "square_version": VERSION}
    if square is not None:
        settings["square_base_url"] = square.url
    settings |= extra
    return Channel(
        code="POS-NYC",
        name="Till, New York",
        type=ChannelType.RETAIL if adapter == "pos" else ChannelType.ECOMMERCE,
        adapter=adapter,
        currency="USD",
        settings=ChannelSettings(
            price_policy=PricePolicy.TRUST, extra={k: v for k, v in settings.items() if v}
        ),
        secrets={"signature_key": SIGNATURE_KEY, "access_token": TOKEN},
    )


def sign(body: bytes, url: str = NOTIFICATION_URL, key: str = SIGNATURE_KEY) -> str:
    return base64.b64encode(hmac.new(key.encode(), url.encode() + body, hashlib.sha256).digest()).decode()


def delivery(body: bytes | dict[str, Any], *, signature: str | None = "auto") -> Delivery:
    raw = json.dumps(body).encode() if isinstance(body, dict) else body
    headers = {"content-type": "application/json", "square-environment": "Production"}
    if signature == "auto":
        headers["x-square-hmacsha256-signature"] = sign(raw)
    elif signature is not None:
        headers["x-square-hmacsha256-signature"] = signature
    return Delivery("POST", "/intake/POS-NYC", {}, headers, raw, datetime(2026, 5, 20, tzinfo=UTC))


def event_for(order_id: str, topic: str = "order.created", state: str = "OPEN") -> dict[str, Any]:
    """The documented order.created / order.updated envelope, for another order id."""
    doc = fixture("event_order_created.json" if topic == "order.created" else "event_order_updated.json")
    doc["data"]["id"] = order_id
    summary = doc["data"]["object"]["order_created" if topic == "order.created" else "order_updated"]
    summary |= {"order_id": order_id, "state": state}
    return doc


def totals(draft: OrderDraft) -> Totals:
    currency = draft.currency or "USD"
    lines = [
        price_line(
            OrderLine(i, ln.sku, ln.name or ln.sku, ln.quantity, ln.unit_price or D(0), "channel",
                      ln.discount, ln.tax_rate),
            currency,
        )
        for i, ln in enumerate(draft.lines, 1)
    ]  # fmt: skip
    return compute_totals(lines, currency, draft.shipping, draft.shipping_tax_rate)


def square_total(order: dict[str, Any], currency: str) -> Decimal:
    """What Square collects for the goods: its total less any tip (tips are not order lines)."""
    return money_at(order, "total_money", "$", currency) - money_at(order, "total_tip_money", "$", currency)


def paths(exc: pytest.ExceptionInfo[Unparseable]) -> list[str]:
    return [i.path for i in exc.value.issues]


# --- drafts exactly as the orders say --------------------------------------------------------


def test_an_order_created_event_fetches_the_order_and_places_it_paid_with_the_till_tags(
    square: FakeSquare,
) -> None:
    body = fixture("event_order_created.json")
    [placed] = ADAPTER.parse(delivery(body), pos_channel(square))
    assert square.seen[0][0] == "/v2/orders/eA3vssLHKJrv9H0IdJCM3gNqfdcZY"
    assert square.seen[0][1]["authorization"] == f"Bearer {TOKEN}"
    assert square.seen[0][1]["square-version"] == VERSION
    assert isinstance(placed, PlaceDraft) and placed.paid is True  # one card tender of the full total
    d = placed.draft
    assert (d.channel_code, d.external_reference, d.currency) == (
        "POS-NYC",
        "eA3vssLHKJrv9H0IdJCM3gNqfdcZY",
        "USD",
    )
    assert [(ln.sku, ln.name, ln.quantity, ln.unit_price, ln.discount, ln.tax_rate) for ln in d.lines] == [
        ("W62UWFY35CWMYGVWK6TWJDNI", "Latte (Large)", D(2), D("4.50"), D(0), D("0.08875")),
        ("custom", "Custom Amount", D(1), D("3.00"), D(0), D("0.08875")),
    ]
    assert d.tags == ("pos", "location:FPYCBCHYMXFK1")
    assert d.customer == CustomerRef(properties={"square_customer_id": "JDKYHBWT1D4F8MFH63DBMEN8Y4"})
    t = totals(d)
    order = fixture("retrieve_order_pos_paid.json")["order"]
    assert t.tax == money_at(order, "total_tax_money", "$", "USD") == D("1.07")
    assert t.grand_total == square_total(order, "USD") == D("13.07")


def test_the_documented_order_keeps_its_discounts_and_is_unpaid_without_tenders(square: FakeSquare) -> None:
    [placed] = ADAPTER.parse(delivery(event_for("CAISENgvlJ6jLWAzERDzjyHVybY")), pos_channel(square))
    assert isinstance(placed, PlaceDraft) and placed.paid is False
    d = placed.draft
    assert [(ln.sku, ln.name, ln.quantity, ln.unit_price, ln.discount, ln.tax_rate) for ln in d.lines] == [
        ("custom", "Item 1", D(1), D("5.00"), D("2.50"), D(0)),
        ("custom", "Item 2", D(2), D("3.00"), D("3.00"), D(0)),
    ]
    assert d.customer is None and d.tags == ("pos", "location:D7AVYMEAPJ3A3")
    t = totals(d)
    assert (t.subtotal, t.discount, t.grand_total) == (D("11.00"), D("5.50"), D("5.50"))


def test_inclusive_yen_taxes_become_net_prices_that_add_up_to_what_the_till_took(square: FakeSquare) -> None:
    order = fixture("retrieve_order_inclusive_jpy.json")["order"]
    [placed] = ADAPTER.parse(delivery(event_for(order["id"])), pos_channel(square))
    assert isinstance(placed, PlaceDraft) and placed.paid is True  # cash covers the total
    d = placed.draft
    assert d.currency == "JPY"
    assert [(ln.sku, ln.quantity, ln.unit_price, ln.discount, ln.tax_rate) for ln in d.lines] == [
        ("MATCHA-LATTE-V1", D(1), D(1000), D(0), D("0.1")),
        ("DORAYAKI-V1", D(3), D("454.333333"), D(136), D("0.1")),
    ]
    assert d.customer == CustomerRef(
        name="Sato Hanako", email="hanako.sato@example.jp", phone="+81 3-1234-5678"
    )
    assert d.notes == "Pick up at the counter, 3pm"
    t = totals(d)
    assert t.tax == D(223)
    assert t.grand_total == square_total(order, "JPY") == D(2450)


def test_an_event_carrying_the_full_order_is_used_without_fetching(square: FakeSquare) -> None:
    body = fixture("event_order_created_embedded.json")
    channel = pos_channel(square, adapter="square")
    [placed] = ADAPTER.parse(delivery(body), channel)
    assert square.seen == []
    assert isinstance(placed, PlaceDraft) and placed.paid is False  # no tender yet
    d = placed.draft
    assert [(ln.sku, ln.name, ln.quantity, ln.unit_price, ln.discount, ln.tax_rate) for ln in d.lines] == [
        ("W62UWFY35CWMYGVWK6TWJDNI", "Breakfast Tea (100g tin)", D(2), D("4.50"), D("0.90"), D("0.2")),
        ("service-charge", "Shipping", D(1), D("3.95"), D(0), D("0.2")),
    ]
    assert d.tags == ("location:LH2G8KT5R0VQ9",)  # an online order on a "square" channel: no till tag
    assert d.shipping_address == Address(
        name="Jane Doe",
        line1="1 Canal Walk",
        line2="Unit 4",
        city="London",
        region="Greater London",
        postcode="N1 9GU",
        country="GB",
        phone="+44 20 7946 0018",
        email="jane.doe@example.co.uk",
    )
    assert d.customer == CustomerRef(
        name="Jane Doe", email="jane.doe@example.co.uk", phone="+44 20 7946 0018"
    )
    assert d.notes == "Leave with reception"
    order = body["data"]["object"]["order"]
    assert totals(d).grand_total == square_total(order, "GBP") == D("14.46")


def test_partial_tenders_do_not_make_an_order_paid() -> None:
    body = fixture("event_order_created_embedded.json")
    order = body["data"]["object"]["order"]
    order["tenders"] = [{"type": "CARD", "amount_money": {"amount": 1000, "currency": "GBP"}}]
    [placed] = ADAPTER.parse(delivery(body), pos_channel())
    assert isinstance(placed, PlaceDraft) and placed.paid is False
    order["tenders"].append({"type": "CASH", "amount_money": {"amount": 446, "currency": "GBP"}})
    [placed] = ADAPTER.parse(delivery(body), pos_channel())
    assert isinstance(placed, PlaceDraft) and placed.paid is True


@pytest.mark.parametrize(
    ("currency", "amount", "value"),
    [("USD", 1307, "13.07"), ("JPY", 2450, "2450"), ("KWD", 1250, "1.250"), ("BHD", 5, "0.005")],
)
def test_money_is_read_in_the_currencys_smallest_unit(currency: str, amount: int, value: str) -> None:
    doc = {"m": {"amount": amount, "currency": currency}}
    assert money_at(doc, "m", "$", currency) == D(value)
    assert str(money_at(doc, "m", "$", currency)) == value


# --- what each event means -------------------------------------------------------------------


def test_an_update_places_the_order_if_missing_marks_it_paid_and_applies_the_edits(
    square: FakeSquare,
) -> None:
    intents = ADAPTER.parse(delivery(fixture("event_order_updated.json")), pos_channel(square))
    assert [type(i) for i in intents] == [PlaceDraft, UpdateOrder]
    placed, update = intents
    assert isinstance(placed, PlaceDraft) and placed.paid is True
    assert update == UpdateOrder("eA3vssLHKJrv9H0IdJCM3gNqfdcZY", {})


def test_a_canceled_update_cancels_without_fetching(square: FakeSquare) -> None:
    intents = ADAPTER.parse(delivery(fixture("event_order_updated_canceled.json")), pos_channel(square))
    assert intents == [
        CancelOrder(
            "eA3vssLHKJrv9H0IdJCM3gNqfdcZY", "Square order eA3vssLHKJrv9H0IdJCM3gNqfdcZY was canceled"
        )
    ]
    assert square.seen == []


def test_a_draft_order_is_ignored_until_it_is_placed(square: FakeSquare) -> None:
    [intent] = ADAPTER.parse(delivery(fixture("event_order_created_draft.json")), pos_channel(square))
    assert isinstance(intent, Ignore) and "draft" in intent.reason
    assert square.seen == []


@pytest.mark.parametrize("topic", ["payment.created", "order.fulfillment.updated", "customer.created"])
def test_other_events_are_ignored(topic: str) -> None:
    body = fixture("event_order_created.json") | {"type": topic}
    [intent] = ADAPTER.parse(delivery(body), pos_channel())
    assert isinstance(intent, Ignore)


def test_both_pos_and_square_channels_use_this_adapter() -> None:
    assert get_adapter("pos") is ADAPTER and get_adapter("square") is ADAPTER


def test_describe_names_the_event_type_and_its_id() -> None:
    assert ADAPTER.describe(delivery(fixture("event_order_created.json"))) == (
        "order.created",
        "116038d3-2948-439f-8679-fc86dbf80f69",
    )
    assert ADAPTER.describe(delivery(b"{not json")) == (None, None)


# --- signatures --------------------------------------------------------------------------------


def test_a_signature_over_the_notification_url_and_body_is_accepted() -> None:
    ADAPTER.verify(delivery(fixture("event_order_created.json")), pos_channel())


def test_the_notification_url_is_part_of_what_is_signed() -> None:
    body = fixture("event_order_created.json")
    raw = json.dumps(body).encode()
    elsewhere = sign(raw, url="https://legato.example/intake/OTHER")
    with pytest.raises(SignatureInvalid):
        ADAPTER.verify(delivery(raw, signature=elsewhere), pos_channel())
    body_only = base64.b64encode(hmac.new(SIGNATURE_KEY.encode(), raw, hashlib.sha256).digest()).decode()
    with pytest.raises(SignatureInvalid):
        ADAPTER.verify(delivery(raw, signature=body_only), pos_channel())


@pytest.mark.parametrize("signature", [None, "", "AAAA", sign(b"{}")])
def test_a_missing_or_wrong_signature_is_refused(signature: str | None) -> None:
    with pytest.raises(SignatureInvalid):
        ADAPTER.verify(delivery(fixture("event_order_created.json"), signature=signature), pos_channel())


def test_a_channel_without_its_key_or_notification_url_refuses_everything() -> None:
    d = delivery(fixture("event_order_created.json"))
    no_key = pos_channel()
    no_key.secrets = {"access_token": TOKEN}
    with pytest.raises(SignatureInvalid, match="signature_key"):
        ADAPTER.verify(d, no_key)
    with pytest.raises(SignatureInvalid, match="notification_url"):
        ADAPTER.verify(d, pos_channel(notification_url=""))


# --- RetrieveOrder failures: quarantined with the reason ----------------------------------------


def test_an_order_square_does_not_know_is_refused_with_squares_reason(square: FakeSquare) -> None:
    with pytest.raises(Unparseable) as exc:
        ADAPTER.parse(delivery(event_for("NOPE")), pos_channel(square))
    assert paths(exc) == ["$.data.id"]
    assert exc.value.issues[0].code == "fetch_failed"
    assert "404" in exc.value.detail and "NOT_FOUND" in exc.value.detail


def test_a_wrong_access_token_is_refused_with_squares_reason(square: FakeSquare) -> None:
    channel = pos_channel(square)
    channel.secrets["access_token"] = "expired"
    with pytest.raises(Unparseable) as exc:
        ADAPTER.parse(delivery(fixture("event_order_created.json")), channel)
    assert "401" in exc.value.detail and "UNAUTHORIZED" in exc.value.detail


def test_a_channel_without_an_access_token_says_so(square: FakeSquare) -> None:
    channel = pos_channel(square)
    del channel.secrets["access_token"]
    with pytest.raises(Unparseable, match="access_token") as exc:
        ADAPTER.parse(delivery(fixture("event_order_created.json")), channel)
    assert exc.value.issues[0].code == "fetch_failed"
    assert square.seen == []


def test_an_answer_without_an_order_is_refused(square: FakeSquare) -> None:
    with pytest.raises(Unparseable, match="holds no order"):
        ADAPTER.parse(delivery(event_for("EMPTY")), pos_channel(square))


def test_an_unreachable_square_is_refused_with_the_reason() -> None:
    channel = pos_channel(square_base_url="http://127.0.0.1:9")  # the discard port: nothing listens
    with pytest.raises(Unparseable, match="could not read order") as exc:
        ADAPTER.parse(delivery(fixture("event_order_created.json")), channel)
    assert exc.value.issues[0].code == "fetch_failed"


def test_a_slow_square_times_out(square: FakeSquare) -> None:
    square.delay = 1.0
    channel = pos_channel(square, square_timeout=0.2)
    started = time.monotonic()
    with pytest.raises(Unparseable, match="could not read order"):
        ADAPTER.parse(delivery(fixture("event_order_created.json")), channel)
    assert time.monotonic() - started < 1.0


# --- bad input: the precise field ------------------------------------------------------------


def _embedded(mutate: Any) -> dict[str, Any]:
    body = fixture("event_order_created_embedded.json")
    mutate(body["data"]["object"]["order"])
    return body


ORDER = "$.data.object.order"


@pytest.mark.parametrize(
    ("body", "path"),
    [
        (_embedded(lambda o: o["line_items"][0].update(quantity="two")), f"{ORDER}.line_items[0].quantity"),
        (_embedded(lambda o: o["line_items"][0].update(quantity="-1")), f"{ORDER}.line_items[0].quantity"),
        (
            _embedded(lambda o: o["line_items"][0].update(quantity="2000000")),
            f"{ORDER}.line_items[0].quantity",
        ),
        (
            _embedded(lambda o: o["line_items"][0].update(quantity="1.23456")),
            f"{ORDER}.line_items[0].quantity",
        ),
        (_embedded(lambda o: o["line_items"][0].update(quantity=2.5)), f"{ORDER}.line_items[0].quantity"),
        (
            _embedded(lambda o: o["line_items"][0]["gross_sales_money"].update(amount=9.5)),
            f"{ORDER}.line_items[0].gross_sales_money.amount",
        ),
        (
            _embedded(lambda o: o["line_items"][0]["total_money"].update(amount=-5)),
            f"{ORDER}.line_items[0].total_money.amount",
        ),
        (
            _embedded(lambda o: o["line_items"][0]["total_money"].update(currency="EUR")),
            f"{ORDER}.line_items[0].total_money.currency",
        ),
        (_embedded(lambda o: o["total_money"].update(currency="XYZ")), f"{ORDER}.total_money.currency"),
        (_embedded(lambda o: o["taxes"][0].update(percentage="lots")), f"{ORDER}.taxes[0].percentage"),
        (_embedded(lambda o: o.update(line_items=[])), f"{ORDER}.line_items"),
        (_embedded(lambda o: o["service_charges"].__setitem__(0, 7)), f"{ORDER}.service_charges[0]"),
    ],
)
def test_a_bad_field_is_refused_naming_it(body: dict[str, Any], path: str) -> None:
    with pytest.raises(Unparseable) as exc:
        ADAPTER.parse(delivery(body), pos_channel())
    assert paths(exc) == [path]


def test_a_bad_field_in_a_fetched_order_is_named_in_square_s_answer(square: FakeSquare) -> None:
    square.orders["CAISENgvlJ6jLWAzERDzjyHVybY"]["line_items"][1]["quantity"] = "lots"
    with pytest.raises(Unparseable) as exc:
        ADAPTER.parse(delivery(event_for("CAISENgvlJ6jLWAzERDzjyHVybY")), pos_channel(square))
    assert paths(exc) == ["$.order.line_items[1].quantity"]


@pytest.mark.parametrize(
    ("body", "path"),
    [
        (b'{"type": "order.created", "data": {', "$"),
        (b"[]", "$"),
        (b'{"type": "order.created"}', "$.data"),
        (b'{"type": "order.created", "data": {"type": "order", "object": {}}}', "$.data.id"),
    ],
)
def test_an_event_that_cannot_be_read_is_refused_at_its_field(body: bytes, path: str) -> None:
    with pytest.raises(Unparseable) as exc:
        ADAPTER.parse(delivery(body), pos_channel())
    assert paths(exc) == [path]


def test_zero_quantity_lines_are_dropped_as_square_drops_them() -> None:
    body = _embedded(lambda o: o["line_items"].append({"uid": "z", "name": "Removed", "quantity": "0"}))
    [placed] = ADAPTER.parse(delivery(body), pos_channel())
    assert isinstance(placed, PlaceDraft) and len(placed.draft.lines) == 2
