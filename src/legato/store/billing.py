"""Usage billing storage: the plans (which meter bills which account for which product, on
which channel) and the billing runs, each with the bills it placed and the plans it refused.

Every function takes the caller's connection, so a plan's references are checked and the
plan written in one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, Select, func, select, update
from sqlalchemy.exc import IntegrityError

from legato.domain.errors import DuplicateKey
from legato.store import tables as t
from legato.store.queries import decode_cursor, encode_cursor

_P, _B, _R = t.usage_plans, t.billing_runs, t.sensor_readings
_BILLED = t.channels.alias("billed")
_READ = t.channels.alias("read")


@dataclass(frozen=True)
class UsagePlan:
    """What a plan says: bill ``account_code`` for ``sku`` on channel ``channel_code``, with the
    usage of ``device_id``'s ``metric`` (read on ``readings_channel_code`` only, if set)."""

    code: str
    channel_code: str
    device_id: str
    metric: str
    account_code: str
    sku: str
    readings_channel_code: str | None = None
    active: bool = True


@dataclass(frozen=True)
class StoredPlan:
    id: int
    plan: UsagePlan
    channel_id: int
    readings_channel_id: int | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class BillingRun:
    """One run over a period: the orders it placed or found (``bills``) and what it refused."""

    id: int
    period_start: date
    period_end: date
    channel_code: str | None
    state: str  # running | done | failed
    started_at: datetime
    finished_at: datetime | None
    orders_created: int
    orders_existing: int
    bills: list[dict[str, Any]]
    refused: list[dict[str, Any]]
    reason: str | None
    created_by: str


# --- plans -------------------------------------------------------------------------------


def _plans() -> Select[Any]:
    return (
        select(_P, _BILLED.c.code.label("channel_code"), _READ.c.code.label("readings_channel_code"))
        .join(_BILLED, _BILLED.c.id == _P.c.channel_id)
        .outerjoin(_READ, _READ.c.id == _P.c.readings_channel_id)
    )


def _stored(r: Any) -> StoredPlan:
    plan = UsagePlan(
        r.code,
        r.channel_code,
        r.device_id,
        r.metric,
        r.account_code,
        r.sku,
        r.readings_channel_code,
        r.active,
    )
    return StoredPlan(r.id, plan, r.channel_id, r.readings_channel_id, r.created_at, r.updated_at)


def _values(plan: UsagePlan, channel_id: int, readings_channel_id: int | None) -> dict[str, Any]:
    return {
        "code": plan.code, "channel_id": channel_id, "device_id": plan.device_id, "metric": plan.metric,
        "readings_channel_id": readings_channel_id, "account_code": plan.account_code, "sku": plan.sku,
        "active": plan.active,
    }  # fmt: skip


def insert_plan(
    conn: Connection, plan: UsagePlan, *, channel_id: int, readings_channel_id: int | None, now: datetime
) -> int:
    """A new plan; DuplicateKey (409) when its code is in use (also by a concurrent insert)."""
    values = {**_values(plan, channel_id, readings_channel_id), "created_at": now, "updated_at": now}
    savepoint = conn.begin_nested()
    try:
        new_id = int(conn.execute(_P.insert().values(**values).returning(_P.c.id)).scalar_one())
    except IntegrityError:
        savepoint.rollback()
        raise DuplicateKey(f"a usage plan {plan.code!r} exists already", code_in_use=plan.code) from None
    savepoint.commit()
    return new_id


def update_plan(
    conn: Connection,
    plan_id: int,
    plan: UsagePlan,
    *,
    channel_id: int,
    readings_channel_id: int | None,
    now: datetime,
) -> None:
    values = {**_values(plan, channel_id, readings_channel_id), "updated_at": now}
    conn.execute(update(_P).where(_P.c.id == plan_id).values(**values))


def get_plan(conn: Connection, code: str, *, for_update: bool = False) -> StoredPlan | None:
    query = _plans().where(_P.c.code == code)
    if for_update:
        query = query.with_for_update(of=_P)
    row = conn.execute(query).first()
    return _stored(row) if row else None


def list_plans(
    conn: Connection,
    *,
    channel_code: str | None = None,
    active: bool | None = None,
    limit: int = 100,
    cursor: str | None = None,
) -> tuple[list[StoredPlan], str | None]:
    """Plans, newest first, a page at a time (the cursor names the last id seen)."""
    query = _plans()
    if channel_code:
        query = query.where(_BILLED.c.code == channel_code)
    if active is not None:
        query = query.where(_P.c.active.is_(active))
    if cursor:
        query = query.where(_P.c.id < decode_cursor(cursor))
    rows = conn.execute(query.order_by(_P.c.id.desc()).limit(limit + 1)).all()
    items = [_stored(r) for r in rows[:limit]]
    return items, encode_cursor(items[-1].id) if len(rows) > limit and items else None


def active_plans(conn: Connection, *, channel_id: int | None = None) -> list[StoredPlan]:
    """Every active plan (of one billing channel), in code order: what a run bills."""
    query = _plans().where(_P.c.active.is_(True))
    if channel_id is not None:
        query = query.where(_P.c.channel_id == channel_id)
    return [_stored(r) for r in conn.execute(query.order_by(_P.c.code))]


def readings_in(
    conn: Connection, device_id: str, metric: str, start: datetime, end: datetime, *, channel_id: int | None
) -> int:
    """How many readings of the meter fall in (start, end]: shown on each bill, so a meter
    that never reported (a misspelt device id) is seen, not billed silently at the base fee."""
    query = select(func.count()).where(
        _R.c.device_id == device_id, _R.c.metric == metric, _R.c.at > start, _R.c.at <= end
    )
    if channel_id is not None:
        query = query.where(_R.c.channel_id == channel_id)
    return int(conn.execute(query).scalar_one())


# --- runs --------------------------------------------------------------------------------


def start_run(
    conn: Connection, start: date, end: date, *, channel_id: int | None, actor: str, now: datetime
) -> int:
    values: dict[str, Any] = {
        "period_start": start, "period_end": end, "channel_id": channel_id, "state": "running",
        "started_at": now, "finished_at": None, "orders_created": 0, "orders_existing": 0, "bills": [],
        "refused": [], "reason": None, "created_by": actor[:120],
    }  # fmt: skip
    return int(conn.execute(_B.insert().values(**values).returning(_B.c.id)).scalar_one())


def finish_run(
    conn: Connection,
    run_id: int,
    *,
    state: str,
    bills: list[dict[str, Any]],
    refused: list[dict[str, Any]],
    reason: str | None = None,
    now: datetime,
) -> None:
    created = sum(1 for b in bills if b["created"])
    values = {"state": state, "finished_at": now, "bills": bills, "refused": refused, "reason": reason,
              "orders_created": created, "orders_existing": len(bills) - created}  # fmt: skip
    conn.execute(update(_B).where(_B.c.id == run_id).values(**values))


def _runs() -> Select[Any]:
    return select(_B, _BILLED.c.code.label("channel_code")).outerjoin(
        _BILLED, _BILLED.c.id == _B.c.channel_id
    )


def _run(r: Any) -> BillingRun:
    return BillingRun(
        r.id, r.period_start, r.period_end, r.channel_code, r.state, r.started_at, r.finished_at,
        r.orders_created, r.orders_existing, list(r.bills), list(r.refused), r.reason, r.created_by,
    )  # fmt: skip


def get_run(conn: Connection, run_id: int) -> BillingRun | None:
    row = conn.execute(_runs().where(_B.c.id == run_id)).first()
    return _run(row) if row else None


def list_runs(
    conn: Connection, *, limit: int = 100, cursor: str | None = None
) -> tuple[list[BillingRun], str | None]:
    """Runs, newest first, a page at a time."""
    query = _runs()
    if cursor:
        query = query.where(_B.c.id < decode_cursor(cursor))
    rows = conn.execute(query.order_by(_B.c.id.desc()).limit(limit + 1)).all()
    items = [_run(r) for r in rows[:limit]]
    return items, encode_cursor(items[-1].id) if len(rows) > limit and items else None


__all__ = [
    "BillingRun",
    "StoredPlan",
    "UsagePlan",
    "active_plans",
    "finish_run",
    "get_plan",
    "get_run",
    "insert_plan",
    "list_plans",
    "list_runs",
    "readings_in",
    "start_run",
    "update_plan",
]
