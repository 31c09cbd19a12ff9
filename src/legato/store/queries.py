"""The read side: lists and look-ups in plain select(), on read-only connections.

Lists use keyset pagination on the id (newest first): a cursor names the last id
seen, so a page never repeats or skips a row while new orders are being inserted.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, func, or_, select

from legato.domain.catalog import Account, Channel, Pricelist, PricelistKind, Product
from legato.domain.errors import FieldIssue, ValidationFailed
from legato.domain.order import ORDER_PREFIX, SalesOrder, parse_number
from legato.domain.quote import Quote
from legato.store import mapping as m
from legato.store import tables as t
from legato.store.db import READ_ONLY
from legato.store.repositories import SqlAccounts, SqlPricelists, load_order, load_quote
from legato.store.secretbox import SecretBox

_O, _A, _C = t.orders, t.accounts, t.channels


@contextmanager
def reading(engine: Engine) -> Iterator[Connection]:
    with engine.connect().execution_options(**{READ_ONLY: True}) as conn:
        yield conn


def encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(f"id:{last_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        kind, _, value = raw.partition(":")
        if kind == "id" and value.isdigit() and len(value) <= 18:
            return int(value)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        pass
    msg = "the cursor is not one this API returned"
    raise ValidationFailed(msg, issues=[FieldIssue("cursor", msg, "invalid_cursor", cursor)])


@dataclass(frozen=True)
class OrderFilter:
    status: str | None = None
    channel: str | None = None
    account: str | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    q: str | None = None


@dataclass(frozen=True)
class Page:
    items: list[dict[str, Any]]
    next_cursor: str | None


def list_orders(engine: Engine, f: OrderFilter, *, limit: int = 50, cursor: str | None = None) -> Page:
    query = select(
        _O.c.id,
        _O.c.external_ref,
        _O.c.status,
        _O.c.payment_status,
        _O.c.fulfilment_status,
        _O.c.invoice_status,
        _O.c.currency,
        _O.c.grand_total,
        _O.c.priority,
        _O.c.customer_name,
        _O.c.customer_email,
        _O.c.created_at,
        _O.c.updated_at,
        _C.c.code.label("channel"),
        _C.c.type.label("channel_type"),
        _A.c.code.label("account"),
    ).select_from(_O.join(_C, _C.c.id == _O.c.channel_id).outerjoin(_A, _A.c.id == _O.c.account_id))
    if f.status:
        query = query.where(_O.c.status == f.status)
    if f.channel:
        query = query.where(_C.c.code == f.channel)
    if f.account:
        query = query.where(_A.c.code == f.account)
    if f.created_from:
        query = query.where(_O.c.created_at >= f.created_from)
    if f.created_to:
        query = query.where(_O.c.created_at < f.created_to)
    if f.q:
        text = f.q.strip()
        conds = [
            _O.c.external_ref.icontains(text, autoescape=True),
            _O.c.customer_name.icontains(text, autoescape=True),
            _O.c.customer_email.icontains(text, autoescape=True),
        ]
        number = parse_number(ORDER_PREFIX, text)
        if number is not None:
            conds.append(_O.c.id == number)
        query = query.where(or_(*conds))
    if cursor:
        query = query.where(_O.c.id < decode_cursor(cursor))
    query = query.order_by(_O.c.id.desc()).limit(limit + 1)
    with reading(engine) as conn:
        rows = conn.execute(query).all()
    more = len(rows) > limit
    rows = rows[:limit]
    items = [dict(r._mapping) for r in rows]
    return Page(items, encode_cursor(rows[-1].id) if more and rows else None)


def get_order(engine: Engine, order_id: int) -> SalesOrder | None:
    with reading(engine) as conn:
        return load_order(conn, order_id)


def get_quote(engine: Engine, quote_id: int) -> Quote | None:
    with reading(engine) as conn:
        return load_quote(conn, quote_id)


def list_quotes(engine: Engine, *, status: str | None, limit: int, cursor: str | None) -> Page:
    Q = t.quotes
    query = select(
        Q.c.id,
        Q.c.status,
        Q.c.currency,
        Q.c.grand_total,
        Q.c.customer_name,
        Q.c.valid_until,
        Q.c.order_id,
        Q.c.created_at,
        _C.c.code.label("channel"),
        _A.c.code.label("account"),
    ).select_from(Q.join(_C, _C.c.id == Q.c.channel_id).outerjoin(_A, _A.c.id == Q.c.account_id))
    if status:
        query = query.where(Q.c.status == status)
    if cursor:
        query = query.where(Q.c.id < decode_cursor(cursor))
    with reading(engine) as conn:
        rows = conn.execute(query.order_by(Q.c.id.desc()).limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    return Page([dict(r._mapping) for r in rows], encode_cursor(rows[-1].id) if more and rows else None)


def order_number_to_id(value: str) -> int | None:
    return parse_number(ORDER_PREFIX, value)


def _page_by_id(engine: Engine, table: Any, limit: int, cursor: str | None) -> tuple[list[Any], str | None]:
    query = select(table)
    if cursor:
        query = query.where(table.c.id > decode_cursor(cursor))
    with reading(engine) as conn:
        rows = conn.execute(query.order_by(table.c.id).limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    return list(rows), encode_cursor(rows[-1].id) if more and rows else None


def list_channels(
    engine: Engine, box: SecretBox, limit: int, cursor: str | None
) -> tuple[list[Channel], str | None]:
    rows, nxt = _page_by_id(engine, t.channels, limit, cursor)
    return [m.channel_from_row(r, box.open(r.secrets)) for r in rows], nxt


def list_products(engine: Engine, limit: int, cursor: str | None) -> tuple[list[Product], str | None]:
    rows, nxt = _page_by_id(engine, t.products, limit, cursor)
    return [m.product_from_row(r) for r in rows], nxt


def list_accounts(engine: Engine, limit: int, cursor: str | None) -> tuple[list[Account], str | None]:
    query = select(_A, t.pricelists.c.code.label("pricelist_code")).select_from(
        _A.outerjoin(t.pricelists, t.pricelists.c.id == _A.c.pricelist_id)
    )
    if cursor:
        query = query.where(_A.c.id > decode_cursor(cursor))
    with reading(engine) as conn:
        rows = conn.execute(query.order_by(_A.c.id).limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    return [m.account_from_row(r, r.pricelist_code) for r in rows], encode_cursor(
        rows[-1].id
    ) if more and rows else None


def get_account(engine: Engine, code: str) -> Account | None:
    with reading(engine) as conn:
        return SqlAccounts(conn, datetime.now()).get_by_code(code)


def get_pricelist(engine: Engine, code: str) -> Pricelist | None:
    with reading(engine) as conn:
        return SqlPricelists(conn, datetime.now()).get_by_code(code)


def list_pricelists(engine: Engine, limit: int, cursor: str | None) -> tuple[list[Pricelist], str | None]:
    """A page of pricelists, each with all its items (two queries a page)."""
    rows, nxt = _page_by_id(engine, t.pricelists, limit, cursor)
    items: dict[int, dict[str, Any]] = {r.id: {} for r in rows}
    if rows:
        pi = t.pricelist_items
        with reading(engine) as conn:
            for it in conn.execute(select(pi).where(pi.c.pricelist_id.in_(list(items)))):
                items[it.pricelist_id][it.sku] = it.unit_price
    return [
        Pricelist(
            code=r.code,
            name=r.name,
            currency=r.currency,
            kind=PricelistKind(r.kind),
            percent_off=r.percent_off,
            items=items[r.id],
            valid_from=r.valid_from,
            valid_to=r.valid_to,
            id=r.id,
        )
        for r in rows
    ], nxt


def outbox_backlog(engine: Engine) -> int:
    with reading(engine) as conn:
        return int(
            conn.execute(
                select(func.count()).select_from(t.outbox).where(t.outbox.c.published_at.is_(None))
            ).scalar_one()
        )


def count_orders(engine: Engine) -> int:
    with reading(engine) as conn:
        return int(conn.execute(select(func.count()).select_from(_O)).scalar_one())
