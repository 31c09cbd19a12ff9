"""Stored exchange rates: one row per provider, pair and publication day.

Everything takes a Connection, so pricing can read the day's rates inside the unit of
work that prices the order, and the feed's rates are saved in the same transaction
that clears its alert.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, and_, func, select, tuple_
from sqlalchemy.dialects import postgresql, sqlite

from legato.domain.fx import MANUAL, Rate, RateTable
from legato.store import tables as t
from legato.store.refcache import invalidate

_R = t.fx_rates


def preference(provider: str) -> tuple[str, ...]:
    """Whose rate wins for a pair: the configured provider first, then manual rates."""
    return (provider,) if provider == MANUAL else (provider, MANUAL)


def _rate(row: Any) -> Rate:
    return Rate(row.base, row.quote, row.rate, row.as_of, row.provider)


class SqlRates:
    """Rates on one connection. ``provider`` is the configured one (``LEGATO_FX_PROVIDER``)."""

    def __init__(self, conn: Connection, provider: str = "ecb") -> None:
        self.conn, self.order = conn, preference(provider)

    def _newest(
        self, on: date | None, providers: Sequence[str] | None, limit: int | None = None
    ) -> list[Rate]:
        """The newest rate of each (provider, base, quote), published on or before ``on``."""
        newest = select(_R.c.provider, _R.c.base, _R.c.quote, func.max(_R.c.as_of).label("as_of"))
        if on is not None:
            newest = newest.where(_R.c.as_of <= on)
        if providers is not None:
            newest = newest.where(_R.c.provider.in_(providers))
        latest = newest.group_by(_R.c.provider, _R.c.base, _R.c.quote).subquery()
        query = (
            select(_R)
            .join(
                latest,
                and_(
                    _R.c.provider == latest.c.provider,
                    _R.c.base == latest.c.base,
                    _R.c.quote == latest.c.quote,
                    _R.c.as_of == latest.c.as_of,
                ),
            )
            .order_by(_R.c.base, _R.c.quote, _R.c.provider)
            .limit(limit)
        )
        return [_rate(r) for r in self.conn.execute(query)]

    def table(self, on: date) -> RateTable:
        """The rates to price with on day ``on``: for each pair of currencies (either way
        round), the preferred provider's latest rate published on or before ``on``."""
        chosen: dict[frozenset[str], Rate] = {}
        for r in self._newest(on, self.order):
            key = frozenset((r.base, r.quote))
            held = chosen.get(key)
            if held is None or _better(r, held, self.order):
                chosen[key] = r
        return RateTable(chosen.values())

    def latest(self, limit: int = 500) -> list[Rate]:
        """The latest rate of every provider and pair, by base, quote and provider."""
        return self._newest(None, None, limit)

    def save(self, rates: list[Rate], fetched_at: datetime) -> int:
        """Insert or update (idempotent: the same feed twice changes nothing but
        ``fetched_at``). Returns how many rows are new or now hold another rate."""
        invalidate(self.conn.engine)  # orders read rates through store.refcache
        if not rates:
            return 0
        keys = {(r.provider, r.base, r.quote, r.as_of): r.rate for r in rates}
        held = {
            (row.provider, row.base, row.quote, row.as_of): row.rate
            for row in self.conn.execute(
                select(_R.c.provider, _R.c.base, _R.c.quote, _R.c.as_of, _R.c.rate).where(
                    tuple_(_R.c.provider, _R.c.base, _R.c.quote, _R.c.as_of).in_(list(keys))
                )
            )
        }
        dialect = postgresql if self.conn.dialect.name == "postgresql" else sqlite
        stmt = dialect.insert(_R)
        stmt = stmt.on_conflict_do_update(
            index_elements=["provider", "base", "quote", "as_of"],
            set_={"rate": stmt.excluded.rate, "fetched_at": stmt.excluded.fetched_at},
        )
        rows = [
            {"provider": p, "base": b, "quote": q, "as_of": d, "rate": rate, "fetched_at": fetched_at}
            for (p, b, q, d), rate in keys.items()
        ]
        self.conn.execute(stmt, rows)
        return sum(1 for k, rate in keys.items() if held.get(k) != rate)


def _better(new: Rate, held: Rate, order: tuple[str, ...]) -> bool:
    rank_new, rank_held = order.index(new.provider), order.index(held.provider)
    if rank_new != rank_held:
        return rank_new < rank_held
    return new.as_of > held.as_of  # the same provider quoting both ways round: the newer


__all__ = ["SqlRates", "preference"]
