"""Scheduled workflows: ``{schedule: "18:00"}`` (every day at that time, UTC) and
``{every: "15m"}`` (slots aligned on the interval since 1970-01-01 UTC: :00, :15, :30 ...).

A worker ticks every minute. For each active scheduled workflow it takes the latest slot
that has come; if that slot is not older than the workflow's last save and has not fired,
it creates a run with the synthetic event ``{"type": "schedule", "slot": ISO}``. Each slot
fires once, whatever the number of workers: a marker job with the unique key
``legato-schedule-<workflow id>-<slot>`` is written in the same transaction as the run.
Slots missed while nothing ran are not replayed one by one: the latest one fires, once
(a daily 18:00 batch still runs at 18:05 after a restart, but not twice).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from legato.bootstrap import Runtime
from legato.store import jobs as store
from legato.store.queries import reading
from legato.workflow import engine
from legato.workflow.model import Trigger
from legato.workflow.runner import utcnow


def latest_slot(trigger: Trigger, now: datetime) -> datetime | None:
    """The latest slot of a scheduled trigger at or before ``now`` (None for an event trigger)."""
    now = now.astimezone(UTC)
    if trigger.every_seconds:
        every = trigger.every_seconds
        epoch = int(now.timestamp())
        return datetime.fromtimestamp(epoch - epoch % every, UTC)
    if trigger.at is not None:
        today = datetime.combine(now.date(), trigger.at, UTC)
        return today if today <= now else today - timedelta(days=1)
    return None


def tick(rt: Runtime, now: datetime | None = None) -> list[int]:
    """Fire every scheduled workflow whose latest slot is due; the runs created."""
    at = now or utcnow()
    with reading(rt.engine) as conn:
        workflows = engine.active_for(conn, "schedule")
        saved = store.saved_at(conn, [w[0] for w in workflows])
    created: list[int] = []
    for workflow in workflows:
        workflow_id, _, definition = workflow
        slot = latest_slot(definition.trigger, at)
        if slot is None or not definition.steps or slot < saved.get(workflow_id, slot):
            continue
        iso = slot.isoformat()
        with store.writing(rt.engine) as conn:
            marker = store.add_job(
                conn,
                action="schedule",
                params={"workflow": definition.name, "slot": iso},
                max_attempts=1,
                now=at,
                kind="schedule",
                key=store.schedule_key(workflow_id, slot),
                state="done",
                result={"slot": iso},
            )
            if marker is None:  # this slot has fired already
                continue
            event = {
                "id": None,
                "type": "schedule",
                "slot": iso,
                "aggregate_type": "schedule",
                "aggregate_id": None,
                "payload": {"slot": iso, "workflow": definition.name},
                "created_at": at.isoformat(),
            }
            if not engine.matches(definition, engine.EventContext(conn, event, at)):
                continue
            run_id = engine.start_run(conn, workflow, event, at)
            if run_id is not None:
                store.set_job_run(conn, marker, run_id)
                created.append(run_id)
    return created


__all__ = ["latest_slot", "tick"]
