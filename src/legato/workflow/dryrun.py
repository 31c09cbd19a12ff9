"""The dry run: for one order and one event, which workflows would match, which would not
and why, and which actions would run, without running anything.

The event is the order's own latest event of that type from the outbox (``order.created`` by
default), so the conditions see exactly what the engine saw or will see; when the outbox has
none (an event the order never had), one is made up from the order, and ``payload`` fields
given by the caller are laid over it (``{"to": "processing"}`` to try a status change).

Everything is read on a read-only connection: no run, no job, no timeline entry, no effect.
Reasons follow the engine's order of checks: the trigger, then whether the workflow is active,
then its condition (an evaluation error counts as no match, as in the engine).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, select

from legato.domain.errors import FieldIssue, LegatoError, NotFound, ValidationFailed
from legato.domain.order import ORDER_PREFIX, format_number
from legato.store import tables as t
from legato.store import workflows as store
from legato.store.queries import reading
from legato.workflow.conditions import ConditionError, compile_condition
from legato.workflow.context import build_context
from legato.workflow.definitions import json_issues, stored
from legato.workflow.model import TRIGGERS, Definition, Step

if TYPE_CHECKING:
    from legato.bootstrap import Runtime

#: why a workflow matched or not
REASONS = {
    "matched": "the trigger is this event, the workflow is active and its condition is true",
    "other_trigger": "the workflow is triggered by another event",
    "inactive": "the workflow is disabled",
    "condition_false": "the condition is false for this order and event",
    "condition_error": "the condition could not be evaluated (the engine counts that as no match)",
}
DEFAULT_EVENT = "order.created"


@dataclass(frozen=True)
class Verdict:
    name: str
    version: int
    priority: int
    trigger: str  # as the definition describes it: "order.created", "every day at 18:00 UTC"
    active: bool
    condition: str
    matched: bool
    reason: str  # one of REASONS
    why: str  # the reason in words, with the condition text or the error
    condition_result: bool | None = None  # the condition's value, when it was evaluated
    actions: tuple[Step, ...] = ()  # what would run (matched workflows only)


@dataclass(frozen=True)
class DryRun:
    order_id: int
    order_number: str
    event: dict[str, Any]  # {id, type, aggregate_type, aggregate_id, payload, created_at}
    event_source: str  # "outbox" (the order's latest event of this type) or "made up"
    context: dict[str, Any]  # what the conditions saw
    verdicts: tuple[Verdict, ...] = field(default_factory=tuple)

    @property
    def matched(self) -> tuple[Verdict, ...]:
        return tuple(v for v in self.verdicts if v.matched)


def _event(
    conn: Connection, order_id: int, event_type: str, payload: Mapping[str, Any] | None, now: datetime
) -> tuple[dict[str, Any], str]:
    o = t.outbox
    row = conn.execute(
        select(o)
        .where(o.c.aggregate_type == "order", o.c.aggregate_id == order_id, o.c.event_type == event_type)
        .order_by(o.c.id.desc())
        .limit(1)
    ).first()
    if row is not None:
        event = {
            "id": row.id,
            "type": row.event_type,
            "aggregate_type": row.aggregate_type,
            "aggregate_id": row.aggregate_id,
            "payload": dict(row.payload),
            "created_at": row.created_at,
        }
        source = "outbox"
    else:
        ref = {"order_id": order_id, "number": format_number(ORDER_PREFIX, order_id)}
        event = {
            "id": None,
            "type": event_type,
            "aggregate_type": "order",
            "aggregate_id": order_id,
            "payload": ref,
            "created_at": now,
        }
        source = "made up"
    if payload:
        event["payload"] = {**event["payload"], **payload}
    return event, source


def _verdict(
    definition: Definition, version: int, active: bool, event_type: str, context: Mapping[str, Any]
) -> Verdict:
    d = definition
    base = Verdict(d.name, version, d.priority, d.trigger.describe(), active, d.condition, False, "", "")
    if d.trigger.event != event_type:
        what = "runs on a schedule" if d.trigger.event == "schedule" else "is triggered by"
        why = f"{what} {d.trigger.describe()}, not {event_type}".replace("schedule every", "schedule: every")
        return replace(base, reason="other_trigger", why=why)
    result: bool | None = True
    error: str | None = None
    if d.condition:
        try:
            result = compile_condition(d.condition, d.trigger.event).evaluate(context)
        except (ConditionError, LegatoError) as exc:
            result, error = None, getattr(exc, "detail", None) or str(exc)
    if not active:
        said = {True: "true", False: "false", None: "not evaluable"}[result]
        why = f"the workflow is disabled (its condition is {said} for this order)"
        return replace(base, reason="inactive", why=why, condition_result=result)
    if error is not None:
        why = f"the condition {d.condition!r} could not be evaluated: {error}"
        return replace(base, reason="condition_error", why=why)
    if not result:
        why = f"the condition {d.condition!r} is false"
        return replace(base, reason="condition_false", why=why, condition_result=False)
    why = f"the condition {d.condition!r} is true" if d.condition else "no condition: every event matches"
    return replace(base, matched=True, reason="matched", why=why, condition_result=True, actions=d.steps)


def dry_run(
    rt: Runtime,
    order_id: int,
    event_type: str | None = None,
    name: str | None = None,
    payload: Mapping[str, Any] | None = None,
) -> DryRun:
    """Which workflows an event about ``order_id`` would run (all of them, or only ``name``),
    in the order the engine would run them (higher priority first, equal priority by name)."""
    event_type = event_type or DEFAULT_EVENT
    if event_type not in TRIGGERS or event_type == "schedule":
        known = ", ".join(k for k in TRIGGERS if k != "schedule")
        msg = f"unknown event {event_type!r}; one of {known}"
        raise ValidationFailed(msg, issues=[FieldIssue("event", msg, "unknown_event", event_type)])
    bad = json_issues(dict(payload), "payload") if payload else []
    if bad:
        raise ValidationFailed(f"payload: {bad[0].path}: {bad[0].message}", issues=bad)
    now = datetime.now(UTC)
    with reading(rt.engine) as conn:
        if conn.execute(select(t.orders.c.id).where(t.orders.c.id == order_id)).first() is None:
            raise NotFound(f"no order {format_number(ORDER_PREFIX, order_id)}")
        found = store.list_workflows(conn) if name is None else [store.get_workflow(conn, name)]
        if name is not None and found[0] is None:
            raise NotFound(f"no workflow {name!r}")
        event, source = _event(conn, order_id, event_type, payload, now)
        context = build_context(conn, event)
    workflows = sorted((w for w in found if w is not None), key=lambda w: (-w.priority, w.name))
    verdicts = tuple(
        _verdict(stored(w.document), w.version, w.active, event_type, context) for w in workflows
    )
    return DryRun(order_id, format_number(ORDER_PREFIX, order_id), event, source, context, verdicts)


__all__ = ["DEFAULT_EVENT", "REASONS", "DryRun", "Verdict", "dry_run"]
