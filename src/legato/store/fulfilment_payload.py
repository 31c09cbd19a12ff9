"""The documented JSON of one fulfilment order: what a warehouse or a dropship supplier receives.

It is the ``fulfilment_order`` of the ``fulfilment.created`` and ``fulfilment.status_changed``
events, so a workflow's ``call_http`` step can send it as it is (``{{ event.fulfilment_order |
tojson }}``) or reshape it in its body template. Quantities are decimal strings; times are ISO
8601. See docs/fulfilment/dropship.md for an example and every field.

    {
      "id": 7, "number": "SO-000012-F2", "order_id": 12, "order_number": "SO-000012",
      "external_reference": "shop-1001", "kind": "dropship", "status": "created",
      "location": "SUP-ACME", "location_name": "Acme Supplies", "location_kind": "supplier",
      "vendor": "Acme Supplies", "channel": "WEB", "priority": 0,
      "delivery_address": {"name": "Ada", "line1": "1 Main St", "city": "Leeds", "country": "GB"},
      "lines": [{"line_no": 1, "order_line_no": 2, "sku": "POT-300", "supplier_sku": "AC-77",
                 "name": "Tea pot", "quantity": "1", "shipped": "0"}],
      "tracking": [], "external_ref": null, "held_from": null, "reason": null,
      "created_at": "2026-11-23T12:00:00+00:00", "updated_at": "2026-11-23T12:00:00+00:00"
    }
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, and_, select

from legato.domain.inventory.fulfilment import fo_number
from legato.domain.order import ORDER_PREFIX, format_number
from legato.store import tables as t
from legato.store.inventory_tables import fulfilment_lines, fulfilment_orders, locations, supplier_items

_F, _FL, _L, _SI = fulfilment_orders, fulfilment_lines, locations, supplier_items
_HEAD = (
    select(
        _F,
        _L.c.code.label("location_code"),
        _L.c.name.label("location_name"),
        _L.c.kind.label("location_kind"),
        t.channels.c.code.label("channel_code"),
        t.orders.c.external_ref.label("order_external_ref"),
    )
    .join(_L, _L.c.id == _F.c.location_id)
    .join(t.orders, t.orders.c.id == _F.c.order_id)
    .join(t.channels, t.channels.c.id == _F.c.channel_id)
)
_OL = t.order_lines
_LINES = (
    select(_FL, _OL.c.name, _SI.c.supplier_sku)
    .join(_F, _F.c.id == _FL.c.fulfilment_order_id)
    .outerjoin(_OL, and_(_OL.c.order_id == _F.c.order_id, _OL.c.line_no == _FL.c.order_line_no))
    .outerjoin(_SI, and_(_SI.c.location_id == _F.c.location_id, _SI.c.sku == _FL.c.sku))
)


def _qty(value: Decimal) -> str:
    """A quantity as the shortest exact decimal text: 2, 1.5 (not 2.0000)."""
    text = format(value.normalize(), "f")
    return text if "." not in text else text.rstrip("0").rstrip(".")


def payloads(conn: Connection, fo_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """The documented JSON of each FO, by id (two queries whatever their number)."""
    if not fo_ids:
        return {}
    out: dict[int, dict[str, Any]] = {}
    for r in conn.execute(_HEAD.where(_F.c.id.in_(list(fo_ids)))):
        order_number = format_number(ORDER_PREFIX, r.order_id)
        out[r.id] = {
            "id": r.id,
            "number": fo_number(order_number, r.seq),
            "order_id": r.order_id,
            "order_number": order_number,
            "external_reference": r.order_external_ref,
            "kind": r.kind,
            "status": r.status,
            "location": r.location_code,
            "location_name": r.location_name,
            "location_kind": r.location_kind,
            "vendor": r.vendor,
            "channel": r.channel_code,
            "priority": r.priority,
            "delivery_address": dict(r.shipping_address or {}),
            "lines": [],
            "tracking": list(r.tracking or []),
            "external_ref": r.external_ref,
            "held_from": r.held_from,
            "reason": r.reason,
            "created_at": r.created_at.isoformat(),
            "updated_at": r.updated_at.isoformat(),
        }
    rows = conn.execute(
        _LINES.where(_FL.c.fulfilment_order_id.in_(list(out))).order_by(
            _FL.c.fulfilment_order_id, _FL.c.line_no
        )
    )
    for line in rows:
        out[line.fulfilment_order_id]["lines"].append(
            {
                "line_no": line.line_no,
                "order_line_no": line.order_line_no,
                "sku": line.sku,
                "supplier_sku": line.supplier_sku,
                "name": line.name,
                "quantity": _qty(line.quantity),
                "shipped": _qty(line.shipped),
            }
        )
    return out


def payload(conn: Connection, fo_id: int) -> dict[str, Any]:
    return payloads(conn, [fo_id])[fo_id]


__all__ = ["payload", "payloads"]
