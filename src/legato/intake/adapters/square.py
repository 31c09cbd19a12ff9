"""Square (the ``square`` and ``pos`` adapters): Orders API webhooks, ``order.created``
and ``order.updated``.

Square signs each notification with the subscription's signature key:
``x-square-hmacsha256-signature`` is base64(HMAC-SHA256(key, notification URL + raw body)),
so the channel must know the exact notification URL Square was given. The event
(``{merchant_id, type, event_id, created_at, data: {type, id, object}}``) carries only a
summary of the order (``order_created`` / ``order_updated``: id, state, version,
location); the adapter then reads the full order from Square's RetrieveOrder endpoint
(``GET /v2/orders/{id}``) with the channel's access token. A body that already holds the
full order (``data.object.order``) is used as it is. A fetch that fails raises
Unparseable with the reason, so the delivery is quarantined and can be replayed.

What a delivery means:

- ``DRAFT`` orders are not placed yet (Square publishes them before checkout): ignored.
- ``order.created``: place the order; it is paid when its tenders cover its total.
- ``order.updated``: ``CANCELED`` cancels the order; any other state places it if it is not
  there yet (orders rung up on the Point of Sale app may announce themselves only by
  updates) and applies the fulfilment's recipient address and note.

Money: Square gives integer amounts in the currency's smallest unit (cents, yen, fils);
they become Decimals with the currency's minor units. Quantities are decimal strings.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from decimal import Decimal
from functools import cache
from typing import Any, ClassVar
from urllib.parse import quote

import httpx

from legato.domain.catalog import Channel, ChannelType
from legato.domain.commands import LineDraft, OrderDraft
from legato.domain.errors import FieldIssue
from legato.domain.matching import CustomerRef
from legato.domain.money import is_currency, minor_units, round_amount
from legato.domain.order import Address
from legato.intake.adapters.woocommerce import MAX_AMOUNT, MAX_QUANTITY, fit_line, fit_rate, load_json
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
    hmac_sha256,
    read_lines,
    require_secret,
    same,
    text_at,
    unparseable,
)

SIGNATURE_HEADER = "x-square-hmacsha256-signature"
SIGNATURE_KEY = "signature_key"  # secret: the subscription's Signature Key (Developer Console)
ACCESS_TOKEN = "access_token"  # secret: the seller's access token, for RetrieveOrder
DEFAULT_BASE_URL = "https://connect.squareup.com"  # sandbox: https://connect.squareupsandbox.com
DEFAULT_SQUARE_VERSION = "2025-01-23"  # the Square-Version header sent with RetrieveOrder
DEFAULT_TIMEOUT = 5.0  # seconds for one RetrieveOrder call (Square wants its answer within 10)
CUSTOM_SKU = "custom"  # a line with no catalogue id (a "custom amount" rung up at the till)
SERVICE_CHARGE_SKU = "service-charge"  # an order's service charge, as a line

#: Order states (Square's OrderState) and what they mean here.
DRAFT = "DRAFT"  # not placed yet: ignored
CANCELED = "CANCELED"  # cancels the Legato order
ORDER_TOPICS = {"order.created": "order_created", "order.updated": "order_updated"}


def _event(delivery: Delivery) -> dict[str, Any]:
    doc = load_json(delivery.body)
    if not isinstance(doc, dict):
        raise unparseable("$", "the event must be a JSON object", type(doc).__name__)
    return doc


class SquareAdapter:
    name: ClassVar[str] = "square"
    #: a stored but quarantined delivery is answered 202:
    #: Square retries non-2xx answers for 72 hours: each retry would be another inbox entry
    quarantine_status: ClassVar[int] = 202

    def handshake(self, delivery: Delivery, channel: Channel) -> Reply | None:
        return None  # Square has no verification request: a subscription starts sending at once

    def verify(self, delivery: Delivery, channel: Channel) -> None:
        key = require_secret(channel, SIGNATURE_KEY)
        url = channel.settings.extra.get("notification_url")
        if not isinstance(url, str) or not url:
            raise SignatureInvalid(
                f"channel {channel.code} has no notification_url setting (the exact URL Square "
                "posts to, part of what it signs); every delivery is refused"
            )
        presented = delivery.header(SIGNATURE_HEADER)
        if presented is None:
            raise SignatureInvalid(f"the {SIGNATURE_HEADER} header is missing")
        expected = base64.b64encode(hmac_sha256(key, url.encode() + delivery.body)).decode()
        if not same(expected, presented.strip()):
            raise SignatureInvalid(
                f"the {SIGNATURE_HEADER} header does not match the notification URL and body"
            )

    def describe(self, delivery: Delivery) -> tuple[str | None, str | None]:
        try:
            doc = _event(delivery)
        except Unparseable:
            return None, None
        return text_at(doc, "type"), text_at(doc, "event_id")

    def parse(self, delivery: Delivery, channel: Channel) -> list[Intent]:
        doc = _event(delivery)
        topic = text_at(doc, "type")
        if topic not in ORDER_TOPICS:
            return [Ignore(f"event {topic or '(no type)'} is not an order creation or update")]
        data = doc.get("data")
        if not isinstance(data, dict):
            raise unparseable("$.data", "data (the event's order) is missing", data)
        obj = data.get("object")
        obj = obj if isinstance(obj, dict) else {}
        summary = obj.get(ORDER_TOPICS[topic])
        summary = summary if isinstance(summary, dict) else {}
        order_id = text_at(summary, "order_id") or text_at(data, "id")
        if not order_id:
            raise unparseable("$.data.id", "the event names no order id")
        if topic == "order.updated" and text_at(summary, "state") == CANCELED:
            return [CancelOrder(order_id, f"Square order {order_id} was canceled")]
        if text_at(summary, "state") == DRAFT:  # nothing to fetch yet: an update will place it
            return [Ignore(f"Square order {order_id} is a draft, not placed yet")]
        embedded = obj.get("order")
        if isinstance(embedded, dict):
            order, path = embedded, "$.data.object.order"
        else:
            order, path = fetch_order(order_id, channel), "$.order"
        state = text_at(order, "state") or text_at(summary, "state")
        if state == DRAFT:
            return [Ignore(f"Square order {order_id} is a draft, not placed yet")]
        if state == CANCELED and topic == "order.updated":
            return [CancelOrder(order_id, f"Square order {order_id} was canceled")]
        draft = order_draft(order, channel, path, order_id)
        intents: list[Intent] = [
            PlaceDraft(draft, paid=is_paid(order, draft.currency or channel.currency, path))
        ]
        if state == CANCELED:
            intents.append(CancelOrder(order_id, f"Square order {order_id} was canceled"))
        elif topic == "order.updated":
            changes = {
                k: v for k, v in (("shipping_address", draft.shipping_address), ("notes", draft.notes)) if v
            }
            intents.append(UpdateOrder(order_id, changes))
        return intents

    def acknowledge(self, delivery: Delivery, channel: Channel, placed: Placed) -> Outbound | None:
        return None


# --- RetrieveOrder ---------------------------------------------------------------------------


def _fetch_failed(order_id: str, message: str) -> Unparseable:
    return Unparseable(message, issues=[FieldIssue("$.data.id", message, "fetch_failed", order_id)])


@cache
def _client() -> httpx.Client:
    """One pooled client for every RetrieveOrder call (thread-safe; TLS set up once)."""
    return httpx.Client(follow_redirects=False)


def fetch_order(order_id: str, channel: Channel) -> dict[str, Any]:
    """The full order from Square's RetrieveOrder endpoint, or Unparseable saying why not."""
    extra = channel.settings.extra
    token = channel.secrets.get(ACCESS_TOKEN)
    if not token:
        raise _fetch_failed(
            order_id,
            f"channel {channel.code} has no {ACCESS_TOKEN} secret: order {order_id} cannot be read "
            "from Square (set it, then replay the delivery)",
        )
    base = str(extra.get("square_base_url") or DEFAULT_BASE_URL).rstrip("/")
    url = f"{base}/v2/orders/{quote(order_id, safe='')}"
    headers = {
        "Authorization": f"Bearer {token}",
        "Square-Version": str(extra.get("square_version") or DEFAULT_SQUARE_VERSION),
        "Accept": "application/json",
    }
    try:
        timeout = float(extra.get("square_timeout") or DEFAULT_TIMEOUT)
        response = _client().get(url, headers=headers, timeout=timeout)
    except (httpx.HTTPError, ValueError) as exc:
        raise _fetch_failed(order_id, f"could not read order {order_id} from Square ({url}): {exc}") from None
    try:
        body = json.loads(response.content, parse_float=Decimal)
    except ValueError:
        body = None
    if response.status_code != 200:
        raise _fetch_failed(
            order_id,
            f"Square answered {response.status_code} for order {order_id}{_square_errors(body)}",
        )
    order = body.get("order") if isinstance(body, dict) else None
    if not isinstance(order, dict):
        raise _fetch_failed(order_id, f"Square's answer for order {order_id} holds no order")
    return order


def _square_errors(body: Any) -> str:
    errors = body.get("errors") if isinstance(body, dict) else None
    if not isinstance(errors, list) or not errors:
        return ""
    parts = [
        ": ".join(str(e[k]) for k in ("code", "detail") if e.get(k)) for e in errors if isinstance(e, dict)
    ]
    return ": " + "; ".join(p for p in parts if p)


# --- the order -------------------------------------------------------------------------------


def money_at(
    doc: Mapping[str, Any], key: str, path: str, currency: str, *, required: bool = False
) -> Decimal:
    """A Money object (integer ``amount`` in the smallest unit) as a Decimal in ``currency``."""
    raw = doc.get(key)
    if raw is None:
        if required:
            raise unparseable(f"{path}.{key}", f"{key} is missing")
        return Decimal(0)
    if not isinstance(raw, dict):
        raise unparseable(f"{path}.{key}", f"{key} must be a Money object", raw)
    amount = raw.get("amount")
    if isinstance(amount, bool) or not isinstance(amount, int):
        message = "amount must be a whole number of the currency's smallest unit"
        raise unparseable(f"{path}.{key}.amount", message, amount)
    mine = raw.get("currency")
    if mine is not None and mine != currency:
        message = f"currency {mine!r} differs from the order's {currency}"
        raise unparseable(f"{path}.{key}.currency", message, mine)
    value = Decimal(amount).scaleb(-minor_units(currency))
    if not (Decimal(0) <= value < MAX_AMOUNT):
        raise unparseable(f"{path}.{key}.amount", f"amount must be between 0 and {MAX_AMOUNT}", amount)
    return value


def order_currency(order: Mapping[str, Any], channel: Channel, path: str) -> str:
    """The currency of ``total_money`` (else of the first line's price), else the channel's."""
    candidates = [(order.get("total_money"), f"{path}.total_money.currency")]
    lines = order.get("line_items")
    if isinstance(lines, list) and lines and isinstance(lines[0], dict):
        candidates.append(
            (lines[0].get("base_price_money"), f"{path}.line_items[0].base_price_money.currency")
        )
    for money, where in candidates:
        if isinstance(money, dict) and money.get("currency") is not None:
            code = money["currency"]
            if not isinstance(code, str) or not is_currency(code):
                raise unparseable(where, f"{code!r} is not an ISO 4217 currency code", code)
            return code
    return channel.currency


def is_paid(order: Mapping[str, Any], currency: str, path: str = "$.order") -> bool:
    """True when the order's tenders cover its total."""
    tenders = order.get("tenders")
    if not isinstance(tenders, list) or not tenders:
        return False
    paid = Decimal(0)
    for i, tender in enumerate(tenders):
        if isinstance(tender, dict):
            paid += money_at(tender, "amount_money", f"{path}.tenders[{i}]", currency)
    return paid >= money_at(order, "total_money", path, currency)


def _taxes(order: Mapping[str, Any], path: str) -> dict[str, tuple[Decimal, bool]]:
    """tax uid -> (rate as a fraction, inclusive?) from the order's ``taxes``."""
    found: dict[str, tuple[Decimal, bool]] = {}
    taxes = order.get("taxes")
    if not isinstance(taxes, list):
        return found
    for i, tax in enumerate(taxes):
        if not isinstance(tax, dict) or tax.get("percentage") in (None, ""):
            continue
        raw = tax.get("percentage")
        try:
            pct = Decimal(str(raw))
        except ArithmeticError:
            raise unparseable(f"{path}.taxes[{i}].percentage", "percentage is not a number", raw) from None
        if not pct.is_finite() or not (0 <= pct <= 100):
            raise unparseable(f"{path}.taxes[{i}].percentage", "percentage must be 0 to 100", raw)
        found[str(tax.get("uid"))] = (pct / 100, tax.get("type") == "INCLUSIVE")
    return found


def _applied(item: Mapping[str, Any], taxes: Mapping[str, tuple[Decimal, bool]]) -> tuple[Decimal, bool]:
    """The item's documented tax rate (its applied taxes' percentages) and whether any is inclusive."""
    applied = item.get("applied_taxes")
    if not isinstance(applied, list):
        return Decimal(0), False
    known = [taxes.get(str(a.get("tax_uid"))) for a in applied if isinstance(a, dict)]
    rate = sum((t[0] for t in known if t), Decimal(0))
    return rate, any(t[1] for t in known if t)


def _priced(
    item: Mapping[str, Any],
    path: str,
    currency: str,
    gross: Decimal,
    taxes: Mapping[str, tuple[Decimal, bool]],
    quantity: Decimal,
) -> tuple[Decimal, Decimal, Decimal]:
    """(unit price, discount, tax rate) that reproduce the item's Square totals."""
    discount = money_at(item, "total_discount_money", path, currency)
    tax = money_at(item, "total_tax_money", path, currency)
    rate, inclusive = _applied(item, taxes)
    if item.get("total_money") is not None:
        total = money_at(item, "total_money", path, currency)
    else:
        total = gross - discount + (Decimal(0) if inclusive else tax)
    net = total - tax  # after discounts, before tax: the same for additive and inclusive taxes
    if net < 0:
        raise unparseable(f"{path}.total_tax_money", "the tax exceeds the item's total", str(tax))
    if inclusive:  # Square's gross and discount include the tax; Legato's are net of it
        gross = net + round_amount(discount / (1 + rate), currency)
    unit, line_discount = fit_line(gross, net, quantity, currency)
    return unit, line_discount, fit_rate(net, tax, currency, [rate])


def _line(item: Any, path: str, currency: str, taxes: Mapping[str, tuple[Decimal, bool]]) -> LineDraft | None:
    if not isinstance(item, dict):
        raise unparseable(path, "a line item must be an object", type(item).__name__)
    raw = item.get("quantity")
    try:
        quantity = Decimal(str(raw)) if isinstance(raw, str | int) and not isinstance(raw, bool) else None
    except ArithmeticError:
        quantity = None
    if quantity is None or not quantity.is_finite():
        raise unparseable(f"{path}.quantity", "quantity must be a decimal number in a string", raw)
    if quantity == 0:
        return None  # Square drops zero-quantity lines when the order is paid
    if not (0 < quantity <= MAX_QUANTITY):
        raise unparseable(f"{path}.quantity", f"quantity must be above 0 and at most {MAX_QUANTITY}", raw)
    if quantity != quantity.quantize(Decimal("0.0001")):
        raise unparseable(f"{path}.quantity", "quantity has more than 4 decimal places", raw)
    if item.get("gross_sales_money") is not None:
        gross = money_at(item, "gross_sales_money", path, currency)
    elif item.get("variation_total_price_money") is not None:
        gross = money_at(item, "variation_total_price_money", path, currency)
    else:
        gross = money_at(item, "base_price_money", path, currency, required=True) * quantity
    unit, discount, rate = _priced(item, path, currency, gross, taxes, quantity)
    name, variation = text_at(item, "name"), text_at(item, "variation_name")
    if name and variation and variation != name:
        name = f"{name} ({variation})"
    return LineDraft(
        sku=text_at(item, "catalog_object_id") or CUSTOM_SKU,
        quantity=quantity,
        unit_price=unit,
        name=name or variation,
        discount=discount,
        tax_rate=rate,
    )


def _service_charge(
    charge: Any, path: str, currency: str, taxes: Mapping[str, tuple[Decimal, bool]]
) -> LineDraft | None:
    if not isinstance(charge, dict):
        raise unparseable(path, "a service charge must be an object", type(charge).__name__)
    total = money_at(charge, "total_money", path, currency)
    if total == 0:
        return None
    tax = money_at(charge, "total_tax_money", path, currency)
    net = total - tax
    if net < 0:
        raise unparseable(f"{path}.total_tax_money", "the tax exceeds the charge's total", str(tax))
    rate, _ = _applied(charge, taxes)
    return LineDraft(
        sku=SERVICE_CHARGE_SKU,
        quantity=Decimal(1),
        unit_price=net,
        name=text_at(charge, "name") or "Service charge",
        tax_rate=fit_rate(net, tax, currency, [rate]),
    )


def _lines(order: Mapping[str, Any], path: str, currency: str) -> tuple[LineDraft, ...]:
    taxes = _taxes(order, path)
    lines, issues = read_lines(
        order,
        [
            ("line_items", lambda item, at: _line(item, at, currency, taxes)),
            ("service_charges", lambda item, at: _service_charge(item, at, currency, taxes)),
        ],
        path,
    )
    if not issues and not any(ln.sku != SERVICE_CHARGE_SKU for ln in lines):
        issues.append(FieldIssue(f"{path}.line_items", "the order has no line items", "unparseable"))
    if issues:
        message = issues[0].message if len(issues) == 1 else f"{len(issues)} problems in the order"
        raise Unparseable(message, issues=issues)
    return tuple(lines)


def _fulfilment(order: Mapping[str, Any]) -> tuple[Mapping[str, Any], str | None]:
    """The first fulfilment's recipient and note (shipment, delivery or pickup)."""
    fulfilments = order.get("fulfillments")
    if not isinstance(fulfilments, list):
        return {}, None
    for f in fulfilments:
        if not isinstance(f, dict):
            continue
        for key, note in (
            ("shipment_details", "shipping_note"),
            ("delivery_details", "note"),
            ("pickup_details", "note"),
        ):
            details = f.get(key)
            if isinstance(details, dict):
                recipient = details.get("recipient")
                return (recipient if isinstance(recipient, dict) else {}), text_at(details, note)
    return {}, None


def _address(recipient: Mapping[str, Any]) -> Address | None:
    raw = recipient.get("address")
    if not isinstance(raw, dict):
        return None
    names = [text_at(raw, "first_name"), text_at(raw, "last_name")]
    country = text_at(raw, "country")
    values = {
        "name": text_at(recipient, "display_name") or " ".join(n for n in names if n) or None,
        "company": text_at(raw, "organization"),
        "line1": text_at(raw, "address_line_1"),
        "line2": text_at(raw, "address_line_2"),
        "city": text_at(raw, "locality"),
        "region": text_at(raw, "administrative_district_level_1"),
        "postcode": text_at(raw, "postal_code"),
        "country": country.upper() if country and len(country) == 2 else None,
        "phone": text_at(recipient, "phone_number"),
        "email": text_at(recipient, "email_address"),
    }
    present = {k: v for k, v in values.items() if v}
    return Address(**present) if present else None


def order_draft(order: Mapping[str, Any], channel: Channel, path: str, order_id: str) -> OrderDraft:
    """The canonical draft of one Square order (the Orders API ``Order`` object)."""
    currency = order_currency(order, channel, path)
    lines = _lines(order, path, currency)
    recipient, note = _fulfilment(order)
    properties: dict[str, Any] = {}
    customer_id = text_at(order, "customer_id") or text_at(recipient, "customer_id")
    if customer_id:
        properties["square_customer_id"] = customer_id
    customer = CustomerRef(
        name=text_at(recipient, "display_name"),
        email=text_at(recipient, "email_address"),
        phone=text_at(recipient, "phone_number"),
        properties=properties,
    )
    tags: list[str] = []
    if channel.adapter == "pos" or channel.type is ChannelType.RETAIL:
        tags.append("pos")
    location = text_at(order, "location_id")
    if location:
        tags.append(f"location:{location}")
    return OrderDraft(
        channel_code=channel.code,
        lines=lines,
        external_reference=text_at(order, "id") or order_id,
        currency=currency,
        customer=customer if (customer.name or customer.email or customer.phone or properties) else None,
        shipping_address=_address(recipient),
        tags=tuple(tags),
        notes=note,
    )


ADAPTER = SquareAdapter()

__all__ = ["ADAPTER", "SquareAdapter", "fetch_order", "is_paid", "money_at", "order_draft"]
