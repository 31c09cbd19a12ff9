"""The dispatcher: the transactional outbox -> workflow runs.

For each unpublished event, in id order: the active workflows whose trigger is the event's
type (higher priority first, then by name), each one's condition evaluated against the
event's context; a run and its first job per match; every ``FANOUT`` hook; then the event
is marked published. All of that commits together, so a crash before the commit dispatches
the event again and the unique (workflow, event) of a run keeps it from doubling.

Events are taken in batches (``LEGATO_WORKFLOW_BATCH``) in one transaction; if a batch
fails, its events are dispatched again one per transaction, and an event that fails alone
is logged, left unpublished and tried again a little later, so it never blocks the rest.
PostgreSQL: ``FOR UPDATE SKIP LOCKED``, any number of dispatchers side by side; SQLite:
one writer at a time.
"""

from __future__ import annotations

import logging
import time
import weakref
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine

from legato.bootstrap import Runtime
from legato.store import jobs as store
from legato.workflow import definitions, webhooks
from legato.workflow.conditions import compile_condition
from legato.workflow.context import Context, build_context
from legato.workflow.model import Definition
from legato.workflow.runner import utcnow
from legato.workflow.runs import max_attempts_of

log = logging.getLogger("legato.workflow")

#: Called with (connection, event) for every event, inside the dispatch transaction: one
#: line each (the webhooks' fan-out creates its delivery jobs here).
FANOUT: list[Callable[[Connection, Mapping[str, Any]], None]] = [
    webhooks.fan_out,  # subscriptions (/api/v1/webhooks): one delivery job per matching subscription
]

#: how long an event that failed alone waits before it is tried again
HOLD_SECONDS = 30.0
_HELD: weakref.WeakKeyDictionary[Engine, dict[int, float]] = weakref.WeakKeyDictionary()

Workflow = tuple[int, int, Definition]  # (workflow id, version, definition)


def active_for(conn: Connection, trigger: str) -> list[Workflow]:
    """The active workflows on ``trigger``, higher priority first, then by name."""
    return definitions.active_for(conn, trigger)


class EventContext:
    """What conditions see for one event, built once, on first need, for all its workflows."""

    def __init__(self, conn: Connection, event: Mapping[str, Any], now: datetime | None = None) -> None:
        self.conn, self.event, self.now = conn, event, now
        self._value: Context | None = None

    def get(self) -> Context:
        if self._value is None:
            self._value = build_context(self.conn, self.event, now=self.now)
        return self._value


def matches(definition: Definition, context: EventContext) -> bool:
    """The definition's condition holds for the event. An empty condition always does; one
    that cannot be evaluated does not match (logged), and never stops the other workflows."""
    if not definition.condition:
        return True
    try:
        return compile_condition(definition.condition, definition.trigger.event).evaluate(context.get())
    except Exception as exc:
        log.warning(
            "workflow %s does not match event %s: its condition could not be evaluated (%s)",
            definition.name,
            context.event.get("id"),
            exc,
        )
        return False


def order_of(event: Mapping[str, Any]) -> int | None:
    """The order an event is about: an order event's aggregate, or the payload's order_id."""
    if event.get("aggregate_type") == "order" and event.get("aggregate_id") is not None:
        return int(event["aggregate_id"])
    found = (event.get("payload") or {}).get("order_id")
    return int(found) if isinstance(found, int) and not isinstance(found, bool) else None


def start_run(conn: Connection, workflow: Workflow, event: Mapping[str, Any], now: datetime) -> int | None:
    """A run of ``workflow`` for ``event`` and its first step's job; None if it has one."""
    workflow_id, version, definition = workflow
    order_id = order_of(event)
    run_id = store.add_run(
        conn, workflow_id=workflow_id, version=version, event=event, order_id=order_id, now=now
    )
    if run_id is None:
        return None
    first = definition.steps[0]
    store.add_job(
        conn,
        action=first.action,
        params=first.params,
        max_attempts=max_attempts_of(first.action),
        now=now,
        run_id=run_id,
        step=0,
        order_id=order_id,
    )
    return run_id


def _dispatch(
    conn: Connection, event: Mapping[str, Any], now: datetime, seen: dict[str, list[Workflow]]
) -> None:
    kind = str(event["type"])
    if kind not in seen:
        seen[kind] = active_for(conn, kind)
    context = EventContext(conn, event, now)
    for workflow in seen[kind]:
        if workflow[2].steps and matches(workflow[2], context):
            start_run(conn, workflow, event, now)
    for hook in FANOUT:
        hook(conn, event)


def held(rt: Runtime) -> dict[int, float]:
    """Events of this database that failed alone: id -> time.monotonic() before which they
    are not tried again (so one broken event is not retried in a tight loop)."""
    found = _HELD.get(rt.engine)
    if found is None:
        found = _HELD.setdefault(rt.engine, {})
    clock = time.monotonic()
    for event_id in [i for i, until in found.items() if until <= clock]:
        del found[event_id]
    return found


def dispatch(rt: Runtime, *, limit: int | None = None, now: datetime | None = None) -> int:
    """Dispatch up to ``limit`` unpublished events; how many were published."""
    n, hold = limit or rt.settings.workflow_batch, held(rt)
    try:
        with store.writing(rt.engine) as conn:
            events = store.claim_events(conn, n, skip=hold)
            at, seen = now or utcnow(), dict[str, list[Workflow]]()
            for event in events:
                _dispatch(conn, event, at, seen)
            store.mark_published(conn, [e["id"] for e in events], at)
        return len(events)
    except Exception:
        log.warning("dispatching a batch of events failed; trying them one by one", exc_info=True)
    with store.writing(rt.engine) as conn:
        ids = [e["id"] for e in store.claim_events(conn, n, skip=hold)]
    done = 0
    for event_id in ids:
        try:
            with store.writing(rt.engine) as conn:
                for event in store.claim_events(conn, 1, only=[event_id]):
                    at = now or utcnow()
                    _dispatch(conn, event, at, {})
                    store.mark_published(conn, [event_id], at)
                    done += 1
        except Exception:
            log.exception(
                "event %s could not be dispatched; it is tried again in %s s", event_id, HOLD_SECONDS
            )
            hold[event_id] = time.monotonic() + HOLD_SECONDS
    return done


__all__ = [
    "FANOUT",
    "HOLD_SECONDS",
    "EventContext",
    "active_for",
    "dispatch",
    "held",
    "matches",
    "order_of",
    "start_run",
]
