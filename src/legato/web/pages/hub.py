"""The order hub (/orders): every order from every channel, filtered by links, paged by keyset,
exported as CSV, with a quick view of each row and views saved per user."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response, StreamingResponse

from legato.domain.errors import ValidationFailed
from legato.domain.order import ORDER_PREFIX, format_number, parse_number
from legato.store import hub as store
from legato.store import queries
from legato.store import users as user_store
from legato.store.users import User
from legato.web.app import NavItem, error_page, is_htmx, redirect, render, runtime, secure
from legato.web.auth import require
from legato.web.hub_query import MULTI, PRESETS, SORT_OPTIONS, HubQuery, canonical, parse

router = APIRouter()
NAV = [NavItem("Orders", "/orders", "orders:view", order=20)]
PAGE_SIZE = 50


def _page(request: Request, hq: HubQuery) -> store.HubPage:
    engine = runtime(request).engine
    try:
        return store.hub_page(
            engine, hq.filter, sort=hq.sort, descending=hq.descending, limit=PAGE_SIZE, cursor=hq.cursor
        )
    except ValidationFailed as exc:  # a cursor from another sort, or not ours: the first page
        hq.errors["cursor"] = exc.detail
        hq.cursor = None
        return store.hub_page(engine, hq.filter, sort=hq.sort, descending=hq.descending, limit=PAGE_SIZE)


def _views(request: Request, user: User, hq: HubQuery) -> list[dict[str, Any]]:
    current = canonical(hq.query_string())
    views: list[dict[str, Any]] = [
        {"name": n, "query": q, "current": canonical(q) == current, "id": None} for n, q in PRESETS
    ]
    for v in user_store.list_views(runtime(request).engine, user.id):
        views.append({"name": v.name, "query": v.query, "current": canonical(v.query) == current, "id": v.id})
    return views


@router.get("/orders")
def hub(request: Request, user: User = Depends(require("orders:view"))) -> HTMLResponse:
    hq = parse(request.query_params.multi_items())
    page = _page(request, hq)
    context = {
        "hq": hq,
        "page": page,
        "query": hq.query_string(),
        "views": _views(request, user, hq),
        "sorts": SORT_OPTIONS,
        "multi": MULTI,
    }
    if is_htmx(request) and request.headers.get("hx-target") == "hub-results":
        # the address bar shows the view's own link, without the form's empty fields
        link = "/orders" + (f"?{q}" if (q := hq.query_string(cursor=hq.cursor)) else "")
        return render(request, "orders/_results.html", context, headers={"HX-Push-Url": link})
    context["options"] = store.hub_options(runtime(request).engine)
    return render(request, "orders/hub.html", context)


_CSV_HEADER = (
    "number", "external_reference", "channel", "channel_type", "account", "customer_name", "customer_email",
    "customer_phone", "status", "payment_status", "fulfilment_status", "invoice_status", "currency",
    "grand_total", "created_at", "updated_at",
)  # fmt: skip


def _cell(value: Any) -> str:
    """A text cell a spreadsheet will not run as a formula (OWASP's CSV injection advice)."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _csv(rows: Iterator[dict[str, Any]]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")

    def flush() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    writer.writerow(_CSV_HEADER)
    yield flush()
    for n, r in enumerate(rows, 1):
        writer.writerow([
            format_number(ORDER_PREFIX, r["id"]), _cell(r["external_ref"]), r["channel"], r["channel_type"],
            _cell(r["account"]), _cell(r["customer_name"]), _cell(r["customer_email"]),
            _cell(r["customer_phone"]), r["status"], r["payment_status"], r["fulfilment_status"],
            r["invoice_status"], r["currency"], format(r["grand_total"], "f"), r["created_at"].isoformat(),
            r["updated_at"].isoformat(),
        ])  # fmt: skip
        if n % 200 == 0:
            yield flush()
    yield flush()


@router.get("/orders/export.csv")
def export(request: Request, user: User = Depends(require("orders:export"))) -> Response:
    """The current view as CSV, every page of it, streamed as it is read."""
    hq = parse(request.query_params.multi_items())
    if hq.errors:
        problems = "; ".join(f"{k}: {v}" for k, v in hq.errors.items())
        return error_page(request, 422, "Cannot export this view", problems)
    rows = store.hub_rows(runtime(request).engine, hq.filter, sort=hq.sort, descending=hq.descending)
    name = f"orders-{datetime.now(UTC):%Y%m%d-%H%M}.csv"
    response = StreamingResponse(
        _csv(rows),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
    return secure(response)


@router.get("/orders/{number:order_number}/quick")
def quick_view(number: str, request: Request, user: User = Depends(require("orders:view"))) -> HTMLResponse:
    """A row's quick view: lines, customer and tracks, without leaving the list."""
    order_id = parse_number(ORDER_PREFIX, number)
    order = queries.get_order(runtime(request).engine, order_id) if order_id and order_id <= 2**62 else None
    if order is None:
        return render(request, "orders/_quick_missing.html", {"number": number}, status_code=200)
    return render(request, "orders/_quick.html", {"order": order})


def _view_name(raw: str) -> tuple[str, str | None]:
    name = " ".join(raw.split())
    if not name:
        return name, "give the view a name"
    if len(name) > 80:
        return name, "at most 80 characters"
    return name, None


@router.post("/orders/views")
async def save_view(request: Request, user: User = Depends(require("orders:view"))) -> Response:
    """Save the hub's current filters and sort under a name (replacing a view of that name)."""
    form = await request.form()
    name, problem = _view_name(str(form.get("name") or ""))
    hq = parse(_pairs(str(form.get("query") or "")))
    query = hq.query_string()
    if problem is None and hq.errors:
        problem = "this view has invalid filters: " + "; ".join(hq.errors.values())
    back = "/orders" + (f"?{query}" if query else "")
    if problem is not None:
        return redirect(request, back, flash=f"View not saved: {problem}.", error=True)
    await run_in_threadpool(user_store.save_view, runtime(request).engine, user.id, name, query)
    return redirect(request, back, flash=f"View “{name}” saved.")


def _pairs(query: str) -> list[tuple[str, str]]:
    return parse_qsl(query[:4000].lstrip("?"))


@router.post("/orders/views/{view_id:int}/delete")
def delete_view(view_id: int, request: Request, user: User = Depends(require("orders:view"))) -> Response:
    if not user_store.delete_view(runtime(request).engine, user.id, view_id):
        return error_page(request, 404, "No such view", "This saved view does not exist, or is not yours.")
    return redirect(request, "/orders", flash="View deleted.")


__all__ = ["NAV", "router"]
