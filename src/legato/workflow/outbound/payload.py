"""The normalised order payload an ERP receives, version "1" (docs/workflows/erp.md).

One shape for every channel, so the ERP side is written once: amounts are decimal strings
(never JSON floats: an ERP parsing 0.1 + 0.2 must not lose a cent), money shown to the
currency's minor unit, quantities and rates without trailing zeros. The JSON Schema of this
document is docs/workflows/erp-payload.schema.json; a change that breaks a reader makes a
new version, never a silent edit of this one.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from legato.domain.catalog import Account, Channel
from legato.domain.money import minor_units
from legato.domain.order import Address, SalesOrder

PAYLOAD_VERSION = "1"

#: the columns of the CSV form: one row per order line, the order's fields repeated
CSV_COLUMNS = (
    "version", "number", "channel", "external_reference", "status", "account_code", "account_erp_ref",
    "account_name", "customer_email", "currency", "created_at", "line_no", "sku", "name", "quantity",
    "unit_price", "discount", "tax_rate", "tax", "total", "order_shipping", "order_tax",
    "order_grand_total",
)  # fmt: skip


def plain(value: Decimal) -> str:
    """A decimal without exponent or trailing zeros: ``2.0000`` -> ``2``, ``0.200000`` -> ``0.2``."""
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "") else text


def money(value: Decimal, currency: str) -> str:
    """An amount with at least the currency's minor digits (``4.5`` EUR -> ``4.50``, ``800`` JPY
    -> ``800``), keeping any finer precision a unit price carries (``4.125``)."""
    digits = minor_units(currency)
    exponent = value.normalize().as_tuple().exponent
    places = max(digits, -exponent if isinstance(exponent, int) and exponent < 0 else 0)
    return format(value.quantize(Decimal(1).scaleb(-places)), "f")


def _address(a: Address | None) -> dict[str, Any] | None:
    return a.as_dict() if a is not None else None


def order_payload(order: SalesOrder, account: Account | None, channel: Channel | None) -> dict[str, Any]:
    """The version-1 document of one order: what every ERP destination receives.

    ``account`` and ``channel`` are the order's own (loaded by the caller); the order's
    cancelled lines are left out, as they are out of its totals."""
    assert order.id is not None and order.created_at is not None, "only a stored order is exported"
    cur = order.currency
    t = order.totals
    return {
        "version": PAYLOAD_VERSION,
        "number": order.number,
        "channel": {
            "code": order.channel_code,
            "type": str(channel.type) if channel else None,
            "name": channel.name if channel else None,
        },
        "external_reference": order.external_reference,
        "status": order.status.value,
        "account": (
            {"code": account.code, "erp_ref": account.erp_ref, "name": account.name, "email": account.email}
            if account is not None
            else None
        ),
        "customer": {
            "name": order.customer.name,
            "email": order.customer.email,
            "phone": order.customer.phone,
        },
        "billing_address": _address(order.billing_address),
        "shipping_address": _address(order.shipping_address),
        "currency": cur,
        "lines": [
            {
                "line_no": ln.line_no,
                "sku": ln.sku,
                "name": ln.name,
                "quantity": plain(ln.quantity),
                "unit_price": money(ln.unit_price, cur),
                "amount": money(ln.amount, cur),
                "discount": money(ln.discount, cur),
                "tax_rate": plain(ln.tax_rate),
                "tax": money(ln.tax, cur),
                "total": money(ln.total, cur),
            }
            for ln in order.lines
            if ln.status != "cancelled"
        ],
        "totals": {
            "subtotal": money(t.subtotal, cur),
            "discount": money(t.discount, cur),
            "shipping": money(t.shipping, cur),
            "tax": money(t.tax, cur),
            "grand_total": money(t.grand_total, cur),
        },
        "tracks": {
            "payment": order.payment_status.value,
            "fulfilment": order.fulfilment_status.value,
            "invoice": order.invoice_status.value,
        },
        "priority": order.priority,
        "tags": list(order.tags),
        "notes": order.notes,
        "created_at": order.created_at.isoformat(),
    }


def customer_payload(account: Account) -> dict[str, Any]:
    """What an ERP receives to create (or find) a customer before its first order."""
    return {
        "version": PAYLOAD_VERSION,
        "code": account.code,
        "name": account.name,
        "email": account.email,
        "phone": account.phone,
        "erp_ref": account.erp_ref,
        "currency": account.currency,
        "region": account.region,
        "tier": account.tier,
        "payment_terms": account.payment_terms,
    }


def to_csv(payloads: Sequence[dict[str, Any]]) -> bytes:
    """One CSV document (UTF-8, header row, CRLF line ends as RFC 4180 has it) for any number
    of orders: a row per order line, each row carrying its order's fields."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for p in payloads:
        account = p["account"] or {}
        head = [
            p["version"], p["number"], p["channel"]["code"], p["external_reference"] or "", p["status"],
            account.get("code") or "", account.get("erp_ref") or "", account.get("name") or "",
            p["customer"]["email"] or account.get("email") or "", p["currency"], p["created_at"],
        ]  # fmt: skip
        tail = [p["totals"]["shipping"], p["totals"]["tax"], p["totals"]["grand_total"]]
        for ln in p["lines"]:
            row = [ln["line_no"], ln["sku"], ln["name"], ln["quantity"], ln["unit_price"], ln["discount"],
                   ln["tax_rate"], ln["tax"], ln["total"]]  # fmt: skip
            writer.writerow([*head, *row, *tail])
    return out.getvalue().encode("utf-8")


__all__ = ["CSV_COLUMNS", "PAYLOAD_VERSION", "customer_payload", "money", "order_payload", "plain", "to_csv"]
