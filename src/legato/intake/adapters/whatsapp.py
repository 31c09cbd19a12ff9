"""WhatsApp Cloud API: orders customers place from a business's WhatsApp catalogue.

Meta calls one webhook URL per app (``https://HOST/intake/CODE``):

- ``GET ?hub.mode=subscribe&hub.verify_token=...&hub.challenge=...`` once, when the
  webhook is configured: answered with the challenge as plain text when the token is the
  channel's ``verify_token`` secret, else 403;
- ``POST`` for every event, signed ``X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the
  raw body>`` with the app secret. The body is a ``whatsapp_business_account`` object whose
  ``entry[].changes[]`` carry ``field: "messages"`` and a ``value`` with ``messages``
  (what customers send) and ``statuses`` (delivery receipts of what the business sent).

A message of type ``order`` (a cart sent from the catalogue) becomes one order: its
``id`` (``wamid...``) is the external reference, each ``product_items[]`` entry a line
(``product_retailer_id`` is the SKU, ``item_price`` the unit price, all in one
``currency``), the sender's number the customer's phone. Every other message type and
every status is kept and ignored. Once the order is committed, the customer gets a text
confirmation through ``POST {graph}/{version}/{phone_number_id}/messages``, in reply to
the order message; a re-delivery gets none.

Settings (``settings.extra``): ``graph_base_url``, ``api_version``, ``phone_number_id``
(else the one the delivery names), ``confirmation`` (a template with ``{number}``,
``{total}``, ``{currency}`` and ``{name}``). Secrets: ``app_secret``, ``verify_token``,
``access_token`` (without it no confirmation is sent).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, ClassVar

from legato.domain.catalog import Channel
from legato.domain.commands import LineDraft, OrderDraft
from legato.domain.errors import UnknownCurrency
from legato.domain.matching import CustomerRef
from legato.domain.money import is_currency, round_amount
from legato.intake.base import (
    Delivery,
    Ignore,
    Intent,
    Outbound,
    Placed,
    PlaceDraft,
    Reply,
    SignatureInvalid,
    Unparseable,
    decimal_at,
    hmac_sha256,
    require_secret,
    same,
    unparseable,
)

SIGNATURE_HEADER = "X-Hub-Signature-256"
SIGNATURE_PREFIX = "sha256="
OBJECT = "whatsapp_business_account"  # the only ``object`` a WhatsApp webhook carries
FIELD = "messages"  # the change field that carries messages and statuses
ORDER = "order"  # the message type of a cart sent from the catalogue

DEFAULT_GRAPH_BASE_URL = "https://graph.facebook.com"
DEFAULT_API_VERSION = "v21.0"
DEFAULT_CONFIRMATION = "Thank you! Your order {number} is confirmed: {total} {currency}."

MAX_QUANTITY = Decimal(1_000_000)  # more of one item than this is a mistake, not an order
MAX_PRICE = Decimal(10) ** 12  # likewise for one item's price
MAX_PRICE_DECIMALS = 6  # what the store keeps of a unit price
MAX_ITEMS = 1000  # lines in one order
MAX_REFERENCE = 255  # characters of a message id (the order's external reference)
MAX_SKU = 100  # characters of a product_retailer_id
MAX_CATALOG_ID = 56  # so that the tag "catalog:<id>" stays within 64 characters
MAX_NOTES = 5000
MAX_NAME = 200
MAX_BODY = 4096  # the Cloud API's limit on a text message body


@dataclass(frozen=True)
class _OrderMessage:
    """Where one order message came from: what a confirmation needs to answer it."""

    message_id: str
    sender: str  # the customer's number as WhatsApp sends it: digits, no "+"
    phone_number_id: str | None  # the business number it was sent to
    name: str | None


class WhatsAppAdapter:
    name: ClassVar[str] = "whatsapp"
    #: a stored but quarantined delivery is answered 200:
    #: Meta asks for 200 OK and retries anything else for days
    quarantine_status: ClassVar[int] = 200

    def handshake(self, delivery: Delivery, channel: Channel) -> Reply | None:
        if delivery.method != "GET":
            return None
        token = channel.secrets.get("verify_token")
        mode = delivery.query.get("hub.mode")
        presented = delivery.query.get("hub.verify_token")
        if not token or mode != "subscribe" or not same(token, presented):
            return Reply(403, b"verification failed: wrong hub.mode or hub.verify_token\n")
        challenge = delivery.query.get("hub.challenge")
        if not challenge:
            return Reply(400, b"hub.challenge is missing\n")
        return Reply(200, challenge.encode())

    def verify(self, delivery: Delivery, channel: Channel) -> None:
        secret = require_secret(channel, "app_secret")
        header = delivery.header(SIGNATURE_HEADER)
        if not header:
            raise SignatureInvalid(f"the {SIGNATURE_HEADER} header is missing")
        if not header.startswith(SIGNATURE_PREFIX):
            raise SignatureInvalid(f"the {SIGNATURE_HEADER} header does not start with {SIGNATURE_PREFIX}")
        expected = hmac_sha256(secret, delivery.body).hex()
        if not same(expected, header[len(SIGNATURE_PREFIX) :].strip().lower()):
            raise SignatureInvalid(f"the {SIGNATURE_HEADER} signature does not match the body")

    def describe(self, delivery: Delivery) -> tuple[str | None, str | None]:
        try:
            doc = json.loads(delivery.body)
            change = doc["entry"][0]["changes"][0]
            topic = change.get("field")
            messages = change.get("value", {}).get("messages") or [{}]
            message_id = messages[0].get("id")
        except (ValueError, TypeError, LookupError, AttributeError, RecursionError):
            return None, None
        return (
            topic if isinstance(topic, str) else None,
            message_id if isinstance(message_id, str) else None,
        )

    def parse(self, delivery: Delivery, channel: Channel) -> list[Intent]:
        doc = _load(delivery.body)
        intents: list[Intent] = []
        for change, path in _changes(doc):
            field = _text(change, "field", path, MAX_REFERENCE)
            if field != FIELD:
                intents.append(Ignore(f"{field} change carries no messages"))
                continue
            intents.extend(_value_intents(_object(change, "value", path), f"{path}.value", channel))
        return intents or [Ignore("the delivery carries no messages")]

    def acknowledge(self, delivery: Delivery, channel: Channel, placed: Placed) -> Outbound | None:
        token = channel.secrets.get("access_token")
        if not placed.created or not token:
            return None
        message = _order_message(delivery.body, getattr(placed, "external_reference", None))
        if message is None:
            return None
        extra = channel.settings.extra
        phone_number_id = str(extra.get("phone_number_id") or message.phone_number_id or "")
        if not phone_number_id:
            return None
        base = str(extra.get("graph_base_url") or DEFAULT_GRAPH_BASE_URL).rstrip("/")
        version = str(extra.get("api_version") or DEFAULT_API_VERSION).strip("/")
        template = str(extra.get("confirmation") or DEFAULT_CONFIRMATION)
        return Outbound(
            method="POST",
            url=f"{base}/{version}/{phone_number_id}/messages",
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            json={
                "messaging_product": "whatsapp",
                "recipient_type": "individual",
                "to": message.sender,
                "context": {"message_id": message.message_id},
                "type": "text",
                "text": {"body": confirmation(template, placed, message.name)},
            },
        )


def confirmation(template: str, placed: Placed, name: str | None) -> str:
    """The confirmation text: ``{number}``, ``{total}``, ``{currency}`` and ``{name}`` filled
    in; any other brace is left as written, so a template typo never loses the message."""
    try:
        total = round_amount(placed.grand_total, placed.currency)
    except UnknownCurrency:
        total = placed.grand_total
    fields = {"number": placed.number, "total": f"{total:f}", "currency": placed.currency, "name": name or ""}
    text = template
    for key, value in fields.items():
        text = text.replace("{" + key + "}", value)
    return text[:MAX_BODY]


# --- reading the webhook body ---------------------------------------------------------


def _load(body: bytes) -> dict[str, Any]:
    try:
        doc = json.loads(body, parse_float=Decimal, parse_constant=_no_constant)
    except ValueError as exc:  # UnicodeDecodeError included
        raise unparseable("$", f"the body is not valid JSON: {exc}") from None
    except RecursionError:
        raise unparseable("$", "the body is nested too deeply to be a WhatsApp webhook") from None
    if not isinstance(doc, dict):
        raise unparseable("$", "the body must be a JSON object", type(doc).__name__)
    if doc.get("object") != OBJECT:
        raise unparseable("$.object", f"object must be {OBJECT!r}", doc.get("object"))
    return doc


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _changes(doc: dict[str, Any]) -> Iterator[tuple[dict[str, Any], str]]:
    for i, entry in enumerate(_list(doc, "entry", "$")):
        path = f"$.entry[{i}]"
        entry = _as_object(entry, path)
        for j, change in enumerate(_list(entry, "changes", path)):
            yield _as_object(change, f"{path}.changes[{j}]"), f"{path}.changes[{j}]"


def _value_intents(value: dict[str, Any], path: str, channel: Channel) -> list[Intent]:
    intents: list[Intent] = []
    names = _contact_names(value)
    for k, message in enumerate(_list(value, "messages", path, required=False)):
        mpath = f"{path}.messages[{k}]"
        message = _as_object(message, mpath)
        kind = message.get("type")
        if kind == ORDER:
            intents.append(PlaceDraft(_draft(message, mpath, names, channel)))
        else:
            intents.append(Ignore(f"{kind or 'untyped'} message {message.get('id')} is not an order"))
    for k, status in enumerate(_list(value, "statuses", path, required=False)):
        status = _as_object(status, f"{path}.statuses[{k}]")
        intents.append(Ignore(f"status {status.get('status')} of message {status.get('id')}"))
    return intents


def _draft(message: dict[str, Any], path: str, names: Mapping[str, str], channel: Channel) -> OrderDraft:
    reference = _text(message, "id", path, MAX_REFERENCE)
    sender = _sender(message, path)
    order = _object(message, "order", path)
    opath = f"{path}.order"
    catalog_id = _maybe_text(order, "catalog_id", opath, MAX_CATALOG_ID)
    notes = _maybe_text(order, "text", opath, MAX_NOTES)
    items = _list(order, "product_items", opath)
    if not items:
        raise unparseable(f"{opath}.product_items", "an order needs at least one product item", [])
    if len(items) > MAX_ITEMS:
        raise unparseable(f"{opath}.product_items", f"an order has at most {MAX_ITEMS} items", len(items))
    lines: list[LineDraft] = []
    currency: str | None = None
    for n, raw in enumerate(items):
        ipath = f"{opath}.product_items[{n}]"
        item = _as_object(raw, ipath)
        line, item_currency = _line(item, ipath)
        if currency is not None and item_currency != currency:
            raise unparseable(
                f"{ipath}.currency",
                f"product_items[{n}] is in {item_currency} but the items before it are in {currency}; "
                "one order has one currency",
                item_currency,
            )
        currency = item_currency
        lines.append(line)
    return OrderDraft(
        channel_code=channel.code,
        lines=tuple(lines),
        external_reference=reference,
        currency=currency,
        customer=CustomerRef(name=_name_for(names, sender), phone="+" + sender),
        tags=("whatsapp", f"catalog:{catalog_id}") if catalog_id else ("whatsapp",),
        notes=notes,
    )


def _line(item: dict[str, Any], path: str) -> tuple[LineDraft, str]:
    sku = _text(item, "product_retailer_id", path, MAX_SKU)
    quantity = decimal_at(item, "quantity", path)
    shown = str(item["quantity"])
    if quantity != quantity.to_integral_value():
        raise unparseable(f"{path}.quantity", "quantity must be a whole number", shown)
    if quantity < 1:
        raise unparseable(f"{path}.quantity", "quantity must be at least 1", shown)
    if quantity > MAX_QUANTITY:
        raise unparseable(f"{path}.quantity", f"quantity is absurd (more than {MAX_QUANTITY})", shown)
    price = decimal_at(item, "item_price", path)
    shown = str(item["item_price"])
    if price < 0:
        raise unparseable(f"{path}.item_price", "item_price must not be negative", shown)
    if price >= MAX_PRICE or int(price.as_tuple().exponent) < -MAX_PRICE_DECIMALS:
        raise unparseable(
            f"{path}.item_price", f"item_price is absurd (at most {MAX_PRICE_DECIMALS} decimals)", shown
        )
    currency = _text(item, "currency", path, 16).upper()
    if not is_currency(currency):
        raise unparseable(f"{path}.currency", f"unknown currency {item['currency']!r}", item["currency"])
    return LineDraft(sku=sku, quantity=quantity.to_integral_value(), unit_price=price), currency


def _sender(message: dict[str, Any], path: str) -> str:
    """The customer's number: documented as digits without "+" (``16505551234``)."""
    sender = _text(message, "from", path, 32)
    digits = sender.removeprefix("+")
    if not digits.isascii() or not digits.isdigit() or len(digits) > 20:
        raise unparseable(f"{path}.from", "from must be the sender's phone number (digits)", sender)
    return digits


def _contact_names(value: dict[str, Any]) -> dict[str, str]:
    """wa_id -> profile name, from ``contacts`` (informative only: never an error)."""
    names: dict[str, str] = {}
    contacts = value.get("contacts")
    for contact in contacts if isinstance(contacts, list) else []:
        if not isinstance(contact, dict) or not isinstance(contact.get("profile"), dict):
            continue
        name = _clean(contact["profile"].get("name"))
        if name:
            names[str(contact.get("wa_id") or "")] = name[:MAX_NAME]
    return names


def _name_for(names: Mapping[str, str], sender: str) -> str | None:
    """The sender's profile name; a lone contact is the sender even if its wa_id differs."""
    return names.get(sender) or (next(iter(names.values())) if len(names) == 1 else None)


def _order_message(body: bytes, reference: str | None) -> _OrderMessage | None:
    """The order message ``reference`` names (else the first one), for its confirmation."""
    found: list[_OrderMessage] = []
    try:
        for change, path in _changes(_load(body)):
            value = change.get("value")
            if change.get("field") != FIELD or not isinstance(value, dict):
                continue
            metadata = value.get("metadata")
            number_id = metadata.get("phone_number_id") if isinstance(metadata, dict) else None
            names = _contact_names(value)
            for k, message in enumerate(_list(value, "messages", f"{path}.value", required=False)):
                if isinstance(message, dict) and message.get("type") == ORDER and message.get("id"):
                    sender = _sender(message, f"{path}.value.messages[{k}]")
                    number = str(number_id) if number_id else None
                    found.append(_OrderMessage(str(message["id"]), sender, number, _name_for(names, sender)))
    except Unparseable:  # an unreadable body placed no order, so there is nothing to confirm
        return None
    matching = [m for m in found if m.message_id == reference] or found
    return matching[0] if matching else None


# --- small JSON helpers that name the path of what is wrong ---------------------------


def _clean(raw: Any) -> str | None:
    if not isinstance(raw, str):
        return None
    text = "".join(ch for ch in raw if ord(ch) >= 32 or ch in "\t\n\r").strip()
    return text or None


def _as_object(raw: Any, path: str) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise unparseable(path, "must be an object", raw if raw is None else type(raw).__name__)
    return raw


def _object(doc: dict[str, Any], key: str, path: str) -> dict[str, Any]:
    if doc.get(key) is None:
        raise unparseable(f"{path}.{key}", f"{key} is missing")
    return _as_object(doc[key], f"{path}.{key}")


def _list(doc: dict[str, Any], key: str, path: str, *, required: bool = True) -> list[Any]:
    raw = doc.get(key)
    if raw is None and not required:
        return []
    if raw is None:
        raise unparseable(f"{path}.{key}", f"{key} is missing")
    if not isinstance(raw, list):
        raise unparseable(f"{path}.{key}", f"{key} must be a list", type(raw).__name__)
    return raw


def _maybe_text(doc: dict[str, Any], key: str, path: str, max_length: int) -> str | None:
    """A text field, None when absent or blank; control characters are dropped."""
    raw = doc.get(key)
    if isinstance(raw, int | Decimal) and not isinstance(raw, bool):
        raw = str(raw)  # ids documented as strings may arrive as numbers
    if raw is None:
        return None
    if not isinstance(raw, str):
        raise unparseable(f"{path}.{key}", f"{key} must be a string", type(raw).__name__)
    text = _clean(raw)
    if text is not None and len(text) > max_length:
        raise unparseable(f"{path}.{key}", f"{key} is longer than {max_length} characters", len(text))
    return text


def _text(doc: dict[str, Any], key: str, path: str, max_length: int) -> str:
    text = _maybe_text(doc, key, path, max_length)
    if text is None:
        raise unparseable(f"{path}.{key}", f"{key} is missing", doc.get(key))
    return text


ADAPTER = WhatsAppAdapter()

__all__ = ["ADAPTER", "DEFAULT_CONFIRMATION", "WhatsAppAdapter", "confirmation"]
