"""Stock operations: receipts, adjustments (counts, damage) and returns at a location, and the reads
behind them (levels, the movement ledger).

Each operation is one transaction: the level is locked, the movement written through
``inventory.move`` (level, ledger row, FIFO layer), waiting backorders of the SKU are filled from
the new stock (``backorders.fill``), and a ``stock.received`` event goes to the outbox. With a
``key`` (the API's Idempotency-Key, a CSV's reference and row) an operation applies once: the same
key again answers the level as it is, ``replayed``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Engine, select

from legato.domain.errors import FieldIssue, UnknownProduct, ValidationFailed
from legato.domain.events import DomainEvent
from legato.domain.inventory.ledger import ZERO, Level, deltas
from legato.store import backorders, inventory
from legato.store import tables as t
from legato.store.allocation import in_transaction
from legato.store.db import write_lock
from legato.store.inventory_tables import locations, stock_levels, stock_movements
from legato.store.queries import decode_cursor, encode_cursor, reading
from legato.store.repositories import SqlOutbox

#: movements that bring stock in, and so may fill backorders (an upward adjustment does too)
_INBOUND = ("receipt", "return")


@dataclass(frozen=True)
class StockChange:
    """What one operation did: the level after it, and the orders whose backorders it filled."""

    location: str
    location_id: int
    sku: str
    kind: str
    quantity: Decimal
    on_hand: Decimal
    reserved: Decimal
    replayed: bool = False
    filled_orders: list[int] = field(default_factory=list)

    @property
    def available(self) -> Decimal:
        return self.on_hand - self.reserved


@contextmanager
def transaction(target: Engine | Connection) -> Iterator[Connection]:
    """The caller's transaction (a Connection), or a new writing one (an Engine)."""
    if isinstance(target, Connection):
        yield target
        return
    with write_lock(target), target.begin() as conn:
        yield conn


def movement_key(source: str, key: str | None) -> str | None:
    """A ledger idempotency key from a client's key, within the column's 200 characters."""
    if key is None:
        return None
    whole = f"{source}:{key}"
    return whole if len(whole) <= 200 else f"{source}:sha256:{hashlib.sha256(key.encode()).hexdigest()}"


def stock_location(conn: Connection, code: str, path: str = "location") -> tuple[int, str]:
    """(id, code) of a location that keeps stock; a bad code is a field error at ``path``."""
    r = conn.execute(select(locations.c.id, locations.c.kind).where(locations.c.code == code)).first()
    if r is None:
        msg = f"no location {code!r}"
        raise ValidationFailed(msg, issues=[FieldIssue(path, msg, "unknown_location", code)])
    if r.kind == "supplier":
        msg = f"{code!r} is a dropship supplier: it keeps no stock here"
        raise ValidationFailed(msg, issues=[FieldIssue(path, msg, "not_a_stock_location", code)])
    return r.id, code


def known_skus(conn: Connection, skus: list[str]) -> set[str]:
    if not skus:
        return set()
    return set(
        conn.execute(select(t.products.c.sku).where(t.products.c.sku.in_(sorted(set(skus))))).scalars()
    )


def _check_sku(conn: Connection, sku: str, path: str = "sku") -> None:
    if sku not in known_skus(conn, [sku]):
        msg = f"no product {sku!r} in the catalogue"
        raise UnknownProduct(msg, issues=[FieldIssue(path, msg, "unknown_sku", sku)])


def _check_cost(unit_cost: Decimal | None, path: str = "unit_cost") -> None:
    if unit_cost is not None and (not unit_cost.is_finite() or unit_cost < 0):
        msg = "the unit cost must be 0 or more"
        raise ValidationFailed(msg, issues=[FieldIssue(path, msg, "out_of_range", str(unit_cost))])


def _lock(conn: Connection, location_id: int, sku: str) -> Level:
    # every level of the SKU first, in (location, sku) order, as allocation and backorder filling
    # lock them: taking this one alone first could wait in a cycle with them on PostgreSQL
    levels = inventory.lock_skus(conn, [sku])
    if (location_id, sku) not in levels:
        levels.update(inventory.lock_levels(conn, [(location_id, sku)]))
    return levels[(location_id, sku)]


def _already(conn: Connection, key: str | None) -> bool:
    if key is None:
        return False
    return conn.execute(select(stock_movements.c.id).where(stock_movements.c.key == key)).first() is not None


def change(
    target: Engine | Connection,
    location: str,
    sku: str,
    kind: str,
    quantity: Decimal,
    *,
    actor: str,
    at: datetime | None = None,
    unit_cost: Decimal | None = None,
    reference: str | None = None,
    reason: str | None = None,
    key: str | None = None,
) -> StockChange:
    """One inbound or counted movement (receipt, adjustment, return) at a stock location."""
    if kind not in ("receipt", "adjustment", "return"):
        raise ValueError(f"not a stock operation: {kind}")
    at = at or datetime.now(UTC)
    deltas(kind, quantity)  # a bad quantity is refused before anything is locked
    _check_cost(unit_cost)

    def run(conn: Connection) -> StockChange:
        location_id, code = stock_location(conn, location)
        _check_sku(conn, sku)
        level = _lock(conn, location_id, sku)
        if _already(conn, key):
            return StockChange(code, location_id, sku, kind, quantity, level.on_hand, level.reserved, True)
        after = inventory.move(
            conn,
            location_id=location_id,
            sku=sku,
            kind=kind,
            quantity=quantity,
            at=at,
            actor=actor,
            reference=reference,
            reason=reason,
            unit_cost=unit_cost,
            key=key,
        )
        filled: list[int] = []
        if quantity > 0:  # new stock: waiting orders first
            filled = backorders.fill(conn, skus=[sku], at=at, actor=actor)
            after = inventory.level_of(conn, location_id, sku)
        if kind in _INBOUND:
            payload: dict[str, Any] = {
                "kind": kind,
                "location": code,
                "location_id": location_id,
                "sku": sku,
                "quantity": str(quantity),
                "unit_cost": None if unit_cost is None else str(unit_cost),
                "reference": reference,
                "on_hand": str(after.on_hand),
                "filled_orders": filled,
            }
            SqlOutbox(conn).add([DomainEvent("stock.received", "stock", location_id, payload)], at)
        return StockChange(
            code, location_id, sku, kind, quantity, after.on_hand, after.reserved, False, filled
        )

    if isinstance(target, Connection):
        return run(target)
    return in_transaction(target, run)  # PostgreSQL: again after a deadlock


def receive(
    target: Engine | Connection,
    location: str,
    sku: str,
    quantity: Decimal,
    unit_cost: Decimal | None = None,
    reference: str | None = None,
    key: str | None = None,
    *,
    actor: str = "system",
    at: datetime | None = None,
) -> StockChange:
    """Goods in: ``quantity`` units of ``sku`` at ``location`` (a new FIFO layer at ``unit_cost``)."""
    return change(
        target, location, sku, "receipt", quantity,
        actor=actor, at=at, unit_cost=unit_cost, reference=reference, key=key,
    )  # fmt: skip


def adjust(
    target: Engine | Connection,
    location: str,
    sku: str,
    quantity: Decimal,
    reason: str,
    *,
    reference: str | None = None,
    unit_cost: Decimal | None = None,
    key: str | None = None,
    actor: str = "system",
    at: datetime | None = None,
) -> StockChange:
    """A signed correction (a count, damage, shrinkage): on hand moves by ``quantity``; a
    downward one cannot take on hand below what is reserved."""
    if not reason or not reason.strip():
        msg = "say why the stock is adjusted (a count, damage ...)"
        raise ValidationFailed(msg, issues=[FieldIssue("reason", msg, "required")])
    return change(
        target, location, sku, "adjustment", quantity,
        actor=actor, at=at, unit_cost=unit_cost, reference=reference, reason=reason, key=key,
    )  # fmt: skip


def return_stock(
    target: Engine | Connection,
    location: str,
    sku: str,
    quantity: Decimal,
    *,
    reference: str | None = None,
    reason: str | None = None,
    unit_cost: Decimal | None = None,
    key: str | None = None,
    actor: str = "system",
    at: datetime | None = None,
) -> StockChange:
    """Units come back to stock (a return received at ``location``)."""
    return change(
        target, location, sku, "return", quantity,
        actor=actor, at=at, unit_cost=unit_cost, reference=reference, reason=reason, key=key,
    )  # fmt: skip


def set_count(
    conn: Connection,
    location: str,
    sku: str,
    counted: Decimal,
    *,
    reference: str | None = None,
    unit_cost: Decimal | None = None,
    key: str | None = None,
    actor: str = "system",
    at: datetime | None = None,
) -> StockChange | None:
    """A stock count: adjust on hand to ``counted`` (None when it already is)."""
    location_id, _ = stock_location(conn, location)
    now = inventory.level_of(conn, location_id, sku).on_hand
    if counted == now:
        return None
    return adjust(
        conn, location, sku, counted - now, f"count: {now} -> {counted}",
        reference=reference, unit_cost=unit_cost, key=key, actor=actor, at=at,
    )  # fmt: skip


# --- reads ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class LevelRow:
    location: str
    location_id: int
    sku: str
    on_hand: Decimal
    reserved: Decimal
    updated_at: datetime

    @property
    def available(self) -> Decimal:
        return self.on_hand - self.reserved


def levels(
    engine: Engine, *, sku: str | None = None, location: str | None = None, limit: int = 500
) -> list[LevelRow]:
    """Stock levels, by location then SKU, filtered by SKU and/or location code."""
    q = (
        select(stock_levels, locations.c.code)
        .join(locations, locations.c.id == stock_levels.c.location_id)
        .order_by(stock_levels.c.location_id, stock_levels.c.sku)
        .limit(limit)
    )
    if sku:
        q = q.where(stock_levels.c.sku == sku)
    if location:
        q = q.where(locations.c.code == location)
    with reading(engine) as conn:
        rows = conn.execute(q).all()
    return [LevelRow(r.code, r.location_id, r.sku, r.on_hand, r.reserved, r.updated_at) for r in rows]


def movements(
    engine: Engine,
    *,
    sku: str | None = None,
    location: str | None = None,
    limit: int = 100,
    cursor: str | None = None,
) -> tuple[list[dict[str, Any]], str | None]:
    """The ledger, newest first, keyset paged on the movement id."""
    q = (
        select(stock_movements, locations.c.code.label("location"))
        .join(locations, locations.c.id == stock_movements.c.location_id)
        .order_by(stock_movements.c.id.desc())
        .limit(limit + 1)
    )
    if sku:
        q = q.where(stock_movements.c.sku == sku)
    if location:
        q = q.where(locations.c.code == location)
    if cursor:
        q = q.where(stock_movements.c.id < decode_cursor(cursor))
    with reading(engine) as conn:
        rows = conn.execute(q).all()
    more = len(rows) > limit
    rows = rows[:limit]
    return [dict(r._mapping) for r in rows], encode_cursor(rows[-1].id) if more and rows else None


__all__ = [
    "ZERO",
    "LevelRow",
    "StockChange",
    "adjust",
    "change",
    "known_skus",
    "levels",
    "movement_key",
    "movements",
    "receive",
    "return_stock",
    "set_count",
    "stock_location",
    "transaction",
]
