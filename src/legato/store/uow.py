"""The SQL unit of work: one connection, one transaction, every repository bound to it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Self

from sqlalchemy import Connection, Engine

from legato.domain.money import DEFAULT_ROUNDING
from legato.domain.pricing import PricingPolicy
from legato.services.uow import (
    AccountRepository,
    ChannelRepository,
    Fulfilment,
    OrderRepository,
    Outbox,
    PricelistRepository,
    PricingData,
    ProductRepository,
    QuoteRepository,
)
from legato.store.db import write_lock
from legato.store.fulfilment_cancel import SqlFulfilment
from legato.store.pricing_data import SqlPricingData
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
        pricing: PricingPolicy | None = None,
        fx_provider: str = "ecb",
    ) -> None:
        self.engine, self.box, self.rounding, self.clock = engine, box, rounding, clock
        self.pricing = pricing or PricingPolicy()
        self.fx_provider = fx_provider
        self.conn: Connection | None = None

    def __enter__(self) -> Self:
        if self.conn is not None:
            raise RuntimeError("this unit of work is already open")
        self._lock = write_lock(self.engine)
        self._lock.__enter__()
        try:
            self.conn = self.engine.connect()
            self.conn.begin()
        except BaseException:
            self._lock.__exit__(None, None, None)
            raise
        self._now = self.clock()
        conn, now = self.conn, self._now
        # typed as the Protocols the services expect, so mypy checks each repository fits
        self.channels: ChannelRepository = SqlChannels(conn, self.box, now)
        self.products: ProductRepository = SqlProducts(conn, now)
        self.accounts: AccountRepository = SqlAccounts(conn, now)
        self.pricelists: PricelistRepository = SqlPricelists(conn, now)
        self.orders: OrderRepository = SqlOrders(conn)
        self.quotes: QuoteRepository = SqlQuotes(conn)
        self.outbox: Outbox = SqlOutbox(conn)
        self.pricing_data: PricingData = SqlPricingData(conn, self.fx_provider)
        self.fulfilment: Fulfilment = SqlFulfilment(conn)
        return self

    def __exit__(self, *exc: object) -> None:
        conn, self.conn = self.conn, None
        try:
            if conn is not None:
                if conn.in_transaction():
                    conn.rollback()
                conn.close()
        finally:
            self._lock.__exit__(None, None, None)

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
