"""Fulfilment orders (docs/fulfilment/README.md): list and read them, create an order's FOs from
its allocations, and take the warehouse's or supplier's status events (JSON, one FO; or a CSV
feed, one event a row), holds, releases and cancellations.

Reading needs ``orders:read``; creating an order's FOs ``orders:write``; the events, holds,
releases and cancellations ``fulfilment:write`` (the scope of a warehouse's, 3PL's or supplier's
key: it cannot create or move orders). An event with an ``event_id``
applies once: the same id again answers what it did the first time and changes nothing.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field
from sqlalchemy import Connection, select

from legato.api.deps import order_id, runtime
from legato.api.schemas import Strict
from legato.api.security import require
from legato.bootstrap import Runtime
from legato.domain.errors import FieldIssue, LegatoError, NotFound, ValidationFailed
from legato.domain.inventory.fulfilment import FoStatus
from legato.store import fulfilment as fs
from legato.store import fulfilment_queries as fq
from legato.store import tables as t
from legato.store.allocation import in_transaction
from legato.store.apikeys import ApiKey
from legato.store.queries import reading

router = APIRouter(prefix="/api/v1", tags=["fulfilment"])
FoRef = Path(description="the FO's id (7) or number (SO-000012-F2)", max_length=40)
#: the CSV feed's columns; fulfilment_order and status are required
COLUMNS = ("fulfilment_order", "status", "event_id", "carrier", "tracking_number", "reason")
MAX_ROWS = 5000


class TrackingIn(Strict):
    carrier: str | None = Field(None, max_length=60)
    number: str = Field(max_length=120)
    url: str | None = Field(None, max_length=500)


class EventIn(Strict):
    status: FoStatus
    event_id: str | None = Field(None, max_length=200, description="the sender's id: the event applies once")
    reason: str | None = Field(None, max_length=1000)
    tracking: list[TrackingIn] | None = Field(None, max_length=20, description="parcels, when dispatched")
    external_ref: str | None = Field(
        None, max_length=200, description="the warehouse's or supplier's reference"
    )


class ReasonIn(Strict):
    reason: str | None = Field(None, max_length=1000)


class FoLine(BaseModel):
    line_no: int
    order_line_no: int
    sku: str
    supplier_sku: str | None
    name: str | None
    quantity: str = Field(description="decimal text")
    shipped: str


class FoOut(BaseModel):
    id: int
    number: str = Field(description="the order's number and the leg: SO-000012-F2")
    order_id: int
    order_number: str
    external_reference: str | None = Field(description="the order's reference at its channel")
    kind: str = Field(description="ship, pickup or dropship")
    status: str
    location: str
    location_name: str
    location_kind: str
    vendor: str | None
    channel: str
    priority: int
    delivery_address: dict[str, Any]
    lines: list[FoLine]
    tracking: list[dict[str, Any]]
    external_ref: str | None
    held_from: str | None
    reason: str | None
    created_at: datetime
    updated_at: datetime


class FoEvent(BaseModel):
    at: datetime
    actor: str
    source: str
    from_: str | None = Field(alias="from")
    to: str
    reason: str | None
    event_id: str | None
    data: dict[str, Any]


class FoDetail(FoOut):
    events: list[FoEvent]


class FoPage(BaseModel):
    items: list[FoOut]
    next_cursor: str | None


class Created(BaseModel):
    created: list[int] = Field(description="the new FOs' ids; [] when every allocation already has one")
    items: list[FoOut] = Field(description="every FO of the order")


class Outcome(BaseModel):
    fulfilment_order: str
    from_: str = Field(alias="from")
    status: str
    applied: bool = Field(description="false: already there, or this event_id was applied before")
    duplicate: bool


class RowResult(BaseModel):
    row: int = Field(description="the CSV row (the header is row 1)")
    fulfilment_order: str | None
    outcome: str = Field(description="applied, unchanged, duplicate or refused")
    status: str | None
    errors: list[dict[str, Any]]


class FeedResult(BaseModel):
    applied: int
    refused: int
    results: list[RowResult]


def _now() -> datetime:
    return datetime.now(UTC)


def _outcome(o: fs.EventOutcome) -> dict[str, Any]:
    return {"fulfilment_order": o.number, "from": o.from_status, "status": o.status, "applied": o.applied,
            "duplicate": o.duplicate}  # fmt: skip


@router.get("/fulfilment-orders", response_model=FoPage)
def list_fulfilment_orders(
    status: FoStatus | None = None,
    location: str | None = Query(None, max_length=32, description="a location's code"),
    limit: int = Query(50, ge=1, le=200),
    cursor: str | None = Query(None, max_length=100),
    _: ApiKey = Depends(require("orders:read")),
    rt: Runtime = Depends(runtime),
) -> dict[str, Any]:
    """Newest first; pass ``next_cursor`` back as ``cursor`` for the next page."""
    page = fq.list_fos(rt.engine, status=status.value if status else None, location=location, limit=limit,
                       cursor=cursor)  # fmt: skip
    return {"items": page.items, "next_cursor": page.next_cursor}


@router.get("/fulfilment-orders/{fo}", response_model=FoDetail, response_model_by_alias=True)
def get_fulfilment_order(
    fo: str = FoRef, _: ApiKey = Depends(require("orders:read")), rt: Runtime = Depends(runtime)
) -> dict[str, Any]:
    """One FO with its lines, tracking and every status event, oldest first."""
    return fq.get(rt.engine, fo)


@router.get("/orders/{order}/fulfilment-orders", response_model=list[FoOut])
def order_fulfilment_orders(
    oid: int = Depends(order_id), _: ApiKey = Depends(require("orders:read")), rt: Runtime = Depends(runtime)
) -> list[dict[str, Any]]:
    _exists(rt, oid)
    return fq.of_order(rt.engine, oid)


@router.post("/orders/{order}/fulfilment-orders", response_model=Created, status_code=201,
             responses={200: {"model": Created, "description": "nothing new to group"}})  # fmt: skip
def create_fulfilment_orders(
    response: Response,
    oid: int = Depends(order_id),
    key: ApiKey = Depends(require("orders:write")),
    rt: Runtime = Depends(runtime),
) -> dict[str, Any]:
    """Group the order's allocations that are in no FO yet into FOs (one per location or
    supplier). Allocate first (``POST /api/v1/orders/{order}/allocate``)."""
    _exists(rt, oid)
    created = in_transaction(
        rt.engine, lambda conn: fs.create_for_order(conn, oid, at=_now(), actor=key.actor)
    )
    if not created:
        response.status_code = 200
    return {"created": created, "items": fq.of_order(rt.engine, oid)}


def _exists(rt: Runtime, oid: int) -> None:
    with reading(rt.engine) as conn:
        if conn.execute(select(t.orders.c.id).where(t.orders.c.id == oid)).first() is None:
            raise NotFound(f"no order {oid}")


def _write(rt: Runtime, ref: str, apply: Any) -> dict[str, Any]:
    def run(conn: Connection) -> fs.EventOutcome:
        return apply(conn, fq.resolve(conn, ref))  # type: ignore[no-any-return]

    return _outcome(in_transaction(rt.engine, run))


@router.post("/fulfilment-orders/{fo}/events", response_model=Outcome, response_model_by_alias=True)
def post_event(
    body: EventIn,
    fo: str = FoRef,
    key: ApiKey = Depends(require("fulfilment:write")),
    rt: Runtime = Depends(runtime),
) -> dict[str, Any]:
    """The warehouse's or supplier's status for one FO. 409 when the FO cannot move there (a
    dispatched FO cannot be held or cancelled, and the answer says so)."""
    tracking = [x.model_dump(exclude_none=True) for x in body.tracking or []]
    return _write(rt, fo, lambda conn, fo_id: fs.apply_event(
        conn, fo_id, body.status, at=_now(), actor=key.actor, source="api", key=body.event_id,
        reason=body.reason, tracking=tracking, external_ref=body.external_ref,
    ))  # fmt: skip


@router.post("/fulfilment-orders/{fo}/hold", response_model=Outcome, response_model_by_alias=True)
def hold(
    body: ReasonIn,
    fo: str = FoRef,
    key: ApiKey = Depends(require("fulfilment:write")),
    rt: Runtime = Depends(runtime),
) -> dict[str, Any]:
    """Hold an FO before dispatch (created, released, picking or packed)."""
    reason = body.reason or "held"
    return _write(rt, fo, lambda conn, fo_id: fs.hold(conn, fo_id, reason, at=_now(), actor=key.actor))


@router.post("/fulfilment-orders/{fo}/release", response_model=Outcome, response_model_by_alias=True)
def release(
    body: ReasonIn,
    fo: str = FoRef,
    key: ApiKey = Depends(require("fulfilment:write")),
    rt: Runtime = Depends(runtime),
) -> dict[str, Any]:
    """Release a held FO back to the status it was held from."""
    return _write(
        rt, fo, lambda conn, fo_id: fs.release(conn, fo_id, at=_now(), actor=key.actor, reason=body.reason)
    )


@router.post("/fulfilment-orders/{fo}/cancel", response_model=Outcome, response_model_by_alias=True)
def cancel(
    body: ReasonIn,
    fo: str = FoRef,
    key: ApiKey = Depends(require("fulfilment:write")),
    rt: Runtime = Depends(runtime),
) -> dict[str, Any]:
    """Cancel an FO that has not been dispatched; its reserved stock is released."""
    reason = body.reason or "cancelled"
    return _write(rt, fo, lambda conn, fo_id: fs.cancel(conn, fo_id, reason, at=_now(), actor=key.actor))


_CSV_BODY = {
    "required": True,
    "content": {
        "text/csv": {
            "schema": {
                "type": "string",
                "description": f"a header row ({', '.join(COLUMNS)}), an event a row",
            }
        }
    },
}


@router.post("/fulfilment-orders/events", response_model=FeedResult, openapi_extra={"requestBody": _CSV_BODY},
             responses={415: {"description": "not text/csv"}})  # fmt: skip
async def post_event_feed(
    request: Request, key: ApiKey = Depends(require("fulfilment:write")), rt: Runtime = Depends(runtime)
) -> dict[str, Any]:
    """A warehouse's status feed as CSV: each valid row applies (in its own transaction, once per
    event_id); a bad row is refused with its row and column, and the others still apply."""
    ctype = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
    if ctype not in ("text/csv", "application/csv", "text/plain"):
        raise UnsupportedMedia(f"send the feed as text/csv, not {ctype or 'no content type'}")
    raw = await request.body()
    return await run_in_threadpool(apply_feed, rt, raw, key.actor)


class UnsupportedMedia(LegatoError):
    code = "unsupported_media_type"
    status = 415
    title = "Unsupported media type"


def _where(row: int, header: list[str], column: str) -> str:
    """``row 3, column B (status)``: where a spreadsheet shows the cell."""
    letter = chr(ord("A") + header.index(column)) if column in header else "?"
    return f"row {row}, column {letter} ({column})"


def _rows(raw: bytes) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        msg = "the feed is not UTF-8 text"
        raise ValidationFailed(msg, issues=[FieldIssue("body", msg, "invalid_encoding")]) from None
    reader = csv.reader(io.StringIO(text))
    header = [h.strip().lower() for h in next(reader, [])]
    missing = [c for c in ("fulfilment_order", "status") if c not in header]
    unknown = [h for h in header if h not in COLUMNS]
    if missing or unknown or len(set(header)) != len(header):
        msg = f"the header row names its columns once each: {', '.join(COLUMNS)} (the first two required)"
        raise ValidationFailed(msg, issues=[FieldIssue("row 1", msg, "invalid_header", ",".join(header))])
    out: list[tuple[int, dict[str, str]]] = []
    for n, cells in enumerate(reader, start=2):
        if not any(c.strip() for c in cells):
            continue
        if len(out) >= MAX_ROWS:
            msg = f"at most {MAX_ROWS} rows a feed"
            raise ValidationFailed(msg, issues=[FieldIssue(f"row {n}", msg, "too_many_rows")])
        out.append((n, {h: (cells[i].strip() if i < len(cells) else "") for i, h in enumerate(header)}))
    return header, out


def apply_feed(rt: Runtime, raw: bytes, actor: str) -> dict[str, Any]:
    """Every row of the feed, each applied in its own transaction; the result of each."""
    header, rows = _rows(raw)
    results = [_apply_row(rt, n, row, header, actor) for n, row in rows]
    return {
        "applied": sum(1 for r in results if r["outcome"] == "applied"),
        "refused": sum(1 for r in results if r["outcome"] == "refused"),
        "results": results,
    }


def _apply_row(rt: Runtime, n: int, row: dict[str, str], header: list[str], actor: str) -> dict[str, Any]:
    ref, status = row.get("fulfilment_order", ""), row.get("status", "")
    issues = []
    if not ref:
        issues.append(FieldIssue(_where(n, header, "fulfilment_order"), "the FO's id or number", "required"))
    if status not in {s.value for s in FoStatus}:
        msg = f"one of {', '.join(s.value for s in FoStatus)}"
        issues.append(FieldIssue(_where(n, header, "status"), msg, "invalid_status", status))
    for column, limit in (("event_id", 200), ("carrier", 60), ("tracking_number", 120), ("reason", 1000)):
        if len(row.get(column, "")) > limit:
            issues.append(FieldIssue(_where(n, header, column), f"at most {limit} characters", "too_long"))
    result: dict[str, Any] = {"row": n, "fulfilment_order": ref or None, "status": None, "errors": []}
    if not issues:
        number = row.get("tracking_number")
        tracking = [{"carrier": row.get("carrier") or None, "number": number}] if number else []

        def run(conn: Connection) -> fs.EventOutcome:
            return fs.apply_event(
                conn, fq.resolve(conn, ref), status, at=_now(), actor=actor, source="csv",
                key=row.get("event_id") or None, reason=row.get("reason") or None, tracking=tracking,
            )  # fmt: skip

        try:
            out = in_transaction(rt.engine, run)
        except LegatoError as exc:
            missing = isinstance(exc, NotFound)
            path = _where(n, header, "fulfilment_order" if missing else "status")
            issues.append(FieldIssue(path, exc.detail, exc.code, ref if missing else status))
        else:
            outcome = "duplicate" if out.duplicate else "applied" if out.applied else "unchanged"
            result.update(fulfilment_order=out.number, outcome=outcome, status=out.status)
    if issues:
        errors = [{"path": i.path, "message": i.message, "code": i.code} for i in issues]
        result.update(outcome="refused", errors=errors)
    return result


__all__ = ["router"]
