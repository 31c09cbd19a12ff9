"""Allocation (docs/allocation.md): allocate an order's open lines now, read an order's allocations
and backorders, list the waiting demand in the order backorders are filled.

Allocating needs ``orders:write``; reading, ``orders:read``. ``POST .../allocate`` is idempotent by
nature: lines already allocated or backordered are left as they are, so a repeat changes nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Body, Depends, Query
from pydantic import BaseModel, Field
from sqlalchemy import Connection, select

from legato.api.deps import order_id, runtime
from legato.api.schemas import Sku, Strict
from legato.api.security import require
from legato.bootstrap import Runtime
from legato.domain.errors import NotFound
from legato.domain.order import ORDER_PREFIX, format_number
from legato.store import tables as t
from legato.store.allocation import allocate_order, in_transaction, order_supply
from legato.store.apikeys import ApiKey
from legato.store.backorders import waiting
from legato.store.fulfilment import create_for_order
from legato.store.queries import reading

router = APIRouter(tags=["allocation"])


class AllocateIn(Strict):
    strategy: str | None = Field(
        None,
        max_length=40,
        description="priority, nearest, single_location, fifo, rule; default: the channel's",
    )
    params: dict[str, Any] | None = Field(None, description="the strategy's params, e.g. the rule's map")
    create_fulfilment: bool = Field(True, description="group the new allocations into fulfilment orders")


class AllocationOut(BaseModel):
    line_no: int
    location: str
    sku: str
    quantity: Decimal = Field(description="units still reserved (or sent to a supplier)")
    shipped: Decimal
    strategy: str = Field(description="what decided it: nearest, rule>priority, dropship ...")
    fulfilment_order_id: int | None


class BackorderOut(BaseModel):
    line_no: int
    sku: str
    quantity: Decimal = Field(description="units waiting for stock")


class Picked(BaseModel):
    line_no: int
    location_id: int
    sku: str
    quantity: Decimal


class SupplyOut(BaseModel):
    order_id: int
    order: str = Field(description="SO-000042")
    allocations: list[AllocationOut]
    backorders: list[BackorderOut]


class AllocateOut(SupplyOut):
    strategy: str
    note: str | None = Field(description="e.g. why nearest fell back to priority")
    allocated: list[Picked] = Field(description="what this call reserved (or dropshipped)")
    backordered: list[BackorderOut] = Field(description="what this call backordered")
    fulfilment_orders: list[int] = Field(description="the fulfilment orders this call created")


class WaitingOut(BaseModel):
    order_id: int
    order: str
    line_no: int
    sku: str
    quantity: Decimal
    priority: int
    tier: str | None
    location_id: int | None = Field(description="click & collect: only this location may fill it")
    created_at: datetime


class WaitingPage(BaseModel):
    items: list[WaitingOut]


def _exists(conn: Connection, oid: int) -> None:
    if conn.execute(select(t.orders.c.id).where(t.orders.c.id == oid)).first() is None:
        raise NotFound(f"no order {format_number(ORDER_PREFIX, oid)}")


@router.post("/api/v1/orders/{order}/allocate", response_model=AllocateOut)
def allocate(
    body: AllocateIn | None = Body(None),
    oid: int = Depends(order_id),
    key: ApiKey = Depends(require("orders:write")),
    rt: Runtime = Depends(runtime),
) -> dict[str, Any]:
    """Reserve stock for the order's open lines not yet allocated or backordered; backorder the
    rest. 409 on a final order; 422 names an unknown strategy or a bad param by its path."""
    req = body or AllocateIn()
    now = datetime.now(UTC)

    def work(conn: Connection) -> dict[str, Any]:
        _exists(conn, oid)
        res = allocate_order(conn, oid, at=now, actor=key.actor, strategy=req.strategy, params=req.params)
        fos: list[int] = []
        if req.create_fulfilment:
            fos = create_for_order(conn, oid, at=now, actor=key.actor)
        return {
            "order_id": oid, "order": format_number(ORDER_PREFIX, oid), "strategy": res.strategy,
            "note": res.note, "fulfilment_orders": fos,
            "allocated": [{"line_no": ln, "location_id": loc, "sku": sku, "quantity": q}
                          for ln, loc, sku, q in res.allocations],
            "backordered": [{"line_no": ln, "sku": sku, "quantity": q} for ln, sku, q in res.backordered],
            **order_supply(conn, oid),
        }  # fmt: skip

    return in_transaction(rt.engine, work)


@router.get("/api/v1/orders/{order}/allocations", response_model=SupplyOut)
def order_allocations(
    oid: int = Depends(order_id), _: ApiKey = Depends(require("orders:read")), rt: Runtime = Depends(runtime)
) -> dict[str, Any]:
    """The order's allocations (where its units are reserved, shipped from or dropshipped) and the
    units of each line still waiting for stock."""
    with reading(rt.engine) as conn:
        _exists(conn, oid)
        return {"order_id": oid, "order": format_number(ORDER_PREFIX, oid), **order_supply(conn, oid)}


@router.get("/api/v1/backorders", response_model=WaitingPage)
def list_backorders(
    sku: Sku | None = Query(None, description="only this SKU's waiting demand"),
    limit: int = Query(100, ge=1, le=1000),
    _: ApiKey = Depends(require("orders:read")),
    rt: Runtime = Depends(runtime),
) -> dict[str, Any]:
    """Waiting demand of open orders, in the sequence stock will fill it (LEGATO_BACKORDER_SEQUENCE:
    by default the order's priority, then the account's tier, then age)."""
    with reading(rt.engine) as conn:
        rows = waiting(conn, [sku] if sku is not None else None)[:limit]
    return {
        "items": [
            {"order_id": w.order_id, "order": format_number(ORDER_PREFIX, w.order_id), "line_no": w.line_no,
             "sku": w.sku, "quantity": w.quantity, "priority": w.priority, "tier": w.tier,
             "location_id": w.location_id, "created_at": w.created_at}
            for w in rows
        ]
    }  # fmt: skip


__all__ = ["router"]
