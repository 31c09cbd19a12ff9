"""Usage-based billing: a billing run turns a period's metered usage into one order per plan.

A **usage plan** names a meter (a device's cumulative counter: operating hours, km, kWh),
the account it bills, the product billed and the channel the bill is placed on. A **run**
over a period (whole days, UTC, both ends included) reads each active plan's usage with
``store.iot.usage_between`` from the start of its first day to the start of the day after
its last, and places one order through the order services: one line of the plan's product,
quantity 1, the usage as its pricing input. The order's reference
``usage:<plan>:<start>:<end>`` makes a run idempotent: run a period again and every bill
already placed is found, not placed twice (reported as existing). A plan whose bill cannot
be placed (no price, an unknown account) is refused with the reason while the others go on.
Zero usage still bills: the product's price for no usage (a usage plan's base fee).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from legato.bootstrap import Runtime
from legato.domain.catalog import Product
from legato.domain.commands import LineDraft, OrderDraft, PlaceOrder
from legato.domain.errors import FieldIssue, IssueCollector, LegatoError, NotFound, ValidationFailed
from legato.domain.matching import CustomerRef
from legato.intake.adapters.iot import valid_device_id, valid_metric
from legato.services.orders import place_order
from legato.store import billing as store
from legato.store.iot import usage_between
from legato.store.queries import reading
from legato.store.repositories import SqlAccounts, SqlChannels, SqlOrders, SqlProducts
from legato.store.uow import SqlUnitOfWork

log = logging.getLogger("legato.billing")

RUNNING, DONE, FAILED = "running", "done", "failed"
PLAN_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,39}")
#: the plan settings PATCH may change (everything but the code)
CHANGEABLE = ("channel_code", "device_id", "metric", "account_code", "sku", "readings_channel_code", "active")
ONE = Decimal(1)


# --- the period --------------------------------------------------------------------------


def period_bounds(start: date, end: date, *, now: datetime | None = None) -> tuple[datetime, datetime]:
    """The period's first and last instants in UTC, (start 00:00, the day after end 00:00), once
    it is a real, finished period: billing a day not over yet would bill part of it for good."""
    found = IssueCollector()
    lo = datetime.combine(start, time(0), UTC)
    hi = datetime.combine(end + timedelta(days=1), time(0), UTC)
    if end < start:
        found.add("end", f"the period ends ({end}) before it starts ({start})", "invalid", end.isoformat())
    elif hi > (now or datetime.now(UTC)):
        msg = f"the period is not over: it can be billed from {hi.isoformat().replace('+00:00', 'Z')}"
        found.add("end", msg, "period_not_over", end.isoformat())
    found.raise_if_any()
    return lo, hi


def reference(plan_code: str, start: date, end: date) -> str:
    """The bill's external reference: one order per plan and period, whatever the runs."""
    return f"usage:{plan_code}:{start.isoformat()}:{end.isoformat()}"


# --- plans -------------------------------------------------------------------------------


def add_plan(rt: Runtime, plan: store.UsagePlan) -> store.StoredPlan:
    """A new plan; 422 naming every field that is wrong or refers to nothing, 409 for a code in use."""
    with rt.uow() as uow:
        assert uow.conn is not None
        channel_id, readings_id = _check(uow, plan)
        store.insert_plan(
            uow.conn, plan, channel_id=channel_id, readings_channel_id=readings_id, now=uow.now()
        )
        uow.commit()
    return get_plan(rt, plan.code)


def change_plan(rt: Runtime, code: str, changes: Mapping[str, Any]) -> store.StoredPlan:
    """Change a plan's settings (any of ``CHANGEABLE``); the bills already placed stay as they are."""
    with rt.uow() as uow:
        assert uow.conn is not None
        found = store.get_plan(uow.conn, code, for_update=True)
        if found is None:
            raise NotFound(f"no usage plan {code!r}")
        plan = replace(found.plan, **{k: v for k, v in changes.items() if k in CHANGEABLE})
        channel_id, readings_id = _check(uow, plan)
        store.update_plan(uow.conn, found.id, plan, channel_id=channel_id, readings_channel_id=readings_id,
                          now=uow.now())  # fmt: skip
        uow.commit()
    return get_plan(rt, code)


def get_plan(rt: Runtime, code: str) -> store.StoredPlan:
    with reading(rt.engine) as conn:
        found = store.get_plan(conn, code)
    if found is None:
        raise NotFound(f"no usage plan {code!r}")
    return found


def _check(uow: SqlUnitOfWork, plan: store.UsagePlan) -> tuple[int, int | None]:
    """The billing channel's id and the readings channel's, once every reference exists: the
    channel (matching customers by code, as the plan names its account by code), the account,
    the product, and the readings channel (an ``iot`` one)."""
    found = IssueCollector()
    if not PLAN_CODE.fullmatch(plan.code):
        found.add("code", "code must be 1-40 letters, digits or _ . - (starting with a letter or digit)",
                  "invalid", plan.code)  # fmt: skip
    if not valid_device_id(plan.device_id):
        found.add("device_id", "device_id must be 1-120 characters without spaces, / + #", "invalid",
                  plan.device_id)  # fmt: skip
    if not valid_metric(plan.metric):
        found.add("metric", "metric must be 1-60 letters, digits or _ . : -", "invalid", plan.metric)
    channel = uow.channels.get_by_code(plan.channel_code, secrets=False)
    if channel is None:
        found.add("channel", f"no channel {plan.channel_code!r}", "unknown_channel", plan.channel_code)
    elif "code" not in channel.settings.match_keys:
        found.add("channel", _not_by_code(plan.channel_code, channel.settings.match_keys),
                  "channel_not_matching_by_code", plan.channel_code)  # fmt: skip
    readings = None
    if plan.readings_channel_code is not None:
        readings = uow.channels.get_by_code(plan.readings_channel_code, secrets=False)
        if readings is None:
            found.add("readings_channel", f"no channel {plan.readings_channel_code!r}", "unknown_channel",
                      plan.readings_channel_code)  # fmt: skip
        elif readings.adapter != "iot":
            found.add("readings_channel", f"channel {readings.code} takes {readings.adapter!r} deliveries, "
                      "not readings", "not_an_iot_channel", readings.code)  # fmt: skip
    if uow.accounts.get_by_code(plan.account_code) is None:
        found.add("account", f"no account {plan.account_code!r}", "unknown_account", plan.account_code)
    if not uow.products.get_many([plan.sku]):
        found.add("sku", f"no product {plan.sku!r} in the catalogue", "unknown_sku", plan.sku)
    found.raise_if_any()
    assert channel is not None and channel.id is not None
    return channel.id, readings.id if readings is not None else None


def _not_by_code(channel: str, keys: tuple[str, ...]) -> str:
    return (f"channel {channel} matches customers by {', '.join(keys)}; a usage plan names its account by "
            'code: add "code" to the channel\'s match_keys')  # fmt: skip


# --- runs --------------------------------------------------------------------------------


def run_billing(
    rt: Runtime, start: date, end: date, *, channel_code: str | None = None, actor: str
) -> store.BillingRun:
    """Bill every active plan (of ``channel_code``'s, if given) for the period ``start`` ..
    ``end`` (days, UTC, both included): one order per plan, placed once whatever the runs.
    Returns the run as recorded: the bills placed or found, the plans refused and why."""
    lo, hi = period_bounds(start, end)
    with rt.uow() as uow:
        assert uow.conn is not None
        channel_id = None
        if channel_code is not None:
            channel = uow.channels.get_by_code(channel_code, secrets=False)
            if channel is None:
                msg = f"no channel {channel_code!r}"
                raise ValidationFailed(
                    msg, issues=[FieldIssue("channel", msg, "unknown_channel", channel_code)]
                )
            channel_id = channel.id
        run_id = store.start_run(uow.conn, start, end, channel_id=channel_id, actor=actor, now=uow.now())
        uow.commit()
    bills: list[dict[str, Any]] = []
    refused: list[dict[str, Any]] = []
    try:
        with reading(rt.engine) as conn:
            plans = store.active_plans(conn, channel_id=channel_id)
        for p in plans:
            try:
                bills.append(_bill(rt, p, start, end, (lo, hi), actor, run_id))
            except LegatoError as exc:
                refused.append(_refusal(p.plan.code, exc))
            except Exception as exc:  # one plan's fault must not stop the others' bills
                log.exception("a usage bill failed", extra={"plan": p.plan.code, "run": run_id})
                refused.append({"plan": p.plan.code, "code": "internal_error", "errors": [],
                                "reason": f"{type(exc).__name__}: {exc}"})  # fmt: skip
    except Exception as exc:
        _finish(rt, run_id, FAILED, bills, refused, reason=f"{type(exc).__name__}: {exc}")
        raise
    return _finish(rt, run_id, DONE, bills, refused)


def _finish(
    rt: Runtime,
    run_id: int,
    state: str,
    bills: list[dict[str, Any]],
    refused: list[dict[str, Any]],
    *,
    reason: str | None = None,
) -> store.BillingRun:
    with rt.uow() as uow:
        assert uow.conn is not None
        store.finish_run(uow.conn, run_id, state=state, bills=bills, refused=refused, reason=reason,
                         now=uow.now())  # fmt: skip
        uow.commit()
    return get_run(rt, run_id)


def get_run(rt: Runtime, run_id: int) -> store.BillingRun:
    with reading(rt.engine) as conn:
        found = store.get_run(conn, run_id)
    if found is None:
        raise NotFound(f"no billing run {run_id}")
    return found


def _bill(
    rt: Runtime,
    stored: store.StoredPlan,
    start: date,
    end: date,
    bounds: tuple[datetime, datetime],
    actor: str,
    run_id: int,
) -> dict[str, Any]:
    """One plan's bill for the period: its usage, then the order (placed, or found)."""
    plan, (lo, hi) = stored.plan, bounds
    with reading(rt.engine) as conn:
        where = {"channel_id": stored.readings_channel_id}
        used = usage_between(conn, plan.device_id, plan.metric, lo, hi, **where)
        count = store.readings_in(conn, plan.device_id, plan.metric, lo, hi, **where)
        now = datetime.now(UTC)
        account = SqlAccounts(conn, now).get_by_code(plan.account_code)
        channel = SqlChannels(conn, rt.box, now).get_by_code(plan.channel_code, secrets=False)
        product = SqlProducts(conn, now).get_many([plan.sku]).get(plan.sku)
        billed = SqlOrders(conn).id_by_external(plan.channel_code, reference(plan.code, start, end))
    if billed is None and account is None:  # the plan was checked when saved; the account has gone since
        msg = f"no account {plan.account_code!r}"
        raise ValidationFailed(msg, issues=[FieldIssue("account", msg, "unknown_account", plan.account_code)])
    if billed is None and channel is not None and "code" not in channel.settings.match_keys:
        msg = _not_by_code(channel.code, channel.settings.match_keys)
        raise ValidationFailed(msg, issues=[FieldIssue("channel", msg, "channel_not_matching_by_code")])
    key = usage_input(product, channel.currency if channel else None, plan.metric)
    seen = f"{count} reading(s) in the period" if count else "no reading in the period: billed as no usage"
    draft = OrderDraft(
        channel_code=plan.channel_code,
        lines=(LineDraft(plan.sku, ONE, inputs={key: _text(used)}),),
        external_reference=reference(plan.code, start, end),
        currency=channel.currency if channel else None,
        customer=CustomerRef(code=plan.account_code),
        tags=("usage", f"period:{start}..{end}", f"plan:{plan.code}"),
        notes=f"Usage bill of plan {plan.code} for {start} to {end} (UTC days, both included): "
        f"{plan.device_id} {plan.metric} went up by {_text(used)} ({seen}).",
    )
    why = f"billing run {run_id}: {_text(used)} {plan.metric} from {start} to {end}"
    result = place_order(rt.uow(), PlaceOrder(draft, actor, why))
    order = result.order
    return {
        "plan": plan.code, "order": order.number, "order_id": order.id, "created": result.created,
        "usage": _text(used), "readings": count, "grand_total": str(order.totals.grand_total),
        "currency": order.currency,
    }  # fmt: skip


def usage_input(product: Product | None, currency: str | None, metric: str) -> str:
    """The line input carrying the usage: the product's own usage metric when a usage mechanism
    prices it (a meter's ``operating_hours`` billed as ``usage.hours``), else the plan's."""
    pricing = product.pricing if product is not None else None
    if pricing and pricing.get("mechanism") == "usage":
        configs = pricing.get("currencies") or {}
        config = configs.get(currency) if currency in configs else next(iter(configs.values()), None)
        if isinstance(config, Mapping) and isinstance(config.get("metric"), str):
            return f"usage.{config['metric']}"
    return f"usage.{metric}"


def _text(value: Decimal) -> str:
    """A usage as plain decimal text: 18, 2.5 (never 1.8E+1)."""
    return format(value.normalize(), "f") if value else "0"


def _refusal(plan_code: str, exc: LegatoError) -> dict[str, Any]:
    errors = [
        {
            "path": i.path,
            "message": i.message,
            "code": i.code,
            **({"value": str(i.value)} if i.value is not None else {}),
        }
        for i in exc.issues
    ]
    return {"plan": plan_code, "code": exc.code, "reason": exc.detail, "errors": errors}


__all__ = [
    "CHANGEABLE",
    "DONE",
    "FAILED",
    "RUNNING",
    "add_plan",
    "change_plan",
    "get_plan",
    "get_run",
    "period_bounds",
    "reference",
    "run_billing",
    "usage_input",
]
