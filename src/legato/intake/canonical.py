"""The canonical order: the JSON every channel can send, and what adapters normalise into.

It is the body of ``POST /api/v1/orders`` and of the ``rest`` and ``manual`` channels'
``POST /intake/{code}``. Money and quantities are accepted as strings or JSON numbers
and become Decimals; every text refuses control characters and every number is
bounded, so no input reaches the database that it cannot store.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    StringConstraints,
    WithJsonSchema,
)

from legato.domain.commands import LineDraft, OrderDraft
from legato.domain.lifecycle import OrderStatus
from legato.domain.matching import CustomerRef
from legato.domain.order import Address


def _no_control(value: str) -> str:
    if any(ord(ch) < 32 and ch not in "\t\n\r" for ch in value):
        raise ValueError("must not contain control characters")
    return value


def Text(max_length: int, min_length: int = 0) -> Any:
    return Annotated[
        str, StringConstraints(min_length=min_length, max_length=max_length), AfterValidator(_no_control)
    ]


Code = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$")]
Sku = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-/]{0,63}$")]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
Amount = Annotated[Decimal, Field(ge=0, max_digits=18, decimal_places=6)]
Quantity = Annotated[Decimal, Field(gt=0, le=1_000_000, max_digits=12, decimal_places=4)]
Rate = Annotated[Decimal, Field(ge=0, le=1, max_digits=8, decimal_places=6)]
Measure = Annotated[Decimal, Field(ge=0, max_digits=12, decimal_places=3)]


def _scalar(value: Any) -> str | bool | int:
    """A custom property's value: a short text, a whole number or a flag, checked as one
    type so a bad value is reported once, at its own path."""
    if isinstance(value, bool | int) and not isinstance(value, float):
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 2**63:
            raise ValueError("must be a whole number within 64 bits")
        return value
    if isinstance(value, str):
        if len(value) > 500:
            raise ValueError("must be at most 500 characters")
        return _no_control(value)
    raise ValueError("must be a string, a whole number or a boolean")


Scalar = Annotated[
    Any,
    PlainValidator(_scalar),
    WithJsonSchema(
        {"anyOf": [{"type": "string", "maxLength": 500}, {"type": "integer"}, {"type": "boolean"}]}
    ),
]
Tag = Annotated[str, StringConstraints(min_length=1, max_length=64), AfterValidator(_no_control)]
Properties = Annotated[
    dict[Annotated[str, StringConstraints(min_length=1, max_length=64)], Scalar], Field(max_length=50)
]
Priority = Annotated[int, Field(ge=-1000, le=1000)]
InputName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,40}(\.[A-Za-z0-9_]{1,40})?$")]


def _input_value(value: Any) -> str:
    """A pricing input as text: a string, or a JSON number read as the decimal it spells."""
    if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
        raise ValueError("must be a string or a number")
    text = str(value) if not isinstance(value, str) else value
    if len(text) > 100:
        raise ValueError("must be at most 100 characters")
    return _no_control(text)


InputValue = Annotated[
    str,
    PlainValidator(_input_value),
    WithJsonSchema({"anyOf": [{"type": "string", "maxLength": 100}, {"type": "number"}]}),
]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AddressIn(Strict):
    name: Text(200) | None = None  # type: ignore[valid-type]
    company: Text(200) | None = None  # type: ignore[valid-type]
    line1: Text(300) | None = None  # type: ignore[valid-type]
    line2: Text(300) | None = None  # type: ignore[valid-type]
    city: Text(120) | None = None  # type: ignore[valid-type]
    region: Text(120) | None = None  # type: ignore[valid-type]
    postcode: Text(20) | None = None  # type: ignore[valid-type]
    country: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")] | None = None
    phone: Text(32) | None = None  # type: ignore[valid-type]
    email: Text(254) | None = None  # type: ignore[valid-type]
    latitude: Annotated[Decimal, Field(ge=-90, le=90, max_digits=9, decimal_places=6)] | None = None
    longitude: Annotated[Decimal, Field(ge=-180, le=180, max_digits=10, decimal_places=6)] | None = None
    pickup_location: Text(32) | None = Field(  # type: ignore[valid-type]
        None, description="click & collect: the code of the store the customer collects from"
    )


class CustomerIn(Strict):
    """How the order names its customer; the channel's matching keys decide which count."""

    name: Text(200) | None = None  # type: ignore[valid-type]
    email: Text(254) | None = None  # type: ignore[valid-type]
    phone: Text(32) | None = None  # type: ignore[valid-type]
    code: Text(40) | None = None  # type: ignore[valid-type]
    erp_ref: Text(64) | None = None  # type: ignore[valid-type]
    properties: Properties = Field(default_factory=dict)


class LineIn(Strict):
    sku: Sku
    quantity: Quantity
    unit_price: Amount | None = Field(None, description="used only by channels whose price policy is trust")
    name: Text(300) | None = None  # type: ignore[valid-type]
    discount: Amount = Decimal(0)
    tax_rate: Rate | None = Field(
        None, description="omit to take the rate from the tax rules (ship-to region x product tax class)"
    )
    inputs: Annotated[dict[InputName, InputValue], Field(max_length=50)] = Field(
        default_factory=dict,
        description="what the product's pricing mechanism needs beyond the quantity: start, end (ISO 8601 "
        "with offset), distance_km, origin, destination, weight_kg, length_cm/width_cm/height_cm, "
        "usage.<metric>, or any rate-card variable (service, zone ...); values are strings",
    )


class DraftIn(Strict):
    channel: Code
    currency: Currency | None = Field(None, description="default: the account's currency, else the channel's")
    customer: CustomerIn | None = None
    lines: Annotated[list[LineIn], Field(min_length=1, max_length=1000)]
    billing_address: AddressIn | None = None
    shipping_address: AddressIn | None = None
    shipping: Amount = Decimal(0)
    shipping_tax_rate: Rate = Decimal(0)
    notes: Text(5000) | None = None  # type: ignore[valid-type]
    voucher: Text(64, 1) | None = Field(None, description="a voucher code to redeem")  # type: ignore[valid-type]
    points: Annotated[int, Field(ge=0, le=100_000_000)] = Field(0, description="loyalty points to redeem")


class OrderIn(DraftIn):
    external_reference: Text(255, 1) | None = Field(  # type: ignore[valid-type]
        None, description="the channel's own order id; the same one twice returns the first order"
    )
    priority: Priority = 0
    tags: Annotated[list[Tag], Field(max_length=50)] = Field(default_factory=list)
    status: Literal["created", "pending_approval", "on_hold"] = "created"


def address(a: AddressIn | None) -> Address | None:
    if a is None:
        return None
    values = a.model_dump()
    for part in ("latitude", "longitude"):  # kept as exact decimal strings in the order's JSON
        if values[part] is not None:
            values[part] = str(values[part])
    return Address(**values)


def to_draft(body: DraftIn, **extra: Any) -> OrderDraft:
    """The domain's OrderDraft for a canonical body (an order or a quote)."""
    c = body.customer
    customer = CustomerRef(c.name, c.email, c.phone, c.code, c.erp_ref, dict(c.properties)) if c else None
    return OrderDraft(
        channel_code=body.channel,
        currency=body.currency,
        customer=customer,
        lines=tuple(
            LineDraft(ln.sku, ln.quantity, ln.unit_price, ln.name, ln.discount, ln.tax_rate, dict(ln.inputs))
            for ln in body.lines
        ),
        billing_address=address(body.billing_address),
        shipping_address=address(body.shipping_address),
        shipping=body.shipping,
        shipping_tax_rate=body.shipping_tax_rate,
        notes=body.notes,
        voucher=body.voucher,
        points=body.points,
        **extra,
    )


def order_draft(body: OrderIn) -> OrderDraft:
    return to_draft(body, external_reference=body.external_reference, priority=body.priority,
                    tags=tuple(body.tags), status=OrderStatus(body.status))  # fmt: skip
