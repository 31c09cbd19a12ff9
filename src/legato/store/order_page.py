"""What the control tower's order page reads beside the order itself: its channel, and the
workflow runs that acted on it with every step and attempt — three indexed queries, however
many runs and steps there are (runs by ``ix_workflow_runs_order_id``, their jobs by
``ix_jobs_run_id_step``, their attempts by ``ix_job_attempts_job_id``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Engine, select

from legato.store import tables as t
from legato.store.job_queries import Attempt, Run, list_runs
from legato.store.jobs import Job, job_from_row
from legato.store.queries import reading
from legato.store.workflow_tables import job_attempts as _AT
from legato.store.workflow_tables import jobs as _J


@dataclass(frozen=True)
class ChannelSummary:
    code: str
    name: str
    type: str
    adapter: str


@dataclass(frozen=True)
class Step:
    job: Job
    attempts: list[Attempt] = field(default_factory=list)


@dataclass(frozen=True)
class RunHistory:
    run: Run
    steps: list[Step]


def channel_summary(engine: Engine, code: str) -> ChannelSummary | None:
    C = t.channels
    with reading(engine) as conn:
        r = conn.execute(select(C.c.code, C.c.name, C.c.type, C.c.adapter).where(C.c.code == code)).first()
    return ChannelSummary(r.code, r.name, r.type, r.adapter) if r is not None else None


def workflow_history(engine: Engine, order_id: int, *, limit: int = 50) -> list[RunHistory]:
    """The order's latest ``limit`` runs, newest first, each with its steps and their attempts."""
    runs, _ = list_runs(engine, order_id=order_id, limit=limit)
    if not runs:
        return []
    with reading(engine) as conn:
        jobs = [
            job_from_row(r)
            for r in conn.execute(
                select(_J)
                .where(_J.c.run_id.in_([r.id for r in runs]))
                .order_by(_J.c.run_id, _J.c.step, _J.c.id)
            )
        ]
        attempts: dict[int, list[Attempt]] = {j.id: [] for j in jobs}
        if jobs:
            rows = conn.execute(
                select(_AT)
                .where(_AT.c.job_id.in_(list(attempts)))
                .order_by(_AT.c.job_id, _AT.c.attempt, _AT.c.id)
            )
            for a in rows:
                attempts[a.job_id].append(Attempt(**a._mapping))
    steps: dict[int, list[Step]] = {r.id: [] for r in runs}
    for j in jobs:
        if j.run_id is not None:
            steps[j.run_id].append(Step(j, attempts[j.id]))
    return [RunHistory(r, steps[r.id]) for r in runs]


__all__ = ["ChannelSummary", "RunHistory", "Step", "channel_summary", "workflow_history"]
