"""Operator alerts: something needs a person (the rates feed fails, rates go stale).

One open alert per (kind, subject), enforced by a partial unique index: raising it again
while it is open updates its message and ``last_raised_at`` instead of adding a row, so
a feed failing every hour is one alert, not twenty-four. Clearing closes it; the next
failure opens a new one, so the history shows each episode.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, Engine, select, update
from sqlalchemy.dialects import postgresql, sqlite

from legato.store import tables as t
from legato.store.db import READ_ONLY

_A = t.alerts


@dataclass(frozen=True)
class Alert:
    id: int
    kind: str
    subject: str
    message: str
    raised_at: datetime
    last_raised_at: datetime
    cleared_at: datetime | None


def raise_alert(
    conn: Connection, kind: str, subject: str, message: str, *, at: datetime | None = None
) -> None:
    """Open the (kind, subject) alert, or refresh its message if it is already open."""
    now = at or datetime.now(UTC)
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    values = {
        "kind": kind[:40],
        "subject": subject[:200],
        "message": message,
        "raised_at": now,
        "last_raised_at": now,
    }
    stmt = dialect.insert(_A).values(**values)
    stmt = stmt.on_conflict_do_update(
        index_elements=["kind", "subject"],
        index_where=_A.c.cleared_at.is_(None),
        set_={"message": stmt.excluded.message, "last_raised_at": stmt.excluded.last_raised_at},
    )
    conn.execute(stmt)


def clear_alert(conn: Connection, kind: str, subject: str, *, at: datetime | None = None) -> bool:
    """Close the open (kind, subject) alert; False if none was open."""
    done = conn.execute(
        update(_A)
        .where(_A.c.kind == kind[:40], _A.c.subject == subject[:200], _A.c.cleared_at.is_(None))
        .values(cleared_at=at or datetime.now(UTC))
    )
    return done.rowcount > 0


def open_alerts(engine: Engine, kind: str | None = None) -> list[Alert]:
    """Open alerts, oldest first (optionally of one kind)."""
    query = select(_A).where(_A.c.cleared_at.is_(None)).order_by(_A.c.raised_at, _A.c.id)
    if kind is not None:
        query = query.where(_A.c.kind == kind)
    with engine.connect().execution_options(**{READ_ONLY: True}) as conn:
        return [Alert(**r._mapping) for r in conn.execute(query)]


__all__ = ["Alert", "clear_alert", "open_alerts", "raise_alert"]
