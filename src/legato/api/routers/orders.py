"""Orders: create (idempotent), read, list with filters and cursor, move, edit, cancel lines."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.concurrency import run_in_threadpool

from legato.api import schemas as s
from legato.api import views
from legato.api.deps import order_id, runtime
from legato.api.security import require
from legato.bootstrap import Runtime
from legato.domain.commands import CancelLines, ChangeTrack, EditOrder, TransitionOrder
from legato.domain.errors import NotFound
from legato.domain.lifecycle import OrderStatus
from legato.domain.order import SalesOrder
from legato.intake import pipeline
from legato.services import orders as svc
from legato.store import queries
from legato.store.apikeys import ApiKey

router = APIRouter(prefix="/api/v1/orders", tags=["orders"])


@router.post(
    "",
    response_model=s.OrderOut,
    status_code=201,
    responses={200: {"model": s.OrderOut, "description": "already received: the existing order"}},
)
async def create_order(
    body: s.OrderIn,
    request: Request,
    response: Response,
    key: ApiKey = Depends(require("orders:write")),
    rt: Runtime = Depends(runtime),
) -> dict[str, Any]:
    """Place an order from the canonical JSON. The same channel + external reference
    twice returns the first order with 200 and creates nothing. The raw body is kept in
    the inbox like every channel's delivery (its ``inbox_id`` is on the order)."""
    raw = await request.body()
    out = await run_in_threadpool(
        pipeline.receive_canonical, rt, body.channel, raw, dict(request.headers), key.actor,
        views.order_draft(body), request.client.host if request.client else None,
    )  # fmt: skip
    placed = out.orders[0]
    order: SalesOrder = placed["order"]
    response.headers["Location"] = f"/api/v1/orders/{order.number}"
    if placed["created"]:
        metrics = request.app.state.metrics
        if metrics is not None:
            metrics.orders_created.labels(order.channel_code).inc()
    else:
        response.status_code = 200
    return views.order_out(order)


@router.get("", response_model=s.OrderPage)
def list_orders(
    status: OrderStatus | None = None,
    channel: str | None = Query(None, max_length=32),
    account: str | None = Query(None, max_length=40),
    created_from: datetime | None = Query(None, description="inclusive, ISO 8601 (UTC if no zone is given)"),
    created_to: datetime | None = Query(None, description="exclusive, ISO 8601 (UTC if no zone is given)"),
    q: str | None = Query(
        None, max_length=200, description="number, external reference, customer name or email"
    ),
    limit: int = Query(50, ge=1, le=200),
    cursor: str | None = Query(None, max_length=100),
    _: ApiKey = Depends(require("orders:read")),
    rt: Runtime = Depends(runtime),
) -> dict[str, Any]:
    """Newest first; pass ``next_cursor`` back as ``cursor`` for the next page."""
    f = queries.OrderFilter(
        status.value if status else None, channel, account, _utc(created_from), _utc(created_to), q
    )
    page = queries.list_orders(rt.engine, f, limit=limit, cursor=cursor)
    return {"items": [views.order_summary(r) for r in page.items], "next_cursor": page.next_cursor}


@router.get("/{order}", response_model=s.OrderOut)
def get_order(
    oid: int = Depends(order_id), _: ApiKey = Depends(require("orders:read")), rt: Runtime = Depends(runtime)
) -> dict[str, Any]:
    order = queries.get_order(rt.engine, oid)
    if order is None:
        raise NotFound(f"no order {oid}")
    return views.order_out(order)


@router.post("/{order}/transitions", response_model=s.OrderOut)
def transition(
    body: s.TransitionIn,
    oid: int = Depends(order_id),
    key: ApiKey = Depends(require("orders:write")),
    rt: Runtime = Depends(runtime),
) -> dict[str, Any]:
    """Move the lifecycle one step; 409 names the allowed targets when it may not."""
    order = svc.transition_order(rt.uow(), TransitionOrder(oid, body.to.value, key.actor, body.reason))
    return views.order_out(_reload(rt, order.id))


@router.post("/{order}/lines/cancel", response_model=s.OrderOut)
def cancel_lines(
    body: s.CancelLinesIn,
    oid: int = Depends(order_id),
    key: ApiKey = Depends(require("orders:write")),
    rt: Runtime = Depends(runtime),
) -> dict[str, Any]:
    """Cancel some lines (a partial cancellation): the totals drop them, their reserved stock is
    released and they leave their open fulfilment orders, in one commit. 409 on a final order, on
    a line with shipped units, or when no line would be left (cancel the order instead); 422 names
    an unknown line by its path."""
    svc.cancel_lines(rt.uow(), CancelLines(oid, tuple(body.lines), key.actor, body.reason))
    return views.order_out(_reload(rt, oid))


@router.post("/{order}/tracks", response_model=s.OrderOut)
def change_track(
    body: s.TrackIn,
    oid: int = Depends(order_id),
    key: ApiKey = Depends(require("orders:write")),
    rt: Runtime = Depends(runtime),
) -> dict[str, Any]:
    """Move the payment, fulfilment or invoice track (they never block each other)."""
    svc.change_track(rt.uow(), ChangeTrack(oid, body.track, body.to.value, key.actor, body.reason))
    return views.order_out(_reload(rt, oid))


@router.patch("/{order}", response_model=s.OrderOut)
def edit(
    body: s.OrderPatch,
    oid: int = Depends(order_id),
    key: ApiKey = Depends(require("orders:write")),
    rt: Runtime = Depends(runtime),
) -> dict[str, Any]:
    """Change priority, tags, notes or addresses of an order that is not final."""
    changes = body.model_dump(exclude_unset=True, exclude={"reason"})
    for name in ("billing_address", "shipping_address"):
        if name in changes:
            changes[name] = views.address(getattr(body, name))
    if "tags" in changes:
        changes["tags"] = tuple(changes["tags"] or ())
    svc.edit_order(rt.uow(), EditOrder(oid, changes, key.actor, body.reason))
    return views.order_out(_reload(rt, oid))


def _utc(moment: datetime | None) -> datetime | None:
    """A time without a zone is read as UTC, the zone every stored time is in."""
    return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment


def _reload(rt: Runtime, oid: int | None) -> SalesOrder:
    order = queries.get_order(rt.engine, oid or 0)
    if order is None:
        raise NotFound(f"no order {oid}")
    return order


__all__ = ["router"]
