"""The stock ledger in the store: every change to a stock level is one ``move``, written in the
caller's transaction under a row lock on the level, with its movement row (and FIFO layers).

Locking: ``lock_levels`` / ``lock_skus`` take ``SELECT ... FOR UPDATE`` on PostgreSQL, always
in (location_id, sku) order so two transactions never wait on each other in a cycle; on SQLite
a writing transaction already holds the database's write lock (``BEGIN IMMEDIATE``), which
serialises every writer. Callers open the transaction (``write_lock(engine)`` +
``engine.begin()``, or a unit of work) and pass its connection.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal

from sqlalchemy import Connection, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from legato.domain.inventory.ledger import ZERO, Level, apply
from legato.store.inventory_tables import locations, stock_layers, stock_levels, stock_movements

Key = tuple[int, str]  # (location_id, sku)


_LEVEL = (stock_levels.c.location_id, stock_levels.c.sku, stock_levels.c.on_hand, stock_levels.c.reserved)


def _for_update(conn: Connection) -> bool:
    return conn.dialect.name == "postgresql"


def lock_levels(conn: Connection, keys: Iterable[Key]) -> dict[Key, Level]:
    """The levels of these (location, SKU) pairs, locked for this transaction; a pair with no
    row yet is created at zero, then locked too. One statement when every row exists (the
    usual case: every ``move`` calls this)."""
    wanted = sorted(set(keys))
    if not wanted:
        return {}
    found = _select_locked(conn, wanted)
    missing = [k for k in wanted if k not in found]
    if missing:
        _create_rows(conn, missing)
        found.update(_select_locked(conn, missing))
    return found


def _select_locked(conn: Connection, keys: list[Key]) -> dict[Key, Level]:
    q = (
        select(*_LEVEL)
        .where(tuple_(stock_levels.c.location_id, stock_levels.c.sku).in_(keys))
        .order_by(stock_levels.c.location_id, stock_levels.c.sku)
    )
    if _for_update(conn):
        q = q.with_for_update()
    return {(r.location_id, r.sku): Level(r.on_hand, r.reserved) for r in conn.execute(q)}


def lock_skus(conn: Connection, skus: Iterable[str]) -> dict[Key, Level]:
    """Every existing level of these SKUs, at every location, locked for this transaction."""
    wanted = sorted(set(skus))
    if not wanted:
        return {}
    q = (
        select(*_LEVEL)
        .where(stock_levels.c.sku.in_(wanted))
        .order_by(stock_levels.c.location_id, stock_levels.c.sku)
    )
    if _for_update(conn):
        q = q.with_for_update()
    return {(r.location_id, r.sku): Level(r.on_hand, r.reserved) for r in conn.execute(q)}


def _create_rows(conn: Connection, keys: list[Key]) -> None:
    """Zero levels for these pairs; a pair another transaction created meanwhile is left as it is."""
    insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    now = datetime.now().astimezone()
    rows = [
        {"location_id": loc, "sku": sku, "on_hand": ZERO, "reserved": ZERO, "updated_at": now}
        for loc, sku in keys
    ]
    conn.execute(insert(stock_levels).values(rows).on_conflict_do_nothing())


def move(
    conn: Connection,
    *,
    location_id: int,
    sku: str,
    kind: str,
    quantity: Decimal,
    at: datetime,
    actor: str,
    order_id: int | None = None,
    fulfilment_order_id: int | None = None,
    reference: str | None = None,
    reason: str | None = None,
    unit_cost: Decimal | None = None,
    key: str | None = None,
) -> Level:
    """Apply one movement to one level and record it; returns the level after it.

    The level is read here, under its lock (callers that lock several levels first, in key order,
    already hold it), and written back as the values computed in Python: never as SQL arithmetic,
    because SQLite keeps quantities as exact decimal text and ``on_hand + 1`` there would be
    floating-point. Raises ``InsufficientStock`` (nothing written) when the movement would leave
    reserved below zero or above on hand. With ``key``, a movement already recorded under that key
    is not applied again (a re-sent receipt): the level is returned unchanged.
    """
    level = lock_levels(conn, [(location_id, sku)])[(location_id, sku)]
    if key is not None:
        seen = conn.execute(select(stock_movements.c.id).where(stock_movements.c.key == key)).first()
        if seen is not None:
            return level
    after = apply(level, kind, quantity, what=sku)
    d_on_hand, d_reserved = after.on_hand - level.on_hand, after.reserved - level.reserved
    if d_on_hand < 0:  # shipments, downward counts: the oldest layers leave first
        cost = _consume_layers(conn, location_id, sku, -d_on_hand)
        unit_cost = unit_cost if unit_cost is not None else cost
    conn.execute(
        update(stock_levels)
        .where(stock_levels.c.location_id == location_id, stock_levels.c.sku == sku)
        .values(on_hand=after.on_hand, reserved=after.reserved, updated_at=at)
    )
    inserted = conn.execute(
        stock_movements.insert().values(
            location_id=location_id,
            sku=sku,
            kind=kind,
            on_hand_delta=d_on_hand,
            reserved_delta=d_reserved,
            order_id=order_id,
            fulfilment_order_id=fulfilment_order_id,
            reference=reference,
            unit_cost=unit_cost,
            actor=actor,
            reason=reason,
            at=at,
            key=key,
        )
    ).inserted_primary_key
    movement_id = inserted[0] if inserted else None
    if d_on_hand > 0:  # receipts, returns, upward counts: a new layer, the youngest
        conn.execute(
            stock_layers.insert().values(
                location_id=location_id,
                sku=sku,
                received_at=at,
                quantity=d_on_hand,
                remaining=d_on_hand,
                unit_cost=unit_cost,
                movement_id=movement_id,
            )
        )
    return after


def _consume_layers(conn: Connection, location_id: int, sku: str, quantity: Decimal) -> Decimal | None:
    """Take ``quantity`` from the oldest layers first; returns the units' average cost (None when
    no layer that was consumed had a cost). Stock with no layer (none recorded) is consumed
    without one."""
    rows = conn.execute(
        select(stock_layers.c.id, stock_layers.c.remaining, stock_layers.c.unit_cost)
        .where(
            stock_layers.c.location_id == location_id,
            stock_layers.c.sku == sku,
            stock_layers.c.remaining > 0,
        )
        .order_by(stock_layers.c.received_at, stock_layers.c.id)
    ).all()
    left, cost, costed = quantity, ZERO, ZERO
    for r in rows:
        if left <= 0:
            break
        take = min(left, r.remaining)
        layer = update(stock_layers).where(stock_layers.c.id == r.id)
        conn.execute(layer.values(remaining=r.remaining - take))
        if r.unit_cost is not None:
            cost += take * r.unit_cost
            costed += take
        left -= take
    return (cost / costed).quantize(Decimal("0.000001")) if costed else None


def level_of(conn: Connection, location_id: int, sku: str) -> Level:
    """One level, unlocked (reads)."""
    r = conn.execute(
        select(stock_levels.c.on_hand, stock_levels.c.reserved).where(
            stock_levels.c.location_id == location_id, stock_levels.c.sku == sku
        )
    ).first()
    return Level(r.on_hand, r.reserved) if r else Level()


def available(conn: Connection, skus: Iterable[str]) -> Mapping[str, Decimal]:
    """Available to promise per SKU, in total over the active locations that ship (the stock a
    shipped order can be promised), less each location's safety stock; never below zero per
    location. A SKU with no stock record at any location is missing from the answer.

    What ``validate_before_erp``'s stock check compares an order's unheld units with."""
    wanted = sorted(set(skus))
    if not wanted:
        return {}
    rows = conn.execute(
        select(
            stock_levels.c.sku,
            stock_levels.c.on_hand,
            stock_levels.c.reserved,
            locations.c.safety_stock,
            locations.c.ships,
            locations.c.active,
        )
        .join(locations, locations.c.id == stock_levels.c.location_id)
        .where(stock_levels.c.sku.in_(wanted))
    ).all()
    out: dict[str, Decimal] = {}
    for r in rows:
        free = r.on_hand - r.reserved - r.safety_stock if (r.ships and r.active) else ZERO
        out[r.sku] = out.get(r.sku, ZERO) + max(free, ZERO)
    return out


__all__ = ["Key", "available", "level_of", "lock_levels", "lock_skus", "move"]
