"""Outbound documents (X12 997 / 855, EDIFACT CONTRL) and the per-channel sequences that
number them.

A sequence lives in ``channel_state`` under ``seq:<name>``; ``next`` increments it with one
upsert statement, so two processes never get the same control number.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, Integer, cast, func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from legato.store import tables as t
from legato.store.db import write_lock

_S = t.channel_state
_D = t.outbound_documents


class SqlCounters:
    """``legato.intake.base.Counters`` over ``channel_state``, inside the caller's transaction."""

    def __init__(self, conn: Connection, channel_id: int) -> None:
        self.conn, self.channel_id = conn, channel_id

    def next(self, name: str) -> int:
        now = datetime.now(UTC)
        insert = postgresql.insert if self.conn.dialect.name == "postgresql" else sqlite.insert
        stmt = insert(_S).values(channel_id=self.channel_id, key=f"seq:{name}", value="1", updated_at=now)
        bumped = func.cast(cast(_S.c.value, Integer) + 1, _S.c.value.type)
        upsert = stmt.on_conflict_do_update(
            index_elements=[_S.c.channel_id, _S.c.key], set_={"value": bumped, "updated_at": now}
        )
        return int(self.conn.execute(upsert.returning(_S.c.value)).scalar_one())


@dataclass(frozen=True)
class Document:
    id: int
    channel_id: int
    inbox_id: int | None
    order_id: int | None
    kind: str
    control_number: str | None
    filename: str
    body: bytes
    created_at: datetime
    sent_at: datetime | None
    destination: str | None
    error: str | None


def _doc(r: Any) -> Document:
    return Document(
        r.id, r.channel_id, r.inbox_id, r.order_id, r.kind, r.control_number, r.filename, bytes(r.body),
        r.created_at, r.sent_at, r.destination, r.error,
    )  # fmt: skip


def add(
    conn: Connection,
    *,
    channel_id: int,
    kind: str,
    filename: str,
    body: bytes,
    control_number: str | None,
    inbox_id: int | None = None,
    order_id: int | None = None,
) -> int:
    values = dict(
        channel_id=channel_id, kind=kind, filename=filename, body=body, control_number=control_number,
        inbox_id=inbox_id, order_id=order_id, created_at=datetime.now(UTC),
    )  # fmt: skip
    return int(conn.execute(_D.insert().values(**values).returning(_D.c.id)).scalar_one())


def render_and_add(
    engine: Engine,
    channel_id: int,
    kind: str,
    filename: str,
    render: Any,
    *,
    inbox_id: int | None = None,
    order_id: int | None = None,
) -> int:
    """Number (through the channel's counters) and store one document, in one transaction."""
    with write_lock(engine), engine.begin() as conn:
        body, control = render(SqlCounters(conn, channel_id))
        return add(
            conn, channel_id=channel_id, kind=kind, filename=filename, body=body, control_number=control,
            inbox_id=inbox_id, order_id=order_id,
        )  # fmt: skip


def get(engine: Engine, doc_id: int) -> Document | None:
    with engine.connect() as conn:
        r = conn.execute(select(_D).where(_D.c.id == doc_id)).first()
    return _doc(r) if r is not None else None


def listing(
    engine: Engine,
    *,
    channel_id: int | None = None,
    kind: str | None = None,
    pending: bool | None = None,
    limit: int = 50,
    before: int | None = None,
) -> list[Document]:
    """Newest first; ``pending=True``: not yet delivered by the channel's transport."""
    q = select(_D).order_by(_D.c.id.desc()).limit(limit)
    if channel_id is not None:
        q = q.where(_D.c.channel_id == channel_id)
    if kind is not None:
        q = q.where(_D.c.kind == kind)
    if pending is True:
        q = q.where(_D.c.sent_at.is_(None))
    elif pending is False:
        q = q.where(_D.c.sent_at.is_not(None))
    if before is not None:
        q = q.where(_D.c.id < before)
    with engine.connect() as conn:
        return [_doc(r) for r in conn.execute(q)]


def mark_sent(engine: Engine, doc_id: int, destination: str) -> None:
    with write_lock(engine), engine.begin() as conn:
        conn.execute(
            update(_D)
            .where(_D.c.id == doc_id)
            .values(sent_at=datetime.now(UTC), destination=destination, error=None)
        )


def mark_failed(engine: Engine, doc_id: int, error: str) -> None:
    with write_lock(engine), engine.begin() as conn:
        conn.execute(update(_D).where(_D.c.id == doc_id).values(error=error[:2000]))


__all__ = ["Document", "SqlCounters", "add", "get", "listing", "mark_failed", "mark_sent", "render_and_add"]
