"""The order hub's read side: every order from every channel, filtered, sorted and paged by keyset.

A page is found by its sort key, never by an offset: the cursor carries the last row's key
(``(created_at, id)``, ``(grand_total, id)`` or ``(id)``), and the next page starts strictly
after it, so page 2000 costs what page 1 costs, and rows inserted meanwhile never shift a page.
Each sort has an index that serves it backwards and forwards (``ix_orders_created_at_id``,
``ix_orders_grand_total_id``, the primary key).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Engine,
    Numeric,
    Select,
    String,
    cast,
    exists,
    literal,
    or_,
    select,
    tuple_,
    union,
)

from legato.domain.errors import FieldIssue, ValidationFailed
from legato.domain.order import ORDER_PREFIX, parse_number
from legato.store import tables as t
from legato.store.queries import reading
from legato.store.types import UTCDateTime

_O, _C, _A, _L = t.orders, t.channels, t.accounts, t.order_lines
SORTS = ("created", "total", "number")
_PHONEISH = re.compile(r"[\d\s()+./-]+")


@dataclass(frozen=True)
class HubFilter:
    """What the hub shows. Each tuple is "any of these"; empty means no filter."""

    statuses: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()
    types: tuple[str, ...] = ()
    payment: tuple[str, ...] = ()
    fulfilment: tuple[str, ...] = ()
    invoice: tuple[str, ...] = ()
    currencies: tuple[str, ...] = ()
    tiers: tuple[str, ...] = ()
    sku: str | None = None
    account: str | None = None
    created_from: datetime | None = None  # inclusive
    created_to: datetime | None = None  # exclusive
    idle_before: datetime | None = None  # unchanged since before this (updated_at)
    q: str | None = None


@dataclass(frozen=True)
class HubPage:
    items: list[dict[str, Any]]
    next_cursor: str | None  # the page after this one
    prev_cursor: str | None  # the page before this one (None on the first page)


_COLUMNS = (
    _O.c.id, _O.c.external_ref, _O.c.status, _O.c.payment_status, _O.c.fulfilment_status,
    _O.c.invoice_status, _O.c.currency, _O.c.grand_total, _O.c.customer_name, _O.c.customer_email,
    _O.c.customer_phone, _O.c.created_at, _O.c.updated_at, _O.c.priority,
    _C.c.code.label("channel"), _C.c.type.label("channel_type"), _A.c.code.label("account"),
)  # fmt: skip


def _bad_cursor(cursor: str, why: str = "the cursor is not one this page made") -> ValidationFailed:
    return ValidationFailed(why, issues=[FieldIssue("cursor", why, "invalid_cursor", cursor)])


def _encode(sort: str, descending: bool, row: Any, before: bool) -> str:
    key: list[Any] = [row.id]
    if sort == "created":
        key = [row.created_at.isoformat(), row.id]
    elif sort == "total":
        key = [str(row.grand_total), row.id]
    body = {"s": sort, "d": int(descending), "b": int(before), "k": key}
    return base64.urlsafe_b64encode(json.dumps(body, separators=(",", ":")).encode()).decode().rstrip("=")


def _decode(cursor: str, sort: str, descending: bool) -> tuple[list[Any], bool]:
    """(key values, whether the cursor asks for the page before)."""
    try:
        body = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if body["s"] != sort or bool(body["d"]) != descending:
            raise _bad_cursor(cursor, "the cursor belongs to another sort order; start from the first page")
        raw = body["k"]
        last_id = int(raw[-1])
        if sort == "created":
            key: list[Any] = [datetime.fromisoformat(raw[0]), last_id]
            if key[0].tzinfo is None:
                raise ValueError
        elif sort == "total":
            key = [Decimal(raw[0]), last_id]
            if not key[0].is_finite():
                raise ValueError
        else:
            key = [last_id]
        return key, bool(body["b"])
    except ValidationFailed:
        raise
    except (
        binascii.Error,
        UnicodeDecodeError,
        ValueError,
        KeyError,
        TypeError,
        IndexError,
        InvalidOperation,
    ):
        raise _bad_cursor(cursor) from None


def _sort_key(engine: Engine, sort: str) -> list[ColumnElement[Any]]:
    if sort == "created":
        return [_O.c.created_at, _O.c.id]
    if sort == "total":
        # SQLite keeps exact decimals as text: compare them as numbers there
        total = cast(_O.c.grand_total, Numeric) if engine.dialect.name == "sqlite" else _O.c.grand_total
        return [total, _O.c.id]
    return [_O.c.id]


def _bound(engine: Engine, sort: str, key: list[Any]) -> list[ColumnElement[Any]]:
    if sort == "created":
        return [literal(key[0], UTCDateTime()), literal(key[1])]
    if sort == "total":
        if engine.dialect.name == "sqlite":
            return [cast(literal(format(key[0], "f"), String), Numeric), literal(key[1])]
        return [literal(key[0], Numeric()), literal(key[1])]
    return [literal(key[0])]


def _search(text: str) -> ColumnElement[bool]:
    """Number, external reference, customer name, e-mail or phone."""
    conds: list[ColumnElement[bool]] = [
        _O.c.external_ref.icontains(text, autoescape=True),
        _O.c.customer_name.icontains(text, autoescape=True),
        _O.c.customer_email.icontains(text, autoescape=True),
        _O.c.customer_phone.icontains(text, autoescape=True),
    ]
    digits = re.sub(r"\D", "", text)
    if len(digits) >= 3 and _PHONEISH.fullmatch(text):  # phones are stored as +digits: "7946 0001" finds them
        conds.append(_O.c.customer_phone.contains(digits, autoescape=True))
    number = parse_number(ORDER_PREFIX, text)
    if number is not None and number <= 2**62:
        conds.append(_O.c.id == number)
    return or_(*conds)


def _filtered(f: HubFilter) -> Select[Any]:
    query = select(*_COLUMNS).select_from(
        _O.join(_C, _C.c.id == _O.c.channel_id).outerjoin(_A, _A.c.id == _O.c.account_id)
    )
    for column, values in (
        (_O.c.status, f.statuses), (_C.c.code, f.channels), (_C.c.type, f.types),
        (_O.c.payment_status, f.payment), (_O.c.fulfilment_status, f.fulfilment),
        (_O.c.invoice_status, f.invoice), (_O.c.currency, f.currencies), (_A.c.tier, f.tiers),
    ):  # fmt: skip
        if values:
            query = query.where(column.in_(values))
    if f.account:
        query = query.where(_A.c.code == f.account)
    if f.sku:
        query = query.where(exists().where(_L.c.order_id == _O.c.id, _L.c.sku == f.sku))
    if f.created_from:
        query = query.where(_O.c.created_at >= f.created_from)
    if f.created_to:
        query = query.where(_O.c.created_at < f.created_to)
    if f.idle_before:
        query = query.where(_O.c.updated_at < f.idle_before)
    if f.q and f.q.strip():
        query = query.where(_search(f.q.strip()))
    return query


def page_query(
    engine: Engine, f: HubFilter, *, sort: str, descending: bool, limit: int, cursor: str | None
) -> tuple[Select[Any], bool]:
    """The statement for one page (``limit`` + 1 rows, to know if there is more), and whether
    it reads backwards (a previous page, whose rows come out reversed)."""
    if sort not in SORTS:
        raise ValidationFailed(
            f"sort by one of {', '.join(SORTS)}", issues=[FieldIssue("sort", "unknown", "invalid")]
        )
    key = _sort_key(engine, sort)
    query = _filtered(f)
    before = False
    if cursor:
        values, before = _decode(cursor, sort, descending)
        bound = tuple_(*_bound(engine, sort, values))
        after_desc = descending != before  # walking towards smaller keys
        query = query.where(tuple_(*key) < bound if after_desc else tuple_(*key) > bound)
    backwards = descending != before
    return query.order_by(*[k.desc() if backwards else k.asc() for k in key]).limit(limit + 1), before


def hub_page(
    engine: Engine,
    f: HubFilter,
    *,
    sort: str = "created",
    descending: bool = True,
    limit: int = 50,
    cursor: str | None = None,
) -> HubPage:
    """One page of the hub; ``cursor`` is a next or previous cursor of an earlier page."""
    query, before = page_query(engine, f, sort=sort, descending=descending, limit=limit, cursor=cursor)
    with reading(engine) as conn:
        rows = list(conn.execute(query).all())
    more = len(rows) > limit
    rows = rows[:limit]
    if before:
        rows.reverse()
    if not rows:
        return HubPage([], None, None)
    has_next = more if not before else True
    has_prev = more if before else bool(cursor)
    return HubPage(
        [dict(r._mapping) for r in rows],
        _encode(sort, descending, rows[-1], False) if has_next else None,
        _encode(sort, descending, rows[0], True) if has_prev else None,
    )


def hub_rows(
    engine: Engine, f: HubFilter, *, sort: str = "created", descending: bool = True, batch: int = 1000
) -> Iterator[dict[str, Any]]:
    """Every row of the view, page by page (a CSV export streams these without holding them)."""
    cursor: str | None = None
    while True:
        page = hub_page(engine, f, sort=sort, descending=descending, limit=batch, cursor=cursor)
        yield from page.items
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


@dataclass(frozen=True)
class HubOptions:
    """The choices the hub's filters offer, from the small tables (never a scan of orders)."""

    channels: list[tuple[str, str, str]]  # (code, name, type)
    currencies: list[str]
    tiers: list[str]


def hub_options(engine: Engine) -> HubOptions:
    currencies = union(
        select(_C.c.currency.label("c")),
        select(_A.c.currency.label("c")).where(_A.c.currency.is_not(None)),
        select(t.pricelists.c.currency.label("c")),
    )
    with reading(engine) as conn:
        channels = [(r.code, r.name, r.type) for r in conn.execute(select(_C).order_by(_C.c.code))]
        found = sorted({r.c for r in conn.execute(currencies)})
        tiers = sorted(conn.execute(select(_A.c.tier).where(_A.c.tier.is_not(None)).distinct()).scalars())
    return HubOptions(channels, found, tiers)


__all__ = ["SORTS", "HubFilter", "HubOptions", "HubPage", "hub_options", "hub_page", "hub_rows", "page_query"]
