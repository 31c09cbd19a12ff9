"""How values look on a page: money with its currency, times in UTC, ages, status badges, and
a channel's raw payload made readable. Registered as Jinja filters by ``legato.web.app``."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from babel.numbers import format_currency, format_decimal

from legato.domain.order import ORDER_PREFIX, QUOTE_PREFIX, format_number

#: Each status value's tone (a badge colour): good, wait, warn, bad; anything else is neutral.
_TONES = {
    "completed": "good", "paid": "good", "fulfilled": "good", "invoiced": "good", "processed": "good",
    "accepted": "good", "converted": "good", "done": "good",
    "pending_approval": "wait", "created": "info", "processing": "info", "partially_paid": "wait",
    "partially_fulfilled": "wait", "partially_invoiced": "wait", "sent": "info", "draft": "info",
    "queued": "info", "running": "info", "waiting": "wait", "pending": "wait", "received": "info",
    "on_hold": "warn", "partially_refunded": "warn", "partially_returned": "warn", "quarantined": "warn",
    "duplicate": "info", "ignored": "info", "expired": "warn",
    "released": "info", "picking": "info", "packed": "info", "dispatched": "wait", "delivered": "good",
    "collected": "good", "backordered": "warn",
    "cancelled": "bad", "voided": "bad", "refunded": "bad", "returned": "bad", "credited": "bad",
    "rejected": "bad", "failed": "bad", "dead": "bad", "declined": "bad", "stopped": "bad",
}  # fmt: skip

#: The largest payload shown in full on a page (the rest is cut, and says so).
PAYLOAD_LIMIT = 256 * 1024


def money(amount: Decimal | str | None, currency: str | None) -> str:
    """``1,234.50 GBP``: the amount as stored (never rounded for display), grouped, with its code."""
    if amount is None:
        return ""
    value = amount if isinstance(amount, Decimal) else Decimal(str(amount))
    if not currency:
        return format_decimal(value, locale="en_GB", decimal_quantization=False)
    return format_currency(
        value, currency, format="#,##0.00\u00a0¤¤", locale="en_GB", decimal_quantization=False
    )


def quantity(value: Decimal | str | None) -> str:
    """``3`` rather than ``3.0000``; ``2.5`` stays ``2.5``."""
    if value is None:
        return ""
    d = value if isinstance(value, Decimal) else Decimal(str(value))
    text = format(d, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def when(at: datetime | None) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if at else ""


def iso(at: datetime | None) -> str:
    return at.astimezone(UTC).isoformat() if at else ""


def age(at: datetime | None, now: datetime | None = None) -> str:
    """How long ago, in the largest unit that says it: ``40 min``, ``5 h``, ``3 d``."""
    if at is None:
        return ""
    seconds = max(0, int(((now or datetime.now(UTC)) - at).total_seconds()))
    if seconds < 3600:
        return f"{seconds // 60} min"
    if seconds < 2 * 86400:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} d"


_ACRONYMS = {"b2b": "B2B", "api": "API", "sku": "SKU", "fx": "FX", "erp": "ERP", "pos": "POS", "id": "ID"}


#: Keys of a price's detail that read better under another name.
_NAMES = {"parts": "Breakdown", "fx": "Currency conversion"}


def label(value: Any) -> str:
    """``pending_approval`` reads ``Pending approval``; ``b2b`` reads ``B2B``."""
    if str(value) in _NAMES:
        return _NAMES[str(value)]
    words = [_ACRONYMS.get(w, w) for w in str(value or "").replace("_", " ").split(" ")]
    text = " ".join(words)
    return text[:1].upper() + text[1:]


def tone(value: Any) -> str:
    return _TONES.get(str(value), "neutral")


def pretty_json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, default=str, sort_keys=False)


def _segments(text: str, terminator: str, release: str | None) -> str:
    """One EDI segment a line: a newline after each terminator not escaped by ``release``."""
    out: list[str] = []
    escaped = False
    for ch in text.replace("\r", "").replace("\n", ""):
        out.append(ch)
        if escaped:
            escaped = False
        elif release and ch == release:
            escaped = True
        elif ch == terminator:
            out.append("\n")
    return "".join(out).rstrip("\n")


def readable_payload(body: bytes) -> tuple[str, str]:
    """(kind, text) of a raw delivery for a person: JSON indented, X12 and EDIFACT one segment a
    line, other text as is, binary summarised. The page escapes the text; nothing is run."""
    if b"\x00" in body[:4096] or body[:4] == b"PK\x03\x04":
        return "binary", f"{len(body):,} bytes of binary data (e.g. a spreadsheet); not shown"
    cut = len(body) > PAYLOAD_LIMIT
    text = body[:PAYLOAD_LIMIT].decode("utf-8", errors="replace")
    note = f"\n… cut at {PAYLOAD_LIMIT:,} of {len(body):,} bytes" if cut else ""
    stripped = text.lstrip()
    if stripped[:1] in "{[" and not cut:
        try:
            return "json", pretty_json(json.loads(text))
        except ValueError:
            pass
    if stripped.startswith("ISA") and len(stripped) > 106:
        return "x12", _segments(stripped, stripped[105], None) + note
    if stripped.startswith("UNA") and len(stripped) > 9:
        return "edifact", _segments(stripped, stripped[8], stripped[6].strip() or None) + note
    if stripped.startswith("UNB"):
        return "edifact", _segments(stripped, "'", "?") + note
    return "text", text + note


def order_number(order_id: int) -> str:
    return format_number(ORDER_PREFIX, order_id)


def quote_number(quote_id: int) -> str:
    return format_number(QUOTE_PREFIX, quote_id)


FILTERS = {
    "order_number": order_number,
    "quote_number": quote_number,
    "money": money,
    "quantity": quantity,
    "when": when,
    "iso": iso,
    "age": age,
    "label": label,
    "tone": tone,
    "pretty_json": pretty_json,
}

__all__ = [
    "FILTERS",
    "PAYLOAD_LIMIT",
    "age",
    "iso",
    "label",
    "money",
    "order_number",
    "pretty_json",
    "quantity",
    "quote_number",
    "readable_payload",
    "tone",
    "when",
]
