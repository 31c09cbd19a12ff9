"""Exchange rates and operator alerts: list the rates, set one by hand, refresh the feed now.

A manual rate is given as decimal text (``"1.0845"``) so no digit is lost to binary
floating point. A refresh that cannot reach or read the feed still answers 200, with
``ok: false`` and the reason: the request did its job (the stored rates are kept and an
``fx_feed`` alert is open), and a 5xx would blame Legato for the feed's failure.
Refreshes closer together than REFRESH_COOLDOWN seconds answer 429, to spare the feed.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from legato.api.deps import runtime
from legato.api.security import require
from legato.bootstrap import Runtime
from legato.connectors.rates import update_rates
from legato.domain.errors import LegatoError
from legato.domain.fx import Rate, is_stale, manual_rate
from legato.store.alerts import open_alerts
from legato.store.apikeys import ApiKey
from legato.store.db import READ_ONLY, write_lock
from legato.store.fx import SqlRates

router = APIRouter(prefix="/api/v1", tags=["rates"])

#: Seconds between two refreshes of the feed through the API (per process).
REFRESH_COOLDOWN = 10.0
_REFRESH_LOCK = threading.Lock()  # guards app.state.fx_refreshed_at
_PROBLEM = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}


class RefreshTooSoon(LegatoError):
    code = "too_many_requests"
    status = 429
    title = "Refreshed moments ago"


class RateOut(BaseModel):
    base: str
    quote: str
    rate: Decimal = Field(description="1 base = rate quote, as a decimal string")
    as_of: date
    provider: str
    stale: bool = Field(description="older than LEGATO_FX_MAX_AGE_DAYS")
    age_days: int
    in_use: bool = Field(description="the rate pricing uses today for this pair (provider preference)")


class RatesPage(BaseModel):
    items: list[RateOut]
    base_currency: str
    provider: str
    max_age_days: int
    stale_policy: str


class ManualRateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rate: Annotated[str, StringConstraints(min_length=1, max_length=30)] = Field(
        description="decimal text: 1 base = rate quote", examples=["1.0845"]
    )
    as_of: date | None = Field(None, description="the day it applies from; default today (UTC)")


class UpdateOut(BaseModel):
    provider: str
    fetched: bool
    ok: bool
    rates: int
    changed: int
    as_of: date | None
    error: str | None
    stale: list[str]


class AlertOut(BaseModel):
    id: int
    kind: str
    subject: str
    message: str
    raised_at: datetime
    last_raised_at: datetime


class AlertList(BaseModel):
    items: list[AlertOut]


def _today() -> date:
    return datetime.now(UTC).date()


def _out(r: Rate, today: date, max_age: int, in_use: bool) -> dict[str, Any]:
    return {
        "base": r.base,
        "quote": r.quote,
        "rate": r.rate,
        "as_of": r.as_of,
        "provider": r.provider,
        "stale": is_stale(r, today, max_age),
        "age_days": (today - r.as_of).days,
        "in_use": in_use,
    }


@router.get("/rates", response_model=RatesPage)
def list_rates(
    limit: int = Query(500, ge=1, le=2000),
    _: ApiKey = Depends(require("orders:read")),
    rt: Runtime = Depends(runtime),
) -> dict[str, Any]:
    """The latest rate of every pair and provider, with its age and whether pricing uses it."""
    s, today = rt.settings, _today()
    with rt.engine.connect().execution_options(**{READ_ONLY: True}) as conn:
        store = SqlRates(conn, s.fx_provider)
        used = set(store.table(today).rates)
        latest = store.latest(limit)
    return {
        "items": [_out(r, today, s.fx_max_age_days, r in used) for r in latest],
        "base_currency": s.base_currency,
        "provider": s.fx_provider,
        "max_age_days": s.fx_max_age_days,
        "stale_policy": s.fx_stale_policy,
    }


@router.put("/rates/{base}/{quote}", response_model=RateOut)
def set_rate(
    body: ManualRateIn,
    base: str = Path(max_length=8, description="ISO 4217, e.g. EUR"),
    quote: str = Path(max_length=8, description="ISO 4217, e.g. USD"),
    _: ApiKey = Depends(require("catalog:write")),
    rt: Runtime = Depends(runtime),
) -> dict[str, Any]:
    """Set a manual rate: 1 ``base`` = ``rate`` ``quote`` from ``as_of``. It is used for a
    pair the configured provider does not quote (or for every pair with provider manual)."""
    today = _today()
    rate = manual_rate(base, quote, body.rate, body.as_of or today, latest=today + timedelta(days=366))
    with write_lock(rt.engine), rt.engine.begin() as conn:
        SqlRates(conn, rt.settings.fx_provider).save([rate], datetime.now(UTC))
        used = rate in SqlRates(conn, rt.settings.fx_provider).table(today).rates
    return _out(rate, today, rt.settings.fx_max_age_days, used)


@router.post(
    "/rates/refresh",
    response_model=UpdateOut,
    responses={
        429: {"description": "refreshed moments ago; see Retry-After", "content": _PROBLEM},
    },
)
def refresh_rates(
    request: Request, _: ApiKey = Depends(require("admin")), rt: Runtime = Depends(runtime)
) -> dict[str, Any]:
    """Fetch the configured feed now and save its rates (with provider manual: only the
    staleness check). Returns what was fetched and which rates in use are stale; when the
    feed failed, ``ok`` is false, ``error`` says why and the stored rates are unchanged."""
    state = request.app.state
    with _REFRESH_LOCK:
        wait = getattr(state, "fx_refreshed_at", -REFRESH_COOLDOWN) + REFRESH_COOLDOWN - time.monotonic()
        if wait > 0:
            raise RefreshTooSoon(
                f"the rates were refreshed moments ago; try again in {wait:.0f} s",
                headers={"Retry-After": str(max(1, round(wait)))},
            )
        state.fx_refreshed_at = time.monotonic()
    return update_rates(rt).as_dict()


@router.get("/alerts", response_model=AlertList, tags=["alerts"])
def list_alerts(
    kind: str | None = Query(None, max_length=40, description="e.g. fx_feed, fx_stale"),
    _: ApiKey = Depends(require("orders:read")),
    rt: Runtime = Depends(runtime),
) -> dict[str, Any]:
    """Open alerts, oldest first: what needs a person (a failing feed, stale rates ...)."""
    return {"items": [vars(a) for a in open_alerts(rt.engine, kind)]}


__all__ = ["REFRESH_COOLDOWN", "router"]
