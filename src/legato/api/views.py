"""Domain objects -> response shapes (and request shapes -> domain drafts)."""

from __future__ import annotations

from typing import Any

from legato.domain.catalog import Account, Channel, Pricelist, Product
from legato.domain.lifecycle import allowed_targets
from legato.domain.matching import CustomerRef
from legato.domain.order import (
    ORDER_PREFIX,
    QUOTE_PREFIX,
    OrderLine,
    SalesOrder,
    Totals,
    format_number,
)
from legato.domain.quote import Quote
from legato.intake import canonical
from legato.store.mapping import settings_to_row
from legato.store.secretbox import mask

address = canonical.address
draft = canonical.to_draft
order_draft = canonical.order_draft


def _lines(lines: list[OrderLine]) -> list[dict[str, Any]]:
    return [{k: v for k, v in ln.__dict__.items() if k != "charge"} for ln in lines]


def _totals(t: Totals) -> dict[str, Any]:
    return t.as_dict()


def _customer(c: CustomerRef) -> dict[str, Any]:
    return {"name": c.name, "email": c.email, "phone": c.phone, "code": c.code, "erp_ref": c.erp_ref}


def order_out(o: SalesOrder) -> dict[str, Any]:
    assert o.id is not None and o.created_at is not None
    return {
        "id": o.id,
        "number": o.number,
        "channel": o.channel_code,
        "external_reference": o.external_reference,
        "account": o.account_code,
        "customer": _customer(o.customer),
        "currency": o.currency,
        "status": o.status,
        "held_from": o.held_from,
        "allowed_transitions": sorted(allowed_targets(o.status, o.held_from)),
        "payment_status": o.payment_status,
        "fulfilment_status": o.fulfilment_status,
        "invoice_status": o.invoice_status,
        "priority": o.priority,
        "tags": list(o.tags),
        "notes": o.notes,
        "billing_address": o.billing_address.as_dict() if o.billing_address else None,
        "shipping_address": o.shipping_address.as_dict() if o.shipping_address else None,
        "lines": _lines(o.lines),
        "totals": _totals(o.totals),
        "pricing": dict(o.pricing),
        "quote_id": o.quote_id,
        "inbox_id": o.inbox_id,
        "created_at": o.created_at,
        "updated_at": o.updated_at or o.created_at,
        "timeline": [
            {
                "at": e.at,
                "actor": e.actor,
                "kind": e.kind,
                "reason": e.reason,
                "from": e.from_value,
                "to": e.to_value,
                "data": e.data,
            }
            for e in o.timeline
        ],
    }


def order_summary(row: dict[str, Any]) -> dict[str, Any]:
    return {
        **row,
        "number": format_number(ORDER_PREFIX, row["id"]),
        "external_reference": row["external_ref"],
    }


def quote_out(q: Quote) -> dict[str, Any]:
    assert q.id is not None
    return {
        "id": q.id,
        "number": q.number,
        "channel": q.channel_code,
        "account": q.account_code,
        "customer": _customer(q.customer),
        "currency": q.currency,
        "status": q.status,
        "lines": _lines(q.lines),
        "totals": _totals(q.totals),
        "pricing": dict(q.pricing),
        "valid_until": q.valid_until,
        "notes": q.notes,
        "billing_address": q.billing_address.as_dict() if q.billing_address else None,
        "shipping_address": q.shipping_address.as_dict() if q.shipping_address else None,
        "order_id": q.order_id,
        "order_number": format_number(ORDER_PREFIX, q.order_id) if q.order_id else None,
        "created_at": q.created_at,
        "updated_at": q.updated_at or q.created_at,
    }


def quote_summary(row: dict[str, Any]) -> dict[str, Any]:
    return {**row, "number": format_number(QUOTE_PREFIX, row["id"])}


def channel_out(c: Channel) -> dict[str, Any]:
    return {
        "code": c.code,
        "name": c.name,
        "type": c.type,
        "adapter": c.adapter,
        "currency": c.currency,
        "settings": settings_to_row(c.settings),
        "secrets": mask(c.secrets),
        "active": c.active,
    }


def product_out(p: Product) -> dict[str, Any]:
    d = p.dimensions
    return {
        "sku": p.sku,
        "name": p.name,
        "category": p.category,
        "tags": list(p.tags),
        "dimensions": {"length": d.length, "width": d.width, "height": d.height} if d else None,
        "weight_kg": p.weight_kg,
        "prices": p.prices,
        "active": p.active,
        "pricing": p.pricing,
        "tax_class": p.tax_class,
    }


def account_out(a: Account) -> dict[str, Any]:
    return {
        "code": a.code,
        "name": a.name,
        "email": a.email,
        "phone": a.phone,
        "erp_ref": a.erp_ref,
        "properties": a.properties,
        "tier": a.tier,
        "region": a.region,
        "currency": a.currency,
        "pricelist": a.pricelist_code,
        "credit_limit": a.credit_limit,
        "payment_terms": a.payment_terms,
    }


def pricelist_out(p: Pricelist) -> dict[str, Any]:
    return {
        "code": p.code,
        "name": p.name,
        "currency": p.currency,
        "kind": p.kind,
        "percent_off": p.percent_off,
        "items": p.items,
        "valid_from": p.valid_from,
        "valid_to": p.valid_to,
        "channel": p.channel_code,
        "item_pricing": p.item_pricing,
    }
