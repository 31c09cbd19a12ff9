"""Commands: what a caller asks Legato to do, as small dataclasses of plain values.

``OrderDraft`` is the canonical order every channel adapter produces; ``PlaceOrder``
asks the service layer to turn one into a managed order.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from legato.domain.lifecycle import OrderStatus
from legato.domain.matching import CustomerRef
from legato.domain.order import Address

ZERO = Decimal(0)


@dataclass(frozen=True)
class LineDraft:
    sku: str
    quantity: Decimal
    unit_price: Decimal | None = None  # None: price it from the catalogue
    name: str | None = None
    discount: Decimal = ZERO
    tax_rate: Decimal | None = None  # None: from the tax rules (region x product tax class), else 0
    #: what the product's pricing mechanism needs beyond the quantity, as text: start, end
    #: (ISO 8601), distance_km, origin, destination, weight_kg, usage.<metric>, any rate-card variable
    inputs: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class OrderDraft:
    """The canonical order: what every channel's payload is normalised into."""

    channel_code: str
    lines: tuple[LineDraft, ...]
    external_reference: str | None = None
    currency: str | None = None  # None: the account's currency, else the channel's
    customer: CustomerRef | None = None
    billing_address: Address | None = None
    shipping_address: Address | None = None
    shipping: Decimal = ZERO
    shipping_tax_rate: Decimal = ZERO
    priority: int = 0
    tags: tuple[str, ...] = ()
    notes: str | None = None
    status: OrderStatus = OrderStatus.CREATED  # created, pending_approval or on_hold
    voucher: str | None = None  # a voucher code to redeem
    points: int = 0  # loyalty points the customer redeems


@dataclass(frozen=True)
class PlaceOrder:
    draft: OrderDraft
    actor: str
    reason: str | None = None
    inbox_id: int | None = None  # the raw delivery this order is placed from


@dataclass(frozen=True)
class TransitionOrder:
    order_id: int
    to: str
    actor: str
    reason: str | None = None


@dataclass(frozen=True)
class CancelLines:
    """Cancel some lines of an order (a partial cancellation): their stock is released and they
    leave their open fulfilment orders; the totals no longer count them."""

    order_id: int
    line_nos: tuple[int, ...]
    actor: str
    reason: str | None = None


@dataclass(frozen=True)
class ChangeTrack:
    order_id: int
    track: str
    to: str
    actor: str
    reason: str | None = None


@dataclass(frozen=True)
class EditOrder:
    order_id: int
    changes: dict[str, Any]
    actor: str
    reason: str | None = None


@dataclass(frozen=True)
class CreateQuote:
    draft: OrderDraft
    actor: str
    valid_until: date | None = None


@dataclass(frozen=True)
class TransitionQuote:
    quote_id: int
    to: str
    actor: str
    reason: str | None = None


@dataclass(frozen=True)
class ConvertQuote:
    quote_id: int
    actor: str
    extra: dict[str, Any] = field(default_factory=dict)


__all__ = [
    "CancelLines",
    "ChangeTrack",
    "ConvertQuote",
    "CreateQuote",
    "EditOrder",
    "LineDraft",
    "OrderDraft",
    "PlaceOrder",
    "TransitionOrder",
    "TransitionQuote",
]
