"""The hub's query string: read and checked into a ``HubFilter``, and written back as links.

Filters are plain GET parameters so every view of the hub is a link (bookmark it, paste it,
save it as a view). A value that is not valid is not silently dropped: it is left out of the
filter and named in ``errors`` (shown next to its control).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode

from legato.domain.catalog import ChannelType
from legato.domain.lifecycle import FulfilmentStatus, InvoiceStatus, OrderStatus, PaymentStatus
from legato.domain.money import is_currency
from legato.domain.order import ORDER_PREFIX, parse_number
from legato.store.hub import HubFilter

#: Parameters that take several values, each with its allowed values (None: free text).
MULTI: dict[str, tuple[str, ...] | None] = {
    "status": tuple(s.value for s in OrderStatus),
    "type": tuple(c.value for c in ChannelType),
    "payment": tuple(s.value for s in PaymentStatus),
    "fulfilment": tuple(s.value for s in FulfilmentStatus),
    "invoice": tuple(s.value for s in InvoiceStatus),
    "channel": None,
    "currency": None,
    "tier": None,
}
SINGLE = ("q", "account", "sku", "from", "to", "idle", "sort")
SORT_OPTIONS = {
    "-created": "Newest first",
    "created": "Oldest first",
    "-total": "Total, highest first",
    "total": "Total, lowest first",
    "-number": "Number, highest first",
    "number": "Number, lowest first",
}
#: Shorter text would match most orders and cannot use the trigram indexes (three characters each).
MIN_SEARCH = 3
_MAX_TEXT = {"q": 200, "account": 40, "sku": 64, "channel": 32, "tier": 40}

#: Views every user has: (name, query string).
PRESETS: list[tuple[str, str]] = [
    ("All orders", ""),
    ("Pending approval > 24 h", "status=pending_approval&idle=24"),
    ("B2B unpaid but shipped", "type=b2b&payment=unpaid&fulfilment=partially_fulfilled&fulfilment=fulfilled"),
    ("On hold", "status=on_hold"),
    ("Processing > 48 h", "status=processing&idle=48"),
]


@dataclass
class HubQuery:
    filter: HubFilter
    sort: str  # created | total | number
    descending: bool
    cursor: str | None
    values: dict[str, Any]  # what the form shows: lists for MULTI, strings for SINGLE
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def sort_param(self) -> str:
        return ("-" if self.descending else "") + self.sort

    def pairs(self) -> list[tuple[str, str]]:
        """The view as (name, value) pairs, in a stable order, without the cursor."""
        out: list[tuple[str, str]] = []
        for name in MULTI:
            out.extend((name, v) for v in self.values[name])
        for name in SINGLE:
            value = self.values[name]
            if value and not (name == "sort" and value == "-created"):
                out.append((name, value))
        return out

    def query_string(self, **extra: str | None) -> str:
        """This view's query string, plus ``extra`` parameters (a cursor)."""
        return urlencode(self.pairs() + [(k, v) for k, v in extra.items() if v])


def canonical(query: str) -> str:
    """A query string with its pairs sorted, to tell whether two links show the same view."""
    pairs = [
        (k, v) for k, v in parse_qsl(query) if k != "cursor" and v and not (k == "sort" and v == "-created")
    ]
    return urlencode(sorted(pairs))


def _date(text: str) -> date | None:
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def parse(params: list[tuple[str, str]], now: datetime | None = None) -> HubQuery:
    """Read the hub's parameters (``request.query_params.multi_items()``)."""
    at = now or datetime.now(UTC)
    errors: dict[str, str] = {}
    values: dict[str, Any] = {name: [] for name in MULTI} | {name: "" for name in SINGLE}
    cursor: str | None = None
    for name, raw in params:
        value = raw.strip()
        if name == "cursor":
            cursor = value or None
        elif name in MULTI and value:
            allowed = MULTI[name]
            if name == "currency":
                value = value.upper()
            if allowed is not None and value not in allowed:
                errors[name] = f"{value!r} is not a {name} value; use {', '.join(allowed)}"
            elif name == "currency" and not is_currency(value):
                errors[name] = f"{value!r} is not an ISO 4217 currency code"
            elif len(value) > _MAX_TEXT.get(name, 40):
                errors[name] = f"at most {_MAX_TEXT.get(name, 40)} characters"
            elif value not in values[name]:
                values[name].append(value)
        elif name in SINGLE:
            if len(value) > _MAX_TEXT.get(name, 40):
                errors[name] = f"at most {_MAX_TEXT[name]} characters"
            else:
                values[name] = value
    created_from = created_to = idle_before = None
    if values["from"]:
        day = _date(values["from"])
        if day is None:
            errors["from"] = f"{values['from']!r} is not a date (YYYY-MM-DD)"
        else:
            created_from = datetime(day.year, day.month, day.day, tzinfo=UTC)
    if values["to"]:
        day = _date(values["to"])
        if day is None:
            errors["to"] = f"{values['to']!r} is not a date (YYYY-MM-DD)"
        else:
            created_to = datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=1)
    if created_from and created_to and created_to <= created_from:
        errors["to"] = "the end date is before the start date"
        created_to = None
    if values["idle"]:
        hours = values["idle"]
        if not hours.isdigit() or not 1 <= int(hours) <= 24 * 366:
            errors["idle"] = "a whole number of hours from 1 to 8784"
        else:
            idle_before = at - timedelta(hours=int(hours))
    q = values["q"]
    if q and len(q) < MIN_SEARCH and parse_number(ORDER_PREFIX, q) is None:
        errors["q"] = f"type at least {MIN_SEARCH} characters, or an order number"
    sort = values["sort"] or "-created"
    if sort not in SORT_OPTIONS:
        errors["sort"] = f"{sort!r} is not a sort; use {', '.join(SORT_OPTIONS)}"
        sort = values["sort"] = "-created"
    f = HubFilter(
        statuses=tuple(values["status"]), channels=tuple(values["channel"]), types=tuple(values["type"]),
        payment=tuple(values["payment"]), fulfilment=tuple(values["fulfilment"]),
        invoice=tuple(values["invoice"]), currencies=tuple(values["currency"]), tiers=tuple(values["tier"]),
        sku=values["sku"] or None, account=values["account"] or None, created_from=created_from,
        created_to=created_to, idle_before=idle_before, q=None if "q" in errors else values["q"] or None,
    )  # fmt: skip
    return HubQuery(f, sort.lstrip("-"), sort.startswith("-"), cursor, values, errors)


__all__ = ["MULTI", "PRESETS", "SINGLE", "SORT_OPTIONS", "HubQuery", "canonical", "parse"]
