"""The SQL unit of work: one connection, one transaction, every repository bound to it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Self

from sqlalchemy import Connection, Engine

from legato.domain.money import DEFAULT_ROUNDING
from legato.store.repositories import (
    SqlAccounts,
    SqlChannels,
    SqlOrders,
    SqlOutbox,
    SqlPricelists,
    SqlProducts,
    SqlQuotes,
)
from legato.store.secretbox import SecretBox


def utcnow() -> datetime:
    return datetime.now(UTC)


class SqlUnitOfWork:
    def __init__(
        self,
        engine: Engine,
        box: SecretBox,
        *,
        rounding: str = DEFAULT_ROUNDING,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.engine, self.box, self.rounding, self.clock = engine, box, rounding, clock
        self.conn: Connection | None = None

    def __enter__(self) -> Self:
        if self.conn is not None:
            raise RuntimeError("this unit of work is already open")
        self.conn = self.engine.connect()
        self.conn.begin()
        self._now = self.clock()
        conn, now = self.conn, self._now
        self.channels = SqlChannels(conn, self.box, now)
        self.products = SqlProducts(conn, now)
        self.accounts = SqlAccounts(conn, now)
        self.pricelists = SqlPricelists(conn, now)
        self.orders = SqlOrders(conn)
        self.quotes = SqlQuotes(conn)
        self.outbox = SqlOutbox(conn)
        return self

    def __exit__(self, *exc: object) -> None:
        conn, self.conn = self.conn, None
        if conn is not None:
            if conn.in_transaction():
                conn.rollback()
            conn.close()

    def now(self) -> datetime:
        """The time of this unit of work: one clock reading for everything it writes."""
        return self._now

    def commit(self) -> None:
        assert self.conn is not None
        self.conn.commit()

    def rollback(self) -> None:
        assert self.conn is not None
        self.conn.rollback()
        self.conn.begin()
