"""Placing an order costs a small, constant number of SQL statements, on both databases.

Lines, the timeline entry and the outbox event are each written with one executemany,
so a 50-line order costs what a 3-line order costs. A re-delivery (same channel and
external reference) only reads. Tax rules, promotions and rates come from a cache that
a write to them clears (store.refcache), so a steady stream of orders does not re-read them.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import func, select

from legato.bootstrap import Runtime
from legato.domain.catalog import Account, Channel, ChannelType, Pricelist, PricelistKind, Product
from legato.domain.commands import LineDraft, OrderDraft, PlaceOrder
from legato.domain.matching import CustomerRef
from legato.services.catalog import save_account, save_channel, save_pricelist, save_product
from legato.services.orders import place_order
from legato.store import tables as t
from legato.store.db import recording_statements

SKUS = [f"SKU-{n:03d}" for n in range(50)]
WRITES = ("INSERT", "UPDATE", "DELETE")


@pytest.fixture
def shop(runtime: Runtime) -> Runtime:
    """A channel, 50 products, and an account with a contracted pricelist, via the services."""
    save_channel(
        runtime.uow(),
        Channel(
            "WEB", "Web shop", ChannelType.ECOMMERCE, "shopify", "GBP", secrets={"webhook_secret": "s3cret"}
        ),
        create=True,
    )
    for n, sku in enumerate(SKUS):
        save_product(runtime.uow(), Product(sku, f"Product {n}", prices={"GBP": Decimal(5 + n)}), create=True)
    save_pricelist(
        runtime.uow(),
        Pricelist(
            "ACME-2026",
            "Acme contract",
            "GBP",
            PricelistKind.PERCENT_OFF,
            Decimal(10),
            {SKUS[0]: Decimal("4.00")},
        ),
        create=True,
    )
    save_account(
        runtime.uow(),
        Account(
            "ACME", "Acme Trading", email="buyer@acme.example", currency="GBP", pricelist_code="ACME-2026"
        ),
        create=True,
    )
    return runtime


def order(ref: str, lines: int) -> PlaceOrder:
    return PlaceOrder(
        OrderDraft(
            channel_code="WEB",
            external_reference=ref,
            customer=CustomerRef(email="Buyer@Acme.example"),
            lines=tuple(LineDraft(sku, Decimal(2), tax_rate=Decimal("0.20")) for sku in SKUS[:lines]),
        ),
        actor="test",
    )


def placed(rt: Runtime, cmd: PlaceOrder) -> list[str]:
    with recording_statements(rt.engine) as seen:
        result = place_order(rt.uow(), cmd)
    assert result.created
    assert result.order.lines[0].price_source == "contract:ACME-2026"
    return seen


def row_counts(rt: Runtime) -> tuple[int, ...]:
    with rt.engine.connect() as conn:
        return tuple(
            conn.execute(select(func.count()).select_from(tbl)).scalar_one()
            for tbl in (t.orders, t.order_lines, t.order_timeline, t.outbox, t.accounts)
        )


def test_placing_an_order_takes_a_few_statements_whatever_the_number_of_lines(shop: Runtime) -> None:
    placed(shop, order("PO-0", 1))  # the first order loads the reference data (store.refcache)
    three = placed(shop, order("PO-3", 3))
    fifty = placed(shop, order("PO-50", 50))
    assert len(three) <= 12, three
    assert len(fifty) <= 15, fifty
    assert len(fifty) == len(three), (three, fifty)


def test_a_redelivery_reads_fewer_statements_and_writes_nothing(shop: Runtime) -> None:
    first = placed(shop, order("PO-1", 3))
    before = row_counts(shop)
    with recording_statements(shop.engine) as again:
        result = place_order(shop.uow(), order("PO-1", 3))
    assert not result.created
    assert len(again) < len(first), (first, again)
    assert not [s for s in again if s.lstrip().upper().startswith(WRITES)], again
    assert row_counts(shop) == before
