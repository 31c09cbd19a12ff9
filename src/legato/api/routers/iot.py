"""IoT replenishment: the rules (create, list, read, change) and a device's readings.

Readings arrive at ``POST /intake/{code}`` (an ``iot`` channel, signed) or over MQTT; see
docs/channels/iot.md. Rules are settings, written with ``catalog:write``; their state
(armed, breaches, the open order) is the processing's, except ``armed``, which PATCH may
set to re-arm a rule by hand (after cancelling its order, say).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from pydantic import AfterValidator, BaseModel, Field, StringConstraints

from legato.api.deps import runtime
from legato.api.schemas import AddressIn, Code, Quantity, Sku, Strict
from legato.api.security import require
from legato.bootstrap import Runtime
from legato.domain.errors import FieldIssue, NotFound, ValidationFailed
from legato.domain.order import ORDER_PREFIX, Address, format_number
from legato.domain.replenishment import Comparison, QuantityMode, Rule
from legato.intake import iot
from legato.intake.adapters.iot import valid_device_id
from legato.store import iot as store
from legato.store.apikeys import ApiKey
from legato.store.queries import reading

router = APIRouter(prefix="/api/v1", tags=["iot"])

RULE_CODE = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$"
METRIC = r"^[A-Za-z0-9_.:-]{1,60}$"


def _device(value: str) -> str:
    if not valid_device_id(value):
        raise ValueError("must be 1-120 printable characters without spaces or / + #")
    return value


DeviceId = Annotated[str, StringConstraints(min_length=1, max_length=120), AfterValidator(_device)]
Metric = Annotated[str, StringConstraints(pattern=METRIC)]
#: a level, a threshold, a par: 15 digits before the point, 6 after, signed
Level = Annotated[Decimal, Field(max_digits=21, decimal_places=6)]


class RuleIn(Strict):
    code: Annotated[str, StringConstraints(pattern=RULE_CODE)]
    channel: Code = Field(description="an iot channel's code")
    device_id: DeviceId
    metric: Metric
    comparison: Comparison = Field(
        description="below: breach when value < threshold; above: value > threshold"
    )
    threshold: Level
    rearm: Level = Field(description="after a breach, the rule re-arms once a reading recovers past this")
    account: Code = Field(description="the account the replenishment order is for")
    sku: Sku
    quantity_mode: QuantityMode = QuantityMode.FIXED
    quantity: Quantity | None = Field(None, description="fixed rules: the quantity ordered")
    par_level: Level | None = Field(None, description="up_to_par rules: order par - reading, rounded up")
    shipping_address: AddressIn | None = Field(None, description="else the order has none (the account's)")
    active: bool = True


class RulePatch(Strict):
    channel: Code | None = None
    device_id: DeviceId | None = None
    metric: Metric | None = None
    comparison: Comparison | None = None
    threshold: Level | None = None
    rearm: Level | None = None
    account: Code | None = None
    sku: Sku | None = None
    quantity_mode: QuantityMode | None = None
    quantity: Quantity | None = None
    par_level: Level | None = None
    shipping_address: AddressIn | None = None
    active: bool | None = None
    armed: bool | None = Field(None, description="re-arm (or disarm) the rule by hand")


class RuleStateOut(BaseModel):
    armed: bool
    last_reading_at: datetime | None
    breaches: int = Field(description="orders this rule has placed")
    open_order: str | None = Field(description="the number of its last order while that is open")
    last_order: str | None = Field(description="the number of its last order")


class RuleOut(BaseModel):
    code: str
    channel: str
    device_id: str
    metric: str
    comparison: Comparison
    threshold: Decimal
    rearm: Decimal
    account: str
    sku: str
    quantity_mode: QuantityMode
    quantity: Decimal | None
    par_level: Decimal | None
    shipping_address: dict[str, Any] | None
    active: bool
    state: RuleStateOut
    created_at: datetime
    updated_at: datetime


class RulePage(BaseModel):
    items: list[RuleOut]
    next_cursor: str | None


class ReadingOut(BaseModel):
    channel: str
    device_id: str
    metric: str
    value: Decimal
    unit: str | None
    at: datetime
    received_at: datetime
    inbox_id: int | None


class ReadingPage(BaseModel):
    items: list[ReadingOut]
    next_cursor: str | None


def _out(s: store.StoredRule) -> dict[str, Any]:
    r = s.rule
    last = format_number(ORDER_PREFIX, s.open_order_id) if s.open_order_id else None
    return {
        "code": r.code, "channel": s.channel_code, "device_id": r.device_id, "metric": r.metric,
        "comparison": r.comparison, "threshold": r.threshold, "rearm": r.rearm, "account": r.account_code,
        "sku": r.sku, "quantity_mode": r.quantity_mode, "quantity": r.quantity, "par_level": r.par_level,
        "shipping_address": r.shipping_address.as_dict() if r.shipping_address else None,
        "active": r.active,
        "state": {"armed": s.state.armed, "last_reading_at": s.state.last_reading_at,
                  "breaches": s.state.breaches, "open_order": last if s.state.order_open else None,
                  "last_order": last},
        "created_at": s.created_at, "updated_at": s.updated_at,
    }  # fmt: skip


def _address(body: AddressIn | None) -> Address | None:
    return Address(**body.model_dump(exclude_none=True)) if body else None


@router.post("/replenishment-rules", response_model=RuleOut, status_code=201)
def create_rule(
    body: RuleIn, _: ApiKey = Depends(require("catalog:write")), rt: Runtime = Depends(runtime)
) -> dict[str, Any]:
    """A rule that orders ``sku`` for ``account`` once per breach of a device's metric
    (422 names each field that is wrong or refers to nothing; 409 for a code in use)."""
    rule = Rule(
        code=body.code, device_id=body.device_id, metric=body.metric, comparison=body.comparison,
        threshold=body.threshold, rearm=body.rearm, account_code=body.account, sku=body.sku,
        quantity_mode=body.quantity_mode, quantity=body.quantity, par_level=body.par_level,
        shipping_address=_address(body.shipping_address), active=body.active,
    )  # fmt: skip
    return _out(iot.add_rule(rt, body.channel, rule))


@router.get("/replenishment-rules", response_model=RulePage)
def list_rules(
    channel: str | None = Query(None, max_length=32, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"),
    device_id: str | None = Query(None, max_length=120, pattern=r"^[^\s/+#\x00-\x1f\x7f]+$"),
    limit: int = Query(100, ge=1, le=500),
    cursor: str | None = Query(None, max_length=100),
    _: ApiKey = Depends(require("orders:read")),
    rt: Runtime = Depends(runtime),
) -> dict[str, Any]:
    """Rules, newest first, with their state."""
    with reading(rt.engine) as conn:
        items, nxt = store.list_rules(
            conn, channel_code=channel, device_id=device_id, limit=limit, cursor=cursor
        )
    return {"items": [_out(s) for s in items], "next_cursor": nxt}


def _code() -> Any:
    return Path(max_length=40, pattern=RULE_CODE)


@router.get("/replenishment-rules/{code}", response_model=RuleOut)
def get_rule(
    code: str = _code(), _: ApiKey = Depends(require("orders:read")), rt: Runtime = Depends(runtime)
) -> dict[str, Any]:
    return _out(iot.get_rule(rt, code))


#: fields that may be left out of a PATCH but not sent as null
_REQUIRED = ("channel", "device_id", "metric", "comparison", "threshold", "rearm", "account", "sku",
             "quantity_mode", "active", "armed")  # fmt: skip


@router.patch("/replenishment-rules/{code}", response_model=RuleOut)
def change_rule(
    body: RulePatch,
    code: str = _code(),
    _: ApiKey = Depends(require("catalog:write")),
    rt: Runtime = Depends(runtime),
) -> dict[str, Any]:
    """Change a rule's settings; ``armed`` re-arms (or disarms) it by hand."""
    sent = body.model_dump(exclude_unset=True)
    nulls = [FieldIssue(name, f"{name} cannot be null", "required") for name in _REQUIRED if name in sent
             and sent[name] is None]  # fmt: skip
    if nulls:
        raise ValidationFailed(nulls[0].message, issues=nulls)
    changes = {("account_code" if k == "account" else k): v for k, v in sent.items()}
    if "shipping_address" in changes:
        changes["shipping_address"] = _address(body.shipping_address)
    return _out(iot.change_rule(rt, code, changes))


def _when(value: datetime | None, name: str) -> datetime | None:
    if value is None:
        return None
    msg = f"{name} must carry its time zone (Z or +01:00)"
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValidationFailed(msg, issues=[FieldIssue(name, msg, "naive_time", value.isoformat())])
    try:
        return value.astimezone(UTC)
    except OverflowError:
        msg = f"{name} is outside the calendar"
        raise ValidationFailed(
            msg, issues=[FieldIssue(name, msg, "out_of_range", value.isoformat())]
        ) from None


@router.get("/devices/{device_id}/readings", response_model=ReadingPage)
def device_readings(
    device_id: str = Path(max_length=120),
    metric: str | None = Query(None, pattern=METRIC),
    channel: str | None = Query(None, max_length=32, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"),
    start: datetime | None = Query(None, alias="from", description="readings at or after this time"),
    end: datetime | None = Query(None, alias="to", description="readings at or before this time"),
    limit: int = Query(100, ge=1, le=1000),
    cursor: str | None = Query(None, max_length=200),
    _: ApiKey = Depends(require("orders:read")),
    rt: Runtime = Depends(runtime),
) -> dict[str, Any]:
    """A device's readings, newest first by the reading's own time."""
    if not valid_device_id(device_id):
        raise NotFound(f"no device {device_id!r}")
    lo, hi = _when(start, "from"), _when(end, "to")
    with reading(rt.engine) as conn:
        items, nxt = store.list_readings(
            conn, device_id, metric=metric, channel_code=channel, start=lo, end=hi, limit=limit, cursor=cursor
        )
    return {
        "items": [
            {"channel": r.channel_code, "device_id": r.device_id, "metric": r.metric, "value": r.value,
             "unit": r.unit, "at": r.at, "received_at": r.received_at, "inbox_id": r.inbox_id}
            for r in items
        ],
        "next_cursor": nxt,
    }  # fmt: skip
