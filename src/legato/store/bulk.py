"""The store's half of bulk placement (``legato.services.bulk``): existing references in one
query, pre-allocated order ids, and a batch of orders written with one statement per table.

Rows are built by the same functions ``SqlOrders.add`` uses (and as ``save`` and
``SqlOutbox.add`` build theirs), and each value goes through its column type, so a
bulk-placed order is stored exactly like one placed alone (tests/integration/test_imports.py
compares them column by column).

Ids are taken before the rows are written, because a multi-row ``INSERT ... RETURNING`` does
not promise its rows back in order: on PostgreSQL from the orders' own sequence (``nextval``
for n ids in one statement); on SQLite as max(id) + 1 ..., which is safe because the batch's
transaction began with ``BEGIN IMMEDIATE`` and so holds the database's only write lock.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from operator import itemgetter
from typing import Any

from sqlalchemy import Connection, Table, bindparam, func, select, text
from sqlalchemy.exc import IntegrityError

from legato.domain.errors import DuplicateKey
from legato.domain.events import DomainEvent
from legato.domain.order import SalesOrder, TimelineEntry
from legato.store import mapping as m
from legato.store import tables as t
from legato.store.db import READ_ONLY
from legato.store.repositories import _document_row, _state_row
from legato.store.uow import SqlUnitOfWork

_O = t.orders
_CHUNK = 500  # references per IN (...) list
_EXISTING = (
    select(_O.c.external_ref, _O.c.id)
    .join(t.channels, t.channels.c.id == _O.c.channel_id)
    .where(t.channels.c.code == bindparam("code"), _O.c.external_ref.in_(bindparam("refs", expanding=True)))
)
_IDS_BY_CODE = {
    "channels": select(t.channels.c.code, t.channels.c.id).where(
        t.channels.c.code.in_(bindparam("codes", expanding=True))
    ),
    "accounts": select(t.accounts.c.code, t.accounts.c.id).where(
        t.accounts.c.code.in_(bindparam("codes", expanding=True))
    ),
}
_PG_IDS = text("SELECT nextval(pg_get_serial_sequence('orders', 'id')) FROM generate_series(1, :n)")


class SqlBatchWriter:
    """A BatchWriter on the unit of work's connection (inside its transaction)."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self._next: int | None = None

    def existing(self, channel_code: str, references: Sequence[str]) -> dict[str, int]:
        found: dict[str, int] = {}
        refs = sorted(set(references))
        for i in range(0, len(refs), _CHUNK):
            rows = self.conn.execute(_EXISTING, {"code": channel_code, "refs": refs[i : i + _CHUNK]})
            found.update({r.external_ref: r.id for r in rows})
        return found

    def allocate_ids(self, n: int) -> list[int]:
        if self.conn.dialect.name == "postgresql":
            return [int(i) for i in self.conn.execute(_PG_IDS, {"n": n}).scalars()]
        if self._next is None:
            self._next = int(self.conn.execute(select(func.coalesce(func.max(_O.c.id), 0))).scalar_one()) + 1
        first, self._next = self._next, self._next + n
        return list(range(first, first + n))

    def _ids(self, which: str, codes: set[str]) -> dict[str, int]:
        if not codes:
            return {}
        return {r.code: r.id for r in self.conn.execute(_IDS_BY_CODE[which], {"codes": sorted(codes)})}

    def write(
        self,
        orders: Sequence[SalesOrder],
        entries: Sequence[tuple[int, TimelineEntry]],
        events: Sequence[tuple[DomainEvent, datetime]],
    ) -> None:
        channels = self._ids("channels", {o.channel_code for o in orders})
        accounts = self._ids("accounts", {o.account_code for o in orders if o.account_code})
        rows = [
            {
                "id": o.id,
                "channel_id": channels[o.channel_code],
                "account_id": accounts[o.account_code] if o.account_code else None,
                **_document_row(o),
                "external_ref": o.external_reference,
                **_state_row(o),
                "quote_id": o.quote_id,
                "inbox_id": o.inbox_id,
                "created_at": o.created_at,
                "updated_at": o.created_at,
            }
            for o in orders
        ]
        try:
            _insert(self.conn, _O, rows)
        except IntegrityError as exc:
            if "external_ref" in str(exc.orig) or "uq_orders_channel_external_ref" in str(exc.orig):
                raise DuplicateKey("an order of this batch was placed by another writer meanwhile") from None
            raise
        lines = [m.line_to_row("order_id", o.id or 0, ln) for o in orders for ln in o.lines]
        _insert(self.conn, t.order_lines, lines)
        _insert(self.conn, t.order_timeline, [_timeline_row(order_id, e) for order_id, e in entries])
        _insert(self.conn, t.outbox, [_outbox_row(e, at) for e, at in events])


_STATEMENTS: dict[tuple[Any, ...], tuple[str, Any, list[tuple[int, Any]]]] = {}


def _insert(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """One executemany of plain SQL, each value through its column type's own bind processor
    (what a Core ``insert`` does per row, without building and compiling the statement: on
    a batch of a thousand rows that work cost more than the database's)."""
    if not rows:
        return
    dialect = conn.dialect
    names = tuple(rows[0])
    key = (table.name, dialect.name, names)
    if key not in _STATEMENTS:
        mark = "?" if dialect.paramstyle == "qmark" else "%s"
        sql = f"INSERT INTO {table.name} ({', '.join(names)}) VALUES ({', '.join([mark] * len(names))})"
        found = [table.c[n].type.dialect_impl(dialect).bind_processor(dialect) for n in names]
        getter = itemgetter(*names) if len(names) > 1 else (lambda r: (r[names[0]],))
        _STATEMENTS[key] = (sql, getter, [(i, p) for i, p in enumerate(found) if p is not None])
    sql, getter, procs = _STATEMENTS[key]
    params = []
    for r in rows:
        values = list(getter(r))
        for i, proc in procs:
            values[i] = proc(values[i])
        params.append(tuple(values))
    conn.exec_driver_sql(sql, params)


def read_only(uow: SqlUnitOfWork) -> SqlUnitOfWork:
    """The unit of work on a read-only connection (on SQLite a deferred BEGIN: it does not
    queue behind writers), for a validation pass that only reads and rolls back."""
    uow.engine = uow.engine.execution_options(**{READ_ONLY: True})
    return uow


def _timeline_row(order_id: int, e: TimelineEntry) -> dict[str, Any]:
    """As ``SqlOrders.save`` writes an entry."""
    return {"order_id": order_id, "at": e.at, "actor": e.actor, "kind": e.kind, "reason": e.reason,
            "from_value": e.from_value, "to_value": e.to_value, "data": e.data}  # fmt: skip


def _outbox_row(e: DomainEvent, at: datetime) -> dict[str, Any]:
    """As ``SqlOutbox.add`` writes an event."""
    return {"event_type": e.type, "aggregate_type": e.aggregate_type, "aggregate_id": e.aggregate_id,
            "payload": e.payload, "created_at": at}  # fmt: skip


__all__ = ["SqlBatchWriter", "read_only"]
