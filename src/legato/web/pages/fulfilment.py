"""Fulfilment from an order's page: allocate stock (reserve what is there by the channel's
strategy, backorder the rest, split into fulfilment orders) and hold or release one fulfilment
order before it is dispatched. The server refuses what the role may not (403) and what the
state does not allow (409), whatever the page offered."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from sqlalchemy import Connection, select

from legato.domain.errors import LegatoError
from legato.domain.order import SalesOrder
from legato.store.allocation import allocate_order, in_transaction
from legato.store.fulfilment import create_for_order, hold, release
from legato.store.inventory_tables import fulfilment_orders
from legato.store.users import User
from legato.web.app import error_page, redirect, runtime
from legato.web.auth import require
from legato.web.pages.order import ALLOCATABLE, load_order, missing, page

router = APIRouter()
MAX_REASON = 1000


@router.post("/orders/{number:order_number}/allocate")
def allocate(number: str, request: Request, user: User = Depends(require("orders:allocate"))) -> Response:
    order = load_order(request, number)
    if order is None:
        return missing(request, number)
    if order.status.value not in ALLOCATABLE:
        message = (
            f"{order.number} is {order.status.value.replace('_', ' ')}: stock is allocated to created or "
            "processing orders."
        )
        return error_page(request, 409, "Not possible now", message)
    now = datetime.now(UTC)

    def work(conn: Connection) -> str:
        result = allocate_order(conn, order.id or 0, at=now, actor=user.actor)
        legs = create_for_order(conn, order.id or 0, at=now, actor=user.actor)
        units = sum(q for *_, q in result.allocations)
        waiting = sum(q for *_, q in result.backordered)
        said = f"Allocated {units:f} unit(s)" if result.allocations else "Nothing in stock to allocate"
        if waiting:
            said += f"; {waiting:f} unit(s) backordered"
        if legs:
            said += f"; {len(legs)} fulfilment order(s) created"
        return said + "."

    try:
        said = in_transaction(runtime(request).engine, work)
    except LegatoError as exc:
        return error_page(request, exc.status, "Not done", exc.detail)
    return redirect(request, f"/orders/{order.number}#fulfilment", flash=said)


def _leg_of(request: Request, order: SalesOrder, fo_id: int) -> bool:
    with runtime(request).engine.connect() as conn:
        row = conn.execute(
            select(fulfilment_orders.c.order_id).where(fulfilment_orders.c.id == fo_id)
        ).first()
    return row is not None and row.order_id == order.id


@router.post("/orders/{number:order_number}/fulfilment/{fo_id:int}/{name}")
async def leg_action(
    number: str, fo_id: int, name: str, request: Request, user: User = Depends(require("fulfilment:manage"))
) -> Response:
    if name not in ("hold", "release"):
        return error_page(
            request, 404, "No such action", f"There is no action {name!r} on fulfilment orders."
        )
    form = await request.form()
    typed = str(form.get("reason") or "")
    reason = " ".join(typed.split())
    order = await run_in_threadpool(load_order, request, number)
    if order is None:
        return missing(request, number)
    if not 0 < fo_id <= 2**62 or not await run_in_threadpool(_leg_of, request, order, fo_id):
        return error_page(request, 404, "No such fulfilment order", f"{order.number} has no leg {fo_id}.")
    problem = None
    if name == "hold" and not reason:
        problem = "Say why: the reason goes on the leg's history and to the warehouse."
    elif len(reason) > MAX_REASON:
        problem = f"At most {MAX_REASON} characters."
    if problem is not None:
        errors, key = {f"hold-{fo_id}.reason": problem}, f"hold-{fo_id}"
        return await run_in_threadpool(
            lambda: page(
                request, order, user, errors=errors, open_action=key, typed={"reason": typed}, status_code=422
            )
        )
    now = datetime.now(UTC)

    def work(conn: Connection) -> str:
        if name == "hold":
            done = hold(conn, fo_id, reason, at=now, actor=user.actor)
        else:
            done = release(conn, fo_id, at=now, actor=user.actor, reason=reason or None)
        return f"{done.number} is {done.status.replace('_', ' ')}."

    try:
        said = await run_in_threadpool(in_transaction, runtime(request).engine, work)
    except LegatoError as exc:
        return error_page(request, exc.status, "Not done", exc.detail)
    return redirect(request, f"/orders/{order.number}#fulfilment", flash=said)


__all__ = ["router"]
