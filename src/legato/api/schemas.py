"""Request and response shapes of the REST API (pydantic v2).

Money and quantities travel as decimal strings ("12.50") in responses and are
accepted as strings or JSON numbers in requests; they are never floats inside.
Every text field refuses control characters (a NUL byte would be a silent data loss
on PostgreSQL) and every number is bounded, so no input reaches the database that it
cannot store.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
)

from legato.domain.catalog import ChannelType, OnNoMatch, PricelistKind, PricePolicy
from legato.domain.lifecycle import FulfilmentStatus, InvoiceStatus, OrderStatus, PaymentStatus
from legato.domain.quote import QuoteStatus
from legato.intake.canonical import (
    AddressIn as AddressIn,
)
from legato.intake.canonical import (
    Amount as Amount,
)
from legato.intake.canonical import (
    Code as Code,
)
from legato.intake.canonical import (
    Currency as Currency,
)
from legato.intake.canonical import (
    CustomerIn as CustomerIn,
)
from legato.intake.canonical import (
    DraftIn as DraftIn,
)
from legato.intake.canonical import (
    LineIn as LineIn,
)
from legato.intake.canonical import (
    Measure as Measure,
)
from legato.intake.canonical import (
    OrderIn as OrderIn,
)
from legato.intake.canonical import (
    Priority as Priority,
)
from legato.intake.canonical import (
    Properties as Properties,
)
from legato.intake.canonical import (
    Quantity as Quantity,
)
from legato.intake.canonical import (
    Rate as Rate,
)
from legato.intake.canonical import (
    Scalar as Scalar,
)
from legato.intake.canonical import (
    Sku as Sku,
)
from legato.intake.canonical import (
    Strict as Strict,
)
from legato.intake.canonical import (
    Tag as Tag,
)
from legato.intake.canonical import (
    Text as Text,
)
from legato.intake.canonical import (
    _no_control as _no_control,
)


class QuoteIn(DraftIn):
    valid_until: date | None = None


class TransitionIn(Strict):
    to: OrderStatus
    reason: Text(1000) | None = None  # type: ignore[valid-type]


LineNo = Annotated[int, Field(ge=1, le=100_000)]


class CancelLinesIn(Strict):
    lines: list[LineNo] = Field(
        min_length=1,
        max_length=1000,
        description="the line numbers to cancel; lines already cancelled are left as they are",
    )
    reason: Text(1000) | None = None  # type: ignore[valid-type]


class TrackIn(Strict):
    track: Literal["payment", "fulfilment", "invoice"]
    to: PaymentStatus | FulfilmentStatus | InvoiceStatus
    reason: Text(1000) | None = None  # type: ignore[valid-type]


class OrderPatch(Strict):
    priority: Priority | None = None
    tags: Annotated[list[Tag], Field(max_length=50)] | None = None
    notes: Text(5000) | None = None  # type: ignore[valid-type]
    billing_address: AddressIn | None = None
    shipping_address: AddressIn | None = None
    reason: Text(1000) | None = None  # type: ignore[valid-type]


class QuoteTransitionIn(Strict):
    to: Literal["draft", "sent", "accepted", "declined", "expired"]
    reason: Text(1000) | None = None  # type: ignore[valid-type]


# --- responses -------------------------------------------------------------------


class LineOut(BaseModel):
    line_no: int
    sku: str
    name: str
    quantity: Decimal
    unit_price: Decimal
    price_source: str = Field(
        description="channel, contract:<CODE>, channel_list:<CODE>, product or converted:<BASE CURRENCY>"
    )
    discount: Decimal
    tax_rate: Decimal
    amount: Decimal
    tax: Decimal
    total: Decimal
    status: str
    detail: dict[str, Any] = Field(
        default_factory=dict,
        description="how the price was made: list, mechanism, rule, inputs, parts (the breakdown), fx, tax, "
        "discounts",
    )


class TotalsOut(BaseModel):
    subtotal: Decimal
    discount: Decimal
    shipping: Decimal
    tax: Decimal
    grand_total: Decimal
    points: Decimal = Field(Decimal(0), description="loyalty points redeemed, as money (paid like a tender)")


class CustomerOut(BaseModel):
    name: str | None = None
    email: str | None = None
    phone: str | None = None
    code: str | None = None
    erp_ref: str | None = None


class TimelineOut(BaseModel):
    at: datetime
    actor: str
    kind: str
    reason: str | None = None
    from_value: str | None = Field(None, alias="from")
    to_value: str | None = Field(None, alias="to")
    data: dict[str, Any] = Field(default_factory=dict)

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)


class OrderOut(BaseModel):
    id: int
    number: str
    channel: str
    external_reference: str | None
    account: str | None
    customer: CustomerOut
    currency: str
    status: OrderStatus
    held_from: OrderStatus | None
    allowed_transitions: list[OrderStatus]
    payment_status: PaymentStatus
    fulfilment_status: FulfilmentStatus
    invoice_status: InvoiceStatus
    priority: int
    tags: list[str]
    notes: str | None
    billing_address: dict[str, Any] | None
    shipping_address: dict[str, Any] | None
    lines: list[LineOut]
    totals: TotalsOut
    pricing: dict[str, Any] = Field(
        default_factory=dict,
        description="prices_include_tax, adjustments (promotion, voucher, points: for finance), "
        "fx (the rates used)",
    )
    quote_id: int | None
    inbox_id: int | None = Field(description="the inbox entry holding the original payload")
    created_at: datetime
    updated_at: datetime
    timeline: list[TimelineOut]


class OrderSummaryOut(BaseModel):
    id: int
    number: str
    channel: str
    channel_type: str
    external_reference: str | None
    account: str | None
    customer_name: str | None
    customer_email: str | None
    currency: str
    grand_total: Decimal
    status: OrderStatus
    payment_status: PaymentStatus
    fulfilment_status: FulfilmentStatus
    invoice_status: InvoiceStatus
    priority: int
    created_at: datetime
    updated_at: datetime


class OrderPage(BaseModel):
    items: list[OrderSummaryOut]
    next_cursor: str | None = Field(description="pass as ?cursor= for the next page; null on the last page")


class QuoteOut(BaseModel):
    id: int
    number: str
    channel: str
    account: str | None
    customer: CustomerOut
    currency: str
    status: QuoteStatus
    lines: list[LineOut]
    totals: TotalsOut
    pricing: dict[str, Any] = Field(
        default_factory=dict,
        description="prices_include_tax, adjustments (promotion, voucher, points: for finance), "
        "fx (the rates used)",
    )
    valid_until: date | None
    notes: str | None
    billing_address: dict[str, Any] | None
    shipping_address: dict[str, Any] | None
    order_id: int | None
    order_number: str | None
    created_at: datetime
    updated_at: datetime


class QuoteSummaryOut(BaseModel):
    id: int
    number: str
    channel: str
    account: str | None
    customer_name: str | None
    currency: str
    grand_total: Decimal
    status: QuoteStatus
    valid_until: date | None
    order_id: int | None
    created_at: datetime


class QuotePage(BaseModel):
    items: list[QuoteSummaryOut]
    next_cursor: str | None


class ConversionOut(BaseModel):
    quote: QuoteOut
    order: OrderOut


class ChannelSettingsIn(BaseModel):
    """A channel's intake settings. Besides the fields below, an adapter reads its own
    settings from here (``base_url``, ``phone_number_id`` ...: see docs/channels/)."""

    model_config = ConfigDict(extra="allow")

    match_keys: Annotated[
        list[Annotated[str, StringConstraints(min_length=1, max_length=73)]],
        Field(min_length=1, max_length=10),
    ] = Field(
        default_factory=lambda: ["email", "code", "phone"],
        description="email, code, phone, erp_ref or property:<name>, tried in this order",
    )
    on_no_match: OnNoMatch = OnNoMatch.GUEST
    price_policy: PricePolicy = PricePolicy.CATALOG
    sku_map: Annotated[
        dict[Annotated[str, StringConstraints(min_length=1, max_length=200)], Sku], Field(max_length=50_000)
    ] = Field(default_factory=dict, description="the channel's SKU (or product id) -> the catalogue SKU")
    unknown_sku: Literal["quarantine", "review"] = Field(
        "quarantine",
        description="an unmapped SKU quarantines the delivery, or becomes a line held for review",
    )


class ChannelIn(Strict):
    code: Code
    name: Text(200, 1)  # type: ignore[valid-type]
    type: ChannelType
    adapter: Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$")] = "rest"
    currency: Currency
    settings: ChannelSettingsIn = Field(default_factory=ChannelSettingsIn)
    secrets: Annotated[
        dict[
            Annotated[str, StringConstraints(min_length=1, max_length=64)],
            Annotated[str, StringConstraints(max_length=4096)],
        ],
        Field(max_length=20),
    ] = Field(default_factory=dict, description="write-only: stored encrypted, shown masked, never returned")
    active: bool = True


class ChannelOut(BaseModel):
    code: str
    name: str
    type: ChannelType
    adapter: str
    currency: str
    settings: dict[str, Any]
    secrets: dict[str, str] = Field(
        description="names of the secrets that are set; values are never returned"
    )
    active: bool


class ChannelPage(BaseModel):
    items: list[ChannelOut]
    next_cursor: str | None


class DimensionsIn(Strict):
    length: Measure
    width: Measure
    height: Measure


class PricingIn(Strict):
    mechanism: Annotated[str, StringConstraints(pattern=r"^[a-z_]{1,40}$")] = Field(
        description="simple, slabs, rental, distance, zone_weight, usage or rate_card (docs/pricing/)"
    )
    currencies: Annotated[dict[Currency, dict[str, Any]], Field(min_length=1, max_length=50)] = Field(
        description="the mechanism's configuration per currency; amounts as decimal strings"
    )


class ProductIn(Strict):
    sku: Sku
    name: Text(300, 1)  # type: ignore[valid-type]
    category: Text(120) | None = None  # type: ignore[valid-type]
    tags: Annotated[list[Tag], Field(max_length=50)] = Field(default_factory=list)
    dimensions: DimensionsIn | None = Field(None, description="centimetres")
    weight_kg: Measure | None = None
    prices: Annotated[dict[Currency, Amount], Field(max_length=200)] = Field(default_factory=dict)
    active: bool = True
    pricing: PricingIn | None = Field(
        None, description="a pricing mechanism other than a simple unit price (then it prices the product)"
    )
    tax_class: Text(40) | None = Field(None, description="standard, reduced, zero ...")  # type: ignore[valid-type]


class ProductOut(BaseModel):
    sku: str
    name: str
    category: str | None
    tags: list[str]
    dimensions: dict[str, Decimal] | None
    weight_kg: Decimal | None
    prices: dict[str, Decimal]
    active: bool
    pricing: dict[str, Any] | None = None
    tax_class: str | None = None


class ProductPage(BaseModel):
    items: list[ProductOut]
    next_cursor: str | None


class AccountIn(Strict):
    code: Code
    name: Text(200, 1)  # type: ignore[valid-type]
    email: Text(254) | None = None  # type: ignore[valid-type]
    phone: Text(32) | None = None  # type: ignore[valid-type]
    erp_ref: Text(64) | None = None  # type: ignore[valid-type]
    properties: Properties = Field(default_factory=dict)
    tier: Text(40) | None = None  # type: ignore[valid-type]
    region: Text(40) | None = None  # type: ignore[valid-type]
    currency: Currency | None = None
    pricelist: Code | None = Field(None, description="code of the contracted pricelist")
    credit_limit: Amount | None = None
    payment_terms: Text(40) | None = None  # type: ignore[valid-type]


class AccountOut(BaseModel):
    code: str
    name: str
    email: str | None
    phone: str | None
    erp_ref: str | None
    properties: dict[str, Any]
    tier: str | None
    region: str | None
    currency: str | None
    pricelist: str | None
    credit_limit: Decimal | None
    payment_terms: str | None


class AccountPage(BaseModel):
    items: list[AccountOut]
    next_cursor: str | None


class PricelistIn(Strict):
    code: Code
    name: Text(200, 1)  # type: ignore[valid-type]
    currency: Currency
    kind: PricelistKind = PricelistKind.FIXED
    percent_off: Annotated[Decimal, Field(ge=0, le=100, max_digits=7, decimal_places=4)] = Decimal(0)
    items: Annotated[dict[Sku, Amount], Field(max_length=10000)] = Field(default_factory=dict)
    valid_from: date | None = None
    valid_to: date | None = None
    channel: Code | None = Field(
        None, description="set: this is the channel's list (its orders in its currency)"
    )
    item_pricing: Annotated[dict[Sku, dict[str, Any]], Field(max_length=10000)] = Field(
        default_factory=dict,
        description="the list's own mechanism per SKU, e.g. "
        '{"mechanism": "slabs", "mode": "volume", "bands": [...]}',
    )


class PricelistOut(BaseModel):
    code: str
    name: str
    currency: str
    kind: PricelistKind
    percent_off: Decimal
    items: dict[str, Decimal]
    valid_from: date | None
    valid_to: date | None
    channel: str | None = None
    item_pricing: dict[str, dict[str, Any]] = Field(default_factory=dict)


class PricelistPage(BaseModel):
    items: list[PricelistOut]
    next_cursor: str | None


class Problem(BaseModel):
    """RFC 9457 problem details, with Legato's stable ``code`` and field ``errors``."""

    type: str
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    code: str
    request_id: str | None = None
    errors: list[dict[str, Any]] = Field(default_factory=list)
    model_config = ConfigDict(extra="allow")
