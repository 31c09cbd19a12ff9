"""The read side of the workflow engine's jobs and runs: lists with keyset cursors and
look-ups, for the API, the CLI and the runner (runs by id)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, select

from legato.store.jobs import FOREVER, Job, job_from_row
from legato.store.queries import decode_cursor, encode_cursor, reading
from legato.store.workflow_tables import job_attempts as A
from legato.store.workflow_tables import jobs as J
from legato.store.workflow_tables import workflow_runs as R
from legato.store.workflow_tables import workflows as W


@dataclass(frozen=True)
class Attempt:
    id: int
    job_id: int
    attempt: int
    worker: str
    started_at: datetime
    finished_at: datetime | None
    outcome: str | None
    error: str | None
    request: Any
    response: Any
    duration_ms: int | None


@dataclass(frozen=True)
class Run:
    id: int
    workflow_id: int
    workflow: str  # the workflow's name
    version: int
    event_id: int | None
    event_type: str
    event: dict[str, Any]
    order_id: int | None
    state: str
    step: int
    started_at: datetime
    finished_at: datetime | None


_RUN = select(*R.c, W.c.name.label("workflow")).join(W, W.c.id == R.c.workflow_id)


def _run(r: Any) -> Run:
    m = r._mapping
    return Run(**{k: m[k] for k in Run.__dataclass_fields__})


def runs_by_id(conn: Connection, run_ids: Iterable[int]) -> dict[int, Run]:
    ids = sorted(set(run_ids))
    if not ids:
        return {}
    return {r.id: _run(r) for r in conn.execute(_RUN.where(R.c.id.in_(ids)))}


def get_job(engine: Engine, job_id: int) -> Job | None:
    with reading(engine) as conn:
        row = conn.execute(select(J).where(J.c.id == job_id)).first()
    return None if row is None else job_from_row(row)


def attempts_of(engine: Engine, job_id: int) -> list[Attempt]:
    with reading(engine) as conn:
        rows = conn.execute(select(A).where(A.c.job_id == job_id).order_by(A.c.attempt, A.c.id))
        return [Attempt(**r._mapping) for r in rows]


def list_jobs(
    engine: Engine,
    *,
    state: str | None = None,
    order_id: int | None = None,
    run_id: int | None = None,
    kind: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> tuple[list[Job], str | None]:
    """Newest first, with a keyset cursor like the other lists."""
    query = select(J)
    for column, value in (
        (J.c.state, state),
        (J.c.order_id, order_id),
        (J.c.run_id, run_id),
        (J.c.kind, kind),
    ):
        if value is not None:
            query = query.where(column == value)
    if cursor:
        query = query.where(J.c.id < decode_cursor(cursor))
    with reading(engine) as conn:
        rows = conn.execute(query.order_by(J.c.id.desc()).limit(limit + 1)).all()
    more, rows = len(rows) > limit, rows[:limit]
    return [job_from_row(r) for r in rows], encode_cursor(rows[-1].id) if more and rows else None


def jobs_of_run(engine: Engine, run_id: int) -> list[Job]:
    with reading(engine) as conn:
        return [
            job_from_row(r)
            for r in conn.execute(select(J).where(J.c.run_id == run_id).order_by(J.c.step, J.c.id))
        ]


def get_run(engine: Engine, run_id: int) -> Run | None:
    with reading(engine) as conn:
        return runs_by_id(conn, [run_id]).get(run_id)


def list_runs(
    engine: Engine,
    *,
    order_id: int | None = None,
    state: str | None = None,
    workflow: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> tuple[list[Run], str | None]:
    query = _RUN
    for column, value in ((R.c.order_id, order_id), (R.c.state, state), (W.c.name, workflow)):
        if value is not None:
            query = query.where(column == value)
    if cursor:
        query = query.where(R.c.id < decode_cursor(cursor))
    with reading(engine) as conn:
        rows = conn.execute(query.order_by(R.c.id.desc()).limit(limit + 1)).all()
    more, rows = len(rows) > limit, rows[:limit]
    return [_run(r) for r in rows], encode_cursor(rows[-1].id) if more and rows else None


def summary(job: Job) -> dict[str, Any]:
    """A job as plain values (the CLI's JSON, the API's views)."""
    return {
        "id": job.id,
        "kind": job.kind,
        "run_id": job.run_id,
        "step": job.step,
        "action": job.action,
        "state": job.state,
        "attempts": job.attempts,
        "max_attempts": job.max_attempts,
        "run_at": None if job.run_at >= FOREVER else job.run_at,
        "order_id": job.order_id,
        "idempotency_key": job.idempotency_key,
        "last_error": job.last_error,
        "result": job.result,
        "params": job.params,
        "locked_by": job.locked_by,
        "locked_at": job.locked_at,
        "created_at": job.created_at,
        "updated_at": job.updated_at,
    }


__all__ = [
    "Attempt",
    "Run",
    "attempts_of",
    "get_job",
    "get_run",
    "jobs_of_run",
    "list_jobs",
    "list_runs",
    "runs_by_id",
    "summary",
]
