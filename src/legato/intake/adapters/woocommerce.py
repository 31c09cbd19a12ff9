"""WooCommerce: order webhooks (``order.created``, ``order.updated``) and the save-time ping.

WooCommerce posts the order exactly as its REST API (v3) returns it, signed with the
webhook's secret: ``X-WC-Webhook-Signature`` is base64(HMAC-SHA256(secret, raw body)).
The topic, resource, event, webhook id and delivery id travel in ``X-WC-Webhook-*``
headers. When a webhook is saved, WooCommerce first posts an unsigned form body
``webhook_id=NN`` and needs a 200 answer before it activates the webhook: that ping is
answered by ``handshake`` and creates nothing.

What a delivery means:

- ``order.created``: place the order (paid when WooCommerce says so: ``date_paid`` is set
  or the status is ``processing`` / ``completed``); one already ``cancelled`` or
  ``refunded`` is placed and cancelled, so it is on record.
- ``order.updated``: ``cancelled`` / ``refunded`` / ``failed`` cancels the order; any other
  status places it if it is not there yet (an update can overtake its creation, and the
  payment usually arrives with an update) and applies the addresses and customer note.
- ``checkout-draft`` orders (a checkout still in progress) and every other topic are
  ignored, and kept.

Money: WooCommerce's line ``subtotal`` and ``total`` exclude tax whether or not the shop
enters prices with tax, so the unit price is ``subtotal / quantity`` (before coupons), the
line discount is ``subtotal - total`` and the tax rate is the one that gives the line's
``total_tax`` (the order's ``tax_lines[].rate_percent`` when it does, else the ratio).
Legato's totals then add up to WooCommerce's ``total`` to the cent.
"""

from __future__ import annotations

import base64
import html
import json
import re
from collections.abc import Mapping, Sequence
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, ClassVar

from legato.domain.catalog import Channel
from legato.domain.commands import LineDraft, OrderDraft
from legato.domain.errors import FieldIssue
from legato.domain.matching import CustomerRef
from legato.domain.money import is_currency, minor_units, round_amount
from legato.domain.order import Address
from legato.intake.base import (
    CancelOrder,
    Delivery,
    Ignore,
    Intent,
    Outbound,
    Placed,
    PlaceDraft,
    Reply,
    SignatureInvalid,
    Unparseable,
    UpdateOrder,
    decimal_at,
    hmac_sha256,
    read_lines,
    require_secret,
    same,
    text_at,
    unparseable,
)

SIGNATURE_HEADER = "X-WC-Webhook-Signature"
TOPIC_HEADER = "X-WC-Webhook-Topic"
DELIVERY_HEADERS = ("X-WC-Webhook-Delivery-ID", "X-WC-Delivery-ID")  # the code's name, the docs' name
SECRET = "webhook_secret"  # the channel secret: the webhook's "Secret" field in WooCommerce

#: Order statuses, as WooCommerce names them, and what they mean here.
PAID_STATUSES = frozenset({"processing", "completed"})  # payment received
CANCEL_STATUSES = frozenset({"cancelled", "refunded", "failed"})  # the order is off
DRAFT_STATUSES = frozenset({"checkout-draft"})  # a block checkout still in progress: not an order yet
FEE_SKU = "fee"  # the channel SKU a fee line arrives as (map it to a service product)

MAX_QUANTITY = Decimal(1_000_000)
MAX_AMOUNT = Decimal(10) ** 12
RATE_PLACES = Decimal("0.000001")  # tax rates and derived unit prices: six decimals at most
_PING = re.compile(rb"^webhook_id=\d+$")

_ADDRESS_FIELDS = {
    "company": "company",
    "line1": "address_1",
    "line2": "address_2",
    "city": "city",
    "region": "state",
    "postcode": "postcode",
    "country": "country",
    "phone": "phone",
    "email": "email",
}


def is_ping(delivery: Delivery) -> bool:
    """WooCommerce's save-time test delivery: unsigned, form body ``webhook_id=NN``."""
    return delivery.header(SIGNATURE_HEADER) is None and bool(_PING.match(delivery.body.strip()))


def load_json(body: bytes) -> Any:
    """The body as JSON with exact decimals; Unparseable at ``$`` when it is not JSON."""
    try:
        return json.loads(body, parse_float=Decimal, parse_constant=_no_constant)
    except (ValueError, UnicodeDecodeError) as exc:
        raise unparseable("$", f"the body is not valid JSON: {exc}") from None


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


# --- figures ----------------------------------------------------------------------------


def amount_at(doc: Mapping[str, Any], key: str, path: str, *, default: Decimal | None = None) -> Decimal:
    """A non-negative, bounded money figure of the document."""
    value = decimal_at(doc, key, path, default=default)
    if not (Decimal(0) <= value < MAX_AMOUNT):
        raise unparseable(f"{path}.{key}", f"{key} must be between 0 and {MAX_AMOUNT}", str(value))
    return value


def quantity_at(doc: Mapping[str, Any], key: str, path: str) -> Decimal:
    value = decimal_at(doc, key, path)
    if not (Decimal(0) < value <= MAX_QUANTITY):
        raise unparseable(f"{path}.{key}", f"{key} must be above 0 and at most {MAX_QUANTITY}", str(value))
    if value != value.quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP):
        raise unparseable(f"{path}.{key}", f"{key} has more than 4 decimal places", str(value))
    return value


def unit_price_for(gross: Decimal, quantity: Decimal, currency: str) -> Decimal:
    """``gross / quantity`` in whole minor units when that is exact, else to six places."""
    unit = gross / quantity
    cents = unit.quantize(Decimal(1).scaleb(-minor_units(currency)), rounding=ROUND_HALF_UP)
    if cents * quantity == gross:
        return cents
    return unit.quantize(RATE_PLACES, rounding=ROUND_HALF_UP)


def fit_rate(net: Decimal, tax: Decimal, currency: str, candidates: Sequence[Decimal] = ()) -> Decimal:
    """The tax rate that turns ``net`` into ``tax`` the way Legato rounds: the first of the
    documented ``candidates`` that does, else the ratio (to six decimals)."""
    tax = round_amount(tax, currency)
    if tax == 0:
        return Decimal(0)
    for rate in candidates:
        if Decimal(0) <= rate <= 1 and round_amount(net * rate, currency) == tax:
            return rate
    if net <= 0:
        return Decimal(0)
    ratio = (tax / net).quantize(RATE_PLACES, rounding=ROUND_HALF_UP)
    for step in (0, 1, -1, 2, -2):
        rate = ratio + step * RATE_PLACES
        if Decimal(0) <= rate <= 1 and round_amount(net * rate, currency) == tax:
            return rate
    return min(max(ratio, Decimal(0)), Decimal(1))


def fit_line(gross: Decimal, net: Decimal, quantity: Decimal, currency: str) -> tuple[Decimal, Decimal]:
    """(unit price, discount) so that quantity x unit price, rounded, less the discount
    is exactly ``net`` (what the platform charged before tax)."""
    gross = max(gross, net)
    unit = unit_price_for(gross, quantity, currency)
    amount = round_amount(quantity * unit, currency)
    return unit, max(amount - net, Decimal(0))


# --- the adapter ----------------------------------------------------------------------------


class WooCommerceAdapter:
    name: ClassVar[str] = "woocommerce"
    #: a stored but quarantined delivery is answered 202:
    #: WooCommerce disables a webhook after 5 consecutive non-2xx answers
    quarantine_status: ClassVar[int] = 202

    def handshake(self, delivery: Delivery, channel: Channel) -> Reply | None:
        return Reply(200, b"pong") if is_ping(delivery) else None

    def verify(self, delivery: Delivery, channel: Channel) -> None:
        if is_ping(delivery):
            return  # answered by handshake; it carries nothing to act on
        secret = require_secret(channel, SECRET)
        presented = delivery.header(SIGNATURE_HEADER)
        if presented is None:
            raise SignatureInvalid(f"the {SIGNATURE_HEADER} header is missing")
        expected = base64.b64encode(hmac_sha256(secret, delivery.body)).decode()
        if not same(expected, presented.strip()):
            raise SignatureInvalid(f"the {SIGNATURE_HEADER} header does not match the body")

    def describe(self, delivery: Delivery) -> tuple[str | None, str | None]:
        if is_ping(delivery):
            return "ping", None
        delivery_id = next((v for h in DELIVERY_HEADERS if (v := delivery.header(h))), None)
        return delivery.header(TOPIC_HEADER), delivery_id

    def parse(self, delivery: Delivery, channel: Channel) -> list[Intent]:
        if is_ping(delivery):
            return [Ignore("WooCommerce webhook ping")]
        topic = (delivery.header(TOPIC_HEADER) or "").strip()
        if topic not in ("order.created", "order.updated"):
            return [Ignore(f"topic {topic or '(none)'} is not an order creation or update")]
        doc = load_json(delivery.body)
        if not isinstance(doc, dict):
            raise unparseable("$", "the order must be a JSON object", type(doc).__name__)
        reference = _reference(doc)
        status = (text_at(doc, "status") or "").lower()
        if status in DRAFT_STATUSES:
            return [Ignore(f"order {reference} is a checkout in progress ({status})")]
        if topic == "order.updated" and status in CANCEL_STATUSES:
            return [CancelOrder(reference, f"WooCommerce order {reference} is {status}")]
        draft = order_draft(doc, channel)
        paid = doc.get("date_paid") not in (None, "") or status in PAID_STATUSES
        intents: list[Intent] = [PlaceDraft(draft, paid=paid)]
        if topic == "order.created":
            if status in ("cancelled", "refunded"):
                intents.append(CancelOrder(reference, f"WooCommerce order {reference} is {status}"))
            return intents
        changes: dict[str, Any] = {
            k: v
            for k, v in (
                ("billing_address", draft.billing_address),
                ("shipping_address", draft.shipping_address),
                ("notes", draft.notes),
            )
            if v is not None
        }
        intents.append(UpdateOrder(reference, changes))
        return intents

    def acknowledge(self, delivery: Delivery, channel: Channel, placed: Placed) -> Outbound | None:
        return None


def _reference(doc: Mapping[str, Any]) -> str:
    raw = doc.get("id")
    if isinstance(raw, bool) or not isinstance(raw, int | str) or not str(raw).strip():
        raise unparseable("$.id", "id (the WooCommerce order id) is missing", raw)
    return str(raw).strip()


# --- the order ------------------------------------------------------------------------------


def order_draft(doc: Mapping[str, Any], channel: Channel) -> OrderDraft:
    """The canonical draft of one WooCommerce order (REST API v3 shape)."""
    reference = _reference(doc)
    currency = _currency(doc, channel)
    rates = _rates(doc)
    lines, issues = read_lines(
        doc,
        [
            ("line_items", lambda item, path: _product_line(item, path, currency, rates)),
            ("fee_lines", lambda item, path: _fee_line(item, path, currency, rates)),
        ],
        "$",
    )
    if not issues and not lines:
        issues.append(FieldIssue("$.line_items", "the order has no line items", "unparseable"))
    try:
        shipping, shipping_rate = _shipping(doc, currency, rates)
    except Unparseable as exc:
        issues.extend(exc.issues)
        shipping, shipping_rate = Decimal(0), Decimal(0)
    if issues:
        message = issues[0].message if len(issues) == 1 else f"{len(issues)} problems in the order"
        raise Unparseable(message, issues=issues)
    billing = _address(doc.get("billing"), "$.billing")
    shipping_address = _address(doc.get("shipping"), "$.shipping")
    return OrderDraft(
        channel_code=channel.code,
        lines=tuple(lines),
        external_reference=reference,
        currency=currency,
        customer=_customer(doc),
        billing_address=billing,
        shipping_address=shipping_address,
        shipping=shipping,
        shipping_tax_rate=shipping_rate,
        notes=text_at(doc, "customer_note"),
    )


def _currency(doc: Mapping[str, Any], channel: Channel) -> str:
    raw = doc.get("currency")
    if raw is None or raw == "":
        return channel.currency
    if not isinstance(raw, str) or not is_currency(raw.strip().upper()):
        raise unparseable("$.currency", f"{raw!r} is not an ISO 4217 currency code", raw)
    return raw.strip().upper()


def _rates(doc: Mapping[str, Any]) -> dict[str, tuple[Decimal, bool]]:
    """rate id -> (rate as a fraction, compound?) from ``tax_lines[].rate_percent``."""
    found: dict[str, tuple[Decimal, bool]] = {}
    lines = doc.get("tax_lines")
    if not isinstance(lines, list):
        return found
    for i, t in enumerate(lines):
        if not isinstance(t, dict) or t.get("rate_percent") in (None, ""):
            continue
        pct = decimal_at(t, "rate_percent", f"$.tax_lines[{i}]")
        found[str(t.get("rate_id"))] = (pct / 100, bool(t.get("compound")))
    return found


def _candidates(item: Mapping[str, Any], rates: Mapping[str, tuple[Decimal, bool]]) -> list[Decimal]:
    """The documented rate of an item: the sum of its (non-compound) taxes' rates."""
    taxes = item.get("taxes")
    if not isinstance(taxes, list) or not taxes:
        return []
    known = [rates.get(str(t.get("id"))) for t in taxes if isinstance(t, dict)]
    if any(r is None or r[1] for r in known):
        return []
    return [sum((r[0] for r in known if r is not None), Decimal(0))]


def _product_line(
    item: Any, path: str, currency: str, rates: Mapping[str, tuple[Decimal, bool]]
) -> LineDraft:
    if not isinstance(item, dict):
        raise unparseable(path, "a line item must be an object", type(item).__name__)
    quantity = quantity_at(item, "quantity", path)
    total = amount_at(item, "total", path)
    subtotal = amount_at(item, "subtotal", path, default=total)
    tax = amount_at(item, "total_tax", path, default=Decimal(0))
    unit, discount = fit_line(subtotal, total, quantity, currency)
    return LineDraft(
        sku=_sku(item, path),
        quantity=quantity,
        unit_price=unit,
        name=_name(item),
        discount=discount,
        tax_rate=fit_rate(total, tax, currency, _candidates(item, rates)),
    )


def _fee_line(
    item: Any, path: str, currency: str, rates: Mapping[str, tuple[Decimal, bool]]
) -> LineDraft | None:
    if not isinstance(item, dict):
        raise unparseable(path, "a fee line must be an object", type(item).__name__)
    total = decimal_at(item, "total", path)
    if total < 0:
        message = "a negative fee (a discount given as a fee) is not supported"
        raise unparseable(f"{path}.total", message, str(total))
    if total == 0:
        return None
    total = amount_at(item, "total", path)
    tax = amount_at(item, "total_tax", path, default=Decimal(0))
    return LineDraft(
        sku=FEE_SKU,
        quantity=Decimal(1),
        unit_price=total,
        name=_name(item) or "Fee",
        tax_rate=fit_rate(total, tax, currency, _candidates(item, rates)),
    )


def _sku(item: Mapping[str, Any], path: str) -> str:
    sku = text_at(item, "sku")
    if sku:
        return sku
    for key, prefix in (("variation_id", "variation"), ("product_id", "product")):
        raw = item.get(key)
        if isinstance(raw, int) and not isinstance(raw, bool) and raw > 0:
            return f"{prefix}:{raw}"
        if isinstance(raw, str) and raw.strip().isdigit() and int(raw) > 0:
            return f"{prefix}:{int(raw)}"
    raise unparseable(f"{path}.sku", "the line has no SKU and no product id", item.get("sku"))


def _name(item: Mapping[str, Any]) -> str | None:
    name = text_at(item, "name")
    return html.unescape(name) if name else None


def _shipping(
    doc: Mapping[str, Any], currency: str, rates: Mapping[str, tuple[Decimal, bool]]
) -> tuple[Decimal, Decimal]:
    shipping = amount_at(doc, "shipping_total", "$", default=Decimal(0))
    tax = amount_at(doc, "shipping_tax", "$", default=Decimal(0))
    candidates: list[Decimal] = []
    lines = doc.get("shipping_lines")
    if isinstance(lines, list):
        for item in lines:
            if isinstance(item, dict):
                candidates.extend(_candidates(item, rates))
    return shipping, fit_rate(shipping, tax, currency, candidates)


def _customer(doc: Mapping[str, Any]) -> CustomerRef | None:
    raw = doc.get("billing")
    billing: Mapping[str, Any] = raw if isinstance(raw, dict) else {}
    properties: dict[str, Any] = {}
    customer_id = doc.get("customer_id")
    if isinstance(customer_id, int) and not isinstance(customer_id, bool) and customer_id > 0:
        properties["woocommerce_customer_id"] = str(customer_id)
    ref = CustomerRef(
        name=_full_name(billing) or text_at(billing, "company"),
        email=text_at(billing, "email"),
        phone=text_at(billing, "phone"),
        properties=properties,
    )
    return ref if (ref.name or ref.email or ref.phone or properties) else None


def _full_name(doc: Mapping[str, Any]) -> str | None:
    parts = [text_at(doc, "first_name"), text_at(doc, "last_name")]
    name = " ".join(p for p in parts if p)
    return name or None


def _address(doc: Any, path: str) -> Address | None:
    if doc is None or doc == []:  # PHP serialises an empty address as []
        return None
    if not isinstance(doc, dict):
        raise unparseable(path, "an address must be an object", type(doc).__name__)
    values = {ours: text_at(doc, theirs) for ours, theirs in _ADDRESS_FIELDS.items()}
    values["name"] = _full_name(doc)
    country = values.get("country")
    if country is not None:
        if not (len(country) == 2 and country.isalpha()):
            raise unparseable(f"{path}.country", "country must be a two-letter ISO 3166 code", country)
        values["country"] = country.upper()
    present = {k: v for k, v in values.items() if v}
    return Address(**present) if present else None


ADAPTER = WooCommerceAdapter()

__all__ = ["ADAPTER", "WooCommerceAdapter", "fit_line", "fit_rate", "is_ping", "load_json", "order_draft"]
