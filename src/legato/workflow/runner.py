"""The job runner: claims due jobs and runs one attempt of each, durably.

Each job goes through three transactions: the claim (the job is ``running``, its attempt
counted and opened), the action itself (which may commit its own changes and call outside
systems), and the record (the attempt closed, the job moved on and, in the same
transaction, the run advanced: the next step's job created, or the run done, stopped,
waiting or dead). The jobs of one claim are recorded together, at most
``RECORD_EVERY_SECONDS`` after the first ran. A crash between claim and record leaves the
jobs ``running``; ``recovery.recover`` puts them back once their worker is known to be gone,
and each step runs again with the same idempotency key, so a receiver that honours the key
sees one effect.

``LEGATO_FAULT=crash_after_claim`` / ``crash_after_effect`` kill the process (SIGKILL) at
those two points: the crash tests use them; never set them in production.
"""

from __future__ import annotations

import json
import logging
import os
import random
import secrets
import signal
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection

from legato.bootstrap import Runtime
from legato.domain.errors import Conflict, LegatoError
from legato.store import job_queries as jq
from legato.store import jobs as store
from legato.workflow.actions import Fail, Retry, StepContext, StepResult, get_action
from legato.workflow.runs import advance, dead_letter, max_attempts_of, on_timeline

log = logging.getLogger("legato.workflow")
FAULT = "LEGATO_FAULT"
_HOST = socket.gethostname()
_ERROR_CHARS = 2000


def utcnow() -> datetime:
    return datetime.now(UTC)


def backoff(
    attempt: int, *, base: float = 2.0, cap: float = 3600.0, rand: Callable[[], float] = random.random
) -> float:
    """Seconds to wait after failed attempt ``attempt`` (1-based): "full jitter", a random
    point in [0, min(cap, base * 2^(attempt-1))), so retries of many jobs that failed
    together (a receiver down) spread out instead of arriving in waves."""
    ceiling = min(cap, base * 2.0 ** min(max(attempt, 1) - 1, 64))
    return ceiling * rand()


def worker_id() -> str:
    """``host:pid:random``: unique per worker, and it says where to check that it is alive."""
    return f"{_HOST}:{os.getpid()}:{secrets.token_hex(3)}"


def _fault(point: str) -> None:
    if os.environ.get(FAULT) == point:
        os.kill(os.getpid(), signal.SIGKILL)


def _json(value: Any) -> Any:
    """What an action returned, made storable as JSON (Decimal and dates as text)."""
    return json.loads(json.dumps(value, default=str))


def _error(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    if not isinstance(exc, LegatoError | Fail | Retry):
        text = f"{type(exc).__name__}: {text}"
    return text[:_ERROR_CHARS]


# --- claiming and running ------------------------------------------------------------------


#: the results of the jobs a worker ran are recorded together, at most this long after the first
RECORD_EVERY_SECONDS = 0.05


@dataclass
class Attempted:
    """One attempt that ran and is not recorded yet."""

    job: store.Job
    run: jq.Run | None
    outcome: str  # done | stop | wait | retry | dead
    result: StepResult | None
    error: str | None
    failure: BaseException | None
    duration_ms: int


def run_due(
    rt: Runtime,
    worker: str,
    *,
    limit: int | None = None,
    now: datetime | None = None,
    stop: threading.Event | None = None,
) -> int:
    """Claim up to ``limit`` due jobs and run them one after the other; how many were claimed.
    Their results are recorded together (one transaction, every ``RECORD_EVERY_SECONDS`` at
    most), so a busy worker commits once per batch rather than once per job; a crash before
    the record runs those steps again, with the same idempotency keys. ``stop`` set while
    they run: the ones not started yet are given back."""
    n = limit or rt.settings.workflow_jobs_per_claim
    with store.writing(rt.engine) as conn:
        claimed = store.claim(conn, worker, now or utcnow(), n)
        runs = jq.runs_by_id(conn, (j.run_id for j in claimed if j.run_id is not None))
    if claimed:
        _fault("crash_after_claim")
    pending: list[Attempted] = []
    since = 0.0
    for i, job in enumerate(claimed):
        if stop is not None and stop.is_set():
            record(rt, worker, pending, now=now)
            pending = []
            with store.writing(rt.engine) as conn:
                store.release(conn, claimed[i:], worker, now or utcnow())
            break
        if not pending:
            since = time.monotonic()
        pending.append(attempt(rt, job, runs.get(job.run_id) if job.run_id is not None else None, now=now))
        if time.monotonic() - since >= RECORD_EVERY_SECONDS:
            record(rt, worker, pending, now=now)
            pending = []
    record(rt, worker, pending, now=now)
    return len(claimed)


def execute(
    rt: Runtime, job: store.Job, run: jq.Run | None, worker: str, *, now: datetime | None = None
) -> str:
    """One attempt of a claimed job, then its record; the outcome (done, stop, wait, retry,
    dead, or lost: the job was taken from this worker meanwhile and the result dropped)."""
    return record(rt, worker, [attempt(rt, job, run, now=now)], now=now)[0]


def attempt(rt: Runtime, job: store.Job, run: jq.Run | None, *, now: datetime | None = None) -> Attempted:
    """Run the job's action once (not recorded yet)."""
    began, started = time.perf_counter(), now or utcnow()
    result: StepResult | None = None
    error: str | None = None
    failure: BaseException | None = None
    try:
        action = get_action(job.action)
        ctx = StepContext(
            rt=rt,
            run_id=run.id if run else 0,
            step=job.step,
            attempt=job.attempts,
            workflow=run.workflow if run else job.kind,
            version=run.version if run else 0,
            event=run.event if run else dict(job.params.get("event") or {}),
            order_id=job.order_id,
            now=started,
        )
        result = action.run(ctx, job.params)
        if not isinstance(result, StepResult):
            raise TypeError(f"the action {job.action!r} returned {type(result).__name__}, not a StepResult")
        outcome = result.outcome if result.outcome in ("done", "stop", "wait") else "done"
    except (Fail, LegatoError) as exc:  # can never succeed as configured (a missing order, a 4xx ...)
        outcome, error, failure = "dead", _error(exc), exc
    except Exception as exc:  # Retry, or anything unexpected: try again later, within the limit
        outcome, error, failure = "retry", _error(exc), exc
        if job.attempts >= job.max_attempts:
            outcome = "dead"
            error = f"{error} (after {job.attempts} attempt{'s' if job.attempts != 1 else ''})"
    _fault("crash_after_effect")
    if outcome == "retry":
        log.info("job %s (%s) attempt %s failed, will retry: %s", job.id, job.action, job.attempts, error)
    duration = int((time.perf_counter() - began) * 1000)
    return Attempted(job, run, outcome, result, error, failure, duration)


def record(rt: Runtime, worker: str, done: list[Attempted], *, now: datetime | None = None) -> list[str]:
    """Record attempts in one transaction: each job moved on, its attempt closed, its run
    advanced. If that fails, each is recorded alone, so one cannot hold up the others."""
    if not done:
        return []
    try:
        with store.writing(rt.engine) as conn:
            at = now or utcnow()
            return [_record(conn, rt, a, worker, at) for a in done]
    except Exception:
        if len(done) == 1:
            raise
        log.warning(
            "recording %s attempts together failed; recording them one by one", len(done), exc_info=True
        )
    outcomes = []
    for a in done:
        try:
            outcomes += record(rt, worker, [a], now=now)
        except Exception:  # left running: taken back when its lease runs out
            log.exception("the attempt of job %s could not be recorded", a.job.id)
            outcomes.append("lost")
    return outcomes


def _record(conn: Connection, rt: Runtime, a: Attempted, worker: str, at: datetime) -> str:
    s, job, result = rt.settings, a.job, a.result
    output = _json(dict(result.output)) if result is not None else None
    request = output.pop("request", None) if isinstance(output, dict) else None
    if a.failure is not None:
        request = _json(getattr(a.failure, "request", None))
        output = _json(getattr(a.failure, "response", None))
    held: dict[str, Any] = {"expect": "running", "worker": worker, "now": at}
    if a.outcome == "retry":
        delay = backoff(
            job.attempts, base=s.workflow_backoff_base_seconds, cap=s.workflow_backoff_cap_seconds
        )
        moved = store.finish(
            conn, job.id, state="queued", run_at=at + timedelta(seconds=delay), error=a.error, **held
        )
    elif a.outcome == "dead":
        moved = store.finish(conn, job.id, state="dead", error=a.error, **held)
    elif a.outcome == "wait":
        assert result is not None
        # a wait does not use up an attempt: the wake-up gets one of its own
        moved = store.finish(
            conn,
            job.id,
            state="waiting",
            run_at=result.wake_at or store.FOREVER,
            result=output or {},
            max_attempts=job.max_attempts + 1,
            **held,
        )
    else:
        moved = store.finish(conn, job.id, state="done", result=output or {}, **held)
    if not moved:  # nothing was written for this job: its newer holder records its own attempt
        log.warning(
            "job %s was taken from worker %s (its lease ran out): this attempt's result is dropped",
            job.id,
            worker,
        )
        return "lost"
    store.record_attempt(
        conn,
        job.id,
        job.attempts,
        outcome=a.outcome,
        now=at,
        error=a.error,
        request=request,
        response=output,
        duration_ms=a.duration_ms,
    )
    if result is not None and result.note:
        on_timeline(conn, job, a.run, at, result.note, outcome=a.outcome)
    if a.outcome == "dead":
        dead_letter(conn, job, a.run, a.error or "failed", at)
    elif a.run is not None and a.outcome != "retry":
        advance(conn, a.run, job, a.outcome, at)
    return a.outcome


# --- what people and other parts call --------------------------------------------------------


def resume(
    rt: Runtime, job_id: int, note: str | None = None, *, outcome: str = "done", now: datetime | None = None
) -> store.Job:
    """End a waiting step from outside (an approval decided): ``done`` moves the run on to
    its next step, ``stop`` ends the run here. Conflict if the job is not waiting."""
    if outcome not in ("done", "stop"):
        raise ValueError(f"outcome is done or stop, not {outcome!r}")
    at = now or utcnow()
    with store.writing(rt.engine) as conn:
        job = store.lock_job(conn, job_id)
        if job.state != "waiting":
            raise Conflict(f"job {job_id} is {job.state}, not waiting", state=job.state)
        resumed = {"outcome": outcome, "note": note, "at": at.isoformat()}
        store.finish(
            conn,
            job.id,
            expect="waiting",
            worker=None,
            state="done",
            now=at,
            run_at=at,
            result={**(job.result or {}), "resumed": resumed},
        )
        run = jq.runs_by_id(conn, [job.run_id]).get(job.run_id) if job.run_id is not None else None
        if run is not None:
            advance(conn, run, job, outcome, at)
    found = jq.get_job(rt.engine, job_id)
    assert found is not None
    return found


def retry(rt: Runtime, job_id: int, *, actor: str | None = None, now: datetime | None = None) -> store.Job:
    """Run a dead job again, with a fresh allowance of the action's attempts (its earlier
    attempts stay in its history); its run is running again. Conflict unless dead."""
    at = now or utcnow()
    with store.writing(rt.engine) as conn:
        job = store.lock_job(conn, job_id)
        store.requeue(conn, job, max_attempts=job.attempts + max_attempts_of(job.action), now=at)
        run = jq.runs_by_id(conn, [job.run_id]).get(job.run_id) if job.run_id is not None else None
        if run is not None:
            store.set_run(conn, run.id, state="running", step=job.step, now=at)
        if actor:
            on_timeline(conn, job, run, at, f"job {job.id} retried", "queued", actor=actor)
    found = jq.get_job(rt.engine, job_id)
    assert found is not None
    return found


__all__ = [
    "FAULT",
    "RECORD_EVERY_SECONDS",
    "Attempted",
    "attempt",
    "backoff",
    "execute",
    "record",
    "resume",
    "retry",
    "run_due",
    "utcnow",
    "worker_id",
]
