"""What happens to a run when one of its steps ends: the next step's job, or the run done,
stopped, waiting or dead; and the lines the engine writes on an order's timeline. Shared by
the runner, the recovery of lost jobs and ``resume``."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from legato.domain.errors import LegatoError
from legato.store import job_queries as jq
from legato.store import jobs as store
from legato.store import tables as t
from legato.workflow import definitions
from legato.workflow.actions import get_action
from legato.workflow.model import Definition

log = logging.getLogger("legato.workflow")


def max_attempts_of(action: str) -> int:
    """The action's attempt limit (1 for an unknown action: it fails at once, clearly)."""
    try:
        return max(1, int(get_action(action).max_attempts))
    except Exception:  # unknown, or its module cannot be imported: the attempt says why
        return 1


def definition(conn: Connection, workflow_id: int, version: int) -> Definition | None:
    """The version of a workflow a run uses (None if it cannot be read)."""
    try:
        return definitions.definition_at(conn, workflow_id, version)
    except LegatoError:
        log.exception("workflow %s version %s cannot be read", workflow_id, version)
        return None


def _actor(job: store.Job, run: jq.Run | None) -> str:
    return f"rule:{run.workflow}" if run else f"system:{job.kind}"


def on_timeline(
    conn: Connection,
    job: store.Job,
    run: jq.Run | None,
    now: datetime,
    reason: str | None,
    to_value: str | None = None,
    *,
    actor: str | None = None,
    **data: Any,
) -> None:
    """A ``workflow`` entry on the job's order's timeline (if it has an order that exists);
    the actor is the rule (``rule:<workflow>``) unless given."""
    if job.order_id is None:
        return
    exists = conn.execute(select(t.orders.c.id).where(t.orders.c.id == job.order_id)).first()
    if exists is not None:
        info = {"run": job.run_id, "job": job.id, "step": job.step, "action": job.action, **data}
        store.add_timeline(
            conn,
            job.order_id,
            at=now,
            actor=actor or _actor(job, run),
            reason=reason,
            data=info,
            to_value=to_value,
        )


def dead_letter(conn: Connection, job: store.Job, run: jq.Run | None, error: str, now: datetime) -> None:
    """A dead letter: on the order's timeline, the run dead, listed by state=dead."""
    log.warning("job %s (%s) is dead: %s", job.id, job.action, error)
    on_timeline(conn, job, run, now, error, to_value="dead", attempts=job.attempts)
    if run is not None:
        store.set_run(conn, run.id, state="dead", step=job.step, now=now)


def advance(conn: Connection, run: jq.Run, job: store.Job, outcome: str, now: datetime) -> None:
    """Move the run on after its step ``job`` ended with ``outcome`` (done, stop or wait)."""
    if outcome == "wait":
        store.set_run(conn, run.id, state="waiting", step=job.step, now=now)
        return
    if outcome == "stop":
        store.set_run(conn, run.id, state="stopped", step=job.step, now=now)
        return
    found = definition(conn, run.workflow_id, run.version)
    steps = found.steps if found is not None else ()
    nxt = job.step + 1
    if nxt >= len(steps):
        store.set_run(conn, run.id, state="done", step=job.step, now=now)
        return
    step = steps[nxt]
    store.add_job(
        conn,
        action=step.action,
        params=step.params,
        max_attempts=max_attempts_of(step.action),
        now=now,
        run_id=run.id,
        step=nxt,
        order_id=run.order_id,
    )
    store.set_run(conn, run.id, state="running", step=nxt, now=now)


__all__ = ["advance", "dead_letter", "definition", "max_attempts_of", "on_timeline"]
