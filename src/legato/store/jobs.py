"""Durable jobs on the 0011 tables: workflow runs, the jobs that carry out their steps, and
every attempt. The statements that claim and finish a job live here so the runner, the API
and the CLI share one meaning of each state::

    queued --claim--> running --done / stop--> done    (the run moves on, stops or ends)
                         |------wait---------> waiting  (a timer, or until resumed)
                         |------retry--------> queued   (run_at = now + backoff)
                         '------dead---------> dead     (an operator's retry: queued again)

Claiming: PostgreSQL selects due jobs ``FOR UPDATE SKIP LOCKED``, so any number of workers
take disjoint jobs; SQLite admits one writer at a time (the engine's write lock and BEGIN
IMMEDIATE), which serialises the same statements. A claim opens an attempt row; finishing
closes it. Every finish is guarded by (state, worker), so a worker whose job was taken from
it (its lease ran out) cannot overwrite the result of the worker that has it now.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, false, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from legato.domain.errors import Conflict, NotFound
from legato.store import tables as t
from legato.store.db import write_lock
from legato.store.workflow_tables import job_attempts, jobs, workflow_runs, workflows

J, R, A, W, OB = jobs, workflow_runs, job_attempts, workflows, t.outbox
JOB_STATES = ("queued", "running", "waiting", "done", "dead")
RUN_STATES = ("running", "waiting", "done", "stopped", "dead")
#: the run_at of a job that waits until it is resumed (an approval): never due by itself
FOREVER = datetime(9999, 12, 31, tzinfo=UTC)


@dataclass(frozen=True)
class Job:
    id: int
    run_id: int | None
    kind: str
    step: int
    action: str
    params: dict[str, Any]
    state: str
    attempts: int
    max_attempts: int
    run_at: datetime
    locked_by: str | None
    locked_at: datetime | None
    last_error: str | None
    result: dict[str, Any] | None
    idempotency_key: str
    order_id: int | None
    created_at: datetime
    updated_at: datetime


def step_key(run_id: int, step: int) -> str:
    """The idempotency key of a run's step (the same as ``StepContext.idempotency_key``)."""
    return f"legato-run-{run_id}-step-{step}"


def job_from_row(r: Any) -> Job:
    return Job(**r._mapping)


def _insert(conn: Connection, table: Any) -> Any:
    return (postgresql if conn.dialect.name == "postgresql" else sqlite).insert(table)


def _locking(conn: Connection, query: Any) -> Any:
    """FOR UPDATE SKIP LOCKED on PostgreSQL; SQLite's writer is alone already."""
    return query.with_for_update(skip_locked=True) if conn.dialect.name == "postgresql" else query


@contextmanager
def writing(engine: Engine) -> Iterator[Connection]:
    """One write transaction (behind the SQLite write lock, BEGIN IMMEDIATE there)."""
    with write_lock(engine), engine.begin() as conn:
        yield conn


# --- the outbox --------------------------------------------------------------------------


def claim_events(
    conn: Connection, limit: int, *, skip: Iterable[int] = (), only: Sequence[int] | None = None
) -> list[dict[str, Any]]:
    """Unpublished outbox events in id order, locked for this transaction (skipped by others);
    none of ``skip``, and only those in ``only`` when given."""
    query = select(OB).where(OB.c.published_at.is_(None)).order_by(OB.c.id).limit(limit)
    skipped = list(skip)
    if skipped:
        query = query.where(OB.c.id.not_in(skipped))
    if only is not None:
        query = query.where(OB.c.id.in_(list(only)))
    return [
        {
            "id": r.id,
            "type": r.event_type,
            "aggregate_type": r.aggregate_type,
            "aggregate_id": r.aggregate_id,
            "payload": dict(r.payload or {}),
            "created_at": r.created_at.isoformat(),
        }
        for r in conn.execute(_locking(conn, query))
    ]


def mark_published(conn: Connection, ids: Sequence[int], now: datetime) -> None:
    if ids:
        conn.execute(update(OB).where(OB.c.id.in_(ids)).values(published_at=now))


# --- runs and jobs: writing --------------------------------------------------------------


#: INSERT ... ON CONFLICT DO NOTHING RETURNING id, built once per (dialect, table): values are
#: passed at execution, so each call reuses one compiled statement
_INSERTS: dict[tuple[str, str], Any] = {}
_KEYS = {"workflow_runs": ["workflow_id", "event_id"], "jobs": ["idempotency_key"]}


def _insert_new(conn: Connection, table: Any, values: dict[str, Any]) -> int | None:
    key = (conn.dialect.name, table.name)
    stmt = _INSERTS.get(key)
    if stmt is None:
        stmt = _INSERTS[key] = (
            _insert(conn, table)
            .on_conflict_do_nothing(index_elements=_KEYS[table.name])
            .returning(table.c.id)
        )
    found = conn.execute(stmt, values).scalar_one_or_none()
    return None if found is None else int(found)


def add_run(
    conn: Connection,
    *,
    workflow_id: int,
    version: int,
    event: Mapping[str, Any],
    order_id: int | None,
    now: datetime,
    state: str = "running",
) -> int | None:
    """A run of a workflow for an event; None if that workflow already has a run for it."""
    return _insert_new(conn, R, {
        "workflow_id": workflow_id, "version": version, "event_id": event.get("id"),
        "event_type": event["type"], "event": dict(event), "order_id": order_id, "state": state, "step": 0,
        "started_at": now, "finished_at": None,
    })  # fmt: skip


def add_job(
    conn: Connection,
    *,
    action: str,
    params: Mapping[str, Any],
    max_attempts: int,
    now: datetime,
    kind: str = "step",
    run_id: int | None = None,
    step: int = 0,
    order_id: int | None = None,
    key: str | None = None,
    run_at: datetime | None = None,
    state: str = "queued",
    result: Mapping[str, Any] | None = None,
) -> int | None:
    """A job; ``key`` defaults to the step's key. None if a job with that key exists already."""
    if key is None:
        if run_id is None:
            raise ValueError("a job outside a run needs its own idempotency key")
        key = step_key(run_id, step)
    return _insert_new(conn, J, {
        "run_id": run_id, "kind": kind, "step": step, "action": action, "params": dict(params),
        "state": state, "attempts": 0, "max_attempts": max(1, max_attempts), "run_at": run_at or now,
        "locked_by": None, "locked_at": None, "last_error": None, "idempotency_key": key,
        "order_id": order_id, "result": None if result is None else dict(result), "created_at": now,
        "updated_at": now,
    })  # fmt: skip


def set_job_run(conn: Connection, job_id: int, run_id: int) -> None:
    conn.execute(update(J).where(J.c.id == job_id).values(run_id=run_id))


_SET_RUN = update(R).where(R.c.id == bindparam("b_id"))


def set_run(conn: Connection, run_id: int, *, state: str, now: datetime, step: int | None = None) -> None:
    values: dict[str, Any] = {"b_id": run_id, "state": state}
    if step is not None:
        values["step"] = step
    values["finished_at"] = now if state in ("done", "stopped", "dead") else None
    conn.execute(_SET_RUN, values)


def claim(conn: Connection, worker: str, now: datetime, limit: int = 1) -> list[Job]:
    """Take up to ``limit`` due jobs (queued, or waiting on a timer that has come): each is
    marked running by ``worker``, its attempt counted and an attempt row opened."""
    due = (
        select(J.c.id)
        .where(J.c.state.in_(("queued", "waiting")), J.c.run_at <= now)
        .order_by(J.c.run_at, J.c.id)
        .limit(limit)
    )
    ids = list(conn.execute(_locking(conn, due)).scalars())
    if not ids:
        return []
    rows = conn.execute(
        update(J)
        .where(J.c.id.in_(ids))
        .values(state="running", locked_by=worker, locked_at=now, attempts=J.c.attempts + 1, updated_at=now)
        .returning(*J.c)
    ).all()
    taken = sorted((job_from_row(r) for r in rows), key=lambda j: (j.run_at, j.id))
    conn.execute(
        A.insert(),
        [{"job_id": j.id, "attempt": j.attempts, "worker": worker, "started_at": now} for j in taken],
    )
    return taken


_FINISH = update(J).where(J.c.id == bindparam("b_id"), J.c.state == bindparam("b_expect"))
_FINISH_HELD = _FINISH.where(J.c.locked_by == bindparam("b_worker"))


def finish(
    conn: Connection,
    job_id: int,
    *,
    expect: str,
    worker: str | None,
    state: str,
    now: datetime,
    run_at: datetime | None = None,
    result: Mapping[str, Any] | None = None,
    error: str | None = None,
    max_attempts: int | None = None,
    attempts: int | None = None,
) -> bool:
    """Move a job on, only if it is still in state ``expect`` (and held by ``worker``)."""
    values: dict[str, Any] = {"b_id": job_id, "b_expect": expect, "state": state, "updated_at": now,
                              "locked_by": None, "locked_at": None}  # fmt: skip
    if worker is not None:
        values["b_worker"] = worker
    if run_at is not None:
        values["run_at"] = run_at
    if result is not None:
        values["result"] = dict(result)
    if error is not None or state in ("done", "waiting"):
        values["last_error"] = error
    if max_attempts is not None:
        values["max_attempts"] = max_attempts
    if attempts is not None:
        values["attempts"] = attempts
    return conn.execute(_FINISH if worker is None else _FINISH_HELD, values).rowcount == 1


_CLOSE_ATTEMPT = update(A).where(
    A.c.job_id == bindparam("b_job"), A.c.attempt == bindparam("b_attempt"), A.c.finished_at.is_(None)
)


def record_attempt(
    conn: Connection,
    job_id: int,
    attempt: int,
    *,
    outcome: str,
    now: datetime,
    error: str | None = None,
    request: Any = None,
    response: Any = None,
    duration_ms: int | None = None,
) -> None:
    """Close the open attempt row of ``attempt``."""
    conn.execute(_CLOSE_ATTEMPT, {
        "b_job": job_id, "b_attempt": attempt, "finished_at": now, "outcome": outcome, "error": error,
        "request": request, "response": response, "duration_ms": duration_ms,
    })  # fmt: skip


def release(conn: Connection, claimed: Sequence[Job], worker: str, now: datetime) -> None:
    """Give back jobs claimed but not started (a worker stopping): as if never claimed."""
    for job in claimed:
        if finish(
            conn, job.id, expect="running", worker=worker, state="queued", now=now, attempts=job.attempts - 1
        ):
            conn.execute(A.delete().where(A.c.job_id == job.id, A.c.attempt == job.attempts))


def lost(conn: Connection, *, stale_before: datetime, workers: Sequence[str] = ()) -> list[Job]:
    """Running jobs whose lease ran out, or held by one of ``workers`` (known to be gone)."""
    gone = or_(J.c.locked_at < stale_before, J.c.locked_by.in_(list(workers)) if workers else false())
    query = select(J).where(J.c.state == "running", gone).order_by(J.c.id).limit(500)
    return [job_from_row(r) for r in conn.execute(_locking(conn, query))]


def holders(conn: Connection) -> list[str]:
    """The workers holding running jobs now."""
    return [
        str(w) for w in conn.execute(select(J.c.locked_by).where(J.c.state == "running").distinct()).scalars()
    ]


def lock_job(conn: Connection, job_id: int) -> Job:
    """A job, locked for this transaction; NotFound if there is none."""
    query = select(J).where(J.c.id == job_id)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    row = conn.execute(query).first()
    if row is None:
        raise NotFound(f"no job {job_id}")
    return job_from_row(row)


def requeue(conn: Connection, job: Job, *, max_attempts: int, now: datetime) -> None:
    """An operator's retry of a dead job: queued now, with ``max_attempts`` as its new limit."""
    if job.state != "dead":
        raise Conflict(f"job {job.id} is {job.state}; only a dead job can be retried", state=job.state)
    conn.execute(
        update(J)
        .where(J.c.id == job.id)
        .values(
            state="queued",
            run_at=now,
            max_attempts=max_attempts,
            updated_at=now,
            locked_by=None,
            locked_at=None,
        )
    )


def add_timeline(
    conn: Connection,
    order_id: int,
    *,
    at: datetime,
    actor: str,
    reason: str | None,
    data: Mapping[str, Any],
    to_value: str | None = None,
) -> None:
    """A ``workflow`` entry on an order's timeline (a step's note, a dead letter, a retry)."""
    conn.execute(
        t.order_timeline.insert().values(
            order_id=order_id,
            at=at,
            actor=actor[:120],
            kind="workflow",
            reason=reason,
            from_value=None,
            to_value=to_value,
            data=dict(data),
        )
    )


# --- definitions and schedules -------------------------------------------------------------


def saved_at(conn: Connection, workflow_ids: Sequence[int]) -> dict[int, datetime]:
    """When each workflow was last saved (a schedule's slots before that do not fire)."""
    rows = conn.execute(select(W.c.id, W.c.updated_at).where(W.c.id.in_(list(workflow_ids))))
    return {int(r.id): r.updated_at for r in rows}


def schedule_key(workflow_id: int, slot: datetime) -> str:
    return f"legato-schedule-{workflow_id}-{slot.astimezone(UTC):%Y%m%dT%H%M%SZ}"


__all__ = [
    "FOREVER",
    "JOB_STATES",
    "RUN_STATES",
    "Job",
    "add_job",
    "add_run",
    "add_timeline",
    "claim",
    "claim_events",
    "finish",
    "holders",
    "job_from_row",
    "lock_job",
    "lost",
    "mark_published",
    "record_attempt",
    "release",
    "requeue",
    "saved_at",
    "schedule_key",
    "set_job_run",
    "set_run",
    "step_key",
    "writing",
]
