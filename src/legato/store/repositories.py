"""Repositories on SQLAlchemy Core: explicit SQL, one round trip where one will do.

``place_order`` must stay a small, constant number of statements whatever the number
of lines (see tests/integration/test_statement_count.py), so lines, timeline entries
and outbox events are each written with a single executemany.

Statements on the order path are built once, at import, with bind parameters: building
a Core statement per call (coercing every column and value, then computing its cache
key) cost more than the database's own work (see bench/README.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, bindparam, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from legato.domain.catalog import Account, Channel, Pricelist, PricelistKind, Product
from legato.domain.errors import DuplicateKey
from legato.domain.events import DomainEvent
from legato.domain.lifecycle import FulfilmentStatus, InvoiceStatus, OrderStatus, PaymentStatus
from legato.domain.matching import CustomerRef, normalise_email, normalise_phone
from legato.domain.order import SalesOrder
from legato.domain.quote import Quote, QuoteStatus
from legato.store import mapping as m
from legato.store import tables as t
from legato.store.secretbox import SecretBox

_CHANNEL_BY_CODE = select(t.channels).where(t.channels.c.code == bindparam("code"))
_CHANNEL_FOR_INTAKE = (
    select(t.channels, t.orders.c.id.label("existing_order_id"))
    .select_from(
        t.channels.outerjoin(
            t.orders,
            and_(t.orders.c.channel_id == t.channels.c.id, t.orders.c.external_ref == bindparam("ref")),
        )
    )
    .where(t.channels.c.code == bindparam("code"))
)


class SqlChannels:
    def __init__(self, conn: Connection, box: SecretBox, now: datetime) -> None:
        self.conn, self.box, self.now = conn, box, now

    def get_by_code(self, code: str, *, secrets: bool = True) -> Channel | None:
        r = self.conn.execute(_CHANNEL_BY_CODE, {"code": code}).first()
        if r is None:
            return None
        return m.channel_from_row(r, self.box.open(r.secrets) if secrets else {})

    def get_for_intake(self, code: str, external_reference: str | None) -> tuple[Channel | None, int | None]:
        r = self.conn.execute(_CHANNEL_FOR_INTAKE, {"code": code, "ref": external_reference}).first()
        if r is None:
            return None, None
        return m.channel_from_row(r, {}), r.existing_order_id

    def _row(self, c: Channel) -> dict[str, Any]:
        return {
            "code": c.code,
            "name": c.name,
            "type": c.type.value,
            "adapter": c.adapter,
            "currency": c.currency,
            "settings": m.settings_to_row(c.settings),
            "secrets": self.box.seal(c.secrets),
            "active": c.active,
            "updated_at": self.now,
        }

    def add(self, c: Channel) -> None:
        c.id = self.conn.execute(
            insert(t.channels).values(**self._row(c), created_at=self.now).returning(t.channels.c.id)
        ).scalar_one()

    def update(self, c: Channel) -> None:
        self.conn.execute(update(t.channels).where(t.channels.c.id == c.id).values(**self._row(c)))


_PRODUCTS_BY_SKU = select(t.products).where(t.products.c.sku.in_(bindparam("skus", expanding=True)))


class SqlProducts:
    def __init__(self, conn: Connection, now: datetime) -> None:
        self.conn, self.now = conn, now

    def get_many(self, skus: Sequence[str]) -> dict[str, Product]:
        if not skus:
            return {}
        rows = self.conn.execute(_PRODUCTS_BY_SKU, {"skus": list(skus)})
        return {r.sku: m.product_from_row(r) for r in rows}

    def add(self, p: Product) -> None:
        p.id = self.conn.execute(
            insert(t.products)
            .values(**m.product_to_row(p), created_at=self.now, updated_at=self.now)
            .returning(t.products.c.id)
        ).scalar_one()

    def update(self, p: Product) -> None:
        self.conn.execute(
            update(t.products)
            .where(t.products.c.id == p.id)
            .values(**m.product_to_row(p), updated_at=self.now)
        )


_A = t.accounts
_ACCOUNT_COLS = [*_A.c, t.pricelists.c.code.label("pricelist_code")]


_ACCOUNTS_FROM = select(*_ACCOUNT_COLS).select_from(
    _A.outerjoin(t.pricelists, _A.c.pricelist_id == t.pricelists.c.id)
)
_ACCOUNT_BY_CODE = _ACCOUNTS_FROM.where(_A.c.code == bindparam("code"))
#: one prebuilt candidates query per combination of keys present (a handful per channel)
_CANDIDATES: dict[tuple[str, ...], Any] = {}


def _candidates_query(keys: tuple[str, ...]) -> Any:
    query = _CANDIDATES.get(keys)
    if query is None:
        conds = []
        for i, key in enumerate(keys):
            param: Any = bindparam(f"k{i}")
            if key.startswith("property:"):
                conds.append(_A.c.properties[key.split(":", 1)[1]].as_string() == param)
            else:
                conds.append(getattr(_A.c, key) == param)
        query = _CANDIDATES.setdefault(keys, _ACCOUNTS_FROM.where(or_(*conds)).limit(50))
    return query


class SqlAccounts:
    def __init__(self, conn: Connection, now: datetime) -> None:
        self.conn, self.now = conn, now

    def candidates(self, ref: CustomerRef, keys: Sequence[str]) -> list[Account]:
        """Every account that matches the reference on at least one key (one query)."""
        present = [(k, v) for k in keys if (v := ref.value_for(k)) is not None]
        if not present:
            return []
        query = _candidates_query(tuple(k for k, _ in present))
        rows = self.conn.execute(query, {f"k{i}": v for i, (_, v) in enumerate(present)})
        return [m.account_from_row(r, r.pricelist_code) for r in rows]

    def get_by_code(self, code: str) -> Account | None:
        r = self.conn.execute(_ACCOUNT_BY_CODE, {"code": code}).first()
        return m.account_from_row(r, r.pricelist_code) if r else None

    def _row(self, a: Account) -> dict[str, Any]:
        pl_id = None
        if a.pricelist_code:
            pl_id = self.conn.execute(
                select(t.pricelists.c.id).where(t.pricelists.c.code == a.pricelist_code)
            ).scalar_one()
        return {
            "code": a.code,
            "name": a.name,
            "email": normalise_email(a.email),
            "phone": normalise_phone(a.phone),
            "erp_ref": a.erp_ref,
            "properties": a.properties,
            "tier": a.tier,
            "region": a.region,
            "currency": a.currency,
            "pricelist_id": pl_id,
            "credit_limit": a.credit_limit,
            "payment_terms": a.payment_terms,
            "updated_at": self.now,
        }

    def add(self, a: Account) -> None:
        a.id = self.conn.execute(
            insert(_A).values(**self._row(a), created_at=self.now).returning(_A.c.id)
        ).scalar_one()

    def update(self, a: Account) -> None:
        self.conn.execute(update(_A).where(_A.c.id == a.id).values(**self._row(a)))


_P, _PI = t.pricelists, t.pricelist_items


_ON_ITEMS = _PI.c.pricelist_id == _P.c.id
_PRICELIST_COLS = (_P, _PI.c.sku, _PI.c.unit_price, _PI.c.pricing.label("item_pricing"),
                   t.channels.c.code.label("channel_code"))  # fmt: skip
_P_FROM = _P.outerjoin(t.channels, t.channels.c.id == _P.c.channel_id)
_PRICELIST_ALL = (
    select(*_PRICELIST_COLS)
    .select_from(_P_FROM.outerjoin(_PI, _ON_ITEMS))
    .where(_P.c.code == bindparam("code"))
)
_PRICELIST_FOR_SKUS = (
    select(*_PRICELIST_COLS)
    .select_from(_P_FROM.outerjoin(_PI, and_(_ON_ITEMS, _PI.c.sku.in_(bindparam("skus", expanding=True)))))
    .where(_P.c.code == bindparam("code"))
)
#: what one order's pricing reads in one query: the account's contract (by code) and the
#: channel's lists in the order's currency, each with its items for the order's SKUs
_ORDER_LISTS = (
    select(*_PRICELIST_COLS)
    .select_from(_P_FROM.outerjoin(_PI, and_(_ON_ITEMS, _PI.c.sku.in_(bindparam("skus", expanding=True)))))
    .where(
        or_(
            _P.c.code == bindparam("code"),
            and_(t.channels.c.code == bindparam("channel"), _P.c.currency == bindparam("currency")),
        )
    )
    .order_by(_P.c.id)
)


class SqlPricelists:
    def __init__(self, conn: Connection, now: datetime) -> None:
        self.conn, self.now = conn, now

    def get_by_code(self, code: str, skus: Sequence[str] | None = None) -> Pricelist | None:
        """The pricelist with its items, or only the items for ``skus`` (one query)."""
        if skus is None:
            rows = self.conn.execute(_PRICELIST_ALL, {"code": code}).all()
        else:
            rows = self.conn.execute(_PRICELIST_FOR_SKUS, {"code": code, "skus": list(skus)}).all()
        return _pricelist(rows) if rows else None

    def for_order(
        self, contract_code: str | None, channel_code: str, currency: str, skus: Sequence[str]
    ) -> tuple[Pricelist | None, list[Pricelist]]:
        """The contract ``contract_code`` and the channel's lists in ``currency``, with their
        items for ``skus``, in one query."""
        params = {"code": contract_code, "channel": channel_code, "currency": currency, "skus": list(skus)}
        by_id: dict[int, list[Any]] = {}
        for r in self.conn.execute(_ORDER_LISTS, params):
            by_id.setdefault(r.id, []).append(r)
        found = [_pricelist(group) for group in by_id.values()]
        contract = next((p for p in found if p.code == contract_code), None)
        return contract, [p for p in found if p.channel_code == channel_code and p.currency == currency]

    def _row(self, p: Pricelist) -> dict[str, Any]:
        return {
            "code": p.code,
            "name": p.name,
            "currency": p.currency,
            "kind": p.kind.value,
            "percent_off": p.percent_off,
            "valid_from": p.valid_from,
            "valid_to": p.valid_to,
            "updated_at": self.now,
            "channel_id": _id_of(t.channels, "channel_code") if p.channel_code else None,
        }

    def _items(self, p: Pricelist) -> None:
        self.conn.execute(_PI.delete().where(_PI.c.pricelist_id == p.id))
        rows: list[dict[str, Any]] = [
            {"pricelist_id": p.id, "sku": s, "unit_price": v, "pricing": None}
            for s, v in sorted(p.items.items())
        ]
        rows += [
            {"pricelist_id": p.id, "sku": s, "unit_price": None, "pricing": v}
            for s, v in sorted(p.item_pricing.items())
            if s not in p.items
        ]
        if rows:
            self.conn.execute(insert(_PI), rows)

    def add(self, p: Pricelist) -> None:
        p.id = self.conn.execute(
            insert(_P).values(**self._row(p), created_at=self.now).returning(_P.c.id),
            {"channel_code": p.channel_code},
        ).scalar_one()
        self._items(p)

    def update(self, p: Pricelist) -> None:
        self.conn.execute(
            update(_P).where(_P.c.id == p.id).values(**self._row(p)), {"channel_code": p.channel_code}
        )
        self._items(p)


def _pricelist(rows: Sequence[Any]) -> Pricelist:
    r = rows[0]
    return Pricelist(
        code=r.code,
        name=r.name,
        currency=r.currency,
        kind=PricelistKind(r.kind),
        percent_off=r.percent_off,
        items={x.sku: x.unit_price for x in rows if x.sku and x.unit_price is not None},
        item_pricing={x.sku: dict(x.item_pricing) for x in rows if x.sku and x.item_pricing},
        valid_from=r.valid_from,
        valid_to=r.valid_to,
        id=r.id,
        channel_code=r.channel_code,
    )


_O, _OL, _TL = t.orders, t.order_lines, t.order_timeline
_ORDER_COLS = [*_O.c, t.channels.c.code.label("channel_code"), _A.c.code.label("account_code")]


def _document_row(doc: SalesOrder | Quote) -> dict[str, Any]:
    return {
        **m.customer_to_row(doc.customer),
        "currency": doc.currency,
        "billing_address": m.address_to_row(doc.billing_address),
        "shipping_address": m.address_to_row(doc.shipping_address),
        "shipping_tax_rate": doc.shipping_tax_rate,
        **m.totals_to_row(doc.totals),
        "notes": doc.notes,
        "pricing": dict(doc.pricing) or None,
    }


def _id_of(table: Any, param: str) -> Any:
    """A table's id by its code, as a scalar subquery: the insert needs no extra round trip."""
    return select(table.c.id).where(table.c.code == bindparam(param)).scalar_subquery()


def _execute_rows(conn: Connection, statement: Any, rows: list[dict[str, Any]]) -> None:
    """One row as a plain execute (psycopg's executemany has a set-up cost), several as one executemany."""
    if rows:
        conn.execute(statement, rows[0] if len(rows) == 1 else rows)


_ORDER_ID_BY_EXTERNAL = (
    select(_O.c.id)
    .join(t.channels, t.channels.c.id == _O.c.channel_id)
    .where(t.channels.c.code == bindparam("channel"), _O.c.external_ref == bindparam("ref"))
)
_ORDER_INSERT = (
    insert(_O)
    .values(channel_id=_id_of(t.channels, "channel_code"), account_id=_id_of(_A, "account_code"))
    .returning(_O.c.id)
)
_LINES_INSERT = insert(_OL)
_INBOX_PROCESSED = (
    update(t.inbox)
    .where(t.inbox.c.id == bindparam("entry"))
    .values(state="processed", order_id=bindparam("order_id"), updated_at=bindparam("at"))
)
_TIMELINE_INSERT = insert(_TL)
_ORDER_UPDATE = update(_O).where(_O.c.id == bindparam("order_id"))
_ORDER_FROM = _O.join(t.channels, t.channels.c.id == _O.c.channel_id).outerjoin(
    _A, _A.c.id == _O.c.account_id
)
_ORDER_BY_ID = select(*_ORDER_COLS).select_from(_ORDER_FROM).where(_O.c.id == bindparam("id"))
_ORDER_BY_ID_LOCKED = _ORDER_BY_ID.with_for_update(of=_O)
_LINES_OF_ORDER = select(_OL).where(_OL.c.order_id == bindparam("id")).order_by(_OL.c.line_no)
_TIMELINE_OF_ORDER = select(_TL).where(_TL.c.order_id == bindparam("id")).order_by(_TL.c.id)


def _state_row(o: SalesOrder) -> dict[str, Any]:
    """The columns an order's changes move: its lifecycle, tracks, priority and tags."""
    return {
        "status": o.status.value,
        "held_from": o.held_from.value if o.held_from else None,
        "payment_status": o.payment_status.value,
        "fulfilment_status": o.fulfilment_status.value,
        "invoice_status": o.invoice_status.value,
        "priority": o.priority,
        "tags": list(o.tags),
    }


class SqlOrders:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def id_by_external(self, channel_code: str, external_reference: str) -> int | None:
        return self.conn.execute(
            _ORDER_ID_BY_EXTERNAL, {"channel": channel_code, "ref": external_reference}
        ).scalar_one_or_none()

    def get(self, order_id: int, *, for_update: bool = False) -> SalesOrder | None:
        return load_order(self.conn, order_id, for_update=for_update)

    def add(self, o: SalesOrder) -> None:
        row = {
            "channel_code": o.channel_code,
            "account_code": o.account_code,
            **_document_row(o),
            "external_ref": o.external_reference,
            **_state_row(o),
            "quote_id": o.quote_id,
            "inbox_id": o.inbox_id,
            "created_at": o.created_at,
            "updated_at": o.created_at,
        }
        try:
            o.id = self.conn.execute(_ORDER_INSERT, row).scalar_one()
        except IntegrityError as exc:
            # the caller rolls back and reads the order that won the race
            if "external_ref" in str(exc.orig) or "uq_orders_channel_external_ref" in str(exc.orig):
                raise DuplicateKey(
                    f"order {o.external_reference} already exists on {o.channel_code}"
                ) from None
            raise
        _execute_rows(self.conn, _LINES_INSERT, [m.line_to_row("order_id", o.id, ln) for ln in o.lines])
        if o.inbox_id is not None:
            # the delivery becomes "processed" in the same transaction as its order: a crash
            # leaves either both or neither, and recovery finds the entry still to do
            self.conn.execute(_INBOX_PROCESSED, {"entry": o.inbox_id, "order_id": o.id, "at": o.created_at})
        o.updated_at = o.created_at

    def save(self, o: SalesOrder) -> None:
        if any(e.kind != "created" for e in o.new_entries):
            self._update(o)
        if any(e.kind == "lines_cancelled" for e in o.new_entries):
            self._save_lines(o)
        _execute_rows(self.conn, _TIMELINE_INSERT, [
            {"order_id": o.id, "at": e.at, "actor": e.actor, "kind": e.kind, "reason": e.reason,
             "from_value": e.from_value, "to_value": e.to_value, "data": e.data}
            for e in o.new_entries
        ])  # fmt: skip

    def _update(self, o: SalesOrder) -> None:
        self.conn.execute(
            _ORDER_UPDATE,
            {
                "order_id": o.id,
                **_state_row(o),
                "notes": o.notes,
                "billing_address": m.address_to_row(o.billing_address),
                "shipping_address": m.address_to_row(o.shipping_address),
                "updated_at": o.updated_at,
            },
        )  # fmt: skip


    def _save_lines(self, o: SalesOrder) -> None:
        """Line statuses and the totals they make (a partial cancellation)."""
        for ln in o.lines:
            self.conn.execute(
                update(_OL)
                .where(_OL.c.order_id == o.id, _OL.c.line_no == ln.line_no, _OL.c.status != ln.status)
                .values(status=ln.status)
            )
        self.conn.execute(update(_O).where(_O.c.id == o.id).values(**m.totals_to_row(o.totals)))


def load_order(conn: Connection, order_id: int, *, for_update: bool = False) -> SalesOrder | None:
    r = conn.execute(_ORDER_BY_ID_LOCKED if for_update else _ORDER_BY_ID, {"id": order_id}).first()
    if r is None:
        return None
    lines = [m.line_from_row(x) for x in conn.execute(_LINES_OF_ORDER, {"id": order_id})]
    timeline = [m.timeline_from_row(x) for x in conn.execute(_TIMELINE_OF_ORDER, {"id": order_id})]
    return SalesOrder(
        id=r.id,
        channel_code=r.channel_code,
        currency=r.currency,
        lines=lines,
        customer=m.customer_from_row(r),
        account_code=r.account_code,
        external_reference=r.external_ref,
        status=OrderStatus(r.status),
        held_from=OrderStatus(r.held_from) if r.held_from else None,
        payment_status=PaymentStatus(r.payment_status),
        fulfilment_status=FulfilmentStatus(r.fulfilment_status),
        invoice_status=InvoiceStatus(r.invoice_status),
        billing_address=m.address_from_row(r.billing_address),
        shipping_address=m.address_from_row(r.shipping_address),
        shipping=r.shipping,
        shipping_tax_rate=r.shipping_tax_rate,
        totals=m.totals_from_row(r),
        pricing=r.pricing or {},
        priority=r.priority,
        tags=tuple(r.tags or ()),
        notes=r.notes,
        quote_id=r.quote_id,
        inbox_id=r.inbox_id,
        created_at=r.created_at,
        updated_at=r.updated_at,
        timeline=timeline,
    )


_Q, _QL = t.quotes, t.quote_lines
_QUOTE_INSERT = (
    insert(_Q)
    .values(channel_id=_id_of(t.channels, "channel_code"), account_id=_id_of(_A, "account_code"))
    .returning(_Q.c.id)
)
_QUOTE_COLS = [*_Q.c, t.channels.c.code.label("channel_code"), _A.c.code.label("account_code")]


class SqlQuotes:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def get(self, quote_id: int, *, for_update: bool = False) -> Quote | None:
        return load_quote(self.conn, quote_id, for_update=for_update)

    def add(self, q: Quote) -> None:
        q.id = self.conn.execute(_QUOTE_INSERT, {
            "channel_code": q.channel_code,
            "account_code": q.account_code,
            **_document_row(q),
            "status": q.status.value,
            "valid_until": q.valid_until,
            "order_id": None,
            "created_at": q.created_at,
            "updated_at": q.updated_at,
        }).scalar_one()  # fmt: skip
        _execute_rows(self.conn, insert(_QL), [m.line_to_row("quote_id", q.id, ln) for ln in q.lines])

    def save(self, q: Quote) -> None:
        self.conn.execute(
            update(_Q)
            .where(_Q.c.id == q.id)
            .values(status=q.status.value, order_id=q.order_id, updated_at=q.updated_at)
        )


def load_quote(conn: Connection, quote_id: int, *, for_update: bool = False) -> Quote | None:
    q = (
        select(*_QUOTE_COLS)
        .select_from(
            _Q.join(t.channels, t.channels.c.id == _Q.c.channel_id).outerjoin(_A, _A.c.id == _Q.c.account_id)
        )
        .where(_Q.c.id == quote_id)
    )
    if for_update:
        q = q.with_for_update(of=_Q)
    r = conn.execute(q).first()
    if r is None:
        return None
    lines = [
        m.line_from_row(x)
        for x in conn.execute(select(_QL).where(_QL.c.quote_id == quote_id).order_by(_QL.c.line_no))
    ]
    return Quote(
        id=r.id,
        channel_code=r.channel_code,
        currency=r.currency,
        lines=lines,
        customer=m.customer_from_row(r),
        account_code=r.account_code,
        status=QuoteStatus(r.status),
        billing_address=m.address_from_row(r.billing_address),
        shipping_address=m.address_from_row(r.shipping_address),
        shipping=r.shipping,
        shipping_tax_rate=r.shipping_tax_rate,
        totals=m.totals_from_row(r),
        pricing=r.pricing or {},
        valid_until=r.valid_until,
        notes=r.notes,
        order_id=r.order_id,
        created_at=r.created_at,
        updated_at=r.updated_at,
    )


_OUTBOX_INSERT = insert(t.outbox)


class SqlOutbox:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, events: Sequence[DomainEvent], at: datetime) -> None:
        if events:
            _execute_rows(
                self.conn,
                _OUTBOX_INSERT,
                [
                    {
                        "event_type": e.type,
                        "aggregate_type": e.aggregate_type,
                        "aggregate_id": e.aggregate_id,
                        "payload": e.payload,
                        "created_at": at,
                    }
                    for e in events
                ],
            )
