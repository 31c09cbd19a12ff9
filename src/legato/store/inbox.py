"""The inbox: every delivery, raw, stored before anything parses it, with its fate.

States (one column, one meaning each) are the constants below.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, and_, insert, or_, select, update

from legato.store import tables as t
from legato.store.queries import decode_cursor, encode_cursor, reading

RECEIVED = "received"  # stored, not yet processed (a crash here is recovered at start-up)
PROCESSING = "processing"  # claimed by a process that is working on it now
PROCESSED = "processed"  # made or changed an order
DUPLICATE = "duplicate"  # a re-delivery of an order that already exists: nothing written
IGNORED = "ignored"  # nothing to do (a ping, a status message): kept, not an error
QUARANTINED = "quarantined"  # could not be read or enriched: the reason is kept; replayable
REJECTED = "rejected"  # the signature is missing or wrong: never parsed
FAILED = "failed"  # an unexpected error while processing: retried by recovery, replayable
STATES = (RECEIVED, PROCESSING, PROCESSED, DUPLICATE, IGNORED, QUARANTINED, REJECTED, FAILED)
REPLAYABLE = (RECEIVED, QUARANTINED, FAILED, REJECTED)

#: a claim older than this is taken to belong to a process that died
STALE_CLAIM = timedelta(minutes=2)

_I = t.inbox


@dataclass(frozen=True)
class InboxEntry:
    id: int
    channel_code: str
    adapter: str | None
    received_at: datetime
    source: str | None
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    topic: str | None
    delivery_id: str | None
    state: str
    reason: str | None
    errors: list[dict[str, Any]]
    order_id: int | None
    attempts: int
    ack: dict[str, Any] | None
    updated_at: datetime


def _entry(r: Any) -> InboxEntry:
    return InboxEntry(
        id=r.id,
        channel_code=r.channel_code,
        adapter=r.adapter,
        received_at=r.received_at,
        source=r.source,
        method=r.method,
        path=r.path,
        query=dict(r.query or {}),
        headers=dict(r.headers or {}),
        body=bytes(r.body),
        topic=r.topic,
        delivery_id=r.delivery_id,
        state=r.state,
        reason=r.reason,
        errors=list(r.errors or []),
        order_id=r.order_id,
        attempts=r.attempts,
        ack=r.ack,
        updated_at=r.updated_at,
    )


def row(
    *,
    channel_id: int | None,
    channel_code: str,
    adapter: str | None,
    method: str,
    path: str,
    query: Mapping[str, str],
    headers: Mapping[str, str],
    body: bytes,
    received_at: datetime,
    source: str | None,
    topic: str | None = None,
    delivery_id: str | None = None,
    state: str = RECEIVED,
    reason: str | None = None,
) -> dict[str, Any]:
    return {
        "channel_id": channel_id,
        "channel_code": channel_code[:32],
        "adapter": adapter,
        "received_at": received_at,
        "source": source,
        "method": method,
        "path": path[:500],
        "query": dict(query),
        "headers": dict(headers),
        "body": body,
        "body_sha256": hashlib.sha256(body).hexdigest(),
        "topic": (topic or None) and topic[:100],
        "delivery_id": (delivery_id or None) and delivery_id[:200],
        "state": state,
        "reason": reason,
        "errors": [],
        "order_id": None,
        "attempts": 0,
        "updated_at": received_at,
    }


def store(conn: Connection, values: dict[str, Any]) -> int:
    """Insert one entry (in the caller's transaction) and return its id."""
    return int(conn.execute(insert(_I).values(**values).returning(_I.c.id)).scalar_one())


def claim(engine: Engine, entry_id: int, *, states: tuple[str, ...] = (RECEIVED,)) -> bool:
    """Take the entry for processing if it is in one of ``states`` or its claim went stale."""
    now = datetime.now(UTC)
    with engine.begin() as conn:
        taken = conn.execute(
            update(_I)
            .where(
                _I.c.id == entry_id,
                or_(
                    _I.c.state.in_(states),
                    and_(_I.c.state == PROCESSING, _I.c.updated_at < now - STALE_CLAIM),
                ),
            )
            .values(state=PROCESSING, attempts=_I.c.attempts + 1, updated_at=now)
        ).rowcount
    return bool(taken)


def finish(
    engine: Engine,
    entry_id: int,
    state: str,
    *,
    reason: str | None = None,
    errors: list[dict[str, Any]] | None = None,
    order_id: int | None = None,
) -> None:
    with engine.begin() as conn:
        conn.execute(
            update(_I)
            .where(_I.c.id == entry_id)
            .values(
                state=state,
                reason=reason,
                errors=errors or [],
                order_id=order_id,
                updated_at=datetime.now(UTC),
            )
        )


def record_ack(engine: Engine, entry_id: int, ack: dict[str, Any]) -> None:
    with engine.begin() as conn:
        conn.execute(update(_I).where(_I.c.id == entry_id).values(ack=ack, updated_at=datetime.now(UTC)))


def get(engine: Engine, entry_id: int) -> InboxEntry | None:
    with reading(engine) as conn:
        r = conn.execute(select(_I).where(_I.c.id == entry_id)).first()
    return _entry(r) if r else None


def listing(
    engine: Engine, *, state: str | None, channel: str | None, limit: int, cursor: str | None
) -> tuple[list[InboxEntry], str | None]:
    """Newest first, with a keyset cursor like the order list."""
    query = select(_I)
    if state:
        query = query.where(_I.c.state == state)
    if channel:
        query = query.where(_I.c.channel_code == channel)
    if cursor:
        query = query.where(_I.c.id < decode_cursor(cursor))
    with reading(engine) as conn:
        rows = conn.execute(query.order_by(_I.c.id.desc()).limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    return [_entry(r) for r in rows], encode_cursor(rows[-1].id) if more and rows else None


def pending(engine: Engine, limit: int = 500, *, started_before: datetime | None = None) -> list[int]:
    """Entries a crash left behind: stored but never processed, or claimed by a dead process
    (a claim older than STALE_CLAIM, or any claim made before ``started_before``)."""
    stale = datetime.now(UTC) - STALE_CLAIM
    if started_before is not None:
        stale = max(stale, started_before)
    with reading(engine) as conn:
        return list(
            conn.execute(
                select(_I.c.id)
                .where(or_(_I.c.state == RECEIVED, and_(_I.c.state == PROCESSING, _I.c.updated_at < stale)))
                .order_by(_I.c.id)
                .limit(limit)
            ).scalars()
        )


def get_state(engine: Engine, channel_id: int, key: str) -> str | None:
    cs = t.channel_state
    with reading(engine) as conn:
        value: str | None = conn.execute(
            select(cs.c.value).where(cs.c.channel_id == channel_id, cs.c.key == key)
        ).scalar_one_or_none()
    return value


def set_state(conn: Connection, channel_id: int, key: str, value: str | None) -> None:
    """Save a channel's state (e.g. a pull cursor) in the caller's transaction."""
    cs = t.channel_state
    now = datetime.now(UTC)
    done = conn.execute(
        update(cs).where(cs.c.channel_id == channel_id, cs.c.key == key).values(value=value, updated_at=now)
    ).rowcount
    if not done:
        conn.execute(insert(cs).values(channel_id=channel_id, key=key, value=value, updated_at=now))
