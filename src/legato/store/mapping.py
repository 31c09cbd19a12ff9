"""Row <-> domain conversions shared by repositories and read-side queries."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from legato.domain.catalog import (
    Account,
    Channel,
    ChannelSettings,
    ChannelType,
    Dimensions,
    OnNoMatch,
    PricePolicy,
    Product,
)
from legato.domain.matching import CustomerRef
from legato.domain.order import Address, OrderLine, TimelineEntry, Totals

ZERO = Decimal(0)


def address_to_row(a: Address | None) -> dict[str, Any] | None:
    return a.as_dict() if a is not None else None


def address_from_row(d: dict[str, Any] | None) -> Address | None:
    return Address(**d) if d else None


def settings_to_row(s: ChannelSettings) -> dict[str, Any]:
    return {
        "match_keys": list(s.match_keys),
        "on_no_match": s.on_no_match.value,
        "price_policy": s.price_policy.value,
        **s.extra,
    }


def settings_from_row(d: dict[str, Any]) -> ChannelSettings:
    d = dict(d or {})
    keys = tuple(d.pop("match_keys", ("email", "code", "phone")))
    return ChannelSettings(
        keys, OnNoMatch(d.pop("on_no_match", "guest")), PricePolicy(d.pop("price_policy", "catalog")), d
    )


def channel_from_row(r: Any, secrets: dict[str, str]) -> Channel:
    return Channel(
        code=r.code,
        name=r.name,
        type=ChannelType(r.type),
        adapter=r.adapter,
        currency=r.currency,
        settings=settings_from_row(r.settings),
        secrets=secrets,
        active=r.active,
        id=r.id,
    )


def product_from_row(r: Any) -> Product:
    dims = (
        Dimensions(r.length_cm, r.width_cm, r.height_cm)
        if r.length_cm is not None and r.width_cm is not None and r.height_cm is not None
        else None
    )
    return Product(
        sku=r.sku,
        name=r.name,
        category=r.category,
        tags=tuple(r.tags or ()),
        dimensions=dims,
        weight_kg=r.weight_kg,
        prices={c: Decimal(v) for c, v in (r.prices or {}).items()},
        active=r.active,
        id=r.id,
        pricing=r.pricing or None,
        tax_class=r.tax_class,
    )


def product_to_row(p: Product) -> dict[str, Any]:
    d = p.dimensions
    return {
        "sku": p.sku,
        "name": p.name,
        "category": p.category,
        "tags": list(p.tags),
        "length_cm": d.length if d else None,
        "width_cm": d.width if d else None,
        "height_cm": d.height if d else None,
        "weight_kg": p.weight_kg,
        "prices": {c: format(v, "f") for c, v in sorted(p.prices.items())},
        "active": p.active,
        "pricing": p.pricing or None,
        "tax_class": p.tax_class,
    }


def account_from_row(r: Any, pricelist_code: str | None) -> Account:
    return Account(
        code=r.code,
        name=r.name,
        email=r.email,
        phone=r.phone,
        erp_ref=r.erp_ref,
        properties=dict(r.properties or {}),
        tier=r.tier,
        region=r.region,
        currency=r.currency,
        pricelist_code=pricelist_code,
        credit_limit=r.credit_limit,
        payment_terms=r.payment_terms,
        id=r.id,
    )


def customer_to_row(c: CustomerRef) -> dict[str, Any]:
    return {
        "customer_name": c.name,
        "customer_email": c.email,
        "customer_phone": c.phone,
        "customer": {
            k: v
            for k, v in (("code", c.code), ("erp_ref", c.erp_ref), ("properties", c.properties or None))
            if v
        },
    }


def customer_from_row(r: Any) -> CustomerRef:
    extra = r.customer or {}
    return CustomerRef(
        name=r.customer_name,
        email=r.customer_email,
        phone=r.customer_phone,
        code=extra.get("code"),
        erp_ref=extra.get("erp_ref"),
        properties=extra.get("properties") or {},
    )


def totals_to_row(t: Totals) -> dict[str, Any]:
    return {
        "subtotal": t.subtotal,
        "discount_total": t.discount,
        "shipping": t.shipping,
        "tax_total": t.tax,
        "grand_total": t.grand_total,
        "points_total": t.points,
    }


def totals_from_row(r: Any) -> Totals:
    return Totals(
        r.subtotal,
        r.discount_total,
        r.shipping,
        r.tax_total,
        r.grand_total,
        ZERO if r.points_total is None else r.points_total,
    )


def line_to_row(parent_key: str, parent_id: int, ln: OrderLine) -> dict[str, Any]:
    return {
        parent_key: parent_id,
        "line_no": ln.line_no,
        "sku": ln.sku,
        "name": ln.name,
        "quantity": ln.quantity,
        "unit_price": ln.unit_price,
        "price_source": ln.price_source,
        "discount": ln.discount,
        "tax_rate": ln.tax_rate,
        "amount": ln.amount,
        "tax": ln.tax,
        "total": ln.total,
        "status": ln.status,
        "price_detail": dict(ln.detail) or None,
    }


def line_from_row(r: Any) -> OrderLine:
    return OrderLine(
        line_no=r.line_no,
        sku=r.sku,
        name=r.name,
        quantity=r.quantity,
        unit_price=r.unit_price,
        price_source=r.price_source,
        discount=r.discount,
        tax_rate=r.tax_rate,
        amount=r.amount,
        tax=r.tax,
        total=r.total,
        status=r.status,
        detail=r.price_detail or {},
    )


def timeline_from_row(r: Any) -> TimelineEntry:
    return TimelineEntry(
        at=r.at,
        actor=r.actor,
        kind=r.kind,
        reason=r.reason,
        from_value=r.from_value,
        to_value=r.to_value,
        data=dict(r.data or {}),
    )
