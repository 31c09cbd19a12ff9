"""The catalogue and the parties: channels, products, accounts and contracted pricelists."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Any


class ChannelType(StrEnum):
    RETAIL = "retail"  # a shop till or store counter (POS)
    ECOMMERCE = "ecommerce"  # the business's own web shop (Shopify, WooCommerce, ...)
    B2B = "b2b"  # trade customers: portal, EDI, spreadsheets, sales reps
    MARKETPLACE = "marketplace"  # a third party's store front selling for the business
    INTEGRATION = "integration"  # another system pushing orders (ERP, custom app, sensors)


class OnNoMatch(StrEnum):
    GUEST = "guest"  # keep the customer's details on the order, no account
    CREATE = "create"  # create a new account from the customer's details
    REJECT = "reject"  # refuse the order: this channel only takes known accounts


class PricePolicy(StrEnum):
    CATALOG = "catalog"  # price every line from the contract, else the product's list price
    TRUST = "trust"  # keep the prices the channel sends; price only lines that have none


#: Keys an incoming customer can be matched by; ``property:<name>`` matches a custom property.
MATCH_KEYS = ("email", "code", "phone", "erp_ref")
DEFAULT_MATCH_KEYS = ("email", "code", "phone")


@dataclass(frozen=True)
class ChannelSettings:
    """A channel's intake settings (the non-secret part)."""

    match_keys: tuple[str, ...] = DEFAULT_MATCH_KEYS
    on_no_match: OnNoMatch = OnNoMatch.GUEST
    price_policy: PricePolicy = PricePolicy.CATALOG
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Channel:
    code: str
    name: str
    type: ChannelType
    adapter: str
    currency: str
    settings: ChannelSettings = field(default_factory=ChannelSettings)
    secrets: dict[str, str] = field(default_factory=dict)
    active: bool = True
    id: int | None = None


@dataclass(frozen=True)
class Dimensions:
    """Outer size in centimetres."""

    length: Decimal
    width: Decimal
    height: Decimal


@dataclass
class Product:
    sku: str
    name: str
    category: str | None = None
    tags: tuple[str, ...] = ()
    dimensions: Dimensions | None = None
    weight_kg: Decimal | None = None
    prices: dict[str, Decimal] = field(default_factory=dict)  # currency -> unit price
    active: bool = True
    id: int | None = None
    #: a pricing mechanism other than a simple unit price: {"mechanism": "slabs", "currencies":
    #: {"EUR": {...its configuration...}}}; when set it prices the product, not ``prices``
    pricing: dict[str, Any] | None = None
    tax_class: str | None = None  # "standard", "reduced", "zero" ...: picks the tax rate with the region


class PricelistKind(StrEnum):
    FIXED = "fixed"  # a fixed unit price per SKU; SKUs not listed fall back to the list price
    PERCENT_OFF = "percent_off"  # a percentage off the product's list price, plus any fixed items


@dataclass
class Pricelist:
    code: str
    name: str
    currency: str
    kind: PricelistKind = PricelistKind.FIXED
    percent_off: Decimal = Decimal(0)
    items: dict[str, Decimal] = field(default_factory=dict)  # sku -> unit price
    valid_from: date | None = None
    valid_to: date | None = None
    id: int | None = None
    #: sku -> the list's own mechanism for it, e.g. {"mechanism": "slabs", "mode": "volume", "bands": [...]}
    item_pricing: dict[str, dict[str, Any]] = field(default_factory=dict)
    channel_code: str | None = None  # set: the channel's list (for orders of that channel in its currency)

    def in_force(self, on: date) -> bool:
        return (self.valid_from is None or self.valid_from <= on) and (
            self.valid_to is None or on <= self.valid_to
        )


@dataclass
class Account:
    code: str
    name: str
    email: str | None = None
    phone: str | None = None
    erp_ref: str | None = None
    properties: dict[str, Any] = field(default_factory=dict)
    tier: str | None = None
    region: str | None = None
    currency: str | None = None
    pricelist_code: str | None = None
    credit_limit: Decimal | None = None
    payment_terms: str | None = None
    id: int | None = None


__all__ = [
    "DEFAULT_MATCH_KEYS",
    "MATCH_KEYS",
    "Account",
    "Channel",
    "ChannelSettings",
    "ChannelType",
    "Dimensions",
    "OnNoMatch",
    "PricePolicy",
    "Pricelist",
    "PricelistKind",
    "Product",
]
