"""The ``edifact`` adapter: EDIFACT ORDERS interchanges (D.96A, D.01B; EANCOM) pushed to
``POST /intake/{code}``, signed like the rest adapter (``X-Legato-Signature: sha256=<hex
HMAC-SHA256 of the body with the channel's webhook_secret>``).

One interchange becomes: a CONTRL back to the sender (stored in ``outbound_documents``, numbered
by the channel's ``unb`` counter), an order per valid ORDERS message (idempotent on its BGM
document number), a cancellation per message with function 1, and a ``Reject`` per refused
message, so the others still go on and the delivery waits in quarantine naming the refused one.
See docs/channels/edifact.md.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar

from legato.domain.catalog import Channel
from legato.domain.commands import LineDraft, OrderDraft
from legato.domain.errors import FieldIssue, ValidationFailed
from legato.domain.lifecycle import OrderStatus
from legato.domain.matching import CustomerRef
from legato.domain.order import Address
from legato.intake.base import (
    CancelOrder,
    Counters,
    Delivery,
    Emit,
    Ignore,
    Intent,
    Outbound,
    Placed,
    PlaceDraft,
    Reject,
    Reply,
    SignatureInvalid,
    hmac_sha256,
    require_secret,
    same,
)
from legato.intake.edi.edifact import EdiError, Interchange, Message, peek, read_interchange
from legato.intake.edi.edifact_orders import GTIN_TYPES, ItemLine, Party, PurchaseOrder, read_orders
from legato.intake.edi.edifact_out import parties, render_contrl

SIGNATURE_HEADER = "x-legato-signature"
_CODE = re.compile(r"[A-Z0-9]{1,3}")
_TEXT_SETTINGS = ("edifact_sender_id", "edifact_sender_qualifier", "edifact_recipient_id",
                  "edifact_recipient_qualifier")  # fmt: skip


def _bad_setting(name: str, message: str, value: Any) -> ValidationFailed:
    msg = f"channel setting {name}: {message}"
    return ValidationFailed(msg, issues=[FieldIssue(f"settings.{name}", msg, "invalid_setting", value)])


def item_preference(extra: dict[str, Any]) -> tuple[str, ...]:
    """``edifact_item_id``: the item number type (or list of them, tried in order) whose id
    becomes the line's SKU: ``EN`` (GTIN; also matches ``SRV``), ``SA`` (supplier's article
    number), ``IN`` (buyer's), ``BP``, ``MF`` ... Nothing set, or none present on a line: the
    LIN's item number, else the first PIA id."""
    raw = extra.get("edifact_item_id")
    if raw is None or raw == "":
        return ()
    items = [raw] if isinstance(raw, str) else raw
    if not isinstance(items, list) or not all(isinstance(i, str) and _CODE.fullmatch(i) for i in items):
        raise _bad_setting(
            "edifact_item_id", "give an item number type such as EN or SA, or a list of them", raw
        )
    return tuple(items)


def choose_item(line: ItemLine, preferred: Sequence[str]) -> str:
    """The id of ``line`` that becomes its SKU (the channel's ``sku_map`` is applied after)."""
    for want in preferred:
        for kind, item in line.ids:
            if kind == want or (want in GTIN_TYPES and kind in GTIN_TYPES):
                return item
    return line.ids[0][1]


def _address(party: Party | None) -> Address | None:
    if party is None or not (party.name or party.street or party.city or party.postcode):
        return None
    first, *more = party.street or ("",)
    return Address(
        company=party.name, line1=first or None, line2=", ".join(more) or None, city=party.city,
        region=party.region, postcode=party.postcode, country=party.country,
    )  # fmt: skip


def _when(d: datetime | None) -> str:
    return (
        "" if d is None else d.strftime("%Y-%m-%d" if d.time() == datetime.min.time() else "%Y-%m-%d %H:%M")
    )


def _notes(po: PurchaseOrder) -> str:
    parts = [f"ORDERS {po.number} ({po.version} {po.association})".replace(" )", ")")]
    if po.document_date:
        parts[0] += f" dated {_when(po.document_date)}"
    if po.delivery_date:
        parts.append(f"delivery requested {_when(po.delivery_date)}")
    if po.references:
        parts.append("references " + ", ".join(f"{q} {r}" for q, r in po.references))
    parts += po.notes
    return "; ".join(parts)[:2000]


def order_draft(
    po: PurchaseOrder, channel: Channel, preferred: Sequence[str], *, test: bool = False
) -> OrderDraft:
    """The canonical order for a valid purchase order (read without errors)."""
    buyer = po.parties.get("BY")
    customer = None
    if buyer is not None:
        props = {"gln": buyer.gln} if buyer.gln else {}
        customer = CustomerRef(name=buyer.name, code=buyer.id, properties=props)
    lines = tuple(
        LineDraft(
            sku=choose_item(ln, preferred), quantity=ln.quantity or Decimal(0), name=ln.description,
            unit_price=ln.net_price if ln.net_price is not None else ln.gross_price,
        )
        for ln in po.lines
    )  # fmt: skip
    return OrderDraft(
        channel_code=channel.code,
        lines=lines,
        external_reference=po.number,
        currency=po.currency,
        customer=customer,
        billing_address=_address(po.parties.get("IV") or buyer),
        shipping_address=_address(po.parties.get("DP") or po.parties.get("ST")),
        tags=("edifact-test",) if test else (),
        notes=_notes(po),
        status=OrderStatus.PENDING_APPROVAL if po.action == "provisional" else OrderStatus.CREATED,
    )


def _contrl(ic: Interchange, rejected: dict[int, list[EdiError]], extra: dict[str, Any]) -> Emit:
    sender, recipient = parties(ic, extra)

    def render(counters: Counters) -> tuple[bytes, str]:
        n = counters.next("unb")
        body = render_contrl(ic, rejected, control_number=n, sender=sender, recipient=recipient)
        return body, str(n)

    name = re.sub(r"[^A-Za-z0-9._-]", "_", f"CONTRL-{ic.sender}-{ic.control_reference}.edi")
    return Emit("CONTRL", name, render)


def _message_intent(po: PurchaseOrder, channel: Channel, preferred: Sequence[str], test: bool) -> Intent:
    if po.action == "cancel":
        return CancelOrder(po.number, f"ORDERS {po.number} with message function 1 (cancellation)")
    if po.action == "copy":
        return Ignore(f"ORDERS {po.number} is a copy (message function 31): nothing placed")
    return PlaceDraft(order_draft(po, channel, preferred, test=test))


def _scoped(msg: Message, ic: Interchange, errors: list[EdiError]) -> tuple[FieldIssue, ...]:
    group = ic.group_of(msg)
    scope = f"message {msg.reference or '?'}"
    return tuple(
        e.issue(f"group {group.reference}" if group and e in group.errors else scope) for e in errors
    )


def interpret(ic: Interchange, channel: Channel) -> list[Intent]:
    """What an interchange means for Legato (the adapter's ``parse`` after reading it)."""
    extra = channel.settings.extra
    preferred = item_preference(extra)
    for name in _TEXT_SETTINGS:
        if extra.get(name) is not None and not (isinstance(extra[name], str) and 0 < len(extra[name]) <= 35):
            raise _bad_setting(name, "must be text of 1 to 35 characters", extra[name])
    rejected: dict[int, list[EdiError]] = {}
    intents: list[Intent] = []
    if ic.errors:
        scope = f"interchange {ic.control_reference}"
        intents.append(Reject(scope, tuple(e.issue(scope) for e in ic.errors)))
    else:
        for i, msg in enumerate(ic.messages):
            if msg.type == "CONTRL":
                intents.append(Ignore("a CONTRL from the partner (their report on our interchange): kept"))
                continue
            po, errors = read_orders(msg, ic.decimal_marks)
            group = ic.group_of(msg)
            errors = [*(group.errors if group else []), *errors]
            if errors:
                rejected[i] = errors
                intents.append(Reject(po.number or f"message {msg.reference}", _scoped(msg, ic, errors)))
            else:
                intents.append(_message_intent(po, channel, preferred, ic.test))
    only_contrls = ic.messages and all(m.type == "CONTRL" for m in ic.messages)  # never answered
    if extra.get("edifact_contrl", True) is not False and not only_contrls:
        intents.insert(0, _contrl(ic, rejected, extra))
    return intents


class EdifactAdapter:
    name: ClassVar[str] = "edifact"

    def handshake(self, delivery: Delivery, channel: Channel) -> Reply | None:
        return None

    def verify(self, delivery: Delivery, channel: Channel) -> None:
        secret = require_secret(channel, "webhook_secret")
        presented = (delivery.header(SIGNATURE_HEADER) or "").removeprefix("sha256=")
        if not same(hmac_sha256(secret, delivery.body).hex(), presented):
            raise SignatureInvalid(f"{SIGNATURE_HEADER} is missing or does not match the body")

    def describe(self, delivery: Delivery) -> tuple[str | None, str | None]:
        return "ORDERS", peek(delivery.body)[1]

    def parse(self, delivery: Delivery, channel: Channel) -> list[Intent]:
        return interpret(read_interchange(delivery.body), channel)

    def acknowledge(self, delivery: Delivery, channel: Channel, placed: Placed) -> Outbound | None:
        return None


ADAPTER = EdifactAdapter()

__all__ = ["ADAPTER", "EdifactAdapter", "choose_item", "interpret", "item_preference", "order_draft"]
