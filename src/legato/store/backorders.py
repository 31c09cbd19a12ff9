"""Backorders: units of order lines waiting for stock, filled as stock arrives.

``fill`` runs in the transaction that added the stock (a receipt, an upward count, a return): it
locks the SKUs' levels, takes the waiting backorders in the configured sequence (by default the
order's priority, then the account's tier, then age; ``LEGATO_BACKORDER_SEQUENCE`` and
``LEGATO_TIER_RANK``), allocates each by its channel's strategy from what is available now, and
creates the fulfilment orders of every order that received stock. A channel with
``"partial_shipment": false`` has a backorder filled whole or not at all.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, delete, select, update

from legato.config import get_settings
from legato.domain.inventory.allocation import ZERO, Need
from legato.domain.inventory.strategies import get_strategy
from legato.store import tables as t
from legato.store.allocation import (
    FINAL,
    OrderContext,
    candidates_for,
    load_order,
    load_sites,
    oldest_layers,
    record,
    reserve,
    resolve_strategy,
    safe,
    uses_fifo,
)
from legato.store.inventory import lock_skus
from legato.store.inventory_tables import backorders


@dataclass(frozen=True)
class Waiting:
    """One backorder as the fill sequence sees it."""

    order_id: int
    line_no: int
    sku: str
    quantity: Decimal
    location_id: int | None
    priority: int
    tier: str | None
    created_at: datetime


def sequence_key(sequence: Sequence[str], tier_rank: Sequence[str]) -> Any:  # a sort key over Waiting
    """Sort key of the fill sequence: ``priority`` (higher first), ``tier`` (its place in
    ``tier_rank``, unranked and none last), ``age`` (older first); then order id and line."""
    rank = {tier: i for i, tier in enumerate(tier_rank)}

    def key(w: Waiting) -> tuple[Any, ...]:
        parts: list[Any] = []
        for part in sequence:
            if part == "priority":
                parts.append(-w.priority)
            elif part == "tier":
                parts.append(rank.get(w.tier or "", len(rank)))
            elif part == "age":
                parts.append(w.created_at)
        return (*parts, w.order_id, w.line_no)

    return key


def waiting(
    conn: Connection,
    skus: Iterable[str] | None = None,
    *,
    sequence: Sequence[str] | None = None,
    tier_rank: Sequence[str] | None = None,
) -> list[Waiting]:
    """The backorders of these SKUs (all when None) of orders still open, in fill sequence."""
    settings = get_settings()
    b, o = backorders, t.orders
    q = (
        select(b.c.order_id, b.c.line_no, b.c.sku, b.c.quantity, b.c.location_id, b.c.priority, b.c.tier,
               b.c.created_at)
        .join(o, o.c.id == b.c.order_id)
        .where(o.c.status.not_in(FINAL))
    )  # fmt: skip
    if skus is not None:
        q = q.where(b.c.sku.in_(sorted(set(skus))))
    rows = [Waiting(*r) for r in conn.execute(q)]
    rows = [w for w in rows if Decimal(w.quantity) > 0]
    rows.sort(key=sequence_key(sequence or settings.backorder_sequence, tier_rank or settings.tier_rank))
    return rows


def fill(
    conn: Connection,
    *,
    skus: Iterable[str],
    at: datetime,
    actor: str,
    sequence: Sequence[str] | None = None,
    tier_rank: Sequence[str] | None = None,
) -> list[int]:
    """Allocate the waiting backorders of these SKUs from the stock available now, in sequence;
    create the fulfilment orders of the orders that received stock; returns their ids."""
    wanted = sorted(set(skus))
    if not wanted:
        return []
    levels = lock_skus(conn, wanted)
    queue = waiting(conn, wanted, sequence=sequence, tier_rank=tier_rank)
    if not queue:
        return []
    sites = load_sites(conn)
    orders: dict[int, OrderContext] = {}
    filled: dict[int, list[tuple[int, int, str, Decimal]]] = {}
    strategies: dict[int, str] = {}
    oldest = None
    for w in queue:
        if w.order_id not in orders:
            orders[w.order_id] = load_order(conn, w.order_id)
        ctx = orders[w.order_id]
        name, conf = resolve_strategy(ctx, None, None)
        if oldest is None and uses_fifo(name, conf):
            oldest = oldest_layers(conn, wanted)
        need = Need(w.line_no, w.sku, Decimal(w.quantity), *_product(conn, w.sku))
        cands = candidates_for(sites, levels, ctx.to, {w.sku}, oldest)
        if w.location_id is not None:  # click & collect: only the pickup point
            cands = [c for c in cands if c.location_id == w.location_id]
        picks = safe(get_strategy(name).plan([need], cands, ctx.shipping_address, conf), [need], cands)
        got = sum((p.quantity for p in picks), ZERO)
        if got <= 0 or (got < need.quantity and not ctx.partial_shipment):
            continue
        done = reserve(conn, w.order_id, picks, {w.line_no: need}, levels, at=at, actor=actor)
        filled.setdefault(w.order_id, []).extend(done)
        strategies[w.order_id] = name
        key = (backorders.c.order_id == w.order_id) & (backorders.c.line_no == w.line_no)
        if got >= need.quantity:
            conn.execute(delete(backorders).where(key))
        else:
            conn.execute(update(backorders).where(key).values(quantity=need.quantity - got))
    for order_id, done in filled.items():
        record(conn, order_id, at=at, actor=actor, allocated=done, backordered=[],
               strategy=strategies[order_id], source="backorder")  # fmt: skip
    if filled:
        from legato.store.fulfilment import create_for_order  # helper C's; imported late (it imports us)

        for order_id in filled:
            create_for_order(conn, order_id, at=at, actor=actor)
    return list(filled)


def _product(conn: Connection, sku: str) -> tuple[str | None, tuple[str, ...]]:
    r = conn.execute(select(t.products.c.category, t.products.c.tags).where(t.products.c.sku == sku)).first()
    return (r.category, tuple(r.tags or ())) if r else (None, ())


__all__ = ["Waiting", "fill", "sequence_key", "waiting"]
