"""What a channel adapter is: verify a delivery, parse it into intents.

An adapter never touches the database or the order services: it reads one raw
delivery (as stored in the inbox) and the channel's settings and secrets, checks the
signature, and says what the delivery means as a list of *intents*: place this order,
cancel that one, update another, or ignore the delivery (a ping, a status message).
The pipeline does the rest: inbox, idempotency, SKU mapping, customer matching,
pricing, the order, the timeline.

A new adapter is one module in ``legato.intake.adapters`` and one line in its
``ADAPTERS`` registry.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from legato.domain.catalog import Channel
from legato.domain.commands import LineDraft, OrderDraft
from legato.domain.errors import FieldIssue, LegatoError, Unauthorized, ValidationFailed
from legato.domain.order import Address, SalesOrder

if TYPE_CHECKING:
    from legato.bootstrap import Runtime


@dataclass(frozen=True)
class Delivery:
    """One delivery as received (and stored in the inbox before anything reads it)."""

    method: str  # "POST", "GET", or "PULL" for a document a pull channel fetched
    path: str
    query: Mapping[str, str]
    headers: Mapping[str, str]  # names lower-cased
    body: bytes
    received_at: datetime

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


# --- what a delivery means -----------------------------------------------------------


@dataclass(frozen=True)
class PlaceDraft:
    """Place this order (idempotent on the channel and the draft's external reference).

    ``line_refs`` may give, per line, the channel's own SKU or product id as sent, for the
    channel's SKU map; ``paid`` marks an order the channel reports as already paid (POS).
    """

    draft: OrderDraft
    paid: bool = False


@dataclass(frozen=True)
class CancelOrder:
    """The channel cancelled its order: cancel it here if the lifecycle allows, else hold it."""

    external_reference: str
    reason: str


@dataclass(frozen=True)
class UpdateOrder:
    """The channel changed its order: apply the editable fields Legato keeps
    (``notes``, ``tags``, ``shipping_address``, ``billing_address``, ``priority``)."""

    external_reference: str
    changes: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Ignore:
    """Nothing to do (a ping, a delivery receipt, a message that is not an order): kept, not an error."""

    reason: str


class Counters(Protocol):
    """Per-channel sequences (EDI control numbers), persisted; a number is never handed out twice."""

    def next(self, name: str) -> int: ...


@dataclass(frozen=True)
class Emit:
    """Send the trading partner a document about this delivery (an X12 997, an EDIFACT CONTRL).

    ``render`` is called by the pipeline inside its transaction with the channel's
    ``Counters`` (for control numbers) and returns ``(body, control number)``; the document
    is stored in ``outbound_documents`` and delivered by the channel's transport.
    """

    kind: str  # "997", "855", "CONTRL", ...
    filename: str  # suggested file name, e.g. "997-<sender>-<group>.x12"
    render: Callable[[Counters], tuple[bytes, str]]


@dataclass(frozen=True)
class Reject:
    """Part of a delivery is refused (one transaction set of an interchange, one order of a
    file): the rest goes on, and the delivery is quarantined with these issues so the refused
    part can be replayed after a fix (the orders already made stay single on replay)."""

    reference: str | None
    issues: tuple[FieldIssue, ...]


@dataclass(frozen=True)
class Recorded:
    """What a ``Record`` did: how many new facts it kept, the orders it placed, the parts it refused."""

    summary: str
    fresh: int  # facts not seen before (0: the delivery was a re-delivery)
    placed: tuple[Placed, ...] = ()
    refused: tuple[Reject, ...] = ()


@dataclass(frozen=True)
class Record:
    """Facts that are not orders (sensor readings) for the channel's own tables. Like Emit's
    ``render``, ``apply`` runs in the pipeline, after the delivery is stored and verified, with
    the runtime, the channel and the inbox entry's id; the orders it places (replenishment)
    and the parts it refuses are reported like a PlaceDraft's and a Reject's."""

    what: str  # e.g. "3 readings"
    apply: Callable[[Runtime, Channel, int], Recorded]


Intent = PlaceDraft | CancelOrder | UpdateOrder | Ignore | Emit | Reject | Record


@dataclass(frozen=True)
class Reply:
    """An answer the adapter gives itself (a verification handshake), without an order."""

    status: int
    body: bytes
    content_type: str = "text/plain"


@dataclass(frozen=True)
class Outbound:
    """An HTTP call the pipeline makes for the adapter after the order is committed (e.g. a
    WhatsApp confirmation message). Its answer is recorded on the inbox entry."""

    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    json: Any = None


@dataclass(frozen=True)
class Placed:
    """What the pipeline tells an adapter's ``acknowledge`` about a placed order."""

    order_id: int
    number: str
    currency: str
    grand_total: Decimal
    created: bool  # False: it existed already (a re-delivery)
    external_reference: str | None = None  # the channel's id of the order (e.g. the message id)
    order: SalesOrder | None = None  # the order as placed (lines, statuses), for documents like an 855


# --- errors ---------------------------------------------------------------------------


class SignatureInvalid(Unauthorized):
    """The delivery's signature is missing or wrong: 401, kept in the inbox as rejected."""

    code = "signature_invalid"
    title = "The signature is missing or does not match"


class Unparseable(ValidationFailed):
    """The delivery cannot be read as this channel's format: quarantined with the reason."""

    code = "unparseable"
    title = "The payload cannot be read"


def unparseable(path: str, message: str, value: Any = None) -> Unparseable:
    return Unparseable(message, issues=[FieldIssue(path, message, "unparseable", value)])


class Adapter(Protocol):
    """A push channel's adapter (webhooks): one module, one registry line."""

    name: ClassVar[str]

    def handshake(self, delivery: Delivery, channel: Channel) -> Reply | None:
        """Answer a verification request (e.g. WhatsApp's GET), or None for a real delivery."""
        ...

    def verify(self, delivery: Delivery, channel: Channel) -> None:
        """Raise SignatureInvalid unless the delivery is signed with the channel's secret."""
        ...

    def describe(self, delivery: Delivery) -> tuple[str | None, str | None]:
        """(topic, delivery id) from the headers, for the inbox: e.g. ("orders/create", "b54...")."""
        ...

    def parse(self, delivery: Delivery, channel: Channel) -> list[Intent]:
        """What the delivery means; raise Unparseable (with field paths) if it cannot be read."""
        ...

    def acknowledge(self, delivery: Delivery, channel: Channel, placed: Placed) -> Outbound | Emit | None:
        """An outbound call (or document, e.g. an X12 855) once the order is committed (most: None)."""
        ...


class PullAdapter(Adapter, Protocol):
    """A pull channel's adapter (e.g. Magento): it also fetches new documents from the source.

    ``fetch`` returns raw documents (each parsed later like a delivery's body) and the cursor
    to save once they are all stored; a crash before that re-fetches them, and the orders'
    idempotency (channel + external reference) keeps them single.
    """

    def fetch(self, channel: Channel, cursor: str | None) -> tuple[list[bytes], str | None]: ...


# --- helpers adapters share ---------------------------------------------------------------


def require_secret(channel: Channel, name: str) -> str:
    secret = channel.secrets.get(name)
    if not secret:
        raise SignatureInvalid(f"channel {channel.code} has no {name} secret set; every delivery is refused")
    return secret


def hmac_sha256(secret: str | bytes, message: bytes) -> bytes:
    key = secret.encode() if isinstance(secret, str) else secret
    return hmac.new(key, message, hashlib.sha256).digest()


def same(expected: bytes | str, presented: bytes | str | None) -> bool:
    """Constant-time comparison; a missing value never matches."""
    if presented is None:
        return False
    a = expected.encode() if isinstance(expected, str) else expected
    b = presented.encode() if isinstance(presented, str) else presented
    return hmac.compare_digest(a, b)


def decimal_at(doc: Mapping[str, Any], key: str, path: str, *, default: Decimal | None = None) -> Decimal:
    """A decimal field of a JSON document (string or number), or Unparseable naming it."""
    raw = doc.get(key)
    if raw is None or raw == "":
        if default is not None:
            return default
        raise unparseable(f"{path}.{key}", f"{key} is missing", None)
    if isinstance(raw, bool):
        raise unparseable(f"{path}.{key}", f"{key} must be a number, not {raw!r}", raw)
    try:
        value = Decimal(str(raw))
    except InvalidOperation:
        raise unparseable(f"{path}.{key}", f"{key} is not a number: {raw!r}", raw) from None
    if not value.is_finite():
        raise unparseable(f"{path}.{key}", f"{key} is not a finite number: {raw!r}", raw)
    return value


def read_lines(
    doc: Mapping[str, Any], readers: Sequence[tuple[str, Callable[[Any, str], LineDraft | None]]], path: str
) -> tuple[list[LineDraft], list[FieldIssue]]:
    """Read each list of items (``line_items``, ``fee_lines`` ...) with its reader, which takes
    the item and its path; collect every item's problems instead of stopping at the first."""
    issues: list[FieldIssue] = []
    lines: list[LineDraft] = []
    for key, reader in readers:
        items = doc.get(key) or []
        if not isinstance(items, list):
            issues.append(FieldIssue(f"{path}.{key}", f"{key} must be a list", "unparseable"))
            continue
        for i, item in enumerate(items):
            try:
                line = reader(item, f"{path}.{key}[{i}]")
            except Unparseable as exc:
                issues.extend(exc.issues)
                continue
            if line is not None:
                lines.append(line)
    return lines, issues


def text_at(doc: Mapping[str, Any], key: str) -> str | None:
    raw = doc.get(key)
    if raw is None:
        return None
    text = str(raw).strip()
    return text or None


def address_from(doc: Mapping[str, Any] | None, mapping: Mapping[str, str]) -> Address | None:
    """An Address from a platform's address object, by a field-name mapping."""
    if not doc:
        return None
    values = {ours: text_at(doc, theirs) for ours, theirs in mapping.items()}
    if values.get("country"):
        values["country"] = values["country"].upper()[:2]  # type: ignore[union-attr]
    values = {k: v for k, v in values.items() if v}
    return Address(**values) if values else None


__all__ = [
    "Adapter",
    "CancelOrder",
    "Counters",
    "Delivery",
    "Emit",
    "Ignore",
    "Intent",
    "LegatoError",
    "Outbound",
    "PlaceDraft",
    "Placed",
    "PullAdapter",
    "Record",
    "Recorded",
    "Reject",
    "Reply",
    "SignatureInvalid",
    "Unparseable",
    "UpdateOrder",
    "address_from",
    "decimal_at",
    "hmac_sha256",
    "read_lines",
    "require_secret",
    "same",
    "text_at",
    "unparseable",
]
