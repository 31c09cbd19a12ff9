"""The ``edi-x12`` adapter: X12 850 purchase orders (4010 and 5010), answered with a 997 for
every functional group and an 855 for every confirmed order.

Pushed to ``POST /intake/{code}`` and signed like any house push (``X-Legato-Signature:
sha256=<hex HMAC-SHA256 of the body with the channel's webhook_secret>``), or fetched from
a partner's SFTP directory (a pulled file is not signed: the SSH host key is the trust).

What one interchange becomes, in this order: one ``Emit`` of a 997 per functional group;
a ``PlaceDraft`` per accepted 850 (BEG01 00, 06 or 07; its PO number BEG03 is the external
reference, so a re-sent PO creates nothing new); a ``Reject`` per refused transaction set
(named by its PO number, else ``ST02 <n>``), which quarantines the delivery with that set's
errors while the other orders are placed; a ``CancelOrder`` per 850 with BEG01 01. An
interchange whose envelope cannot be read raises ``Unparseable`` naming the segment.

The 855 goes out when the placed order is confirmed, i.e. ``created`` or ``processing``. An
order placed ``pending_approval`` or ``on_hold`` gets none here: its 855 is to be sent when
the workflow confirms it (not built yet). A re-delivered PO gets a fresh 997 (it is a new
interchange) and no second 855.

Settings (``settings.extra``): ``x12_item_qualifier`` (the product id qualifier whose id
becomes the line's SKU, e.g. ``VN``; a line without it falls back along
``x12_po.ITEM_ORDER``), the envelope settings of ``legato.intake.edi.x12_out``; when
``x12_receiver_id`` (the partner) or ``x12_sender_id`` (us) is set, an interchange from
anyone else, or addressed to anyone else, is refused.
"""

from __future__ import annotations

import logging
import re
from datetime import date
from functools import lru_cache, partial
from typing import ClassVar

from legato.domain.catalog import Channel
from legato.domain.commands import LineDraft, OrderDraft
from legato.domain.errors import FieldIssue
from legato.domain.lifecycle import OrderStatus
from legato.domain.matching import CustomerRef
from legato.domain.order import Address
from legato.intake.base import (
    CancelOrder,
    Delivery,
    Emit,
    Ignore,
    Intent,
    Placed,
    PlaceDraft,
    Reject,
    Reply,
    SignatureInvalid,
    Unparseable,
    hmac_sha256,
    require_secret,
    same,
    unparseable,
)
from legato.intake.edi.x12 import (
    FunctionalGroup,
    Interchange,
    X12Error,
    peek_control_number,
    read_interchange,
)
from legato.intake.edi.x12_850 import check_group
from legato.intake.edi.x12_out import Envelope, SettingError, envelope, render_855, render_997
from legato.intake.edi.x12_po import (
    ATTRIBUTES,
    PRODUCT_QUALIFIERS,
    PURPOSES,
    Party,
    PurchaseOrder,
    choose_item_id,
)

log = logging.getLogger("legato.intake.x12")

SIGNATURE_HEADER = "x-legato-signature"
ITEM_SETTING = "x12_item_qualifier"
CONFIRMED = (OrderStatus.CREATED, OrderStatus.PROCESSING)
MAX_NOTES = 5000
#: DTM01 qualifiers named in the order's notes (any other is given by its code)
DATE_NAMES = {
    "001": "cancel after", "002": "delivery requested", "010": "ship requested", "037": "ship not before",
    "038": "ship no later than", "063": "do not deliver after", "064": "do not deliver before",
}  # fmt: skip


class X12Adapter:
    name: ClassVar[str] = "edi-x12"

    def handshake(self, delivery: Delivery, channel: Channel) -> Reply | None:
        return None

    def verify(self, delivery: Delivery, channel: Channel) -> None:
        secret = require_secret(channel, "webhook_secret")
        presented = (delivery.header(SIGNATURE_HEADER) or "").removeprefix("sha256=")
        if not same(hmac_sha256(secret, delivery.body).hex(), presented):
            raise SignatureInvalid(f"{SIGNATURE_HEADER} is missing or does not match the body")

    def describe(self, delivery: Delivery) -> tuple[str | None, str | None]:
        return "850", peek_control_number(delivery.body)

    def parse(self, delivery: Delivery, channel: Channel) -> list[Intent]:
        preferred = _item_setting(channel)
        ic = _read(delivery.body)
        _envelope(channel, ic, None)  # every envelope setting is checked before anything is placed
        _check_partner(ic, channel)
        emits: list[Intent] = []
        orders: list[Intent] = []
        cancels: list[Intent] = []
        for group in ic.groups:
            env = _envelope(channel, ic, group)
            results = check_group(group)
            render = partial(render_997, env=env, group=group, results=results)
            emits.append(Emit("997", _filename("997", ic.sender_id, group.control), render))
            for r in results:
                if group.errors or r.order is None:
                    issues = tuple(e.issue() for e in (*group.errors, *r.errors))
                    orders.append(Reject(r.reference, issues))
                elif r.order.purpose == "01":
                    reason = f"the buyer cancelled PO {r.order.number} (850 BEG01 01)"
                    cancels.append(CancelOrder(r.order.number, reason))
                else:
                    orders.append(PlaceDraft(draft(r.order, channel.code, preferred)))
        if not ic.groups:
            return [Ignore(f"interchange {ic.control} holds no functional group")]
        return [*emits, *orders, *cancels]  # cancels last: one of an order never seen stops the rest

    def acknowledge(self, delivery: Delivery, channel: Channel, placed: Placed) -> Emit | None:
        order = placed.order
        if order is None or not placed.created or order.status not in CONFIRMED:
            return None  # a re-delivery was acknowledged the first time; a held order waits
        found = _orders(delivery.body).get(placed.external_reference or "")
        if found is None:
            return None
        ic, group, po = found
        try:
            env: Envelope = envelope(channel.settings.extra, ic, group)
            render = partial(render_855, env=env, po=po, order=order)
            render(_DryRun())  # a value that cannot be written fails here, not in the pipeline
        except (SettingError, ValueError) as exc:
            log.warning("no 855 for order %s: %s", placed.number, exc)
            return None
        return Emit("855", _filename("855", ic.sender_id, po.number), render)


@lru_cache(maxsize=2)
def _orders(body: bytes) -> dict[str, tuple[Interchange, FunctionalGroup, PurchaseOrder]]:
    """The accepted purchase orders of an interchange by PO number, read once for all the
    acknowledgements of one delivery."""
    try:
        ic = read_interchange(body)
    except X12Error:
        return {}
    return {
        r.order.number: (ic, group, r.order)
        for group in ic.groups
        if not group.errors
        for r in check_group(group)
        if r.order is not None and r.order.purpose != "01"
    }


class _DryRun:
    def next(self, name: str) -> int:
        return 1


def _read(body: bytes) -> Interchange:
    try:
        return read_interchange(body)
    except X12Error as exc:
        raise Unparseable(str(exc), issues=[exc.issue()]) from None


def _item_setting(channel: Channel) -> str | None:
    value = channel.settings.extra.get(ITEM_SETTING)
    if value is None:
        return None
    if not isinstance(value, str) or value not in PRODUCT_QUALIFIERS or value in ATTRIBUTES:
        ids = ", ".join(sorted(set(PRODUCT_QUALIFIERS) - ATTRIBUTES))
        raise unparseable(
            f"settings.extra.{ITEM_SETTING}", f"{value!r} is not an item id qualifier ({ids})", value
        )
    return value


def _envelope(channel: Channel, ic: Interchange, group: FunctionalGroup | None) -> Envelope:
    try:
        return envelope(channel.settings.extra, ic, group)
    except SettingError as exc:
        raise unparseable(
            f"settings.extra.{exc.name}", str(exc), channel.settings.extra.get(exc.name)
        ) from None


def _check_partner(ic: Interchange, channel: Channel) -> None:
    """When the channel names the partner (or us), an interchange between others is refused."""
    extra = channel.settings.extra
    for name, element, actual, what in (
        ("x12_receiver_id", 6, ic.sender_id, "comes from"),
        ("x12_sender_id", 8, ic.receiver_id, "is addressed to"),
    ):
        expected = extra.get(name)
        if isinstance(expected, str) and expected.strip() != actual:
            msg = f"the interchange {what} {actual!r}; channel {channel.code} has {name} {expected.strip()!r}"
            error = X12Error.at(ic.header, msg, element=element, value=actual, code="interchange")
            raise Unparseable(
                str(error), issues=[FieldIssue(error.path, str(error), "wrong_partner", actual)]
            )


def _filename(kind: str, partner: str, reference: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", f"{kind}-{partner}-{reference}") + ".x12"


# --- the 850 as an order ----------------------------------------------------------------------


def draft(po: PurchaseOrder, channel_code: str, preferred: str | None = None) -> OrderDraft:
    """The canonical order of an accepted 850 (the reader has checked every line names an item)."""
    lines = []
    for item in po.items:
        chosen = choose_item_id(item.ids, preferred)
        assert chosen is not None
        lines.append(LineDraft(chosen[1], item.quantity, item.unit_price, item.description))
    return OrderDraft(
        channel_code,
        tuple(lines),
        external_reference=po.number,
        currency=po.currency,
        customer=customer(po),
        billing_address=address(po.party("BT")),
        shipping_address=address(po.party("ST")),
        notes=notes(po),
    )


def customer(po: PurchaseOrder) -> CustomerRef | None:
    """The buyer (N1 BY, else BT): name, N104 as ``code`` with N103 in the properties, and
    the e-mail and phone of the first contact (PER) that has them."""
    party = po.party("BY", "BT")
    contacts = [*po.contacts, *(party.contacts if party else ())]
    email = next((c.email for c in contacts if c.email), None)
    phone = next((c.phone for c in contacts if c.phone and len(c.phone) <= 32), None)
    if party is None and email is None and phone is None:
        return None
    props = {"x12_id_qualifier": party.id_qualifier} if party and party.id_qualifier else {}
    return CustomerRef(
        name=party.name if party else None, email=email, phone=phone, code=party.id if party else None,
        properties=props,
    )  # fmt: skip


def address(party: Party | None) -> Address | None:
    """An N1 loop as an address: N102 is the name, or the company when N2 gives a name."""
    if party is None:
        return None
    name, company = (" ".join(party.names), party.name) if party.names else (party.name, None)
    contact = next((c for c in party.contacts if c.phone or c.email), None)
    street = party.street
    return Address(
        name=name, company=company, line1=street[0] if street else None, line2=", ".join(street[1:]) or None,
        city=party.city, region=party.region, postcode=party.postcode, country=party.country,
        phone=contact.phone if contact else None, email=contact.email if contact else None,
    )  # fmt: skip


def notes(po: PurchaseOrder) -> str:
    """What the 850 says that a Legato order has no field for, one line each."""
    head = f"X12 850 PO {po.number} ({PURPOSES[po.purpose]}, type {po.order_type}) of {_day(po.po_date)}"
    out = [head + (f", release {po.release}" if po.release else "")]
    out += [f"{DATE_NAMES.get(q, 'date ' + q)}: {_day(d)}" for q, d in po.dates]
    out += [f"REF {q}: {v}" for q, v in po.references]
    out += [
        f"contact {c.function}: " + ", ".join(x for x in (c.name, c.email, c.phone) if x) for c in po.contacts
    ]
    out += [f"AMT {q}: {a}" for q, a in po.amounts]
    out += [f"line {it.line_id or i}: quantity {it.quantity} {it.unit}" for i, it in enumerate(po.items, 1)
            if it.unit != "EA"]  # fmt: skip
    out += list(po.messages)
    return "\n".join(out)[:MAX_NOTES]


def _day(d: date) -> str:
    return d.isoformat()


ADAPTER = X12Adapter()
