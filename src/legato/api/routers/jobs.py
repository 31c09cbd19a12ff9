"""The workflow engine's jobs and runs: what ran, what waits, what is dead and why.

Reading needs ``orders:read``; retrying a dead job needs ``admin``.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, Field

from legato.api.deps import runtime
from legato.api.security import require
from legato.bootstrap import Runtime
from legato.domain.errors import FieldIssue, NotFound, ValidationFailed
from legato.domain.order import ORDER_PREFIX, format_number, parse_number
from legato.store import job_queries as jq
from legato.store import jobs as store
from legato.store.apikeys import ApiKey
from legato.workflow import runner

router = APIRouter(prefix="/api/v1", tags=["workflow jobs"])


class JobOut(BaseModel):
    id: int
    kind: str = Field(description="step (a workflow action), webhook (a delivery), schedule (a slot fired)")
    run_id: int | None
    step: int
    action: str
    state: str = Field(description="queued, running, waiting, done or dead")
    attempts: int
    max_attempts: int
    run_at: datetime | None = Field(
        description="not before (backoff, timer); null while waiting to be resumed"
    )
    order_id: int | None
    order: str | None = Field(description="the order's number")
    idempotency_key: str = Field(description="stable across the attempts of this job; sent to receivers")
    last_error: str | None
    result: dict[str, Any] | None
    params: dict[str, Any]
    locked_by: str | None
    locked_at: datetime | None
    created_at: datetime
    updated_at: datetime


class AttemptOut(BaseModel):
    attempt: int
    worker: str
    started_at: datetime
    finished_at: datetime | None
    outcome: str | None = Field(description="done, wait, stop, retry, dead, or lost (its worker vanished)")
    error: str | None
    request: Any = Field(None, description="a summary of what was sent")
    response: Any = Field(None, description="a summary of the answer")
    duration_ms: int | None


class JobDetail(JobOut):
    attempts_log: list[AttemptOut] = Field(description="every attempt, oldest first")


class JobPage(BaseModel):
    items: list[JobOut]
    next_cursor: str | None


class RunOut(BaseModel):
    id: int
    workflow: str
    workflow_id: int
    version: int = Field(description="the workflow version this run uses")
    event_id: int | None = Field(description="the outbox event; null for a scheduled run")
    event_type: str
    order_id: int | None
    order: str | None
    state: str = Field(description="running, waiting, done, stopped or dead")
    step: int = Field(description="the step running now, or the last one")
    started_at: datetime
    finished_at: datetime | None


class RunDetail(RunOut):
    event: dict[str, Any]
    jobs: list[JobOut]


class RunPage(BaseModel):
    items: list[RunOut]
    next_cursor: str | None


def _number(order_id: int | None) -> str | None:
    return None if order_id is None else format_number(ORDER_PREFIX, order_id)


def job_out(job: store.Job) -> dict[str, Any]:
    return {**jq.summary(job), "order": _number(job.order_id)}


def _run_out(run: jq.Run) -> dict[str, Any]:
    return {**asdict(run), "order": _number(run.order_id)}


def _order(order: str | None) -> int | None:
    if order is None:
        return None
    found = parse_number(ORDER_PREFIX, order)
    if found is None or found > 2**62:
        msg = f"{order!r} is not an order number (SO-000042) or id"
        raise ValidationFailed(msg, issues=[FieldIssue("order", msg, "invalid", order)])
    return found


def _job_detail(rt: Runtime, job_id: int) -> dict[str, Any]:
    job = jq.get_job(rt.engine, job_id)
    if job is None:
        raise NotFound(f"no job {job_id}")
    return {**job_out(job), "attempts_log": [asdict(a) for a in jq.attempts_of(rt.engine, job_id)]}


def _id() -> Any:
    """A fresh Path() per use (one shared object would bind every path parameter to one name)."""
    return Path(ge=1, le=2**62)


@router.get("/jobs", response_model=JobPage)
def list_jobs(
    state: str | None = Query(None, pattern="^(" + "|".join(store.JOB_STATES) + ")$"),
    order: str | None = Query(None, max_length=40, description="an order's number or id"),
    kind: str | None = Query(None, pattern="^(step|webhook|schedule)$"),
    run: int | None = Query(None, ge=1, le=2**62, description="only this run's jobs"),
    limit: int = Query(50, ge=1, le=200),
    cursor: str | None = Query(None, max_length=100),
    _: ApiKey = Depends(require("orders:read")),
    rt: Runtime = Depends(runtime),
) -> dict[str, Any]:
    """Jobs, newest first; ``state=dead`` lists the dead letters."""
    items, nxt = jq.list_jobs(
        rt.engine, state=state, order_id=_order(order), run_id=run, kind=kind, limit=limit, cursor=cursor
    )
    return {"items": [job_out(j) for j in items], "next_cursor": nxt}


@router.get("/jobs/{job_id}", response_model=JobDetail)
def get_job(
    job_id: int = _id(), _: ApiKey = Depends(require("orders:read")), rt: Runtime = Depends(runtime)
) -> dict[str, Any]:
    """One job with every attempt: worker, outcome, error, request and response, duration."""
    return _job_detail(rt, job_id)


@router.post("/jobs/{job_id}/retry", response_model=JobDetail)
def retry_job(
    job_id: int = _id(), key: ApiKey = Depends(require("admin")), rt: Runtime = Depends(runtime)
) -> dict[str, Any]:
    """Queue a dead job again with a fresh allowance of attempts (409 unless it is dead)."""
    runner.retry(rt, job_id, actor=key.actor)
    return _job_detail(rt, job_id)


@router.get("/workflow-runs", response_model=RunPage)
def list_runs(
    order: str | None = Query(None, max_length=40, description="an order's number or id"),
    state: str | None = Query(None, pattern="^(" + "|".join(store.RUN_STATES) + ")$"),
    workflow: str | None = Query(None, max_length=80),
    limit: int = Query(50, ge=1, le=200),
    cursor: str | None = Query(None, max_length=100),
    _: ApiKey = Depends(require("orders:read")),
    rt: Runtime = Depends(runtime),
) -> dict[str, Any]:
    """Workflow runs, newest first (``?order=SO-000042``: what ran on one order)."""
    items, nxt = jq.list_runs(
        rt.engine, order_id=_order(order), state=state, workflow=workflow, limit=limit, cursor=cursor
    )
    return {"items": [_run_out(r) for r in items], "next_cursor": nxt}


@router.get("/workflow-runs/{run_id}", response_model=RunDetail)
def get_run(
    run_id: int = _id(), _: ApiKey = Depends(require("orders:read")), rt: Runtime = Depends(runtime)
) -> dict[str, Any]:
    """One run with the event it matched and its jobs, step by step."""
    run = jq.get_run(rt.engine, run_id)
    if run is None:
        raise NotFound(f"no workflow run {run_id}")
    return {**_run_out(run), "jobs": [job_out(j) for j in jq.jobs_of_run(rt.engine, run_id)]}
