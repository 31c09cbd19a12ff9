"""Shopify: orders from a store's order webhooks (``orders/create``, ``orders/updated``,
``orders/cancelled``), in Shopify's documented REST ``Order`` format.

Shopify posts each event to ``https://HOST/intake/CODE`` with these headers:
``X-Shopify-Topic`` (the event), ``X-Shopify-Hmac-Sha256`` (the base64 HMAC-SHA256 of the
raw body, keyed with the app's client secret), ``X-Shopify-Webhook-Id`` (one id per event,
the same on every retry), ``X-Shopify-Shop-Domain`` and ``X-Shopify-API-Version``.

What each topic means:

- ``orders/create``: place the order; its ``id`` is the external reference. An order that
  arrives already cancelled is placed and then cancelled.
- ``orders/updated``: cancel it if ``cancelled_at`` is set, else update the fields Legato
  keeps editable (addresses, note, tags); lines and prices are not changed after placing.
- ``orders/cancelled``: cancel it, with ``cancel_reason`` as the reason.
- any other topic: kept and ignored.

Each topic carries the whole order, and Shopify does not promise to deliver them in order,
so an update or a cancellation also places the order first: a no-op when it exists, and
when it overtook the creation, the order is placed from it rather than lost.

Money. A store has one shop currency (``currency``, the ``price`` and ``shop_money``
amounts) and a buyer may pay in another (``presentment_currency``, the ``presentment_money``
amounts of each ``*_set``). The order is taken in the shop currency by default; the
channel setting ``shopify_money: "presentment"`` takes what the buyer saw and paid instead.

Lines. ``sku`` is the line's SKU; without one, ``variant:<variant_id>``, else
``product:<product_id>``, else ``custom:<title>`` (a custom item or a tip), each of which the
channel's SKU map can map to a catalogue SKU. The discount is the sum of the line's
``discount_allocations`` (every discount, order-level codes included, allocated to the
line), else its ``total_discount`` when an older payload has no allocations; never both,
which would count one discount twice.

Tax. Legato's lines are tax-exclusive and Legato computes each tax as net x rate, rounded.
The rate is the sum of the line's ``tax_lines`` rates; when that rate, rounded, does not
give back the tax Shopify charged on the line (several tax lines each rounded, or a tax
taken out of a tax-inclusive price), the line carries the effective rate (tax / net, six
decimals) instead, so that Legato's tax is Shopify's tax to the cent. With
``taxes_included`` the prices are gross: each line's net is its gross less its discount
less its tax, the discount is made net at the line's rate, and the unit price is the net
amount before discount divided by the quantity (six decimals). Shipping is treated the
same way. The order's grand total is then Shopify's ``total_price`` (or its presentment
amount) to the cent, for lines of up to 9,999 units and nets under 10,000 in the currency.

Order-level ``discount_codes`` become tags ``discount:<CODE>`` beside the order's own tags.
``financial_status: "paid"`` marks the order paid. Duties, additional fees and tips are
not part of Legato's totals.

Settings (``settings.extra``): ``shopify_money`` (``shop`` or ``presentment``),
``shopify_shop_domain`` (when set, a delivery from any other shop is refused, as one app's
secret signs the webhooks of every store it is installed on). Secrets: ``webhook_secret``
(the app's client secret), and ``webhook_secret_previous`` while a secret is rotated.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal
from typing import Any, ClassVar

from legato.domain.catalog import Channel
from legato.domain.commands import LineDraft, OrderDraft
from legato.domain.matching import CustomerRef
from legato.domain.money import is_currency, minor_units
from legato.domain.order import Address
from legato.intake.base import (
    CancelOrder,
    Delivery,
    Ignore,
    Intent,
    Placed,
    PlaceDraft,
    Reply,
    SignatureInvalid,
    UpdateOrder,
    address_from,
    decimal_at,
    hmac_sha256,
    require_secret,
    same,
    unparseable,
)

TOPIC_HEADER = "X-Shopify-Topic"
HMAC_HEADER = "X-Shopify-Hmac-Sha256"
WEBHOOK_ID_HEADER = "X-Shopify-Webhook-Id"
SHOP_HEADER = "X-Shopify-Shop-Domain"

CREATE = "orders/create"  # a new order: place it
UPDATED = "orders/updated"  # any change: cancel it, or update its addresses, note and tags
CANCELLED = "orders/cancelled"  # the merchant cancelled it: cancel it here

SECRET = "webhook_secret"  # the app's client secret, which signs every webhook
PREVIOUS_SECRET = "webhook_secret_previous"  # also accepted while the secret is rotated
MONEY_SETTING = "shopify_money"
SHOP_MONEY = "shop"  # the shop currency and shop_money amounts (the default)
PRESENTMENT_MONEY = "presentment"  # the currency and amounts the buyer saw
SHOP_DOMAIN_SETTING = "shopify_shop_domain"
PAID = "paid"  # the financial_status of a fully paid order

MAX_QUANTITY = 1_000_000  # more of one item than this is a mistake, not an order
MAX_AMOUNT = Decimal(10) ** 12  # likewise for any one amount
MAX_LINES = 1000
MAX_TAGS = 50
MAX_TAG = 64
MAX_NAME = 300  # characters of a line name Legato keeps; a longer one is cut
ZERO = Decimal(0)
SIX_PLACES = Decimal("0.000001")

#: Legato address field -> Shopify address field (after ``_address`` has filled the gaps)
ADDRESS_FIELDS = {
    "name": "name",
    "company": "company",
    "line1": "address1",
    "line2": "address2",
    "city": "city",
    "region": "province_code",
    "postcode": "zip",
    "country": "country_code",
    "phone": "phone",
}
#: the longest text Legato keeps for each Shopify address field
ADDRESS_LIMITS = {
    "first_name": 100,
    "last_name": 100,
    "name": 200,
    "company": 200,
    "address1": 300,
    "address2": 300,
    "city": 120,
    "province": 120,
    "province_code": 120,
    "zip": 20,
    "country_code": 2,
    "phone": 32,
}


class ShopifyAdapter:
    """Verifies and reads Shopify's order webhooks."""

    name: ClassVar[str] = "shopify"
    #: a stored but quarantined delivery is answered 202: Shopify retries any other answer and
    #: deletes a subscription that keeps failing, after which no order would arrive at all
    quarantine_status: ClassVar[int] = 202

    def handshake(self, delivery: Delivery, channel: Channel) -> Reply | None:
        return None  # Shopify has no verification request

    def verify(self, delivery: Delivery, channel: Channel) -> None:
        secret = require_secret(channel, SECRET)
        presented = delivery.header(HMAC_HEADER)
        if not presented:
            raise SignatureInvalid(f"the {HMAC_HEADER} header is missing")
        try:
            digest = base64.b64decode(presented.strip(), validate=True)
        except (binascii.Error, ValueError):
            raise SignatureInvalid(f"the {HMAC_HEADER} header is not base64") from None
        keys = [secret, *([channel.secrets[PREVIOUS_SECRET]] if channel.secrets.get(PREVIOUS_SECRET) else [])]
        if not any(same(hmac_sha256(key, delivery.body), digest) for key in keys):
            raise SignatureInvalid(f"the {HMAC_HEADER} header does not match the body and the {SECRET}")
        expected = channel.settings.extra.get(SHOP_DOMAIN_SETTING)
        shop = delivery.header(SHOP_HEADER) or ""
        if expected and shop.strip().lower() != str(expected).strip().lower():
            raise SignatureInvalid(
                f"the delivery is from shop {shop!r}; channel {channel.code} is {expected}"
            )

    def describe(self, delivery: Delivery) -> tuple[str | None, str | None]:
        return delivery.header(TOPIC_HEADER), delivery.header(WEBHOOK_ID_HEADER)

    def parse(self, delivery: Delivery, channel: Channel) -> list[Intent]:
        topic = delivery.header(TOPIC_HEADER)
        if not topic:
            raise unparseable(TOPIC_HEADER, f"the {TOPIC_HEADER} header is missing")
        if topic not in (CREATE, UPDATED, CANCELLED):
            return [Ignore(f"Shopify topic {topic} is not an order change Legato reads")]
        order = _load(delivery.body)
        reference = _reference(order)
        then: list[Intent] = []
        if order.get("cancelled_at") or topic == CANCELLED:
            then.append(CancelOrder(reference, _cancel_reason(order)))
        elif topic == UPDATED:
            then.append(UpdateOrder(reference, _changes(order)))
        # every topic carries the whole order: placing it first (a no-op when it exists) keeps
        # an update or a cancellation that overtakes the creation from being lost
        draft = _Reader(order, channel).draft(reference)
        return [PlaceDraft(draft, paid=order.get("financial_status") == PAID), *then]

    def acknowledge(self, delivery: Delivery, channel: Channel, placed: Placed) -> None:
        return None


# --- the order ---------------------------------------------------------------------------


class _Reader:
    """Reads one order's money in the channel's chosen currency: shop or presentment."""

    def __init__(self, order: Mapping[str, Any], channel: Channel) -> None:
        mode = channel.settings.extra.get(MONEY_SETTING, SHOP_MONEY)
        if mode not in (SHOP_MONEY, PRESENTMENT_MONEY):
            raise unparseable(
                f"settings.{MONEY_SETTING}",
                f"channel {channel.code}: {MONEY_SETTING} must be {SHOP_MONEY!r} or {PRESENTMENT_MONEY!r}",
                mode,
            )
        self.order = order
        self.channel = channel
        self.presentment = mode == PRESENTMENT_MONEY
        key = "presentment_currency" if self.presentment else "currency"
        currency = order.get(key)
        if currency is None or currency == "":
            raise unparseable(f"$.{key}", f"{key} is missing")
        if not isinstance(currency, str) or not is_currency(currency):
            raise unparseable(f"$.{key}", f"{currency!r} is not an ISO 4217 currency code", currency)
        self.currency = currency
        self.taxes_included = _flag(order, "taxes_included", "$")

    def draft(self, reference: str) -> OrderDraft:
        items = _list(self.order, "line_items", "$")
        if not items:
            raise unparseable("$.line_items", "an order needs at least one line item")
        if len(items) > MAX_LINES:
            raise unparseable("$.line_items", f"at most {MAX_LINES} line items", len(items))
        lines = []
        for i, item in enumerate(items):
            path = f"$.line_items[{i}]"
            lines.append(self._line(_item(item, path), path))
        shipping, shipping_rate = self._shipping()
        return OrderDraft(
            channel_code=self.channel.code,
            lines=tuple(lines),
            external_reference=reference,
            currency=self.currency,
            customer=_customer(self.order),
            billing_address=_address(self.order, "billing_address"),
            shipping_address=_address(self.order, "shipping_address"),
            shipping=shipping,
            shipping_tax_rate=shipping_rate,
            tags=_tags(self.order),
            notes=_text(self.order, "note", "$", 5000),
        )

    def money(self, doc: Mapping[str, Any], key: str, path: str) -> Decimal:
        """An amount: ``doc[key]`` in the shop currency, or ``doc[key_set].presentment_money``."""
        if self.presentment:
            set_key = f"{key}_set"
            where = f"{path}.{set_key}"
            money = _object(
                _object(doc, set_key, path, required=True), "presentment_money", where, required=True
            )
            where += ".presentment_money"
            code = money.get("currency_code")
            if code is not None and code != self.currency:
                raise unparseable(
                    f"{where}.currency_code",
                    f"{code!r} is not the presentment currency {self.currency}",
                    code,
                )
            doc, key, path = money, "amount", where
        value = decimal_at(doc, key, path)
        exponent = value.as_tuple().exponent
        if not ZERO <= value < MAX_AMOUNT or (isinstance(exponent, int) and exponent < -6):
            raise unparseable(
                f"{path}.{key}", f"{key} must be from 0 to {MAX_AMOUNT}, at most 6 decimals", str(value)
            )
        return value

    def _line(self, item: Mapping[str, Any], path: str) -> LineDraft:
        quantity = _quantity(item, path)
        price = self.money(item, "price", path)
        if "discount_allocations" in item and item["discount_allocations"] is not None:
            discount = self._allocated(item, path)
        else:
            discount = self.money(item, "total_discount", path) if item.get("total_discount") else ZERO
        gross = quantity * price
        if discount > gross:
            raise unparseable(
                f"{path}.discount_allocations",
                f"the discount {discount} is more than the line's {gross}",
                str(discount),
            )
        rate, tax = self._taxes(item, path)
        if self.taxes_included and tax > gross - discount:
            raise unparseable(
                f"{path}.tax_lines", f"the tax {tax} is more than the line's {gross - discount}", str(tax)
            )
        unit, discount, rate = self._exclusive(quantity, price, discount, rate, tax)
        return LineDraft(_sku(item, path), quantity, unit, _line_name(item, path), discount, rate)

    def _allocated(self, doc: Mapping[str, Any], path: str) -> Decimal:
        total = ZERO
        for i, allocation in enumerate(_list(doc, "discount_allocations", path)):
            where = f"{path}.discount_allocations[{i}]"
            total += self.money(_item(allocation, where), "amount", where)
        return total

    def _taxes(self, doc: Mapping[str, Any], path: str) -> tuple[Decimal, Decimal]:
        """(the sum of the rates, the sum of the tax amounts) of ``doc``'s tax_lines."""
        rate = tax = ZERO
        for i, line in enumerate(_list(doc, "tax_lines", path)):
            where = f"{path}.tax_lines[{i}]"
            line = _item(line, where)
            r = decimal_at(line, "rate", where, default=ZERO)
            if not ZERO <= r <= 1:
                raise unparseable(f"{where}.rate", "rate must be from 0 to 1", str(r))
            rate += r
            tax += self.money(line, "price", where)
        return rate, tax

    def _exclusive(
        self, quantity: Decimal, price: Decimal, discount: Decimal, rate: Decimal, tax: Decimal
    ) -> tuple[Decimal, Decimal, Decimal]:
        """(unit price, discount, tax rate) of a Legato line that totals what Shopify charged."""
        if not self.taxes_included:
            net = self.cents(quantity * price) - self.cents(discount)
            return price, discount, self.rate_for(net, tax, rate)
        net = self.cents(quantity * price) - self.cents(discount) - self.cents(tax)
        discount = self.cents(discount / (1 + rate))
        return _unit(net + discount, quantity), discount, self.rate_for(net, tax, rate)

    def _shipping(self) -> tuple[Decimal, Decimal]:
        """(the shipping charge, its tax rate) from every shipping line, after its discounts."""
        charge = tax = ZERO
        rate: Decimal | None = None
        for i, line in enumerate(_list(self.order, "shipping_lines", "$")):
            path = f"$.shipping_lines[{i}]"
            line = _item(line, path)
            price = self.money(line, "price", path)
            discount = self._allocated(line, path)
            if discount > price:
                raise unparseable(
                    f"{path}.discount_allocations", "the discount is more than the shipping", str(discount)
                )
            line_rate, line_tax = self._taxes(line, path)
            rate = line_rate if rate is None else rate
            charge += price - discount
            tax += line_tax
        net = charge - tax if self.taxes_included else charge
        return net, self.rate_for(net, tax, rate or ZERO)

    def cents(self, amount: Decimal) -> Decimal:
        return amount.quantize(Decimal(1).scaleb(-minor_units(self.currency)), ROUND_HALF_UP)

    def rate_for(self, net: Decimal, tax: Decimal, rate: Decimal) -> Decimal:
        """``rate`` if Legato's rounding of net x rate gives Shopify's tax, else the effective rate."""
        if net <= 0 or self._gives(net, rate, tax):
            return rate
        effective = (tax / net).quantize(SIX_PLACES, ROUND_HALF_UP)
        return effective if effective <= 1 and self._gives(net, effective, tax) else rate

    def _gives(self, net: Decimal, rate: Decimal, tax: Decimal) -> bool:
        """True if net x rate rounds to ``tax`` half-up and half-even alike (either setting)."""
        quantum = Decimal(1).scaleb(-minor_units(self.currency))
        raw = net * rate
        return raw.quantize(quantum, ROUND_HALF_UP) == tax == raw.quantize(quantum, ROUND_HALF_EVEN)


def _unit(amount: Decimal, quantity: Decimal) -> Decimal:
    """``amount / quantity``, exact where it can be, else to six decimals."""
    unit = amount / quantity
    return unit if unit == unit.quantize(SIX_PLACES) else unit.quantize(SIX_PLACES, ROUND_HALF_UP)


def _sku(item: Mapping[str, Any], path: str) -> str:
    sku = _text(item, "sku", path, 255)
    if sku:
        return sku
    for key, prefix in (("variant_id", "variant"), ("product_id", "product")):
        if item.get(key) is not None:
            return f"{prefix}:{_id(item, key, path)}"
    title = _text(item, "title", path, 200)
    if title:
        return f"custom:{title}"
    raise unparseable(f"{path}.sku", "the line has no sku, variant_id, product_id or title")


def _line_name(item: Mapping[str, Any], path: str) -> str | None:
    """Shopify's ``name`` ("title - variant title"), which tells variants apart, else the title."""
    name = _text(item, "name", path, 1000) or _text(item, "title", path, 1000)
    return name[:MAX_NAME] if name else None


def _quantity(item: Mapping[str, Any], path: str) -> Decimal:
    raw = item.get("quantity")
    if raw is None:
        raise unparseable(f"{path}.quantity", "quantity is missing")
    if isinstance(raw, bool) or not isinstance(raw, int | Decimal) or raw != int(raw):
        raise unparseable(f"{path}.quantity", f"quantity must be a whole number, not {raw!r}", str(raw))
    if not 0 < raw <= MAX_QUANTITY:
        raise unparseable(f"{path}.quantity", f"quantity must be from 1 to {MAX_QUANTITY}", str(raw))
    return Decimal(int(raw))


# --- the parts every topic reads ----------------------------------------------------------


def _load(body: bytes) -> Mapping[str, Any]:
    try:
        doc = json.loads(body, parse_float=Decimal)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise unparseable("$", f"the body is not JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise unparseable("$", "the body must be a JSON object (a Shopify order)")
    return doc


def _reference(order: Mapping[str, Any]) -> str:
    return _id(order, "id", "$")


def _id(doc: Mapping[str, Any], key: str, path: str) -> str:
    raw = doc.get(key)
    if raw is None:
        raise unparseable(f"{path}.{key}", f"{key} is missing")
    if (
        isinstance(raw, bool)
        or not isinstance(raw, int | str)
        or not str(raw).isdigit()
        or len(str(raw)) > 30
    ):
        raise unparseable(f"{path}.{key}", f"{key} must be a Shopify id (a whole number), not {raw!r}", raw)
    return str(int(raw))


def _cancel_reason(order: Mapping[str, Any]) -> str:
    """Shopify's ``cancel_reason`` (customer, fraud, inventory, declined, staff, other)."""
    return _text(order, "cancel_reason", "$", 200) or "no reason given"


def _changes(order: Mapping[str, Any]) -> dict[str, Any]:
    """What an ``orders/updated`` may change on a placed order: only the fields it carries."""
    changes: dict[str, Any] = {}
    for key in ("shipping_address", "billing_address"):
        if key in order:
            changes[key] = _address(order, key)
    if "note" in order:
        changes["notes"] = _text(order, "note", "$", 5000)
    if "tags" in order or "discount_codes" in order:
        changes["tags"] = _tags(order)
    return changes


def _customer(order: Mapping[str, Any]) -> CustomerRef | None:
    """The buyer: the customer record if there is one (none for a guest), else the order's contact."""
    customer = _object(order, "customer", "$") or {}
    path = "$.customer"
    names = (_text(customer, "first_name", path, 100), _text(customer, "last_name", path, 100))
    billing = _object(order, "billing_address", "$") or {}
    name = " ".join(n for n in names if n) or _text(billing, "name", "$.billing_address", 200)
    email = _text(customer, "email", path, 254) or _text(order, "email", "$", 254)
    email = email or _text(order, "contact_email", "$", 254)
    phone = _text(customer, "phone", path, 32) or _text(order, "phone", "$", 32)
    properties = {"shopify_customer_id": _id(customer, "id", path)} if customer.get("id") is not None else {}
    if not (name or email or phone or properties):
        return None
    return CustomerRef(name=name, email=email, phone=phone, properties=properties)


def _address(order: Mapping[str, Any], key: str) -> Address | None:
    doc = _object(order, key, "$")
    if doc is None:
        return None
    path = f"$.{key}"
    values = {field: _text(doc, field, path, limit) for field, limit in ADDRESS_LIMITS.items()}
    country = values["country_code"]
    if country is not None and not (country.isascii() and country.isalpha()):
        raise unparseable(f"{path}.country_code", f"{country!r} is not an ISO 3166 country code", country)
    values["name"] = values["name"] or " ".join(v for v in (values["first_name"], values["last_name"]) if v)
    values["province_code"] = values["province_code"] or values["province"]
    return address_from(values, ADDRESS_FIELDS)


def _tags(order: Mapping[str, Any]) -> tuple[str, ...]:
    """The order's comma-separated tags, then ``discount:<CODE>`` for each discount code.

    Legato keeps 50 tags: past that, the order's own last tags give way (every tag stays in
    the stored payload), never the discount codes, which workflow rules read."""
    raw = _text(order, "tags", "$", 10_000) or ""
    own = {t.strip(): None for t in raw.split(",") if t.strip()}
    for tag in own:
        if len(tag) > MAX_TAG:
            raise unparseable("$.tags", f"the tag {tag[:20]!r}... is longer than {MAX_TAG} characters", tag)
    codes: dict[str, None] = {}
    for i, code in enumerate(_list(order, "discount_codes", "$")):
        where = f"$.discount_codes[{i}]"
        text = _text(_item(code, where), "code", where, MAX_TAG - len("discount:"))
        if text:
            codes.setdefault(f"discount:{text}", None)
    kept = [t for t in own if t not in codes][: max(MAX_TAGS - len(codes), 0)]
    return tuple([*kept, *codes][:MAX_TAGS])


# --- reading JSON safely -----------------------------------------------------------------


def _object(doc: Mapping[str, Any], key: str, path: str, *, required: bool = False) -> Any:
    """``doc[key]`` if it is an object; None if it is absent and not required."""
    raw = doc.get(key)
    if raw is None:
        if required:
            raise unparseable(f"{path}.{key}", f"{key} is missing")
        return None
    if not isinstance(raw, dict):
        raise unparseable(f"{path}.{key}", f"{key} must be an object", type(raw).__name__)
    return raw


def _item(raw: Any, path: str) -> Mapping[str, Any]:
    if not isinstance(raw, dict):
        raise unparseable(path, "must be an object", type(raw).__name__)
    return raw


def _list(doc: Mapping[str, Any], key: str, path: str) -> list[Any]:
    raw = doc.get(key)
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise unparseable(f"{path}.{key}", f"{key} must be a list", type(raw).__name__)
    return raw


def _text(doc: Mapping[str, Any], key: str, path: str, limit: int) -> str | None:
    """A text field, stripped; None if absent or blank. Control characters and overlong texts
    are refused (PostgreSQL cannot store a NUL; a field longer than Legato keeps would be cut)."""
    raw = doc.get(key)
    if raw is None:
        return None
    if not isinstance(raw, str):
        raise unparseable(f"{path}.{key}", f"{key} must be a string", raw if isinstance(raw, int) else None)
    text = raw.strip()
    if any(ord(ch) < 32 and ch not in "\t\n\r" for ch in text):
        raise unparseable(f"{path}.{key}", f"{key} contains a control character")
    if len(text) > limit:
        raise unparseable(f"{path}.{key}", f"{key} is longer than {limit} characters", len(text))
    return text or None


def _flag(doc: Mapping[str, Any], key: str, path: str) -> bool:
    raw = doc.get(key, False)
    if raw is None:
        return False
    if not isinstance(raw, bool):
        raise unparseable(
            f"{path}.{key}", f"{key} must be true or false", raw if isinstance(raw, str) else None
        )
    return raw


ADAPTER = ShopifyAdapter()

__all__ = ["ADAPTER", "ShopifyAdapter"]
