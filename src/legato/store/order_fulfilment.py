"""What the order page shows of an order's fulfilment: each line's allocations (where its units are
reserved or were shipped from) and backorder, and the fulfilment orders (legs) with their lines,
tracking and status history. Four indexed queries, by order id."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, select

from legato.store.inventory_tables import (
    allocations,
    backorders,
    fulfilment_events,
    fulfilment_lines,
    fulfilment_orders,
    locations,
)
from legato.store.queries import reading

ZERO = Decimal(0)


@dataclass(frozen=True)
class LineSupply:
    """One order line's supply: units reserved or shipped per location, and units waiting."""

    reserved: list[tuple[str, Decimal]] = field(default_factory=list)  # (location code, units)
    shipped: Decimal = ZERO
    backordered: Decimal = ZERO
    dropship: str | None = None  # the supplier's code, for a dropshipped line


@dataclass(frozen=True)
class Leg:
    id: int
    number: str  # SO-000012-F2
    location: str
    location_name: str
    kind: str  # ship | pickup | dropship
    status: str
    held_from: str | None
    reason: str | None
    vendor: str | None
    tracking: list[dict[str, Any]]
    created_at: datetime
    updated_at: datetime
    lines: list[dict[str, Any]]
    events: list[dict[str, Any]]


@dataclass(frozen=True)
class OrderFulfilment:
    lines: dict[int, LineSupply]
    legs: list[Leg]

    @property
    def backordered(self) -> Decimal:
        return sum((s.backordered for s in self.lines.values()), ZERO)

    @property
    def empty(self) -> bool:
        return not self.legs and not any(
            s.reserved or s.shipped or s.backordered or s.dropship for s in self.lines.values()
        )


def order_fulfilment(engine: Engine, order_id: int, order_number: str) -> OrderFulfilment:
    A, B, F, FL, FE, L = (
        allocations,
        backorders,
        fulfilment_orders,
        fulfilment_lines,
        fulfilment_events,
        locations,
    )
    reserved: dict[int, list[tuple[str, Decimal]]] = {}
    shipped: dict[int, Decimal] = {}
    waiting: dict[int, Decimal] = {}
    dropship: dict[int, str] = {}
    with reading(engine) as conn:
        for r in conn.execute(
            select(A.c.line_no, A.c.quantity, A.c.shipped, A.c.strategy, L.c.code)
            .join(L, L.c.id == A.c.location_id)
            .where(A.c.order_id == order_id)
            .order_by(A.c.line_no, A.c.id)
        ):
            if r.strategy == "dropship":
                dropship[r.line_no] = r.code
            elif r.quantity > 0:
                reserved.setdefault(r.line_no, []).append((r.code, r.quantity))
            if r.shipped:
                shipped[r.line_no] = shipped.get(r.line_no, ZERO) + r.shipped
        for b in conn.execute(select(B.c.line_no, B.c.quantity).where(B.c.order_id == order_id)):
            waiting[b.line_no] = b.quantity
        fos = conn.execute(
            select(F, L.c.code.label("location_code"), L.c.name.label("location_name"))
            .join(L, L.c.id == F.c.location_id)
            .where(F.c.order_id == order_id)
            .order_by(F.c.seq)
        ).all()
        ids = [f.id for f in fos]
        fo_lines: dict[int, list[dict[str, Any]]] = {i: [] for i in ids}
        fo_events: dict[int, list[dict[str, Any]]] = {i: [] for i in ids}
        if ids:
            for line in conn.execute(
                select(FL)
                .where(FL.c.fulfilment_order_id.in_(ids))
                .order_by(FL.c.fulfilment_order_id, FL.c.line_no)
            ):
                fo_lines[line.fulfilment_order_id].append(dict(line._mapping))
            for r in conn.execute(
                select(FE)
                .where(FE.c.fulfilment_order_id.in_(ids))
                .order_by(FE.c.fulfilment_order_id, FE.c.id)
            ):
                fo_events[r.fulfilment_order_id].append(dict(r._mapping))
    line_nos = set(reserved) | set(shipped) | set(waiting) | set(dropship)
    supply = {
        n: LineSupply(reserved.get(n, []), shipped.get(n, ZERO), waiting.get(n, ZERO), dropship.get(n))
        for n in sorted(line_nos)
    }
    legs = [
        Leg(
            id=f.id,
            number=f"{order_number}-F{f.seq}",
            location=f.location_code,
            location_name=f.location_name,
            kind=f.kind,
            status=f.status,
            held_from=f.held_from,
            reason=f.reason,
            vendor=f.vendor,
            tracking=list(f.tracking or []),
            created_at=f.created_at,
            updated_at=f.updated_at,
            lines=fo_lines[f.id],
            events=fo_events[f.id],
        )
        for f in fos
    ]
    return OrderFulfilment(supply, legs)


__all__ = ["Leg", "LineSupply", "OrderFulfilment", "order_fulfilment"]
