"""What the fulfilment tests share: locations with stock and a dropship supplier, allocation
(helper B's ``allocate_order``) and FO creation, events through the store, and the ledger check."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from api_helpers import order_body, place
from sqlalchemy import select, update

from legato.bootstrap import Runtime
from legato.store import fulfilment as fs
from legato.store import locations, stock
from legato.store import tables as t
from legato.store.allocation import allocate_order, in_transaction
from legato.store.db import write_lock
from legato.store.inventory_tables import (
    allocations,
    fulfilment_orders,
    stock_levels,
    stock_movements,
)
from legato.store.inventory_tables import locations as location_table

ACTOR = "test"


def now() -> datetime:
    return datetime.now(UTC)


def stocked(rt: Runtime) -> None:
    """WH-LDN (priority 10) holds 10 TEA-100; WH-MAN holds 5 MUG-200; the store STORE-LDS (a
    pickup point that does not ship) holds 3 TEA-100; supplier SUP-ACME dropships POT-300."""
    for data in (
        {"code": "WH-LDN", "name": "London DC", "kind": "warehouse", "priority": 10,
         "address": {"city": "London", "country": "GB"}},
        {"code": "WH-MAN", "name": "Manchester DC", "kind": "warehouse", "priority": 5},
        {"code": "STORE-LDS", "name": "Leeds store", "kind": "store", "priority": 1, "pickup": True,
         "ships": False},
        {"code": "SUP-ACME", "name": "Acme Supplies", "kind": "supplier", "priority": 0,
         "settings": {"endpoint": "https://acme.example/orders"}},
    ):  # fmt: skip
        locations.save(rt.engine, data, create=True)
    locations.put_supplier_item(rt.engine, "SUP-ACME", "POT-300", supplier_sku="AC-POT-3")
    stock.receive(rt.engine, "WH-LDN", "TEA-100", Decimal(10), actor=ACTOR)
    stock.receive(rt.engine, "WH-MAN", "MUG-200", Decimal(5), actor=ACTOR)
    stock.receive(rt.engine, "STORE-LDS", "TEA-100", Decimal(3), actor=ACTOR)


def order(client: Any, headers: dict[str, str], *lines: tuple[str, Any], **extra: Any) -> int:
    body = order_body("WEB", *lines, **extra)
    body.setdefault(
        "shipping_address", {"name": "Ada", "line1": "1 Main St", "city": "Leeds", "country": "GB"}
    )
    return int(place(client, headers, body)["id"])


def pickup_at(rt: Runtime, order_id: int, code: str) -> None:
    """Make the order click & collect at ``code`` (the contract's ``pickup_location`` key)."""
    with write_lock(rt.engine), rt.engine.begin() as conn:
        address = conn.execute(select(t.orders.c.shipping_address).where(t.orders.c.id == order_id)).scalar()
        conn.execute(
            update(t.orders)
            .where(t.orders.c.id == order_id)
            .values(shipping_address={**(address or {}), "pickup_location": code})
        )


def allocate(rt: Runtime, order_id: int) -> list[int]:
    """Allocate the order (its channel's strategy) and group the allocations into FOs."""

    def run(conn: Any) -> list[int]:
        allocate_order(conn, order_id, at=now(), actor=ACTOR)
        return fs.create_for_order(conn, order_id, at=now(), actor=ACTOR)

    return in_transaction(rt.engine, run)


def event(rt: Runtime, fo_id: int, status: str, **kw: Any) -> fs.EventOutcome:
    kw.setdefault("source", "api")
    with write_lock(rt.engine), rt.engine.begin() as conn:
        return fs.apply_event(conn, fo_id, status, at=now(), actor=ACTOR, **kw)


def fos(rt: Runtime, order_id: int) -> list[Any]:
    F, L = fulfilment_orders, location_table
    with rt.engine.connect() as conn:
        return list(
            conn.execute(
                select(F, L.c.code.label("location"))
                .join(L, L.c.id == F.c.location_id)
                .where(F.c.order_id == order_id)
                .order_by(F.c.seq)
            )
        )


def order_row(rt: Runtime, order_id: int) -> Any:
    with rt.engine.connect() as conn:
        return conn.execute(select(t.orders).where(t.orders.c.id == order_id)).one()


def level(rt: Runtime, code: str, sku: str) -> tuple[Decimal, Decimal]:
    """(on hand, reserved) of ``sku`` at ``code``."""
    with rt.engine.connect() as conn:
        r = conn.execute(
            select(stock_levels.c.on_hand, stock_levels.c.reserved)
            .join(location_table, location_table.c.id == stock_levels.c.location_id)
            .where(location_table.c.code == code, stock_levels.c.sku == sku)
        ).one()
    return Decimal(r.on_hand), Decimal(r.reserved)


def assert_ledger_balanced(rt: Runtime) -> None:
    """Every level equals the sum of its movements, and what is reserved at each level equals
    what the allocations still hold there."""
    M, A = stock_movements, allocations
    with rt.engine.connect() as conn:
        levels = {(r.location_id, r.sku): (r.on_hand, r.reserved) for r in conn.execute(select(stock_levels))}
        # summed here as Decimals: SQLite keeps quantities as decimal text, and SUM() there is float
        sums: dict[tuple[int, str], tuple[Decimal, Decimal]] = {}
        for r in conn.execute(select(M.c.location_id, M.c.sku, M.c.on_hand_delta, M.c.reserved_delta)):
            on_hand, reserved = sums.get((r.location_id, r.sku), (Decimal(0), Decimal(0)))
            sums[(r.location_id, r.sku)] = (on_hand + r.on_hand_delta, reserved + r.reserved_delta)
        held: dict[tuple[int, str], Decimal] = {}
        for r in conn.execute(
            select(A.c.location_id, A.c.sku, A.c.quantity)
            .join(location_table, location_table.c.id == A.c.location_id)
            .where(location_table.c.kind != "supplier")
        ):
            held[(r.location_id, r.sku)] = held.get((r.location_id, r.sku), Decimal(0)) + r.quantity
    for key, (on_hand, reserved) in levels.items():
        moved = sums.get(key, (0, 0))
        assert (Decimal(on_hand), Decimal(reserved)) == (Decimal(moved[0]), Decimal(moved[1])), key
        assert 0 <= reserved <= on_hand, key
        assert Decimal(reserved) == Decimal(held.get(key, 0)), key
