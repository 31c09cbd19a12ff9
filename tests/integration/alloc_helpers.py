"""Helpers for the allocation tests: channels, locations, stock, accounts and orders written
straight into the tables (stock through ``store.inventory.move``, kind receipt), and reads of
what allocation left behind."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Engine, insert, select

from legato.store import tables as t
from legato.store.db import write_lock
from legato.store.inventory import move
from legato.store.inventory_tables import allocations, backorders, locations, stock_levels, stock_movements

NOW = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
D = Decimal


def channel(conn: Connection, code: str = "WEB", settings: Mapping[str, Any] | None = None) -> int:
    return int(conn.execute(insert(t.channels).values(
        code=code, name=code, type="ecommerce", adapter="rest", currency="EUR", settings=dict(settings or {}),
        active=True, created_at=NOW, updated_at=NOW,
    ).returning(t.channels.c.id)).scalar_one())  # fmt: skip


def location(conn: Connection, code: str, priority: int = 0, **kw: Any) -> int:
    row: dict[str, Any] = {
           "code": code, "name": code, "kind": "warehouse", "address": {"country": "GB"}, "latitude": None,
           "longitude": None, "priority": priority, "channels": [], "regions": [], "ships": True,
           "pickup": False, "safety_stock": D(0), "atp_rules": {}, "settings": {}, "active": True,
           "created_at": NOW, "updated_at": NOW}  # fmt: skip
    row.update(kw)
    return int(conn.execute(insert(locations).values(**row).returning(locations.c.id)).scalar_one())


def product(conn: Connection, sku: str, category: str | None = None, tags: Sequence[str] = ()) -> None:
    conn.execute(insert(t.products).values(
        sku=sku, name=sku, category=category, tags=list(tags), prices={"EUR": "10.00"}, active=True,
        created_at=NOW, updated_at=NOW,
    ))  # fmt: skip


def receive(conn: Connection, location_id: int, sku: str, qty: Any, at: datetime = NOW) -> None:
    move(conn, location_id=location_id, sku=sku, kind="receipt", quantity=D(qty), at=at, actor="test")


def account(conn: Connection, code: str, tier: str | None) -> int:
    return int(conn.execute(insert(t.accounts).values(
        code=code, name=code, properties={}, tier=tier, created_at=NOW, updated_at=NOW,
    ).returning(t.accounts.c.id)).scalar_one())  # fmt: skip


def order(
    conn: Connection,
    channel_id: int,
    lines: Iterable[tuple[str, Any]],
    *,
    priority: int = 0,
    shipping_address: Mapping[str, Any] | None = None,
    account_id: int | None = None,
    created_at: datetime = NOW,
    status: str = "created",
) -> int:
    zero = D(0)
    oid = int(conn.execute(insert(t.orders).values(
        external_ref=None, channel_id=channel_id, account_id=account_id, customer_name="C",
        customer_email=None, customer_phone=None, customer={}, currency="EUR", billing_address=None,
        shipping_address=dict(shipping_address) if shipping_address is not None else {"country": "GB"},
        shipping=zero, shipping_tax_rate=zero, subtotal=zero, discount_total=zero, tax_total=zero,
        grand_total=zero, notes=None, status=status, held_from=None, payment_status="unpaid",
        fulfilment_status="unfulfilled", invoice_status="not_invoiced", priority=priority, tags=[],
        quote_id=None, inbox_id=None, created_at=created_at, updated_at=created_at,
    ).returning(t.orders.c.id)).scalar_one())  # fmt: skip
    rows = [
        {"order_id": oid, "line_no": i, "sku": sku, "name": sku, "quantity": D(q), "unit_price": D(10),
         "price_source": "test", "discount": zero, "tax_rate": zero, "amount": D(10) * D(q), "tax": zero,
         "total": D(10) * D(q), "status": "open"}
        for i, (sku, q) in enumerate(lines, start=1)
    ]  # fmt: skip
    conn.execute(insert(t.order_lines), rows)
    return oid


def writing(engine: Engine) -> Any:
    """A write transaction as the store takes it."""

    class _Tx:
        def __enter__(self) -> Connection:
            self.lock = write_lock(engine)
            self.lock.__enter__()
            self.cm = engine.begin()
            return self.cm.__enter__()

        def __exit__(self, *exc: Any) -> None:
            try:
                self.cm.__exit__(*exc)
            finally:
                self.lock.__exit__(*exc)

    return _Tx()


def level(conn: Connection, location_id: int, sku: str) -> tuple[Decimal, Decimal]:
    r = conn.execute(
        select(stock_levels.c.on_hand, stock_levels.c.reserved).where(
            stock_levels.c.location_id == location_id, stock_levels.c.sku == sku
        )
    ).one()
    return D(r.on_hand), D(r.reserved)


def ledger_sums(conn: Connection) -> dict[tuple[int, str], tuple[Decimal, Decimal]]:
    out: dict[tuple[int, str], tuple[Decimal, Decimal]] = {}
    for r in conn.execute(select(stock_movements)):
        oh, rs = out.get((r.location_id, r.sku), (D(0), D(0)))
        out[(r.location_id, r.sku)] = (oh + D(r.on_hand_delta), rs + D(r.reserved_delta))
    return out


def levels(conn: Connection) -> dict[tuple[int, str], tuple[Decimal, Decimal]]:
    return {(r.location_id, r.sku): (D(r.on_hand), D(r.reserved)) for r in conn.execute(select(stock_levels))}


def balanced(conn: Connection) -> bool:
    """Every stock level equals the sums of its movements, and none is negative."""
    sums = ledger_sums(conn)
    lv = levels(conn)
    zero = (D(0), D(0))
    return all(sums.get(k, zero) == v and D(0) <= v[1] <= v[0] for k, v in lv.items()) and set(sums) <= set(
        lv
    )


def allocs(conn: Connection, order_id: int) -> list[tuple[int, int, str, Decimal, str]]:
    """(line, location, sku, quantity, strategy) of the order's allocations."""
    rows = conn.execute(
        select(allocations).where(allocations.c.order_id == order_id).order_by(allocations.c.id)
    )
    return [(r.line_no, r.location_id, r.sku, D(r.quantity), r.strategy) for r in rows]


def waiting(conn: Connection, order_id: int) -> dict[int, Decimal]:
    rows = conn.execute(select(backorders).where(backorders.c.order_id == order_id))
    return {r.line_no: D(r.quantity) for r in rows}


def later(minutes: int) -> datetime:
    return NOW + timedelta(minutes=minutes)
