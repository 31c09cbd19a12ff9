"""Pulling a Magento shop through the real pipeline, on both databases: a local server
answers GET /rest/V1/orders as Magento documents it; every document is stored in the
inbox with the new cursor, then placed, cancelled, ignored or quarantined."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from api_helpers import count
from fastapi.testclient import TestClient
from tests.conftest import TEST_SECRET
from tests.unit.test_intake_magento import ALL, LAST, TOKEN, MagentoServer, orders

from legato.bootstrap import Runtime
from legato.domain.catalog import Channel, ChannelType
from legato.domain.lifecycle import OrderStatus, PaymentStatus
from legato.domain.order import Address, SalesOrder
from legato.intake.adapters.magento import ADAPTER, FetchFailed, encode_cursor
from legato.intake.base import Delivery, PlaceDraft
from legato.intake.pipeline import pull_channel
from legato.store import inbox

D = Decimal
#: list prices deliberately unlike the shop's: a trusting channel keeps Magento's prices
PRODUCTS = ["LG-TEA-EARL", "LG-TEA-MINT", "LG-MUG-BLUE", "LG-HOODIE-M-GREY", "LG-CAP-RED", "LG-GIFT-BOX",
            "LG-EBOOK-BREWING"]  # fmt: skip
OPENED_105 = "2026-03-02 11:40:00"  # when 000000105 was placed, before its cancellation


@pytest.fixture
def magento() -> Iterator[MagentoServer]:
    """The documented shop, as it was before 000000105 was cancelled (it is still new)."""
    server = MagentoServer(orders())
    server.update("000000105", state="new", status="pending", updated_at=OPENED_105)
    server.thread.start()
    yield server
    server.httpd.shutdown()
    server.httpd.server_close()


@pytest.fixture
def mage(runtime: Runtime, client: TestClient, admin: dict[str, str], magento: MagentoServer) -> int:
    """The MAGE channel on that shop, three orders a page; returns the channel's id."""
    r = client.post("/api/v1/channels", headers=admin, json={
        "code": "MAGE", "name": "Magento shop", "type": "ecommerce", "adapter": "magento", "currency": "USD",
        "settings": {"price_policy": "trust", "base_url": magento.base_url, "page_size": 3},
        "secrets": {"access_token": TOKEN},
    })  # fmt: skip
    assert r.status_code == 201, r.text
    for sku in PRODUCTS:
        body = {"sku": sku, "name": sku.title(), "prices": {"USD": "99.00", "GBP": "88.00"}}
        assert client.post("/api/v1/products", headers=admin, json=body).status_code == 201
    with runtime.uow() as uow:
        channel = uow.channels.get_by_code("MAGE")
    assert channel is not None and channel.id is not None
    return channel.id


def order_of(rt: Runtime, reference: str) -> SalesOrder:
    with rt.uow() as uow:
        order_id = uow.orders.id_by_external("MAGE", reference)
        assert order_id is not None, f"no order {reference}"
        order = uow.orders.get(order_id)
    assert order is not None
    return order


def cursor(rt: Runtime, channel_id: int) -> str | None:
    return inbox.get_state(rt.engine, channel_id, "cursor")


def documented(reference: str) -> dict[str, Any]:
    return next(o for o in orders() if o["increment_id"] == reference)


def test_a_pull_creates_the_orders_exactly_as_magento_documents_them(runtime: Runtime, mage: int) -> None:
    outcomes = pull_channel(runtime, "MAGE")
    assert [o.state for o in outcomes] == ["processed"] * 6 + ["ignored"]  # 107 awaits its payment
    assert count(runtime, "orders") == 6 and count(runtime, "inbox", source="pull") == 7

    for reference in ALL[:6]:
        doc = documented(reference) if reference != "000000105" else _open_105()
        order = order_of(runtime, reference)
        [intent] = ADAPTER.parse(pulled(doc), STUB)
        assert isinstance(intent, PlaceDraft)
        draft = intent.draft
        assert order.currency == doc["order_currency_code"] and order.channel_code == "MAGE"
        assert [(ln.sku, ln.quantity, ln.unit_price, ln.discount, ln.tax_rate) for ln in order.lines] == [
            (ln.sku, ln.quantity, ln.unit_price, ln.discount, ln.tax_rate) for ln in draft.lines
        ]
        assert {ln.price_source for ln in order.lines} == {"channel"}
        assert order.totals.grand_total == D(str(doc["grand_total"])), reference
        assert order.totals.subtotal == D(str(doc["subtotal"])), reference
        assert order.totals.tax == D(str(doc["tax_amount"])), reference
        assert order.totals.discount == -D(str(doc["discount_amount"])), reference
        assert (
            order.shipping_address == draft.shipping_address
            and order.billing_address == draft.billing_address
        )
        assert order.inbox_id is not None

    configurable = order_of(runtime, "000000102")
    assert [(ln.sku, ln.quantity, ln.unit_price) for ln in configurable.lines] == [
        ("LG-HOODIE-M-GREY", D(1), D(48)), ("LG-CAP-RED", D(2), D(15)),
    ]  # fmt: skip
    bundle = order_of(runtime, "000000103")
    assert [(ln.sku, ln.quantity, ln.unit_price) for ln in bundle.lines] == [
        ("LG-TEA-EARL", D(1), D(11)), ("LG-TEA-MINT", D(1), D(9)), ("LG-GIFT-BOX", D(2), D(35)),
        ("LG-MUG-BLUE", D(2), D(0)), ("LG-TEA-EARL", D(4), D(0)),
    ]  # fmt: skip
    guest = order_of(runtime, "000000104")
    assert guest.currency == "GBP" and guest.totals.grand_total == D("27.78") and guest.account_code is None
    assert guest.customer.email == "c.babbage@example.co.uk" and guest.customer.name == "Charles Babbage"
    assert guest.shipping_address == Address(
        name="Charles Babbage", line1="1 Difference Engine Street", line2="Flat 2", city="London",
        region="London", postcode="N1 9GU", country="GB", phone="+44 20 7946 0018",
        email="c.babbage@example.co.uk",
    )  # fmt: skip
    simple = order_of(runtime, "000000101")
    assert simple.notes == "Please leave the parcel at the front desk."
    assert simple.payment_status == PaymentStatus.PAID and guest.payment_status != PaymentStatus.PAID
    assert simple.timeline[0].actor == "channel:MAGE"
    assert order_of(runtime, "000000106").shipping_address is None  # a virtual order


def test_a_second_pull_creates_nothing(runtime: Runtime, mage: int) -> None:
    pull_channel(runtime, "MAGE")
    assert pull_channel(runtime, "MAGE") == []
    assert count(runtime, "orders") == 6 and count(runtime, "inbox") == 7
    assert cursor(runtime, mage) == LAST


def test_fetching_again_after_a_lost_cursor_keeps_every_order_single(runtime: Runtime, mage: int) -> None:
    """What a crash before the cursor is saved comes to: the same documents fetched again."""
    pull_channel(runtime, "MAGE")
    with runtime.engine.begin() as conn:
        inbox.set_state(conn, mage, "cursor", None)
    again = pull_channel(runtime, "MAGE")
    assert [o.state for o in again] == ["duplicate"] * 6 + ["ignored"]
    assert count(runtime, "orders") == 6 and count(runtime, "inbox") == 14
    assert cursor(runtime, mage) == LAST


def test_the_cursor_is_saved_with_the_stored_documents_and_never_ahead_of_them(
    runtime: Runtime, mage: int, magento: MagentoServer
) -> None:
    magento.fail[3] = (503, json.dumps({"message": "Service Unavailable"}).encode())
    with pytest.raises(FetchFailed, match="answered 503"):
        pull_channel(runtime, "MAGE")
    assert cursor(runtime, mage) is None  # nothing stored, nothing moved
    assert count(runtime, "inbox") == 0 and count(runtime, "orders") == 0

    outcomes = pull_channel(runtime, "MAGE")  # the next pull starts where the last good one ended
    stored = [inbox.get(runtime.engine, o.inbox_id or 0) for o in outcomes]
    keys = [json.loads(e.body) for e in stored if e is not None]
    assert [d["increment_id"] for d in keys] == ALL
    assert cursor(runtime, mage) == encode_cursor((keys[-1]["updated_at"], keys[-1]["entity_id"]))
    assert all(e is not None and e.method == "PULL" and e.source == "pull" for e in stored)
    assert [e.delivery_id for e in stored if e is not None] == ALL


def test_a_cancellation_in_magento_cancels_the_order(
    runtime: Runtime, mage: int, magento: MagentoServer
) -> None:
    pull_channel(runtime, "MAGE")
    assert order_of(runtime, "000000105").status is OrderStatus.CREATED
    magento.update("000000105", state="canceled", status="canceled", updated_at="2026-03-02 14:00:00")
    [outcome] = pull_channel(runtime, "MAGE")
    assert (outcome.state, outcome.reason) == ("processed", "cancelled")
    order = order_of(runtime, "000000105")
    assert order.status is OrderStatus.CANCELLED
    last = order.timeline[-1]
    assert last.actor == "channel:MAGE" and "cancelled in Magento (status canceled)" in (last.reason or "")
    assert cursor(runtime, mage) == "2026-03-02 14:00:00|105"


def test_a_bad_document_is_quarantined_with_its_reason_and_replayed_after_the_fix(
    runtime: Runtime, mage: int, magento: MagentoServer, client: TestClient, admin: dict[str, str]
) -> None:
    pull_channel(runtime, "MAGE")
    teapot = documented("000000101") | {"entity_id": 108, "increment_id": "000000108",
                                        "updated_at": "2026-03-02 15:00:00"}  # fmt: skip
    teapot["items"] = [teapot["items"][0] | {"sku": "LG-TEAPOT"}, teapot["items"][1] | {"qty_ordered": 0}]
    magento.orders.append(teapot)
    [outcome] = pull_channel(runtime, "MAGE")
    assert outcome.state == "quarantined"
    entry = client.get(f"/api/v1/inbox/{outcome.inbox_id}", headers=admin).json()
    assert entry["state"] == "quarantined" and entry["delivery_id"] == "000000108"
    assert entry["errors"] == [{"path": "$.items[1].qty_ordered", "code": "out_of_range", "value": "0",
                                "message": "qty_ordered must be above 0 and at most 1000000"}]  # fmt: skip
    assert cursor(runtime, mage) == "2026-03-02 15:00:00|108"  # stored, so the pull moves on

    # the shop corrects the quantity (a new version is pulled); the SKU is new to Legato
    magento.orders[-1]["items"][1]["qty_ordered"] = 1
    magento.update("000000108", updated_at="2026-03-02 15:30:00")
    [again] = pull_channel(runtime, "MAGE")
    assert again.state == "quarantined"
    entry = client.get(f"/api/v1/inbox/{again.inbox_id}", headers=admin).json()
    assert [e["code"] for e in entry["errors"]] == ["unknown_sku"] and "LG-TEAPOT" in entry["reason"]

    # the catalogue learns the product; the stored document is replayed as it was received
    body = {"sku": "LG-TEAPOT", "name": "Teapot", "prices": {"USD": "30.00"}}
    assert client.post("/api/v1/products", headers=admin, json=body).status_code == 201
    replayed = client.post(f"/api/v1/inbox/{again.inbox_id}/replay", headers=admin)
    assert replayed.status_code == 201, replayed.text
    assert [ln.sku for ln in order_of(runtime, "000000108").lines] == ["LG-TEAPOT", "LG-MUG-BLUE"]


# --- helpers -------------------------------------------------------------------------------------

STUB = Channel("MAGE", "Magento shop", ChannelType.ECOMMERCE, "magento", "USD")


def _open_105() -> dict[str, Any]:
    return documented("000000105") | {
        "state": "new",
        "status": "pending",
        "updated_at": "2026-03-02 11:40:00",
    }


def pulled(doc: dict[str, Any]) -> Delivery:
    return Delivery("PULL", "pull:MAGE", {}, {}, json.dumps(doc).encode(), datetime.now(UTC))


def test_legato_channels_pull_fetches_from_the_command_line(runtime: Runtime, db_url: str, mage: int) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEGATO_")}
    env.update(LEGATO_DATABASE_URL=db_url, LEGATO_SECRET_KEY=TEST_SECRET, COLUMNS="200")
    command = [sys.executable, "-m", "legato.cli", "channels", "pull", "MAGE"]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "MAGE: 7 document(s), 6 new order(s), 0 quarantined" in done.stdout
    assert cursor(runtime, mage) == LAST and count(runtime, "orders") == 6
