"""Aggregates for the control tower's dashboard and operations board, computed in SQL.

Every figure is one grouped query on an indexed range: the created-at window uses
``ix_orders_created_at_id``, the states ``ix_orders_status_id``, so a day of a million-order
store reads a day's rows, not the table.

Money is summed exactly. PostgreSQL sums NUMERIC; SQLite keeps amounts as decimal text and its
own SUM would turn them into binary floats, so there the sum is ``legato_dec_sum``, an aggregate
registered on the connection that adds Decimals and returns their text.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Connection, Engine, case, func, select, type_coerce

from legato.domain.lifecycle import OrderStatus
from legato.store import tables as t
from legato.store.inventory import available
from legato.store.inventory_tables import allocations as _AL
from legato.store.inventory_tables import backorders as _BO
from legato.store.queries import reading
from legato.store.types import Dec

_O, _C, _A, _L, _T = t.orders, t.channels, t.accounts, t.order_lines, t.order_timeline
_S = OrderStatus
#: statuses whose orders count as sales (a cancelled or voided order earned nothing)
SALES = tuple(s.value for s in _S if s not in (_S.CANCELLED, _S.VOIDED))
#: statuses still to be worked: the backlog
OPEN = (_S.PENDING_APPROVAL.value, _S.CREATED.value, _S.ON_HOLD.value, _S.PROCESSING.value)
#: fulfilment states of demand not yet shipped
UNSHIPPED = ("unfulfilled", "partially_fulfilled")
UNPAID = ("unpaid", "partially_paid")


class _DecimalSum:
    """SQLite aggregate: the exact sum of decimal texts, as text."""

    def __init__(self) -> None:
        self.total = Decimal(0)

    def step(self, value: Any) -> None:
        if value is not None:
            self.total += Decimal(str(value))

    def finalize(self) -> str:
        return format(self.total, "f")


@contextmanager
def aggregating(engine: Engine) -> Iterator[Connection]:
    """A read-only connection on which ``dec_sum`` works (SQLite: the aggregate is registered)."""
    with reading(engine) as conn:
        if conn.dialect.name == "sqlite":
            raw: Any = conn.connection.driver_connection
            raw.create_aggregate("legato_dec_sum", 1, _DecimalSum)
        yield conn


def dec_sum(conn: Connection, column: Any) -> ColumnElement[Decimal]:
    """SUM of a Dec column, exact on both databases, read back as a Decimal."""
    if conn.dialect.name == "sqlite":
        return type_coerce(func.coalesce(func.legato_dec_sum(column), "0"), Dec())
    return type_coerce(func.coalesce(func.sum(column), 0), Dec())


@dataclass(frozen=True)
class Window:
    """Orders created in [start, end), optionally in one currency only."""

    start: datetime
    end: datetime
    currency: str | None = None

    def where(self) -> list[ColumnElement[bool]]:
        conds = [_O.c.created_at >= self.start, _O.c.created_at < self.end]
        if self.currency:
            conds.append(_O.c.currency == self.currency)
        return conds


@dataclass(frozen=True)
class Figure:
    """One group of orders: how many, and the sales among them (count and revenue)."""

    key: tuple[Any, ...]
    currency: str
    orders: int
    sales: int
    revenue: Decimal


def _sales_cols(conn: Connection) -> tuple[Any, Any, Any]:
    counted = _O.c.status.in_(SALES)
    revenue = dec_sum(conn, case((counted, _O.c.grand_total), else_=None))
    return (
        func.count().label("orders"),
        func.count(case((counted, 1))).label("sales"),
        revenue.label("revenue"),
    )


def _figures(conn: Connection, w: Window, *keys: Any, join: Any = None) -> list[Figure]:
    query = select(*keys, _O.c.currency, *_sales_cols(conn)).select_from(join if join is not None else _O)
    query = query.where(*w.where()).group_by(*keys, _O.c.currency)
    return [
        Figure(tuple(r[: len(keys)]), r.currency, int(r.orders), int(r.sales), r.revenue or Decimal(0))
        for r in conn.execute(query)
    ]


def by_channel(conn: Connection, w: Window) -> list[Figure]:
    """Orders and revenue per (channel code, channel type) and currency."""
    return _figures(conn, w, _C.c.code, _C.c.type, join=_O.join(_C, _C.c.id == _O.c.channel_id))


def by_tier(conn: Connection, w: Window) -> list[Figure]:
    """Orders and revenue per account tier (None: guests and accounts without a tier) and currency."""
    return _figures(conn, w, _A.c.tier, join=_O.outerjoin(_A, _A.c.id == _O.c.account_id))


def by_status(conn: Connection, w: Window) -> dict[str, int]:
    query = select(_O.c.status, func.count()).where(*w.where()).group_by(_O.c.status)
    return {status: int(n) for status, n in conn.execute(query)}


@dataclass(frozen=True)
class ProductFigure:
    sku: str
    name: str
    quantity: Decimal
    orders: int
    revenue: dict[str, Decimal] = field(default_factory=dict)  # per currency


def top_products(conn: Connection, w: Window, limit: int = 10) -> list[ProductFigure]:
    """The products sold most (units, in orders that count as sales), with their revenue."""
    query = (
        select(
            _L.c.sku,
            func.max(_L.c.name).label("name"),
            _O.c.currency,
            dec_sum(conn, _L.c.quantity).label("quantity"),
            func.count(func.distinct(_O.c.id)).label("orders"),
            dec_sum(conn, _L.c.total).label("revenue"),
        )
        .select_from(_O.join(_L, _L.c.order_id == _O.c.id))
        .where(*w.where(), _O.c.status.in_(SALES))
        .group_by(_L.c.sku, _O.c.currency)
    )
    found: dict[str, dict[str, Any]] = {}
    for r in conn.execute(query):
        p = found.setdefault(r.sku, {"name": r.name, "quantity": Decimal(0), "orders": 0, "revenue": {}})
        p["quantity"] += r.quantity or 0
        p["orders"] += int(r.orders)
        p["revenue"][r.currency] = r.revenue or Decimal(0)
    ranked = sorted(found.items(), key=lambda kv: (-kv[1]["quantity"], kv[0]))[:limit]
    return [ProductFigure(sku, p["name"], p["quantity"], p["orders"], p["revenue"]) for sku, p in ranked]


# --- orders at risk ------------------------------------------------------------------------


def idle_count(conn: Connection, status: str, before: datetime) -> int:
    """Orders in ``status`` unchanged since before ``before`` (the hub's ``idle`` filter)."""
    query = select(func.count()).where(_O.c.status == status, _O.c.updated_at < before)
    return int(conn.execute(query).scalar_one())


def terms_days(terms: str | None) -> int | None:
    """``net30`` -> 30; other terms (prepaid, on delivery ...) have no due date."""
    text = (terms or "").strip().lower()
    digits = text[3:].strip(" -") if text.startswith("net") else ""
    return int(digits) if digits.isdigit() and 0 <= int(digits) <= 3650 else None


@dataclass(frozen=True)
class Overdue:
    order_id: int
    account: str
    terms: str
    currency: str
    grand_total: Decimal
    payment_status: str
    created_at: datetime
    due: datetime


def unpaid_past_terms(conn: Connection, now: datetime, limit: int = 20) -> tuple[int, list[Overdue]]:
    """Sales not (fully) paid after their account's payment terms (``netN``): how many, and the
    oldest ``limit`` of them."""
    terms = [
        (text, days)
        for text in conn.execute(select(_A.c.payment_terms).distinct()).scalars()
        if (days := terms_days(text)) is not None
    ]
    if not terms:
        return 0, []
    total, found = 0, []
    for text, days in terms:
        # one range per terms: unpaid sales older than the terms, of accounts on these terms; an
        # index on (payment_status, status, created_at) serves it
        where = (
            _O.c.payment_status.in_(UNPAID),
            _O.c.status.in_(SALES),
            _O.c.created_at < now - timedelta(days=days),
            _O.c.account_id.in_(select(_A.c.id).where(_A.c.payment_terms == text)),
        )
        rows = conn.execute(
            select(
                _O.c.id,
                _A.c.code,
                _O.c.currency,
                _O.c.grand_total,
                _O.c.payment_status,
                _O.c.created_at,
                func.count().over().label("matching"),  # how many in all, in the same pass
            )
            .select_from(_O.join(_A, _A.c.id == _O.c.account_id))
            .where(*where)
            # sorted after the filter: ordering by the bare column would tempt the planner to walk
            # the whole created-at index looking for the few unpaid orders
            .order_by(func.coalesce(_O.c.created_at, _O.c.updated_at), _O.c.id)
            .limit(limit)
        ).all()
        total += int(rows[0].matching) if rows else 0
        found += [
            Overdue(r.id, r.code, text, r.currency, r.grand_total, r.payment_status, r.created_at,
                    r.created_at + timedelta(days=days))
            for r in rows
        ]  # fmt: skip
    return total, sorted(found, key=lambda o: (o.created_at, o.order_id))[:limit]


# --- the operations board ------------------------------------------------------------------


def backlog(conn: Connection, now: datetime, hours: Sequence[int]) -> dict[str, list[int]]:
    """Per open status: [all, unchanged for over hours[0], over hours[1], ...] (cumulative, so
    each is one hub link: ``status=S&idle=H``)."""
    olders = [func.count(case((_O.c.updated_at < now - timedelta(hours=h), 1))) for h in hours]
    query = select(_O.c.status, func.count(), *olders).where(_O.c.status.in_(OPEN)).group_by(_O.c.status)
    found = {r[0]: [int(n) for n in r[1:]] for r in conn.execute(query)}
    return {status: found.get(status, [0] * (len(hours) + 1)) for status in OPEN}


def oldest(conn: Connection, status: str, before: datetime, limit: int = 20) -> list[dict[str, Any]]:
    """The orders in ``status`` unchanged longest (since before ``before``), oldest first."""
    query = (
        select(
            _O.c.id,
            _O.c.updated_at,
            _O.c.created_at,
            _O.c.currency,
            _O.c.grand_total,
            _O.c.customer_name,
            _O.c.fulfilment_status,
            _C.c.code.label("channel"),
        )
        .select_from(_O.join(_C, _C.c.id == _O.c.channel_id))
        .where(_O.c.status == status, _O.c.updated_at < before)
        .order_by(_O.c.updated_at, _O.c.id)
        .limit(limit)
    )
    return [dict(r._mapping) for r in conn.execute(query)]


@dataclass(frozen=True)
class Demand:
    sku: str
    name: str
    quantity: Decimal
    orders: int


def open_demand(conn: Connection, limit: int = 25) -> tuple[dict[str, int], list[Demand]]:
    """What open orders still have to ship: orders per fulfilment state, and units per SKU."""
    where = (_O.c.status.in_(OPEN), _O.c.fulfilment_status.in_(UNSHIPPED))
    counts = {
        s: int(n)
        for s, n in conn.execute(
            select(_O.c.fulfilment_status, func.count()).where(*where).group_by(_O.c.fulfilment_status)
        )
    }
    query = (
        select(
            _L.c.sku,
            func.max(_L.c.name).label("name"),
            dec_sum(conn, _L.c.quantity).label("quantity"),
            func.count(func.distinct(_O.c.id)).label("orders"),
        )
        .select_from(_O.join(_L, _L.c.order_id == _O.c.id))
        .where(*where, _L.c.status == "open")
        .group_by(_L.c.sku)
    )
    rows = sorted(conn.execute(query), key=lambda r: (-(r.quantity or 0), r.sku))[:limit]
    return counts, [Demand(r.sku, r.name, r.quantity or Decimal(0), int(r.orders)) for r in rows]


@dataclass(frozen=True)
class Supply:
    """One SKU's supply against its open demand: units reserved for open orders, shipped to them,
    waiting as backorders, and available to promise at the locations that ship."""

    reserved: Decimal = Decimal(0)
    shipped: Decimal = Decimal(0)
    backordered: Decimal = Decimal(0)
    available: Decimal = Decimal(0)

    def unallocated(self, ordered: Decimal) -> Decimal:
        """Units ordered that nothing covers yet: not reserved, shipped, backordered (or dropshipped)."""
        return max(ordered - self.reserved - self.shipped - self.backordered, Decimal(0))


def supply_for(conn: Connection, skus: Sequence[str]) -> dict[str, Supply]:
    """Reserved, shipped and backordered units of open orders, and ATP, for each SKU (three
    grouped queries over the inventory tables, by SKU)."""
    if not skus:
        return {}
    got: dict[str, dict[str, Decimal]] = {s: {} for s in skus}
    live = _O.c.status.in_(OPEN)
    for r in conn.execute(
        select(_AL.c.sku, dec_sum(conn, _AL.c.quantity).label("q"), dec_sum(conn, _AL.c.shipped).label("s"))
        .select_from(_AL.join(_O, _O.c.id == _AL.c.order_id))
        .where(live, _AL.c.sku.in_(skus), _AL.c.strategy != "dropship")
        .group_by(_AL.c.sku)
    ):
        got[r.sku].update(reserved=r.q or Decimal(0), shipped=r.s or Decimal(0))
    for r in conn.execute(
        select(_AL.c.sku, dec_sum(conn, _AL.c.quantity + _AL.c.shipped).label("q"))
        .select_from(_AL.join(_O, _O.c.id == _AL.c.order_id))
        .where(live, _AL.c.sku.in_(skus), _AL.c.strategy == "dropship")
        .group_by(_AL.c.sku)
    ):  # dropshipped units are covered by their supplier: count them as reserved there
        got[r.sku]["reserved"] = got[r.sku].get("reserved", Decimal(0)) + (r.q or Decimal(0))
    for r in conn.execute(
        select(_BO.c.sku, dec_sum(conn, _BO.c.quantity).label("q"))
        .where(_BO.c.sku.in_(skus))
        .group_by(_BO.c.sku)
    ):
        got[r.sku]["backordered"] = r.q or Decimal(0)
    for sku, units in available(conn, skus).items():
        got[sku]["available"] = units
    return {sku: Supply(**values) for sku, values in got.items()}


@dataclass
class HoldReason:
    reason: str | None
    count: int = 0
    oldest: datetime | None = None
    orders: list[tuple[int, datetime]] = field(default_factory=list)  # (order id, held at), oldest first


def holds_by_reason(conn: Connection, per_reason: int = 5) -> list[HoldReason]:
    """Orders on hold grouped by the reason of their latest hold (its timeline entry)."""
    latest = (
        select(func.max(_T.c.id).label("tid"))
        .select_from(_T.join(_O, _O.c.id == _T.c.order_id))
        .where(_O.c.status == _S.ON_HOLD.value, _T.c.to_value == _S.ON_HOLD.value)
        .group_by(_T.c.order_id)
        .subquery()
    )
    rows = conn.execute(
        select(_T.c.order_id, _T.c.reason, _T.c.at).join(latest, latest.c.tid == _T.c.id).order_by(_T.c.at)
    )
    groups: dict[str | None, HoldReason] = {}
    for r in rows:
        g = groups.setdefault(r.reason, HoldReason(r.reason, oldest=r.at))
        g.count += 1
        if len(g.orders) < per_reason:
            g.orders.append((r.order_id, r.at))
    return sorted(groups.values(), key=lambda g: (-g.count, g.reason or ""))


def currencies(conn: Connection) -> list[str]:
    """The currencies orders are placed in: the channels', the accounts' and the pricelists' (small
    tables; the orders' own column has no index to scan)."""
    found: set[str] = set()
    for column in (_C.c.currency, _A.c.currency, t.pricelists.c.currency):
        found.update(c for c in conn.execute(select(column).distinct()).scalars() if c)
    return sorted(found)


__all__ = [
    "OPEN",
    "SALES",
    "UNPAID",
    "UNSHIPPED",
    "Demand",
    "Figure",
    "HoldReason",
    "Overdue",
    "ProductFigure",
    "Window",
    "aggregating",
    "backlog",
    "by_channel",
    "by_status",
    "by_tier",
    "currencies",
    "dec_sum",
    "holds_by_reason",
    "idle_count",
    "oldest",
    "open_demand",
    "terms_days",
    "top_products",
    "unpaid_past_terms",
]
