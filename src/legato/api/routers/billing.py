"""Usage-based billing: usage plans, billing runs, and meter readings sent as JSON or CSV.

Plans are settings (``catalog:write``); a run places orders and readings feed the IoT
store, so both need ``orders:write``; reading any of them needs ``orders:read``. See
docs/pricing/usage.md ("Billing runs").
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, BeforeValidator, Field, StringConstraints

from legato.api.deps import runtime
from legato.api.problems import issue_to_dict
from legato.api.routers.iot import DeviceId, Metric
from legato.api.schemas import Code, Sku, Strict
from legato.api.security import require
from legato.bootstrap import Runtime
from legato.domain.errors import FieldIssue, ValidationFailed
from legato.intake import billing
from legato.intake.usage_formats import COLUMNS
from legato.intake.usage_readings import receive_readings
from legato.store import billing as store
from legato.store.apikeys import ApiKey
from legato.store.queries import reading

router = APIRouter(prefix="/api/v1", tags=["billing"])

PLAN_CODE = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$"
PlanCode = Annotated[str, StringConstraints(pattern=PLAN_CODE)]


def _iso_day(value: Any) -> Any:
    """A day as the ISO text YYYY-MM-DD only: not a number, not a time (whose day depends on a zone)."""
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        return value
    raise ValueError("must be a day as YYYY-MM-DD")


Day = Annotated[date, BeforeValidator(_iso_day), Field(description="a day, YYYY-MM-DD (UTC)")]


class PlanIn(Strict):
    code: PlanCode
    channel: Code = Field(description="the channel the bills are placed on, in its currency")
    device_id: DeviceId
    metric: Metric = Field(description="the meter: a cumulative counter such as operating_hours")
    account: Code = Field(description="the account billed (the channel must match customers by code)")
    sku: Sku = Field(description="the product billed; the usage is its line input usage.<metric>")
    readings_channel: Code | None = Field(None, description="count only this iot channel's readings")
    active: bool = True


class PlanPatch(Strict):
    channel: Code | None = None
    device_id: DeviceId | None = None
    metric: Metric | None = None
    account: Code | None = None
    sku: Sku | None = None
    readings_channel: Code | None = Field(None, description="null: readings from any channel")
    active: bool | None = None


class PlanOut(BaseModel):
    code: str
    channel: str
    device_id: str
    metric: str
    account: str
    sku: str
    readings_channel: str | None
    active: bool
    created_at: datetime
    updated_at: datetime


class PlanPage(BaseModel):
    items: list[PlanOut]
    next_cursor: str | None


class RunIn(Strict):
    start: Day
    end: Day = Field(description="the last day billed, included; the period must be over")
    channel: Code | None = Field(None, description="only the plans billed on this channel")


class BillOut(BaseModel):
    plan: str
    order: str = Field(description="the order's number")
    created: bool = Field(description="false: an earlier run placed it")
    usage: Decimal
    readings: int = Field(description="readings in the period (0: the base fee only)")
    grand_total: Decimal
    currency: str


class RefusalOut(BaseModel):
    plan: str
    code: str
    reason: str
    errors: list[dict[str, Any]]


class RunOut(BaseModel):
    id: int
    start: date
    end: date
    channel: str | None
    state: str = Field(description="running, done or failed")
    started_at: datetime
    finished_at: datetime | None
    orders_created: int
    orders_existing: int
    bills: list[BillOut]
    refused: list[RefusalOut]
    reason: str | None
    created_by: str


class RunPage(BaseModel):
    items: list[RunOut]
    next_cursor: str | None


class ReadingsResult(BaseModel):
    inbox_id: int
    state: str = Field(description="processed, duplicate (all known), or quarantined (some refused)")
    readings: int
    new: int = Field(description="readings not stored before")
    orders: list[dict[str, Any]] = Field(description="replenishment orders the readings placed")
    reason: str
    refused: list[dict[str, Any]] = Field(description="readings whose replenishment order was refused")


def _plan_out(s: store.StoredPlan) -> dict[str, Any]:
    p = s.plan
    return {
        "code": p.code, "channel": p.channel_code, "device_id": p.device_id, "metric": p.metric,
        "account": p.account_code, "sku": p.sku, "readings_channel": p.readings_channel_code,
        "active": p.active, "created_at": s.created_at, "updated_at": s.updated_at,
    }  # fmt: skip


def _run_out(r: store.BillingRun) -> dict[str, Any]:
    return {
        "id": r.id, "start": r.period_start, "end": r.period_end, "channel": r.channel_code,
        "state": r.state, "started_at": r.started_at, "finished_at": r.finished_at,
        "orders_created": r.orders_created, "orders_existing": r.orders_existing, "bills": r.bills,
        "refused": [_refusal_out(x) for x in r.refused], "reason": r.reason, "created_by": r.created_by,
    }  # fmt: skip


def _refusal_out(refused: dict[str, Any]) -> dict[str, Any]:
    """A refused plan's field issues as the API names them everywhere: JSON path and pointer."""
    issues = [FieldIssue(e["path"], e["message"], e["code"], e.get("value")) for e in refused["errors"]]
    return {**refused, "errors": [issue_to_dict(i) for i in issues]}


# --- plans -------------------------------------------------------------------------------


@router.post("/usage-plans", response_model=PlanOut, status_code=201)
def create_plan(
    body: PlanIn, _: ApiKey = Depends(require("catalog:write")), rt: Runtime = Depends(runtime)
) -> dict[str, Any]:
    """A plan billing ``account`` for ``sku`` with the usage of a device's meter (422 names each
    field that is wrong or refers to nothing; 409 for a code in use)."""
    plan = store.UsagePlan(
        body.code, body.channel, body.device_id, body.metric, body.account, body.sku,
        body.readings_channel, body.active,
    )  # fmt: skip
    return _plan_out(billing.add_plan(rt, plan))


@router.get("/usage-plans", response_model=PlanPage)
def list_plans(
    channel: str | None = Query(None, max_length=32, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"),
    active: bool | None = Query(None),
    limit: int = Query(100, ge=1, le=500),
    cursor: str | None = Query(None, max_length=100),
    _: ApiKey = Depends(require("orders:read")),
    rt: Runtime = Depends(runtime),
) -> dict[str, Any]:
    """Plans, newest first."""
    with reading(rt.engine) as conn:
        items, nxt = store.list_plans(conn, channel_code=channel, active=active, limit=limit, cursor=cursor)
    return {"items": [_plan_out(s) for s in items], "next_cursor": nxt}


def _code() -> Any:
    return Path(max_length=40, pattern=PLAN_CODE)


@router.get("/usage-plans/{code}", response_model=PlanOut)
def get_plan(
    code: str = _code(), _: ApiKey = Depends(require("orders:read")), rt: Runtime = Depends(runtime)
) -> dict[str, Any]:
    return _plan_out(billing.get_plan(rt, code))


_NOT_NULL = ("channel", "device_id", "metric", "account", "sku", "active")
_FIELDS = {"channel": "channel_code", "account": "account_code", "readings_channel": "readings_channel_code"}


@router.patch("/usage-plans/{code}", response_model=PlanOut)
def change_plan(
    body: PlanPatch,
    code: str = _code(),
    _: ApiKey = Depends(require("catalog:write")),
    rt: Runtime = Depends(runtime),
) -> dict[str, Any]:
    """Change a plan's settings; bills already placed stay as they are."""
    sent = body.model_dump(exclude_unset=True)
    nulls = [
        FieldIssue(n, f"{n} cannot be null", "required") for n in _NOT_NULL if n in sent and sent[n] is None
    ]
    if nulls:
        raise ValidationFailed(nulls[0].message, issues=nulls)
    return _plan_out(billing.change_plan(rt, code, {_FIELDS.get(k, k): v for k, v in sent.items()}))


# --- runs --------------------------------------------------------------------------------


@router.post("/billing-runs", response_model=RunOut, status_code=201)
def create_run(
    body: RunIn, key: ApiKey = Depends(require("orders:write")), rt: Runtime = Depends(runtime)
) -> dict[str, Any]:
    """Bill every active plan (of ``channel``) for the days ``start`` .. ``end``: one order per
    plan, placed once whatever the runs (a re-run reports them as existing). A plan whose bill
    cannot be placed is listed in ``refused`` with the reason; the others are billed."""
    run = billing.run_billing(rt, body.start, body.end, channel_code=body.channel, actor=key.actor)
    return _run_out(run)


@router.get("/billing-runs", response_model=RunPage)
def list_runs(
    limit: int = Query(50, ge=1, le=200),
    cursor: str | None = Query(None, max_length=100),
    _: ApiKey = Depends(require("orders:read")),
    rt: Runtime = Depends(runtime),
) -> dict[str, Any]:
    """Runs, newest first."""
    with reading(rt.engine) as conn:
        items, nxt = store.list_runs(conn, limit=limit, cursor=cursor)
    return {"items": [_run_out(r) for r in items], "next_cursor": nxt}


@router.get("/billing-runs/{run_id}", response_model=RunOut)
def get_run(
    run_id: int = Path(ge=1, le=2**62),
    _: ApiKey = Depends(require("orders:read")),
    rt: Runtime = Depends(runtime),
) -> dict[str, Any]:
    return _run_out(billing.get_run(rt, run_id))


# --- readings ----------------------------------------------------------------------------

_READING = {
    "type": "object",
    "required": ["device_id", "metric", "value", "at"],
    "additionalProperties": False,
    "properties": {
        "device_id": {"type": "string", "maxLength": 120},
        "metric": {"type": "string", "pattern": r"^[A-Za-z0-9_.:-]{1,60}$"},
        "value": {"type": ["string", "number"], "description": "the meter's value, read exactly"},
        "at": {"type": "string", "format": "date-time", "description": "with its offset (Z, +01:00)"},
        "unit": {"type": "string", "maxLength": 20},
    },
}
_BODY = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["readings"],
                "additionalProperties": False,
                "properties": {
                    "channel": {"type": "string", "description": "the iot channel (or ?channel=)"},
                    "readings": {"type": "array", "minItems": 1, "items": _READING},
                },
            }
        },
        "text/csv": {
            "schema": {
                "type": "string",
                "description": f"a header row ({', '.join(COLUMNS)}), a reading a row",
            }
        },
    },
}


@router.post(
    "/usage-readings",
    response_model=ReadingsResult,
    status_code=201,
    openapi_extra={"requestBody": _BODY},
    responses={
        200: {"model": ReadingsResult, "description": "every reading known already, or some refused"},
        415: {"description": "neither application/json nor text/csv"},
    },
)
async def post_readings(
    request: Request,
    response: Response,
    channel: str | None = Query(None, max_length=32, description="the iot channel (CSV; JSON may name it)"),
    _: ApiKey = Depends(require("orders:write")),
    rt: Runtime = Depends(runtime),
) -> dict[str, Any]:
    """Meter readings as JSON or CSV, stored in the inbox first, then recorded like a sensor's
    (each once; replenishment rules see them). 422 names every bad reading by JSON path or by
    CSV row and column, and records none of them."""
    body = await request.body()
    out = await run_in_threadpool(
        receive_readings, rt, body, content_type=request.headers.get("content-type"), channel_code=channel,
        headers=dict(request.headers), source=request.client.host if request.client else None,
    )  # fmt: skip
    if not (out.state == "processed" and out.new):
        response.status_code = 200
    return {
        "inbox_id": out.inbox_id, "state": out.state, "readings": out.readings, "new": out.new,
        "orders": [{"id": p.order_id, "number": p.number, "created": p.created} for p in out.placed],
        "reason": out.summary,
        "refused": [{"reference": r.reference, "errors": [issue_to_dict(i) for i in r.issues]}
                    for r in out.refused],
    }  # fmt: skip
