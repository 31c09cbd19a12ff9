"""The control tower's look-ups: accounts and products found by any of their properties, the
addresses an account's orders went to, the channels to enter orders on, and the inbox listed
without its bodies (a delivery may be megabytes; a list needs its size, not its bytes)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, String, cast, func, or_, select

from legato.store import tables as t
from legato.store.jobs import Job
from legato.store.queries import decode_cursor, encode_cursor, reading
from legato.store.workflow_tables import jobs as _J
from legato.store.workflow_tables import workflow_runs as _R
from legato.store.workflow_tables import workflows as _W

_A, _P, _O, _C, _I, _PL = t.accounts, t.products, t.orders, t.channels, t.inbox, t.pricelists
_SPACES = re.compile(r"[\s().-]+")
#: Fewer characters than this match too much to be useful in a live search.
MIN_SEARCH = 2


@dataclass(frozen=True)
class AccountHit:
    code: str
    name: str
    email: str | None
    phone: str | None
    erp_ref: str | None
    tier: str | None
    currency: str | None
    pricelist: str | None
    payment_terms: str | None
    properties: dict[str, Any]


def find_accounts(engine: Engine, text: str, limit: int = 10) -> list[AccountHit]:
    """Accounts whose code, name, e-mail, phone, ERP reference or any custom property contains
    ``text`` (case-insensitive); a phone may be typed with spaces or dashes."""
    q = text.strip()
    if len(q) < MIN_SEARCH:
        return []
    conds = [
        c.icontains(q, autoescape=True) for c in (_A.c.code, _A.c.name, _A.c.email, _A.c.phone, _A.c.erp_ref)
    ]
    conds.append(cast(_A.c.properties, String).icontains(q, autoescape=True))
    compact = _SPACES.sub("", q)
    if compact != q and len(compact) >= MIN_SEARCH:
        conds.append(_A.c.phone.icontains(compact, autoescape=True))
    query = (
        select(_A, _PL.c.code.label("pricelist"))
        .select_from(_A.outerjoin(_PL, _PL.c.id == _A.c.pricelist_id))
        .where(or_(*conds))
        .order_by(_A.c.code)
        .limit(limit)
    )
    with reading(engine) as conn:
        return [
            AccountHit(
                r.code,
                r.name,
                r.email,
                r.phone,
                r.erp_ref,
                r.tier,
                r.currency,
                r.pricelist,
                r.payment_terms,
                dict(r.properties or {}),
            )
            for r in conn.execute(query)
        ]


@dataclass(frozen=True)
class ProductHit:
    sku: str
    name: str
    category: str | None
    prices: dict[str, str]  # list prices by currency
    mechanism: str  # "simple", or its pricing mechanism (slabs, rental ...): it needs inputs


def find_products(engine: Engine, text: str, limit: int = 10) -> list[ProductHit]:
    """Active products whose SKU or name contains ``text``, exact SKU first."""
    q = text.strip()
    if len(q) < MIN_SEARCH:
        return []
    query = (
        select(_P.c.sku, _P.c.name, _P.c.category, _P.c.prices, _P.c.pricing)
        .where(
            _P.c.active.is_(True),
            or_(_P.c.sku.icontains(q, autoescape=True), _P.c.name.icontains(q, autoescape=True)),
        )
        .order_by((func.lower(_P.c.sku) != q.lower()), _P.c.sku)
        .limit(limit)
    )
    with reading(engine) as conn:
        rows = list(conn.execute(query))
    return [ProductHit(r.sku, r.name, r.category, dict(r.prices or {}), _mechanism(r.pricing)) for r in rows]


def _mechanism(pricing: Any) -> str:
    if isinstance(pricing, dict) and isinstance(pricing.get("mechanism"), str):
        return str(pricing["mechanism"])
    return "simple"


def mechanisms(engine: Engine, skus: list[str]) -> dict[str, str]:
    """The pricing mechanism of each of these products (``simple`` needs no inputs)."""
    if not skus:
        return {}
    with reading(engine) as conn:
        rows = conn.execute(select(_P.c.sku, _P.c.pricing).where(_P.c.sku.in_(sorted(set(skus)))))
        return {r.sku: _mechanism(r.pricing) for r in rows}


def account_addresses(engine: Engine, code: str, orders: int = 20, limit: int = 5) -> list[dict[str, Any]]:
    """The distinct addresses the account's latest orders were billed or shipped to, newest first
    (an account has no address of its own: these are the ones it used)."""
    query = (
        select(_O.c.billing_address, _O.c.shipping_address)
        .select_from(_O.join(_A, _A.c.id == _O.c.account_id))
        .where(_A.c.code == code)
        .order_by(_O.c.id.desc())
        .limit(orders)
    )
    found: list[dict[str, Any]] = []
    with reading(engine) as conn:
        for r in conn.execute(query):
            for address in (r.shipping_address, r.billing_address):
                if isinstance(address, dict) and any(address.values()) and address not in found:
                    found.append(address)
    return found[:limit]


@dataclass(frozen=True)
class ChannelChoice:
    code: str
    name: str
    type: str
    currency: str
    adapter: str


def active_channels(engine: Engine) -> list[ChannelChoice]:
    query = select(_C.c.code, _C.c.name, _C.c.type, _C.c.currency, _C.c.adapter).where(_C.c.active.is_(True))
    with reading(engine) as conn:
        return [ChannelChoice(*r) for r in conn.execute(query.order_by(_C.c.code))]


@dataclass(frozen=True)
class InboxRow:
    id: int
    channel_code: str
    adapter: str | None
    received_at: datetime
    source: str | None
    topic: str | None
    state: str
    reason: str | None
    errors: list[dict[str, Any]]
    order_id: int | None
    attempts: int
    size: int
    updated_at: datetime


_INBOX_COLS = (
    _I.c.id,
    _I.c.channel_code,
    _I.c.adapter,
    _I.c.received_at,
    _I.c.source,
    _I.c.topic,
    _I.c.state,
    _I.c.reason,
    _I.c.errors,
    _I.c.order_id,
    _I.c.attempts,
    func.length(_I.c.body).label("size"),
    _I.c.updated_at,
)


def inbox_page(
    engine: Engine,
    *,
    states: tuple[str, ...] = (),
    channel: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> tuple[list[InboxRow], str | None]:
    """Newest first, keyset-paged on the id; ``decode_cursor`` refuses a cursor not made here."""
    query = select(*_INBOX_COLS)
    if states:
        query = query.where(_I.c.state.in_(states))
    if channel:
        query = query.where(_I.c.channel_code == channel)
    if cursor:
        query = query.where(_I.c.id < decode_cursor(cursor))
    with reading(engine) as conn:
        rows = conn.execute(query.order_by(_I.c.id.desc()).limit(limit + 1)).all()
    more, rows = len(rows) > limit, rows[:limit]
    items = [
        InboxRow(**{**r._mapping, "errors": list(r.errors or []), "size": int(r.size or 0)}) for r in rows
    ]
    return items, encode_cursor(rows[-1].id) if more and rows else None


def inbox_counts(engine: Engine) -> dict[str, dict[str, int]]:
    """Deliveries per channel code and state: {channel: {state: n}}."""
    query = select(_I.c.channel_code, _I.c.state, func.count()).group_by(_I.c.channel_code, _I.c.state)
    out: dict[str, dict[str, int]] = {}
    with reading(engine) as conn:
        for channel, state, n in conn.execute(query):
            out.setdefault(channel, {})[state] = int(n)
    return dict(sorted(out.items()))


def jobs_page(
    engine: Engine,
    *,
    state: str | None = None,
    workflow: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> tuple[list[tuple[Job, str | None]], str | None]:
    """Jobs newest first with the name of their run's workflow (None for a webhook delivery),
    optionally of one state and one workflow; keyset-paged on the id."""
    query = select(_J, _W.c.name.label("workflow")).select_from(
        _J.outerjoin(_R, _R.c.id == _J.c.run_id).outerjoin(_W, _W.c.id == _R.c.workflow_id)
    )
    if state:
        query = query.where(_J.c.state == state)
    if workflow:
        query = query.where(_W.c.name == workflow)
    if cursor:
        query = query.where(_J.c.id < decode_cursor(cursor))
    with reading(engine) as conn:
        rows = conn.execute(query.order_by(_J.c.id.desc()).limit(limit + 1)).all()
    more, rows = len(rows) > limit, rows[:limit]
    items = [(Job(**{k: r._mapping[k] for k in Job.__dataclass_fields__}), r.workflow) for r in rows]
    return items, encode_cursor(rows[-1].id) if more and rows else None


def job_counts(engine: Engine) -> dict[str, int]:
    """Jobs per state."""
    with reading(engine) as conn:
        return {s: int(n) for s, n in conn.execute(select(_J.c.state, func.count()).group_by(_J.c.state))}


__all__ = [
    "MIN_SEARCH",
    "AccountHit",
    "ChannelChoice",
    "InboxRow",
    "ProductHit",
    "account_addresses",
    "active_channels",
    "find_accounts",
    "find_products",
    "inbox_counts",
    "inbox_page",
    "job_counts",
    "jobs_page",
    "mechanisms",
]
