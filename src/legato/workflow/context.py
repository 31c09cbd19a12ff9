"""What a workflow condition sees: the documented context, and how it is built for an event.

``context_schema(trigger)`` is the contract (docs/workflows/conditions.md is generated from the
same words): conditions are checked against it when a workflow is saved, so a typo such as
``order.totl`` is refused then rather than never matching. ``build_context(conn, event)`` fills
it for one event in three to four small queries (the order with its channel and account, its
lines with their products, the account's open balance).

A field whose value is unknown is *absent* rather than null, so ``has(account.tier)`` tells
(an order without an account has ``account == {}``). Money stays Decimal here; conditions see
it as double (see legato.workflow.conditions).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from functools import cache
from typing import Any

from sqlalchemy import Connection, RowMapping, bindparam, func, select

from legato.domain.errors import FieldIssue, NotFound, ValidationFailed
from legato.domain.lifecycle import FINAL_STATUSES
from legato.domain.order import ORDER_PREFIX, QUOTE_PREFIX, format_number
from legato.store import tables as t
from legato.workflow.model import TRIGGERS

Node = dict[str, Any]


def _n(type_: str, doc: str, *, optional: bool = False, **more: Any) -> Node:
    node: Node = {"type": type_, "doc": doc, **more}
    if optional:
        node["optional"] = True
    return node


def _str(doc: str, optional: bool = False) -> Node:
    return _n("string", doc, optional=optional)


def _money(doc: str, optional: bool = False) -> Node:
    return _n("double", f"{doc} (money)", optional=optional)


def _address(doc: str) -> Node:
    return _n("map", f"{doc}; absent when there is none", optional=True, fields={
        "country": _str("ISO 3166-1 alpha-2 code, e.g. GB", True),
        "region": _str("region or state", True),
        "city": _str("city", True),
        "postcode": _str("postal code", True),
    })  # fmt: skip


_CHANNEL = _n("map", "the sales channel", fields={
    "code": _str("the channel's code, e.g. SHOP-UK"),
    "type": _str("retail, ecommerce, b2b, marketplace or integration"),
    "adapter": _str("how orders arrive: rest, shopify, portal, edi-x12 ..."),
})  # fmt: skip
_LINE = _n("map", "one line (cancelled lines are left out)", fields={
    "sku": _str("the catalogue SKU"),
    "name": _str("the product name as ordered"),
    "quantity": _n("double", "quantity ordered (may be fractional)"),
    "unit_price": _money("unit price"),
    "total": _money("line total after discount, with tax"),
    "tags": _n("list", "the product's tags ([] if the SKU is not in the catalogue)", items=_str("a tag")),
    "category": _str("the product's category", True),
})  # fmt: skip
_TRACKS = _n("map", "the three tracks beside the lifecycle", fields={
    "payment": _str("unpaid, partially_paid, paid, partially_refunded, refunded"),
    "fulfilment": _str("unfulfilled, partially_fulfilled, fulfilled, partially_returned, returned"),
    "invoice": _str("not_invoiced, partially_invoiced, invoiced, credited"),
})  # fmt: skip


def _document(what: str) -> dict[str, Node]:
    """The fields an order and a quote share."""
    return {
        "id": _n("int", f"the {what}'s id"),
        "number": _str(f"the {what}'s number, e.g. {'SO-000042' if what == 'order' else 'Q-000007'}"),
        "status": _str(f"the {what}'s status"),
        "channel": _CHANNEL,
        "currency": _str("ISO 4217 code of every amount"),
        "total": _money("grand total"),
        "subtotal": _money("sum of line amounts before discount and tax"),
        "discount": _money("sum of line discounts"),
        "shipping": _money("shipping charge"),
        "tax": _money("total tax"),
        "lines": _n("list", "the lines, in order", items=_LINE),
        "shipping_address": _address("where it ships"),
        "billing_address": _address("where it is billed"),
        "created_at": _n("timestamp", f"when the {what} was created"),
        "age_hours": _n("double", f"hours since the {what} was created"),
    }


_ORDER = _n("map", "the order the event is about", fields={
    **_document("order"),
    "status": _str("pending_approval, created, on_hold, processing, completed, cancelled, voided"),
    "tags": _n("list", "the order's tags", items=_str("a tag")),
    "priority": _n("int", "the order's priority (higher first)"),
    "tracks": _TRACKS,
    "external_reference": _str("the channel's own reference", True),
})  # fmt: skip
_QUOTE = _n("map", "the quote the event is about", fields={
    **_document("quote"),
    "status": _str("draft, sent, accepted, declined, expired, converted"),
    "valid_until": _str("last day the quote is valid, YYYY-MM-DD", True),
    "order_id": _n("int", "the order it became", optional=True),
})  # fmt: skip
_ACCOUNT = _n("map", "the customer account; {} when the order has none (guest)", fields={
    "code": _str("the account's code", True),
    "name": _str("the account's name", True),
    "tier": _str("the account's tier, e.g. gold", True),
    "region": _str("the account's region", True),
    "currency": _str("the currency of credit_limit and open_balance (the order's, if the account has none)",
                     True),
    "erp_ref": _str("the account's reference in the ERP (absent: not yet in the ERP)", True),
    "payment_terms": _str("payment terms, e.g. net30", True),
    "credit_limit": _money("credit limit, in the account's currency", True),
    "open_balance": _money(
        "grand totals of the account's other orders in its currency that are not completed, cancelled "
        "or voided and not paid", True),
    "properties": _n("map", "the account's custom properties", optional=True, values=_n("dyn", "any")),
    "is_new": _n("bool", "created within the last 24 hours, or this is its first order", optional=True),
})  # fmt: skip
_NOW = _n("timestamp", "when the condition is evaluated (UTC)")
_TODAY = _n("map", "the evaluation time, in parts (UTC)", fields={
    "weekday": _str("monday ... sunday"),
    "hour": _n("int", "0-23"),
    "date": _str("YYYY-MM-DD"),
})  # fmt: skip
_READING = _n("map", "the sensor reading that crossed its threshold", fields={
    "rule": _str("the replenishment rule's code"),
    "device_id": _str("the device"),
    "metric": _str("what it measures, e.g. level"),
    "value": _n("double", "the reading"),
    "unit": _str("the unit", True),
    "at": _n("timestamp", "when it was read"),
    "threshold": _n("double", "the rule's threshold"),
    "comparison": _str("below, above ..."),
})  # fmt: skip

_ORDER_REF = {"order_id": _n("int", "the order's id"), "number": _str("the order's number"),
              "channel": _str("the channel's code")}  # fmt: skip
_QUOTE_REF = {"quote_id": _n("int", "the quote's id"), "number": _str("the quote's number")}
#: the event's own fields, per trigger (its payload; ``type`` and ``id`` come with every event)
EVENT_FIELDS: dict[str, dict[str, Node]] = {
    "order.created": {**_ORDER_REF, "status": _str("the first status"), "currency": _str("currency"),
                      "grand_total": _money("grand total"), "account": _str("account code", True),
                      "external_reference": _str("the channel's reference", True)},
    "order.status_changed": {**_ORDER_REF, "from": _str("status before"), "to": _str("status after"),
                             "reason": _str("why", True), "actor": _str("who")},
    "order.track_changed": {**_ORDER_REF, "track": _str("payment, fulfilment or invoice"),
                            "from": _str("before"), "to": _str("after"), "reason": _str("why", True)},
    "order.updated": {**_ORDER_REF, "fields": _n("list", "the fields that changed", items=_str("a field"))},
    "payment.received": {**_ORDER_REF, "currency": _str("currency"), "amount": _money("amount paid")},
    "quote.created": {**_QUOTE_REF, "channel": _str("the channel's code"), "status": _str("status")},
    "quote.accepted": {**_QUOTE_REF, "actor": _str("who accepted it")},
    "quote.converted": {**_QUOTE_REF, "order_id": _n("int", "the new order's id"),
                        "order_number": _str("the new order's number")},
    "sensor.breach": {**_ORDER_REF, "rule": _str("rule code"), "device_id": _str("device"),
                      "metric": _str("metric"), "value": _n("double", "the reading"),
                      "unit": _str("unit", True), "at": _n("timestamp", "when it was read"),
                      "threshold": _n("double", "threshold"), "comparison": _str("comparison")},
    "schedule": {"slot": _n("timestamp", "the time slot this run is for", optional=True)},
}  # fmt: skip
#: what a condition on each trigger sees, besides ``event``, ``now`` and ``today``
ROOTS: dict[str, tuple[str, ...]] = {
    "quote.created": ("quote", "account"),
    "quote.accepted": ("quote", "account"),
    "quote.converted": ("quote", "order", "account"),
    "sensor.breach": ("order", "account", "reading"),
    "stock.received": (),
    "schedule": (),
}
_NODES = {"order": _ORDER, "quote": _QUOTE, "account": _ACCOUNT, "reading": _READING}


@cache
def schema_for(trigger: str) -> Mapping[str, Node]:
    """``context_schema`` without the copy, for the condition checker (do not mutate)."""
    if trigger not in TRIGGERS:
        msg = f"unknown trigger {trigger!r}; one of {', '.join(TRIGGERS)}"
        raise ValidationFailed(msg, issues=[FieldIssue("trigger", msg, "unknown_trigger", trigger)])
    fields = EVENT_FIELDS.get(trigger)
    event = {
        "type": _str(f"the event type: {trigger}"),
        "id": _n("int", "the outbox event's id", optional=True),
    }
    if fields is None:  # an event whose payload comes with a later issue: any field
        event_node = _n("map", f"the {trigger} event and its payload", fields=event, values=_n("dyn", "any"))
    else:
        event_node = _n("map", f"the {trigger} event and its payload", fields={**event, **fields})
    roots = {name: _NODES[name] for name in ROOTS.get(trigger, ("order", "account"))}
    return {**roots, "event": event_node, "now": _NOW, "today": _TODAY}


def context_schema(trigger: str) -> dict[str, Any]:
    """The documented context of a condition on ``trigger``: name -> node, where a node is
    ``{"type": int|double|string|bool|timestamp|list|map|dyn, "doc", "optional"?, "fields"?
    (a map's known keys), "values"? (a map's free keys), "items"? (a list's elements)}``."""
    return copy.deepcopy(dict(schema_for(trigger)))


class Context(dict[str, Any]):
    """``build_context``'s result: a plain dict (for templates and JSON) that also keeps the
    form conditions evaluate, so however many conditions run it is converted once.
    Changing a top-level key drops that form; treat nested values as read-only."""

    compiled: Any = None

    def __setitem__(self, key: str, value: Any) -> None:
        self.compiled = None
        super().__setitem__(key, value)

    def __delitem__(self, key: str) -> None:
        self.compiled = None
        super().__delitem__(key)

    def update(self, *args: Any, **kw: Any) -> None:
        self.compiled = None
        super().update(*args, **kw)

    def pop(self, *args: Any) -> Any:
        self.compiled = None
        return super().pop(*args)

    def setdefault(self, key: str, default: Any = None) -> Any:
        self.compiled = None
        return super().setdefault(key, default)

    def popitem(self) -> tuple[str, Any]:
        self.compiled = None
        return super().popitem()

    def clear(self) -> None:
        self.compiled = None
        super().clear()

    def __ior__(self, other: Any) -> Context:  # type: ignore[override,misc]
        self.update(other)
        return self


# --- building it ---------------------------------------------------------------------

_O, _L, _Q, _QL = t.orders, t.order_lines, t.quotes, t.quote_lines
_C, _A, _P = t.channels, t.accounts, t.products
_FINAL = sorted(s.value for s in FINAL_STATUSES)
_ACCOUNT_COLS = (_A.c.id.label("a_id"), _A.c.code.label("a_code"), _A.c.name.label("a_name"), _A.c.tier,
                 _A.c.region, _A.c.currency.label("a_currency"), _A.c.erp_ref, _A.c.payment_terms,
                 _A.c.credit_limit, _A.c.properties, _A.c.created_at.label("a_created_at"))  # fmt: skip
_DOC_COLS = ("id", "status", "currency", "grand_total", "subtotal", "discount_total", "shipping", "tax_total",
             "shipping_address", "billing_address", "created_at")  # fmt: skip
_CHANNEL_COLS = (_C.c.code.label("c_code"), _C.c.type.label("c_type"), _C.c.adapter.label("c_adapter"))


def _doc_query(doc: Any, *extra: Any) -> Any:
    return (
        select(*(doc.c[n] for n in _DOC_COLS), *extra, *_CHANNEL_COLS, *_ACCOUNT_COLS)
        .select_from(doc.join(_C, _C.c.id == doc.c.channel_id).outerjoin(_A, _A.c.id == doc.c.account_id))
        .where(doc.c.id == bindparam("id"))
    )


_EARLIER = _O.alias("earlier")
_ORDER_Q = _doc_query(
    _O, _O.c.external_ref, _O.c.tags, _O.c.priority, _O.c.payment_status, _O.c.fulfilment_status,
    _O.c.invoice_status,
    select(_EARLIER.c.id).where(_EARLIER.c.account_id == _O.c.account_id, _EARLIER.c.id < _O.c.id)
    .exists().label("has_earlier"),
)  # fmt: skip
_QUOTE_Q = _doc_query(
    _Q, _Q.c.valid_until, _Q.c.order_id,
    select(_EARLIER.c.id).where(_EARLIER.c.account_id == _Q.c.account_id).exists().label("has_earlier"),
)  # fmt: skip


def _lines_query(lines: Any, parent: str) -> Any:
    return (
        select(
            lines.c.sku,
            lines.c.name,
            lines.c.quantity,
            lines.c.unit_price,
            lines.c.total,
            _P.c.tags,
            _P.c.category,
        )
        .select_from(lines.outerjoin(_P, _P.c.sku == lines.c.sku))
        .where(lines.c[f"{parent}_id"] == bindparam("id"), lines.c.status != "cancelled")
        .order_by(lines.c.line_no)
    )


_ORDER_LINES_Q, _QUOTE_LINES_Q = _lines_query(_L, "order"), _lines_query(_QL, "quote")
_OPEN = (
    _O.c.account_id == bindparam("account"),
    _O.c.id != bindparam("exclude"),
    _O.c.currency == bindparam("currency"),
    _O.c.status.not_in(_FINAL),
    _O.c.payment_status != "paid",
)
_OPEN_ROWS_Q = select(_O.c.grand_total).where(*_OPEN)
_OPEN_SUM_Q = select(func.sum(_O.c.grand_total)).where(*_OPEN)


def build_context(conn: Connection, event: Mapping[str, Any], *, now: datetime | None = None) -> Context:
    """The context of ``event`` (an outbox row as a mapping: type or event_type, id, aggregate_type,
    aggregate_id, payload). Raises NotFound if the order or quote it names does not exist."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    etype = str(event.get("type") or event.get("event_type") or "")
    payload: Mapping[str, Any] = event.get("payload") or {}
    kind, agg = event.get("aggregate_type"), event.get("aggregate_id")
    order_id = _id(agg if kind == "order" else payload.get("order_id"))
    quote_id = _id(agg if kind == "quote" else payload.get("quote_id"))
    roots = ROOTS.get(etype, ("order", "account")) if etype in TRIGGERS else ("order", "quote", "account")
    ctx = Context()
    if order_id is not None and "order" in roots:
        ctx["order"], ctx["account"] = _load(conn, "order", order_id, now)
    if quote_id is not None and "quote" in roots:
        ctx["quote"], account = _load(conn, "quote", quote_id, now)
        ctx.setdefault("account", account)
    if "account" in roots:
        ctx.setdefault("account", {})
    ctx["event"] = _event(etype, event.get("id"), payload)
    if etype == "sensor.breach":
        ctx["reading"] = {k: v for k, v in ctx["event"].items() if k in _READING["fields"]}
    ctx["now"] = now
    ctx["today"] = {"weekday": now.strftime("%A").lower(), "hour": now.hour, "date": now.date().isoformat()}
    return ctx


def _id(value: Any) -> int | None:
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _event(etype: str, event_id: Any, payload: Mapping[str, Any]) -> dict[str, Any]:
    """The event's type and id and its payload's fields, the known ones in their documented
    type (amounts and readings arrive as decimal strings, times as ISO text)."""
    known = EVENT_FIELDS.get(etype, {})
    out: dict[str, Any] = {"type": etype}
    if event_id is not None:
        out["id"] = event_id
    for key, value in payload.items():
        if value is None or key in ("type", "id"):
            continue
        kind = known.get(key, {}).get("type")
        try:
            if kind == "double" and isinstance(value, str | int):
                value = Decimal(str(value))
            elif kind == "timestamp" and isinstance(value, str):
                at = datetime.fromisoformat(value)
                value = at.astimezone(UTC) if at.tzinfo else at.replace(tzinfo=UTC)
        except (InvalidOperation, ValueError):
            pass  # kept as sent: a condition comparing it fails clearly, and says so
        out[key] = value
    return out


def _load(conn: Connection, what: str, id_: int, now: datetime) -> tuple[dict[str, Any], dict[str, Any]]:
    """An order or a quote as the context shows it, and its account."""
    is_order = what == "order"
    row = conn.execute(_ORDER_Q if is_order else _QUOTE_Q, {"id": id_}).mappings().first()
    if row is None:
        raise NotFound(f"the event names {what} {id_}, which does not exist")
    lines = conn.execute(_ORDER_LINES_Q if is_order else _QUOTE_LINES_Q, {"id": id_}).all()
    created: datetime = row["created_at"]
    doc: dict[str, Any] = {
        "id": row["id"],
        "number": format_number(ORDER_PREFIX if is_order else QUOTE_PREFIX, row["id"]),
        "status": row["status"],
        "channel": {"code": row["c_code"], "type": row["c_type"], "adapter": row["c_adapter"]},
        "currency": row["currency"],
        "total": row["grand_total"],
        "subtotal": row["subtotal"],
        "discount": row["discount_total"],
        "shipping": row["shipping"],
        "tax": row["tax_total"],
        "lines": [_line(ln) for ln in lines],
        "created_at": created,
        "age_hours": round(max((now - created).total_seconds(), 0.0) / 3600, 3),
    }
    for key in ("shipping_address", "billing_address"):
        if row[key]:
            doc[key] = {k: row[key][k] for k in ("country", "region", "city", "postcode") if row[key].get(k)}
    if is_order:
        doc["tags"] = list(row["tags"] or [])
        doc["priority"] = row["priority"]
        doc["tracks"] = {"payment": row["payment_status"], "fulfilment": row["fulfilment_status"],
                         "invoice": row["invoice_status"]}  # fmt: skip
        if row["external_ref"]:
            doc["external_reference"] = row["external_ref"]
    else:
        if row["valid_until"]:
            doc["valid_until"] = row["valid_until"].isoformat()
        if row["order_id"] is not None:
            doc["order_id"] = row["order_id"]
    return doc, _account(conn, row, id_ if is_order else 0, now)


def _line(ln: Any) -> dict[str, Any]:
    line = {"sku": ln.sku, "name": ln.name, "quantity": ln.quantity, "unit_price": ln.unit_price,
            "total": ln.total, "tags": list(ln.tags or [])}  # fmt: skip
    if ln.category:
        line["category"] = ln.category
    return line


def _account(conn: Connection, row: RowMapping, exclude: int, now: datetime) -> dict[str, Any]:
    if row["a_id"] is None:
        return {}
    currency = row["a_currency"] or row["currency"]
    params = {"account": row["a_id"], "exclude": exclude, "currency": currency}
    if conn.dialect.name == "postgresql":  # exact NUMERIC sum in the database
        open_balance = conn.execute(_OPEN_SUM_Q, params).scalar() or Decimal(0)
    else:  # SQLite keeps decimals as text: add them up exactly here
        open_balance = sum((r[0] for r in conn.execute(_OPEN_ROWS_Q, params)), Decimal(0))
    account: dict[str, Any] = {
        "code": row["a_code"],
        "name": row["a_name"],
        "currency": currency,
        "open_balance": open_balance,
        "properties": dict(row["properties"] or {}),
        "is_new": row["a_created_at"] >= now - timedelta(days=1) or not row["has_earlier"],
    }
    for key, col in (("tier", "tier"), ("region", "region"), ("erp_ref", "erp_ref"),
                     ("payment_terms", "payment_terms"), ("credit_limit", "credit_limit")):  # fmt: skip
        if row[col] is not None:
            account[key] = row[col]
    return account


__all__ = ["EVENT_FIELDS", "ROOTS", "Context", "build_context", "context_schema", "schema_for"]
