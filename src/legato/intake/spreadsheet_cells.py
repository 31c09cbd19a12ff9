"""The columns of a spreadsheet of orders, and reading one cell of each: text within its
limit, numbers with the file's decimal mark (XLSX numbers as the cell shows them, never a
float), rates, statuses, currencies, countries and tags. A bad cell raises BadCell with a
stable code; ``spreadsheet_map`` says where it is.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from legato.domain.money import is_currency
from legato.intake.spreadsheet_read import shown_decimal

#: every field, in the template's order: the order-level ones around the line-level ones (LINE_FIELDS)
ADDRESS_PARTS = ("name", "company", "line1", "line2", "city", "region", "postcode", "country")
LINE_FIELDS = ("sku", "quantity", "unit_price", "line_name", "discount", "tax_rate")
FIELDS: tuple[str, ...] = (
    "order_ref", "customer_code", "customer_email", "customer_name", "customer_phone", "currency",
    *LINE_FIELDS,
    *(f"ship_{p}" for p in ADDRESS_PARTS), *(f"bill_{p}" for p in ADDRESS_PARTS),
    "notes", "priority", "tags", "status",
)  # fmt: skip
REQUIRED = ("order_ref", "sku", "quantity")
STATUSES = ("created", "pending_approval", "on_hold")
MAX_LINES = 1000  # rows of one order (as the canonical JSON allows)

_TEXT_LIMITS = {
    "order_ref": 255, "customer_code": 40, "customer_email": 254, "customer_name": 200,
    "customer_phone": 32, "sku": 64, "line_name": 300, "notes": 5000,
    **{f"{k}_{p}": 300 if p.startswith("line") else 200 for k in ("ship", "bill") for p in ADDRESS_PARTS},
    "ship_city": 120, "bill_city": 120, "ship_region": 120, "bill_region": 120,
    "ship_postcode": 20, "bill_postcode": 20,
}  # fmt: skip


def quoted(value: Any) -> str:
    """A cell's text as messages show it: in double quotes."""
    return f'"{value}"'


def normalise_header(text: str) -> str:
    """``Order Ref``, ``ORDER_REF`` and ``order-ref`` all read as ``order_ref``."""
    return re.sub(r"[\s_\-]+", "_", text.strip().lower()).strip("_")


# --- cell values -------------------------------------------------------------------------------


class BadCell(ValueError):
    def __init__(self, message: str, code: str = "invalid") -> None:
        super().__init__(message)
        self.code = code


_PLAIN = re.compile(r"^[+-]?\d+(?:\.\d+)?$")
_POINT = re.compile(r"^([+-]?)(\d{1,3}(?:([,\u00a0\u202f ])\d{3})(?:\3\d{3})*|\d+)(?:\.(\d+))?$")
_COMMA = re.compile(r"^([+-]?)(\d{1,3}(?:([.\u00a0\u202f ])\d{3})(?:\3\d{3})*|\d+)(?:,(\d+))?$")


def as_text(value: Any) -> str:
    """A cell as text: numbers as the cell shows them (``1001``, not ``1001.0``)."""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return format(shown_decimal(value), "f")
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time(0) else value.isoformat(sep=" ")
    if isinstance(value, date | time):
        return value.isoformat()
    return str(value).strip()


def parse_decimal(value: Any, *, decimal_comma: bool) -> Decimal:
    """A number from a cell: XLSX numbers as shown; text with the file's decimal mark and
    optional thousands separators (``1,234.50``, or ``1.234,50`` with ``decimal_comma``)."""
    if value.__class__ is str:
        text = value.strip()
        if not decimal_comma and _PLAIN.match(text):  # the usual case: 12, 4.50
            return Decimal(text)
    elif isinstance(value, bool):
        raise BadCell(f"{quoted(as_text(value))} is not a number", "not_a_number")
    elif isinstance(value, int):
        return Decimal(value)
    elif isinstance(value, float):
        return shown_decimal(value)
    else:
        text = as_text(value)
    m = (_COMMA if decimal_comma else _POINT).match(text)
    if m is None:
        mark = "decimal comma (1.234,50)" if decimal_comma else "decimal point (1,234.50)"
        raise BadCell(f"{quoted(text)} is not a number with a {mark}", "not_a_number")
    sign, whole, sep, frac = m.groups()
    digits = whole.replace(sep, "") if sep else whole
    return Decimal(f"{sign}{digits}.{frac}" if frac else f"{sign}{digits}")


def _bounded(d: Decimal, *, low: Decimal, high: Decimal, places: int, low_open: bool = False) -> Decimal:
    if (d <= low if low_open else d < low) or d > high:
        above = "above" if low_open else "at least"
        raise BadCell(f"{d} is out of range: it must be {above} {low} and at most {high}", "out_of_range")
    exponent = d.as_tuple().exponent
    if isinstance(exponent, int) and -exponent > places:
        raise BadCell(f"{d} has more than {places} decimal places", "too_precise")
    return d


def _number(low: str, high: str, places: int, *, low_open: bool = False) -> Callable[[Any, bool], Decimal]:
    lo, hi = Decimal(low), Decimal(high)

    def read(value: Any, decimal_comma: bool) -> Decimal:
        d = parse_decimal(value, decimal_comma=decimal_comma)
        return _bounded(d, low=lo, high=hi, places=places, low_open=low_open)

    return read


def _rate(value: Any, decimal_comma: bool) -> Decimal:
    """A tax rate as a fraction (``0.2``) or a percentage (``20%``)."""
    text = as_text(value) if isinstance(value, str) else None
    if text and text.endswith("%"):
        d = parse_decimal(text[:-1].strip(), decimal_comma=decimal_comma) / 100
    else:
        d = parse_decimal(value, decimal_comma=decimal_comma)
    return _bounded(d, low=Decimal(0), high=Decimal(1), places=6)


def _priority(value: Any, decimal_comma: bool) -> int:
    d = parse_decimal(value, decimal_comma=decimal_comma)
    if d != d.to_integral_value() or not -1000 <= d <= 1000:
        raise BadCell(f"{quoted(as_text(value))} is not a whole number from -1000 to 1000", "out_of_range")
    return int(d)


def _tags(value: Any, decimal_comma: bool) -> tuple[str, ...]:
    tags = tuple(dict.fromkeys(t.strip() for t in as_text(value).split(",") if t.strip()))
    if len(tags) > 50 or any(len(t) > 64 for t in tags):
        raise BadCell("at most 50 tags of at most 64 characters each", "too_long")
    return tags


def _status(value: Any, decimal_comma: bool) -> str:
    text = as_text(value).lower().replace(" ", "_")
    if text not in STATUSES:
        msg = f"{quoted(as_text(value))} is not a status an order starts in ({', '.join(STATUSES)})"
        raise BadCell(msg, "invalid_status")
    return text


def _currency(value: Any, decimal_comma: bool) -> str:
    text = as_text(value).upper()
    if not is_currency(text):
        raise BadCell(f"{quoted(as_text(value))} is not an ISO 4217 currency code", "unknown_currency")
    return text


def _country(value: Any, decimal_comma: bool) -> str:
    text = as_text(value).upper()
    if not re.fullmatch(r"[A-Z]{2}", text):
        msg = f"{quoted(as_text(value))} is not a two-letter country code (ISO 3166-1)"
        raise BadCell(msg, "invalid_country")
    return text


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def _text(limit: int) -> Callable[[Any, bool], str]:
    def read(value: Any, decimal_comma: bool) -> str:
        text = value.strip() if value.__class__ is str else as_text(value)
        if len(text) > limit:
            raise BadCell(f"{len(text)} characters; at most {limit}", "too_long")
        if _CONTROL.search(text):
            raise BadCell("control characters are not allowed", "invalid")
        return text

    return read


READERS: dict[str, Callable[[Any, bool], Any]] = {
    **{name: _text(limit) for name, limit in _TEXT_LIMITS.items()},
    "quantity": _number("0", "1000000", 4, low_open=True),
    "unit_price": _number("0", "999999999999", 6),
    "discount": _number("0", "999999999999", 6),
    "tax_rate": _rate,
    "currency": _currency,
    "ship_country": _country,
    "bill_country": _country,
    "priority": _priority,
    "tags": _tags,
    "status": _status,
}
assert set(READERS) == set(FIELDS), set(FIELDS) ^ set(READERS)


__all__ = [
    "ADDRESS_PARTS",
    "FIELDS",
    "LINE_FIELDS",
    "MAX_LINES",
    "READERS",
    "REQUIRED",
    "STATUSES",
    "BadCell",
    "as_text",
    "normalise_header",
    "parse_decimal",
    "quoted",
]
