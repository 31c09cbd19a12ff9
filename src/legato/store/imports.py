"""Spreadsheet import jobs: the raw file's place and hash, the job's state, its progress and
its validation report.

States: ``received`` (stored, waiting) -> ``validating`` (pass 1) -> ``importing`` (pass 2)
-> ``done`` | ``rejected`` (refused by its errors: nothing, or in valid_only the refused
orders, placed) | ``failed`` (an unexpected error; run again). A running job refreshes
``updated_at`` with its progress, so a job whose process died is found by its stale time
and run again from the file (the orders' idempotency keeps them single).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, and_, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from legato.store import tables as t
from legato.store.queries import decode_cursor, encode_cursor, reading

RECEIVED = "received"
VALIDATING = "validating"
IMPORTING = "importing"
DONE = "done"
FAILED = "failed"
REJECTED = "rejected"
STATES = (RECEIVED, VALIDATING, IMPORTING, DONE, FAILED, REJECTED)
RUNNING = (VALIDATING, IMPORTING)
FINISHED = (DONE, FAILED, REJECTED)
MODES = ("all_or_nothing", "valid_only")
#: a running job not heard of for this long belongs to a process that died
STALE = timedelta(minutes=2)
#: the most problems a job's report keeps (errors_total counts them all)
MAX_ERRORS = 1000

_J = t.import_jobs


@dataclass(frozen=True)
class ImportJob:
    id: int
    channel_code: str
    channel_id: int
    filename: str
    format: str
    sha256: str
    size: int
    path: str
    mode: str
    state: str
    actor: str
    rows_total: int | None
    rows_done: int
    orders_created: int
    orders_existing: int
    orders_rejected: int
    errors: list[dict[str, Any]]
    errors_total: int
    reason: str | None
    attempts: int
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None

    @property
    def finished(self) -> bool:
        return self.state in FINISHED

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k not in ("channel_id", "path")}


_SELECT = select(_J, t.channels.c.code.label("channel_code")).join(
    t.channels, t.channels.c.id == _J.c.channel_id
)


def _job(r: Any) -> ImportJob:
    return ImportJob(
        id=r.id,
        channel_code=r.channel_code,
        channel_id=r.channel_id,
        filename=r.filename,
        format=r.format,
        sha256=r.sha256,
        size=r.size,
        path=r.path,
        mode=r.mode,
        state=r.state,
        actor=r.actor,
        rows_total=r.rows_total,
        rows_done=r.rows_done,
        orders_created=r.orders_created,
        orders_existing=r.orders_existing,
        orders_rejected=r.orders_rejected,
        errors=list(r.errors or []),
        errors_total=r.errors_total,
        reason=r.reason,
        attempts=r.attempts,
        created_at=r.created_at,
        updated_at=r.updated_at,
        finished_at=r.finished_at,
    )


_COUNTERS = {"rows_done": 0, "orders_created": 0, "orders_existing": 0, "orders_rejected": 0}


def create(
    engine: Engine,
    *,
    channel_id: int,
    filename: str,
    fmt: str,
    sha256: str,
    size: int,
    path: str,
    mode: str,
    actor: str,
) -> tuple[ImportJob, bool]:
    """The new job, or the one that already holds this file for this channel (False)."""
    now = datetime.now(UTC)
    values: dict[str, Any] = {
        "channel_id": channel_id, "filename": filename[:255], "format": fmt, "sha256": sha256, "size": size,
        "path": path, "mode": mode, "state": RECEIVED, "actor": actor[:120], "rows_total": None,
        **_COUNTERS, "errors": [], "errors_total": 0, "reason": None, "attempts": 0,
        "created_at": now, "updated_at": now, "finished_at": None,
    }  # fmt: skip
    try:
        with engine.begin() as conn:
            job_id = conn.execute(insert(_J).values(**values).returning(_J.c.id)).scalar_one()
        created = True
    except IntegrityError:
        found = find(engine, channel_id, sha256)
        if found is None:
            raise
        return found, False
    job = get(engine, int(job_id))
    assert job is not None
    return job, created


def get(engine: Engine, job_id: int) -> ImportJob | None:
    with reading(engine) as conn:
        r = conn.execute(_SELECT.where(_J.c.id == job_id)).first()
    return _job(r) if r else None


def find(engine: Engine, channel_id: int, sha256: str) -> ImportJob | None:
    with reading(engine) as conn:
        r = conn.execute(_SELECT.where(_J.c.channel_id == channel_id, _J.c.sha256 == sha256)).first()
    return _job(r) if r else None


def listing(
    engine: Engine, *, state: str | None, channel: str | None, limit: int, cursor: str | None
) -> tuple[list[ImportJob], str | None]:
    """Newest first, with a keyset cursor like every list."""
    query = _SELECT
    if state:
        query = query.where(_J.c.state == state)
    if channel:
        query = query.where(t.channels.c.code == channel)
    if cursor:
        query = query.where(_J.c.id < decode_cursor(cursor))
    with reading(engine) as conn:
        rows = conn.execute(query.order_by(_J.c.id.desc()).limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    return [_job(r) for r in rows], encode_cursor(rows[-1].id) if more and rows else None


def claim(
    engine: Engine, job_id: int, *, states: Sequence[str] = (RECEIVED,), stale: timedelta = STALE
) -> bool:
    """Take the job to run it (counters reset) if it is in ``states``, or running but not
    heard of for ``stale`` (its process died)."""
    now = datetime.now(UTC)
    with engine.begin() as conn:
        taken = conn.execute(
            update(_J)
            .where(
                _J.c.id == job_id,
                or_(_J.c.state.in_(states), and_(_J.c.state.in_(RUNNING), _J.c.updated_at < now - stale)),
            )
            .values(
                state=VALIDATING,
                attempts=_J.c.attempts + 1,
                updated_at=now,
                finished_at=None,
                reason=None,
                **_COUNTERS,
            )
        ).rowcount
    return bool(taken)


def requeue(engine: Engine, job_id: int, mode: str) -> bool:
    """Queue a finished job again (the same file sent again after a fix), in ``mode``.
    Only a job that left orders out: failed, rejected, or done with refused orders."""
    now = datetime.now(UTC)
    with engine.begin() as conn:
        taken = conn.execute(
            update(_J)
            .where(
                _J.c.id == job_id,
                or_(_J.c.state.in_((FAILED, REJECTED)), and_(_J.c.state == DONE, _J.c.orders_rejected > 0)),
            )
            .values(state=RECEIVED, mode=mode, updated_at=now)
        ).rowcount
    return bool(taken)


def update_job(engine: Engine, job_id: int, **values: Any) -> None:
    """Progress (counters, state): also tells other processes the job is alive."""
    with engine.begin() as conn:
        conn.execute(update(_J).where(_J.c.id == job_id).values(**values, updated_at=datetime.now(UTC)))


def finish(
    engine: Engine,
    job_id: int,
    state: str,
    *,
    errors: list[dict[str, Any]],
    errors_total: int,
    reason: str | None,
    **counters: int,
) -> None:
    now = datetime.now(UTC)
    with engine.begin() as conn:
        conn.execute(
            update(_J)
            .where(_J.c.id == job_id)
            .values(
                state=state,
                errors=errors[:MAX_ERRORS],
                errors_total=errors_total,
                reason=reason,
                updated_at=now,
                finished_at=now,
                **counters,
            )
        )


def pending(engine: Engine, *, stale: timedelta = STALE, limit: int = 100) -> list[int]:
    """Jobs to run: queued, or running in a process that died (not heard of for ``stale``;
    another live process refreshes its job's time with every step of progress)."""
    before = datetime.now(UTC) - stale
    with reading(engine) as conn:
        return list(
            conn.execute(
                select(_J.c.id)
                .where(or_(_J.c.state == RECEIVED, and_(_J.c.state.in_(RUNNING), _J.c.updated_at < before)))
                .order_by(_J.c.id)
                .limit(limit)
            ).scalars()
        )


__all__ = [
    "DONE",
    "FAILED",
    "FINISHED",
    "IMPORTING",
    "MAX_ERRORS",
    "MODES",
    "RECEIVED",
    "REJECTED",
    "RUNNING",
    "STATES",
    "VALIDATING",
    "ImportJob",
    "claim",
    "create",
    "find",
    "finish",
    "get",
    "listing",
    "pending",
    "requeue",
    "update_job",
]
