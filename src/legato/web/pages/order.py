"""An order's page (/orders/{number}): lines with how each price was made, the customer and
addresses, the four tracks, payments and adjustments, the full timeline, the workflow runs
with every step and attempt, and the channel's original payload, byte for byte but escaped."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from legato.domain.order import ORDER_PREFIX, SalesOrder, parse_number
from legato.store import approvals, inbox, queries
from legato.store.order_fulfilment import OrderFulfilment, order_fulfilment
from legato.store.order_page import channel_summary, workflow_history
from legato.store.users import User
from legato.web.app import error_page, render, runtime
from legato.web.auth import require
from legato.web.format import readable_payload
from legato.web.order_actions import available, lines_cancellable, pending_approval
from legato.web.permissions import can

#: an order in these statuses may be allocated from its page
ALLOCATABLE = ("created", "processing")

router = APIRouter()


def load_order(request: Request, number: str) -> SalesOrder | None:
    order_id = parse_number(ORDER_PREFIX, number)
    if order_id is None or order_id > 2**62:
        return None
    return queries.get_order(runtime(request).engine, order_id)


def missing(request: Request, number: str) -> HTMLResponse:
    return error_page(request, 404, "No such order", f"There is no order {number}.")


def _payload(request: Request, order: SalesOrder) -> dict[str, Any] | None:
    entry = inbox.get(runtime(request).engine, order.inbox_id) if order.inbox_id else None
    if entry is None:
        return None
    kind, text = readable_payload(entry.body)
    return {"entry": entry, "kind": kind, "text": text, "size": len(entry.body)}


def unallocated(order: SalesOrder, supply: OrderFulfilment) -> bool:
    """Has an open line units that are neither reserved, shipped, backordered nor dropshipped?"""
    for ln in order.lines:
        if ln.status != "open":
            continue
        s = supply.lines.get(ln.line_no)
        if s is None:
            return True
        if s.dropship is None and sum((u for _, u in s.reserved), s.shipped + s.backordered) < ln.quantity:
            return True
    return False


def page(
    request: Request,
    order: SalesOrder,
    user: User,
    *,
    errors: dict[str, str] | None = None,
    open_action: str | None = None,
    typed: dict[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    """The order page; after a refused action, with that action's form open, the message next to
    its field and what the user typed still in it."""
    rt = runtime(request)
    order_id = order.id or 0
    waiting = pending_approval(rt, order_id)
    account = queries.get_account(rt.engine, order.account_code) if order.account_code else None
    supply = order_fulfilment(rt.engine, order_id, order.number or "")
    context = {
        "order": order,
        "channel": channel_summary(rt.engine, order.channel_code),
        "account": account,
        "actions": available(order, user.role, waiting=waiting is not None),
        "waiting": waiting,
        "approvals": approvals.list_approvals(rt.engine, order_id=order_id, limit=100)[0],
        "runs": workflow_history(rt.engine, order_id),
        "supply": supply,
        "cancel_lines": lines_cancellable(order, user.role),
        "fulfil": {
            "can_allocate": can(user.role, "orders:allocate")
            and order.status.value in ALLOCATABLE
            and unallocated(order, supply),
            "can_manage": can(user.role, "fulfilment:manage"),
        },
        "payload": _payload(request, order),
        "errors": errors or {},
        "open_action": open_action,
        "typed": typed or {},
    }
    return render(request, "orders/detail.html", context, status_code=status_code)


@router.get("/orders/{number:order_number}")
def order_page(number: str, request: Request, user: User = Depends(require("orders:view"))) -> HTMLResponse:
    order = load_order(request, number)
    if order is None:
        return missing(request, number)
    return page(request, order, user)


__all__ = ["ALLOCATABLE", "load_order", "missing", "page", "router", "unallocated"]
