"""Allocation in the store: reserve stock for an order's open lines, in one transaction, under the
stock locks; backorder what no location can supply; release reservations again.

``allocate_order`` locks every level of the order's SKUs (``lock_skus``: ``FOR UPDATE`` in
(location, SKU) order on PostgreSQL; SQLite's write lock serialises writers), computes each
location's available to promise from the locked levels by the ATP rule (on hand - reserved -
safety stock, the channel's included, floored at 0), filters the locations by the restriction
rule, runs the strategy and reserves each pick with ``move(kind="reservation")``, so a unit is
never promised twice. Callers open the transaction (``write_lock`` + ``engine.begin()``) or use
``in_transaction``, which retries one that PostgreSQL aborted for a deadlock or a serialization
failure.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, delete, insert, select, update
from sqlalchemy.exc import DBAPIError

from legato.domain.errors import Conflict, NotFound
from legato.domain.events import DomainEvent
from legato.domain.inventory.allocation import (
    ZERO,
    Candidate,
    Destination,
    Need,
    Pick,
    Site,
    atp,
    destination,
    serves,
)
from legato.domain.inventory.ledger import Level
from legato.domain.inventory.strategies import DEFAULT, check_strategy, get_strategy
from legato.domain.lifecycle import FINAL_STATUSES
from legato.store import tables as t
from legato.store.db import is_retryable, write_lock
from legato.store.inventory import Key, lock_skus, move
from legato.store.inventory_tables import allocations, backorders, locations, stock_layers, supplier_items
from legato.store.repositories import SqlOutbox

T = TypeVar("T")
DROPSHIP = "dropship"
FINAL = tuple(s.value for s in FINAL_STATUSES)


@dataclass(frozen=True)
class AllocationResult:
    allocations: list[tuple[int, int, str, Decimal]] = field(default_factory=list)  # line, location, sku, qty
    backordered: list[tuple[int, str, Decimal]] = field(default_factory=list)  # line, sku, qty
    strategy: str = ""
    note: str | None = None


@dataclass(frozen=True)
class OrderContext:
    """What allocation reads of one order."""

    id: int
    status: str
    priority: int
    channel: str
    channel_settings: Mapping[str, Any]
    shipping_address: Mapping[str, Any] | None
    tier: str | None
    created_at: datetime

    @property
    def to(self) -> Destination:
        return destination(self.shipping_address, self.channel)

    @property
    def partial_shipment(self) -> bool:
        return bool(self.channel_settings.get("partial_shipment", True))


def in_transaction(engine: Engine, fn: Callable[[Connection], T], *, attempts: int = 5) -> T:
    """Run ``fn`` in its own write transaction; on PostgreSQL, run it again (up to ``attempts``
    times, after a short jittered pause) when the database aborted it for a deadlock or a
    serialization failure. Any other error, or the last one, propagates."""
    for attempt in range(1, attempts + 1):
        try:
            with write_lock(engine), engine.begin() as conn:
                return fn(conn)
        except DBAPIError as exc:
            if attempt == attempts or not is_retryable(exc):
                raise
            time.sleep(random.uniform(0, 0.005 * 2**attempt))
    raise AssertionError("unreachable")  # pragma: no cover


# --- reads -------------------------------------------------------------------------------------


def load_order(conn: Connection, order_id: int) -> OrderContext:
    o, ch, a = t.orders, t.channels, t.accounts
    r = conn.execute(
        select(
            o.c.id, o.c.status, o.c.priority, o.c.shipping_address, o.c.created_at,
            ch.c.code.label("channel"), ch.c.settings.label("channel_settings"), a.c.tier,
        )
        .select_from(o.join(ch, ch.c.id == o.c.channel_id).outerjoin(a, a.c.id == o.c.account_id))
        .where(o.c.id == order_id)
    ).first()  # fmt: skip
    if r is None:
        raise NotFound(f"order {order_id} does not exist")
    return OrderContext(
        id=r.id,
        status=r.status,
        priority=r.priority,
        channel=r.channel,
        channel_settings=r.channel_settings or {},
        shipping_address=r.shipping_address,
        tier=r.tier,
        created_at=r.created_at,
    )


def resolve_strategy(
    ctx: OrderContext, strategy: str | None, params: Mapping[str, Any] | None
) -> tuple[str, Mapping[str, Any]]:
    """The caller's strategy, else the channel's (``settings.allocation``), else the default."""
    if strategy is None:
        conf = ctx.channel_settings.get("allocation") or {}
        strategy = conf.get("strategy") or DEFAULT
        params = conf.get("params") if params is None else params
        check_strategy(strategy, params or {}, "channel.settings.allocation.strategy",
                       "channel.settings.allocation.params")  # fmt: skip
    else:
        check_strategy(strategy, params or {}, "strategy", "params")
    return strategy, params or {}


def load_sites(conn: Connection) -> list[tuple[Site, Candidate]]:
    """Every active own location (suppliers are not stock locations), as the restriction filter and
    the strategies see it (without stock yet)."""
    rows = conn.execute(
        select(locations).where(locations.c.active.is_(True), locations.c.kind != "supplier")
    ).all()
    return [
        (
            Site(
                id=r.id, code=r.code, kind=r.kind, channels=r.channels or [], regions=r.regions or [],
                ships=r.ships, pickup=r.pickup, active=r.active, safety_stock=r.safety_stock,
                atp_rules=r.atp_rules or {},
            ),
            Candidate(r.id, r.code, r.priority, r.latitude, r.longitude),
        )
        for r in rows
    ]  # fmt: skip


def oldest_layers(conn: Connection, skus: Collection[str]) -> dict[tuple[int, str], datetime]:
    """(location, SKU) -> the receipt time of its oldest FIFO layer with units left."""
    out: dict[tuple[int, str], datetime] = {}
    rows = conn.execute(
        select(stock_layers.c.location_id, stock_layers.c.sku, stock_layers.c.received_at,
               stock_layers.c.remaining)
        .where(stock_layers.c.sku.in_(sorted(skus)))
        .order_by(stock_layers.c.received_at, stock_layers.c.id)
    )  # fmt: skip
    for r in rows:
        if Decimal(r.remaining) > 0:
            out.setdefault((r.location_id, r.sku), r.received_at)
    return out


def candidates_for(
    sites: Sequence[tuple[Site, Candidate]],
    levels: Mapping[Key, Level],
    to: Destination,
    skus: Collection[str],
    oldest: Mapping[tuple[int, str], datetime] | None = None,
) -> list[Candidate]:
    """The locations that may serve ``to``, each with its ATP per SKU from the locked levels."""
    out = []
    for site, bare in sites:
        if not serves(site, to):
            continue
        avail = {}
        for sku in skus:
            lv = levels.get((site.id, sku))
            if lv is not None:
                avail[sku] = atp(lv.on_hand, lv.reserved, site, to.channel)
        old = {sku: oldest[(site.id, sku)] for sku in skus if oldest and (site.id, sku) in oldest}
        out.append(Candidate(bare.location_id, bare.code, bare.priority, bare.latitude, bare.longitude,
                             avail, old))  # fmt: skip
    return out


def suppliers_of(conn: Connection, skus: Collection[str]) -> dict[str, int]:
    """SKU -> the supplier location that dropships it (the highest-priority active one)."""
    rows = conn.execute(
        select(supplier_items.c.sku, locations.c.id, locations.c.priority, locations.c.code)
        .join(locations, locations.c.id == supplier_items.c.location_id)
        .where(supplier_items.c.sku.in_(sorted(skus)), locations.c.active.is_(True))
        .order_by(supplier_items.c.sku, locations.c.priority.desc(), locations.c.code)
    )
    out: dict[str, int] = {}
    for r in rows:
        out.setdefault(r.sku, r.id)
    return out


def uses_fifo(strategy: str, params: Mapping[str, Any]) -> bool:
    return strategy == "fifo" or (strategy == "rule" and params.get("fallback") == "fifo")


# --- writes ------------------------------------------------------------------------------------


def reserve(
    conn: Connection,
    order_id: int,
    picks: Sequence[Pick],
    needs: Mapping[int, Need],
    levels: dict[Key, Level],
    *,
    at: datetime,
    actor: str,
) -> list[tuple[int, int, str, Decimal]]:
    """Reserve each pick (one movement each) and record its allocation; ``levels`` is updated."""
    done, rows = [], []
    for p in picks:
        sku = needs[p.line_no].sku
        key = (p.location_id, sku)
        levels[key] = move(conn, location_id=p.location_id, sku=sku, kind="reservation", quantity=p.quantity,
                           at=at, actor=actor, order_id=order_id)  # fmt: skip
        done.append((p.line_no, p.location_id, sku, p.quantity))
        rows.append(_allocation_row(order_id, p.line_no, p.location_id, sku, p.quantity, p.strategy, at))
    if rows:
        conn.execute(insert(allocations), rows)
    return done


def _allocation_row(
    order_id: int, line_no: int, location_id: int, sku: str, qty: Decimal, strategy: str, at: datetime
) -> dict[str, Any]:
    return {"order_id": order_id, "line_no": line_no, "location_id": location_id, "sku": sku,
            "quantity": qty, "shipped": ZERO, "strategy": strategy[:40], "fulfilment_order_id": None,
            "created_at": at, "updated_at": at}  # fmt: skip


def record(
    conn: Connection,
    order_id: int,
    *,
    at: datetime,
    actor: str,
    allocated: Sequence[tuple[int, int, str, Decimal]],
    backordered: Sequence[tuple[int, str, Decimal]],
    strategy: str,
    note: str | None = None,
    source: str = "allocation",
) -> None:
    """The order's timeline entries and outbox events for one allocation."""
    ids = sorted({loc for _, loc, _, _ in allocated})
    codes = {
        r.id: r.code
        for r in conn.execute(select(locations.c.id, locations.c.code).where(locations.c.id.in_(ids)))
    }
    alloc_json = [
        {"line_no": ln, "location": codes.get(loc), "location_id": loc, "sku": sku, "quantity": str(q)}
        for ln, loc, sku, q in allocated
    ]
    back_json = [{"line_no": ln, "sku": sku, "quantity": str(q)} for ln, sku, q in backordered]
    timeline, events = [], []
    if allocated:
        data = {"strategy": strategy, "source": source, "allocations": alloc_json}
        if note:
            data["note"] = note
        timeline.append({"order_id": order_id, "at": at, "actor": actor, "kind": "allocated",
                         "reason": note, "from_value": None, "to_value": None, "data": data})  # fmt: skip
        events.append(DomainEvent("order.allocated", "order", order_id,
                                  {"order_id": order_id, "strategy": strategy, "source": source,
                                   "allocations": alloc_json, "backordered": back_json}))  # fmt: skip
    if backordered:
        timeline.append({"order_id": order_id, "at": at, "actor": actor, "kind": "backordered",
                         "reason": None, "from_value": None, "to_value": None,
                         "data": {"lines": back_json}})  # fmt: skip
        events.append(DomainEvent("order.backordered", "order", order_id,
                                  {"order_id": order_id, "lines": back_json}))  # fmt: skip
    if timeline:
        conn.execute(insert(t.order_timeline), timeline)
        SqlOutbox(conn).add(events, at)


def _covered(conn: Connection, order_id: int) -> dict[int, Decimal]:
    """Units of each line already allocated (reserved, shipped or dropshipped) or backordered."""
    out: dict[int, Decimal] = {}
    for r in conn.execute(
        select(allocations.c.line_no, allocations.c.quantity, allocations.c.shipped).where(
            allocations.c.order_id == order_id
        )
    ):
        out[r.line_no] = out.get(r.line_no, ZERO) + Decimal(r.quantity) + Decimal(r.shipped)
    for b in conn.execute(
        select(backorders.c.line_no, backorders.c.quantity).where(backorders.c.order_id == order_id)
    ):
        out[b.line_no] = out.get(b.line_no, ZERO) + Decimal(b.quantity)
    return out


def _open_lines(conn: Connection, order_id: int) -> list[Need]:
    ol, p = t.order_lines, t.products
    rows = conn.execute(
        select(ol.c.line_no, ol.c.sku, ol.c.quantity, p.c.category, p.c.tags)
        .select_from(ol.outerjoin(p, p.c.sku == ol.c.sku))
        .where(ol.c.order_id == order_id, ol.c.status == "open")
        .order_by(ol.c.line_no)
    )
    return [Need(r.line_no, r.sku, Decimal(r.quantity), r.category, tuple(r.tags or ())) for r in rows]


def allocate_order(
    conn: Connection,
    order_id: int,
    *,
    at: datetime,
    actor: str,
    strategy: str | None = None,
    params: Mapping[str, Any] | None = None,
) -> AllocationResult:
    """Reserve what can be reserved for the order's open lines not yet allocated or backordered,
    dropship the supplier SKUs, backorder the rest (see the module's docstring).

    The order's row is locked first (then its SKUs' levels, the order every path takes), so two
    allocations of one order at once run one after the other: the second finds the first's rows
    and adds nothing, also for dropship lines, which lock no stock level."""
    if conn.dialect.name == "postgresql":  # SQLite: the write lock already serialises writers
        conn.execute(select(t.orders.c.id).where(t.orders.c.id == order_id).with_for_update())
    ctx = load_order(conn, order_id)
    if ctx.status in FINAL:
        raise Conflict(f"order {order_id} is {ctx.status}: nothing to allocate", status=ctx.status)
    name, conf = resolve_strategy(ctx, strategy, params)
    lines = _open_lines(conn, order_id)
    levels = lock_skus(conn, {n.sku for n in lines})
    covered = _covered(conn, order_id)  # after the locks: a concurrent call's rows are visible now
    needs = [
        Need(n.line_no, n.sku, n.quantity - covered.get(n.line_no, ZERO), n.category, n.tags)
        for n in lines
        if n.quantity - covered.get(n.line_no, ZERO) > 0
    ]
    if not needs:
        return AllocationResult(strategy=name)
    suppliers = suppliers_of(conn, {n.sku for n in needs})
    dropship = [n for n in needs if n.sku in suppliers]
    stocked = [n for n in needs if n.sku not in suppliers]
    allocated: list[tuple[int, int, str, Decimal]] = []
    if dropship:
        conn.execute(insert(allocations), [
            _allocation_row(order_id, n.line_no, suppliers[n.sku], n.sku, n.quantity, DROPSHIP, at)
            for n in dropship
        ])  # fmt: skip
        allocated += [(n.line_no, suppliers[n.sku], n.sku, n.quantity) for n in dropship]
    to = ctx.to
    picks: list[Pick] = []
    note = None
    if stocked:
        skus = {n.sku for n in stocked}
        oldest = oldest_layers(conn, skus) if uses_fifo(name, conf) else None
        cands = candidates_for(load_sites(conn), levels, to, skus, oldest)
        picks = safe(get_strategy(name).plan(stocked, cands, ctx.shipping_address, conf), stocked, cands)
        if any(">" in p.strategy for p in picks) and name == "nearest":
            note = "the ship-to address has no coordinates: allocated by location priority"
        allocated += reserve(
            conn, order_id, picks, {n.line_no: n for n in stocked}, levels, at=at, actor=actor
        )
    got: dict[int, Decimal] = {}
    for p in picks:
        got[p.line_no] = got.get(p.line_no, ZERO) + p.quantity
    backordered = [
        (n.line_no, n.sku, n.quantity - got.get(n.line_no, ZERO))
        for n in stocked
        if n.quantity - got.get(n.line_no, ZERO) > 0
    ]
    pickup_id = _pickup_location(conn, to)
    add_backorders(conn, ctx, backordered, pickup_id, at=at)
    record(conn, order_id, at=at, actor=actor, allocated=allocated, backordered=backordered, strategy=name,
           note=note)  # fmt: skip
    return AllocationResult(allocated, backordered, name, note)


def safe(picks: Sequence[Pick], needs: Sequence[Need], cands: Sequence[Candidate]) -> list[Pick]:
    """The picks, refused if a strategy broke its promise (more than needed or available)."""
    want = {n.line_no: n.quantity for n in needs}
    sku_of = {n.line_no: n.sku for n in needs}
    left = {(c.location_id, sku): q for c in cands for sku, q in c.available.items()}
    for p in picks:
        key = (p.location_id, sku_of.get(p.line_no, ""))
        over = p.line_no not in want or want[p.line_no] < p.quantity or left.get(key, ZERO) < p.quantity
        if p.quantity <= 0 or over:
            raise AssertionError(f"strategy {p.strategy!r} picked beyond what was needed or available: {p}")
        want[p.line_no] -= p.quantity
        left[key] -= p.quantity
    return list(picks)


def _pickup_location(conn: Connection, to: Destination) -> int | None:
    if to.pickup_code is None:
        return None
    return conn.execute(select(locations.c.id).where(locations.c.code == to.pickup_code)).scalar()


def add_backorders(
    conn: Connection,
    ctx: OrderContext,
    lines: Sequence[tuple[int, str, Decimal]],
    location_id: int | None,
    *,
    at: datetime,
) -> None:
    """Add units to the lines' backorders (one row per line, created when missing)."""
    if not lines:
        return
    have = {
        r.line_no: Decimal(r.quantity)
        for r in conn.execute(
            select(backorders.c.line_no, backorders.c.quantity).where(
                backorders.c.order_id == ctx.id, backorders.c.line_no.in_([ln for ln, _, _ in lines])
            )
        )
    }
    for ln, sku, q in lines:
        if ln in have:
            conn.execute(
                update(backorders)
                .where(backorders.c.order_id == ctx.id, backorders.c.line_no == ln)
                .values(quantity=have[ln] + q)
            )
        else:
            conn.execute(insert(backorders).values(
                order_id=ctx.id, line_no=ln, sku=sku, quantity=q, location_id=location_id,
                priority=ctx.priority, tier=ctx.tier, created_at=ctx.created_at,
            ))  # fmt: skip


def release_order(
    conn: Connection,
    order_id: int,
    *,
    at: datetime,
    actor: str,
    line_nos: Collection[int] | None = None,
    reason: str | None = None,
) -> Decimal:
    """Give back every unit still reserved for the order (or those lines) at its own locations,
    set those allocations to 0 and delete the lines' backorders; returns the units released."""
    q = (
        select(allocations.c.id, allocations.c.line_no, allocations.c.location_id, allocations.c.sku,
               allocations.c.quantity)
        .join(locations, locations.c.id == allocations.c.location_id)
        .where(allocations.c.order_id == order_id, allocations.c.strategy != DROPSHIP,
               locations.c.kind != "supplier")
        .order_by(allocations.c.id)
    )  # fmt: skip
    if line_nos is not None:
        q = q.where(allocations.c.line_no.in_(sorted(line_nos)))
    rows = [r for r in conn.execute(q) if Decimal(r.quantity) > 0]
    levels = lock_skus(conn, {r.sku for r in rows})
    total, released = ZERO, []
    for r in rows:
        key = (r.location_id, r.sku)
        qty = Decimal(r.quantity)
        levels[key] = move(conn, location_id=r.location_id, sku=r.sku, kind="release", quantity=qty, at=at,
                           actor=actor, order_id=order_id, reason=reason)  # fmt: skip
        conn.execute(update(allocations).where(allocations.c.id == r.id).values(quantity=ZERO, updated_at=at))
        total += qty
        released.append(
            {"line_no": r.line_no, "location_id": r.location_id, "sku": r.sku, "quantity": str(qty)}
        )
    gone = delete(backorders).where(backorders.c.order_id == order_id)
    if line_nos is not None:
        gone = gone.where(backorders.c.line_no.in_(sorted(line_nos)))
    dropped = conn.execute(gone).rowcount
    if released or dropped:
        conn.execute(insert(t.order_timeline).values(
            order_id=order_id, at=at, actor=actor, kind="released", reason=reason, from_value=None,
            to_value=None, data={"released": released, "backorders_dropped": dropped},
        ))  # fmt: skip
    return total


def allocations_of(conn: Connection, order_ids: Collection[int]) -> list[Any]:
    """Allocation rows of these orders (reads)."""
    return list(
        conn.execute(
            select(allocations, locations.c.code.label("location"))
            .join(locations, locations.c.id == allocations.c.location_id)
            .where(allocations.c.order_id.in_(sorted(order_ids)))
            .order_by(allocations.c.order_id, allocations.c.line_no, allocations.c.id)
        )
    )


def order_supply(conn: Connection, order_id: int) -> dict[str, Any]:
    """The order's allocations and backorders as they stand, as JSON-ready dicts."""
    allocs = [
        {"line_no": a.line_no, "location": a.location, "sku": a.sku, "quantity": a.quantity,
         "shipped": a.shipped, "strategy": a.strategy, "fulfilment_order_id": a.fulfilment_order_id}
        for a in allocations_of(conn, [order_id])
    ]  # fmt: skip
    back = [
        {"line_no": b.line_no, "sku": b.sku, "quantity": b.quantity}
        for b in conn.execute(
            select(backorders).where(backorders.c.order_id == order_id).order_by(backorders.c.line_no)
        )
    ]
    return {"allocations": allocs, "backorders": back}


__all__ = [
    "DROPSHIP",
    "FINAL",
    "AllocationResult",
    "OrderContext",
    "add_backorders",
    "allocate_order",
    "allocations_of",
    "candidates_for",
    "in_transaction",
    "is_retryable",
    "load_order",
    "load_sites",
    "oldest_layers",
    "order_supply",
    "record",
    "release_order",
    "reserve",
    "resolve_strategy",
    "safe",
    "suppliers_of",
    "uses_fifo",
]
