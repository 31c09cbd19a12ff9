"""Fulfilment orders in the store: created from an order's allocations, moved by the warehouse's
or supplier's events, held, released and cancelled, and rolled up to the sales order.

Everything runs in the caller's transaction (``with write_lock(engine), engine.begin() as
conn``). Locks, always in this order so two transactions never wait on each other in a cycle:
the order's row, then its FO rows, then stock levels (``inventory.move``). On a dispatch (or a
pickup's collection) the FO's reserved units leave through ``move(kind="shipment")``; a dropship
FO moves no stock of ours. A cancelled FO gives its reservations back (``move(kind="release")``).

The order's fulfilment track and lifecycle follow its FOs (``domain.inventory.fulfilment.rollup``):
``created`` becomes ``processing`` when the first FO is released (or goes further), and the order
completes by itself when every FO has closed and nothing waits.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, func, insert, or_, select, update

from legato.domain.errors import IllegalTransition, NotFound
from legato.domain.events import DomainEvent
from legato.domain.inventory.fulfilment import (
    FoKind,
    FoStatus,
    check,
    fo_number,
    rollup,
)
from legato.domain.lifecycle import FulfilmentStatus, OrderStatus
from legato.domain.order import ORDER_PREFIX, SalesOrder, format_number
from legato.store import tables as t
from legato.store.fulfilment_payload import payload, payloads
from legato.store.inventory import move
from legato.store.inventory_tables import (
    allocations,
    backorders,
    fulfilment_events,
    fulfilment_lines,
    fulfilment_orders,
    locations,
)
from legato.store.repositories import SqlOrders, SqlOutbox

ZERO = Decimal(0)
_A, _B, _F, _FL, _FE, _L = (
    allocations,
    backorders,
    fulfilment_orders,
    fulfilment_lines,
    fulfilment_events,
    locations,
)
#: the order's track values the FOs may move; a returned order's track is the returns' business
_FULFILMENT_TRACK = frozenset(
    {FulfilmentStatus.UNFULFILLED, FulfilmentStatus.PARTIALLY_FULFILLED, FulfilmentStatus.FULFILLED}
)


def _locked(conn: Connection, query: Any) -> Any:
    return query.with_for_update() if conn.dialect.name == "postgresql" else query


def _order_number(order_id: int) -> str:
    return format_number(ORDER_PREFIX, order_id)


# --- creation ------------------------------------------------------------------------------------


def create_for_order(conn: Connection, order_id: int, *, at: datetime, actor: str) -> list[int]:
    """Group the order's allocations that are in no FO yet into fulfilment orders, one per
    location (a supplier's = one dropship FO; a click & collect order's = a pickup FO), link the
    allocations, emit ``fulfilment.created`` for each; returns the new FO ids ([] when nothing
    is left to group). The order's row is locked first, so two at once never split the same
    allocations twice (nor take the same leg number)."""
    order = conn.execute(
        _locked(
            conn,
            select(t.orders.c.channel_id, t.orders.c.priority, t.orders.c.shipping_address).where(
                t.orders.c.id == order_id
            ),
        )
    ).first()
    if order is None:
        raise NotFound(f"no order {order_id}")
    rows = conn.execute(
        select(_A, _L.c.kind.label("location_kind"), _L.c.name.label("location_name"),
               t.order_lines.c.quantity.label("line_quantity"))
        .join(_L, _L.c.id == _A.c.location_id)
        .outerjoin(t.order_lines, (t.order_lines.c.order_id == _A.c.order_id)
                   & (t.order_lines.c.line_no == _A.c.line_no))
        .where(_A.c.order_id == order_id, _A.c.fulfilment_order_id.is_(None),
               or_(_A.c.quantity > 0, _A.c.strategy == "dropship"))
        .order_by(_A.c.location_id, _A.c.line_no, _A.c.id)
    ).all()  # fmt: skip
    groups: dict[int, list[Any]] = {}
    for r in rows:
        if _units(r) > 0:
            groups.setdefault(r.location_id, []).append(r)
    if not groups:
        return []
    address = dict(order.shipping_address or {})
    pickup = bool(address.get("pickup_location"))
    seq = conn.execute(
        select(func.coalesce(func.max(_F.c.seq), 0)).where(_F.c.order_id == order_id)
    ).scalar_one()
    created: list[int] = []
    for location_id, allocs in groups.items():
        supplier = allocs[0].location_kind == "supplier"
        kind = FoKind.DROPSHIP if supplier else FoKind.PICKUP if pickup else FoKind.SHIP
        seq += 1
        fo_id = conn.execute(
            insert(_F)
            .values(order_id=order_id, seq=seq, location_id=location_id, kind=kind.value,
                    status=FoStatus.CREATED.value, held_from=None, priority=order.priority,
                    channel_id=order.channel_id, vendor=allocs[0].location_name if supplier else None,
                    shipping_address=address or None, external_ref=None, tracking=[], reason=None,
                    created_at=at, updated_at=at)
            .returning(_F.c.id)
        ).scalar_one()  # fmt: skip
        conn.execute(
            insert(_FL),
            [
                {"fulfilment_order_id": fo_id, "line_no": n, "order_line_no": a.line_no,
                 "allocation_id": a.id, "sku": a.sku, "quantity": _units(a), "shipped": ZERO}
                for n, a in enumerate(allocs, start=1)
            ],
        )  # fmt: skip
        conn.execute(
            update(_A)
            .where(_A.c.id.in_([a.id for a in allocs]))
            .values(fulfilment_order_id=fo_id, updated_at=at)
        )
        created.append(fo_id)
    docs = payloads(conn, created)
    events, entries = [], []
    for fo_id in created:
        doc = docs[fo_id]
        events.append(
            DomainEvent(
                "fulfilment.created", "order", order_id, {**_ref(order_id, doc), "fulfilment_order": doc}
            )
        )
        entries.append(_entry(order_id, at, actor, None, None, FoStatus.CREATED.value, doc))
    SqlOutbox(conn).add(events, at)
    conn.execute(insert(t.order_timeline), entries)
    return created


def _units(a: Any) -> Decimal:
    """An allocation's units for its FO: what is reserved; for a dropship allocation (nothing
    reserved) what it names, or else what is left of its line."""
    if a.quantity > 0:
        return Decimal(a.quantity)
    if a.strategy == "dropship" and a.line_quantity is not None:
        return max(Decimal(a.line_quantity) - Decimal(a.shipped), ZERO)
    return ZERO


def _ref(order_id: int, doc: Mapping[str, Any]) -> dict[str, Any]:
    return {"order_id": order_id, "number": doc["order_number"], "channel": doc["channel"]}


def _entry(
    order_id: int,
    at: datetime,
    actor: str,
    reason: str | None,
    before: str | None,
    after: str,
    doc: Mapping[str, Any],
) -> dict[str, Any]:
    """The order's timeline entry for one move of one of its legs."""
    data = {"fulfilment_order": doc["number"], "fulfilment_order_id": doc["id"], "location": doc["location"],
            "kind": doc["kind"]}  # fmt: skip
    return {"order_id": order_id, "at": at, "actor": actor, "kind": "fulfilment", "reason": reason,
            "from_value": before, "to_value": after, "data": data}  # fmt: skip


# --- events ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EventOutcome:
    fulfilment_order_id: int
    number: str
    from_status: str
    status: str
    applied: bool  # False: the same event (by key) was seen before, or the FO already was there
    duplicate: bool = False  # the sender's event id was applied before


def apply_event(
    conn: Connection,
    fo_id: int,
    status: str | FoStatus,
    *,
    at: datetime,
    actor: str,
    source: str,
    key: str | None = None,
    reason: str | None = None,
    tracking: Iterable[Mapping[str, Any]] | None = None,
    external_ref: str | None = None,
) -> EventOutcome:
    """Move one FO as the warehouse, supplier or a user says; once per ``key`` (the sender's
    event id). Ships (or releases) its stock, records the event, emits
    ``fulfilment.status_changed`` and rolls the FOs up to the order."""
    target = FoStatus(status)
    head = conn.execute(select(_F.c.order_id).where(_F.c.id == fo_id)).first()
    if head is None:
        raise NotFound(f"no fulfilment order {fo_id}")
    order = SqlOrders(conn).get(head.order_id, for_update=True)  # the order's lock first
    assert order is not None
    outcome = _move(conn, fo_id, target, at=at, actor=actor, source=source, key=key, reason=reason,
                    tracking=tracking, external_ref=external_ref)  # fmt: skip
    if outcome.applied:
        roll_up(conn, order, at=at, actor=actor, reason=f"{outcome.number} {outcome.status}")
    return outcome


def _move(
    conn: Connection,
    fo_id: int,
    target: FoStatus,
    *,
    at: datetime,
    actor: str,
    source: str,
    key: str | None = None,
    reason: str | None = None,
    tracking: Iterable[Mapping[str, Any]] | None = None,
    external_ref: str | None = None,
) -> EventOutcome:
    """``apply_event`` without the roll-up (the caller holds the order's lock)."""
    fo = conn.execute(_locked(conn, select(_F).where(_F.c.id == fo_id))).first()
    if fo is None:
        raise NotFound(f"no fulfilment order {fo_id}")
    number = fo_number(_order_number(fo.order_id), fo.seq)
    if key is not None:
        seen = conn.execute(
            select(_FE.c.to_status).where(_FE.c.fulfilment_order_id == fo_id, _FE.c.key == key)
        ).first()
        if seen is not None:
            return EventOutcome(fo_id, number, fo.status, fo.status, applied=False, duplicate=True)
    current = FoStatus(fo.status)
    held_from = FoStatus(fo.held_from) if fo.held_from else None
    new_tracking = [*(fo.tracking or []), *(dict(x) for x in tracking or ())]
    if target is current and target is not FoStatus.ON_HOLD:  # a re-sent status: keep what it adds
        _record(conn, fo_id, at, actor, source, current, current, reason, key, new_tracking, external_ref)
        conn.execute(
            update(_F).where(_F.c.id == fo_id).values(tracking=new_tracking,
                                                      external_ref=external_ref or fo.external_ref)
        )  # fmt: skip
        return EventOutcome(fo_id, number, current.value, current.value, applied=False)
    new_held_from = check(current, target, FoKind(fo.kind), held_from, number=number)
    if target in (FoStatus.DISPATCHED, FoStatus.COLLECTED):
        _ship(conn, fo, number, at, actor)
    elif target is FoStatus.CANCELLED:
        _release(conn, fo, number, at, actor, reason)
    keep_reason = target in (FoStatus.ON_HOLD, FoStatus.CANCELLED)
    conn.execute(
        update(_F)
        .where(_F.c.id == fo_id)
        .values(status=target.value, held_from=new_held_from.value if new_held_from else None,
                reason=reason if keep_reason else None, tracking=new_tracking,
                external_ref=external_ref or fo.external_ref, updated_at=at)
    )  # fmt: skip
    _record(conn, fo_id, at, actor, source, current, target, reason, key, new_tracking, external_ref)
    doc = payload(conn, fo_id)
    change = {**_ref(fo.order_id, doc), "fulfilment_order": doc, "from": current.value, "to": target.value,
              "reason": reason, "actor": actor}  # fmt: skip
    SqlOutbox(conn).add([DomainEvent("fulfilment.status_changed", "order", fo.order_id, change)], at)
    conn.execute(
        insert(t.order_timeline), _entry(fo.order_id, at, actor, reason, current.value, target.value, doc)
    )
    return EventOutcome(fo_id, number, current.value, target.value, applied=True)


def _record(
    conn: Connection, fo_id: int, at: datetime, actor: str, source: str, before: FoStatus, after: FoStatus,
    reason: str | None, key: str | None, tracking: list[Any], external_ref: str | None,
) -> None:  # fmt: skip
    data: dict[str, Any] = {"tracking": tracking} if tracking else {}
    if external_ref:
        data["external_ref"] = external_ref
    conn.execute(
        insert(_FE).values(fulfilment_order_id=fo_id, at=at, actor=actor, source=source,
                           from_status=before.value, to_status=after.value, reason=reason, data=data, key=key)
    )  # fmt: skip


def _fo_allocations(conn: Connection, fo_id: int) -> list[Any]:
    return list(
        conn.execute(
            select(_A, _L.c.kind.label("location_kind"))
            .join(_L, _L.c.id == _A.c.location_id)
            .where(_A.c.fulfilment_order_id == fo_id)
            .order_by(_A.c.location_id, _A.c.sku, _A.c.id)
        )
    )


def _ship(conn: Connection, fo: Any, number: str, at: datetime, actor: str) -> None:
    """The FO's units leave: its reserved stock ships (a dropship FO's supplier ships its own).
    Quantities are written as values computed here, never as SQL arithmetic: SQLite keeps them as
    exact decimal text, and ``shipped + 1`` there would be floating-point."""
    lines = {r.allocation_id: r for r in conn.execute(select(_FL).where(_FL.c.fulfilment_order_id == fo.id))}
    for a in _fo_allocations(conn, fo.id):
        line = lines.get(a.id)
        if fo.kind == FoKind.DROPSHIP.value or a.location_kind == "supplier":
            units = line.quantity - line.shipped if line is not None else Decimal(a.quantity)
        else:
            units = Decimal(a.quantity)
            if units > 0:
                move(conn, location_id=a.location_id, sku=a.sku, kind="shipment", quantity=units,
                     at=at, actor=actor, order_id=fo.order_id, fulfilment_order_id=fo.id,
                     reference=number)  # fmt: skip
        if units <= 0:
            continue
        conn.execute(
            update(_A)
            .where(_A.c.id == a.id)
            .values(quantity=ZERO, shipped=Decimal(a.shipped) + units, updated_at=at)
        )
        if line is not None:
            conn.execute(
                update(_FL)
                .where(_FL.c.fulfilment_order_id == fo.id, _FL.c.line_no == line.line_no)
                .values(shipped=Decimal(line.shipped) + units)
            )


def _release(
    conn: Connection, fo: Any, number: str, at: datetime, actor: str, reason: str | None,
    line_nos: Collection[int] | None = None,
) -> Decimal:  # fmt: skip
    """Give back the FO's reservations (or those of ``line_nos``); returns the units released."""
    released = ZERO
    for a in _fo_allocations(conn, fo.id):
        if line_nos is not None and a.line_no not in line_nos:
            continue
        if a.quantity > 0 and a.location_kind != "supplier":
            move(conn, location_id=a.location_id, sku=a.sku, kind="release", quantity=Decimal(a.quantity),
                 at=at, actor=actor, order_id=fo.order_id, fulfilment_order_id=fo.id, reference=number,
                 reason=reason)  # fmt: skip
            released += a.quantity
        conn.execute(update(_A).where(_A.c.id == a.id).values(quantity=ZERO, updated_at=at))
    return released


# --- roll-up ---------------------------------------------------------------------------------------


def waiting(conn: Connection, order_id: int) -> bool:
    """Some of the order's units still wait: a backorder, or an allocation in no FO yet."""
    backordered = conn.execute(
        select(_B.c.line_no).where(_B.c.order_id == order_id, _B.c.quantity > 0).limit(1)
    ).first()
    if backordered is not None:
        return True
    loose = conn.execute(
        select(_A.c.id)
        .where(_A.c.order_id == order_id, _A.c.fulfilment_order_id.is_(None), _A.c.quantity > 0)
        .limit(1)
    ).first()  # fmt: skip
    return loose is not None


def roll_up(conn: Connection, order: SalesOrder, *, at: datetime, actor: str, reason: str | None) -> None:
    """Move the order's fulfilment track and lifecycle as its FOs say, and persist the change
    (timeline + outbox) like the order services do. ``order`` is loaded under its row lock."""
    assert order.id is not None
    statuses = [
        FoStatus(s) for s in conn.execute(select(_F.c.status).where(_F.c.order_id == order.id)).scalars()
    ]
    track, complete = rollup(statuses, waiting(conn, order.id))
    if order.fulfilment_status in _FULFILMENT_TRACK:
        order.set_track("fulfilment", track.value, actor, at, reason)
    moving = any(s not in (FoStatus.CREATED, FoStatus.CANCELLED, FoStatus.ON_HOLD) for s in statuses)
    if order.status is OrderStatus.CREATED and (moving or complete):
        order.transition(OrderStatus.PROCESSING, actor, at, reason)
    if complete and order.status is OrderStatus.PROCESSING:
        order.transition(OrderStatus.COMPLETED, actor, at, "every fulfilment order has closed")
    if order.new_entries or order.new_events:
        SqlOrders(conn).save(order)
        SqlOutbox(conn).add(order.new_events, at)
        order.new_entries.clear()
        order.new_events.clear()


# --- holds, release, cancellation ------------------------------------------------------------------


def hold(
    conn: Connection, fo_id: int, reason: str, *, at: datetime, actor: str, source: str = "user",
    key: str | None = None,
) -> EventOutcome:  # fmt: skip
    """Put an FO in created/released/picking/packed on hold; an FO already on hold stays so.
    A dispatched FO is refused (IllegalTransition saying it has left)."""
    return apply_event(
        conn, fo_id, FoStatus.ON_HOLD, at=at, actor=actor, source=source, key=key, reason=reason
    )


def release(
    conn: Connection, fo_id: int, *, at: datetime, actor: str, reason: str | None = None,
    source: str = "user", key: str | None = None,
) -> EventOutcome:  # fmt: skip
    """Release a held FO back to the status it was held from."""
    fo = conn.execute(select(_F.c.status, _F.c.held_from).where(_F.c.id == fo_id)).first()
    if fo is None:
        raise NotFound(f"no fulfilment order {fo_id}")
    if fo.status != FoStatus.ON_HOLD.value:
        raise IllegalTransition(
            f"fulfilment order {fo_id} is {fo.status}, not on hold: there is nothing to release",
            allowed=[], current=fo.status, requested="release",
        )  # fmt: skip
    target = FoStatus(fo.held_from or FoStatus.CREATED.value)
    return apply_event(conn, fo_id, target, at=at, actor=actor, source=source, key=key, reason=reason)


def cancel(
    conn: Connection, fo_id: int, reason: str, *, at: datetime, actor: str, source: str = "user",
    key: str | None = None,
) -> EventOutcome:  # fmt: skip
    """Cancel an FO that has not been dispatched; its reservations are released, and the units
    it freed go to the orders waiting for them (``backorders.fill``), in the same transaction."""
    skus = sorted(set(conn.execute(select(_FL.c.sku).where(_FL.c.fulfilment_order_id == fo_id)).scalars()))
    outcome = apply_event(
        conn, fo_id, FoStatus.CANCELLED, at=at, actor=actor, source=source, key=key, reason=reason
    )
    if outcome.applied:
        from legato.store.backorders import fill  # it imports this module (FO creation): late

        fill(conn, skus=skus, at=at, actor=actor)
    return outcome


__all__ = [
    "EventOutcome",
    "apply_event",
    "cancel",
    "create_for_order",
    "hold",
    "release",
    "roll_up",
    "waiting",
]
