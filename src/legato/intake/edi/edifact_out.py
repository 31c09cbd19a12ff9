"""The CONTRL (syntax and service report, UN CONTRL D:3) Legato sends back for an interchange.

One CONTRL per inbound interchange tells the sender what was accepted: UCI for the
interchange (7 acknowledged, 4 rejected with the 0085 error code and the UNB/UNZ element),
UCF per group when the interchange has groups, UCM per message (7 or 4), and under a rejected
message UCS (segment position, UNH = 1) with UCD (element:component) for each error found.
Written in syntax UNOC:3 with the default service characters and a UNA, and read back by
``legato.intake.edi.edifact.read_interchange`` in the tests.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from pydifact.control.characters import Characters
from pydifact.segments import Segment
from pydifact.serializer import Serializer

from legato.intake.edi.edifact import DEFAULT_SERVICE_STRING, EdiError, Group, Interchange, Message

ACCEPTED, REJECTED = "7", "4"  # 0083 action codes
_INTERCHANGE_TAGS = ("UNA", "UNB", "UNZ")
_GROUP_TAGS = ("UNG", "UNE")
_MESSAGE_TAGS = ("UNH", "UNT")


def parties(ic: Interchange, extra: Mapping[str, Any]) -> tuple[tuple[str, str], tuple[str, str]]:
    """(sender, recipient) of the CONTRL as (id, qualifier): the channel's settings
    ``edifact_sender_id``/``_qualifier`` and ``edifact_recipient_id``/``_qualifier``; by
    default the inbound interchange's recipient and sender swapped. A sender id set without a
    qualifier is taken as a GLN (14)."""
    own = extra.get("edifact_sender_id")
    sender = (
        own or ic.recipient,
        extra.get("edifact_sender_qualifier") or ("14" if own else ic.recipient_qualifier),
    )
    recipient = (
        extra.get("edifact_recipient_id") or ic.sender,
        extra.get("edifact_recipient_qualifier") or ic.sender_qualifier,
    )
    return sender, recipient


def _latin1(value: str) -> str:
    """UNOC is ISO 8859-1: anything else (from a UNOY interchange) becomes '?' (then released)."""
    return value.encode("latin-1", "replace").decode("latin-1")


def _seg(tag: str, *elements: str | list[str]) -> Segment:
    els: list[str | list[str]] = []
    for e in elements:
        if isinstance(e, list):
            e = [_latin1(c) for c in e]
            while e and not e[-1]:
                e.pop()
            els.append(e if len(e) != 1 else e[0])
        else:
            els.append(_latin1(e))
    while els and els[-1] in ("", []):
        els.pop()
    return Segment(tag, *els)


def _party(id_: str, qualifier: str) -> list[str]:
    return [id_, qualifier]


def _error_elements(error: EdiError | None, tags: tuple[str, ...]) -> list[str | list[str]]:
    """0085, 0013 and S011 of a UCI/UCF/UCM for ``error`` (nothing when there is none)."""
    if error is None:
        return []
    tag = error.tag if error.tag in tags else ""
    where: list[str] = [str(error.element)] if tag and error.element else []
    if where and error.component:
        where.append(str(error.component))
    return [error.code, tag, where]


def _details(errors: Sequence[EdiError]) -> list[Segment]:
    """UCS per erroneous segment (its position), UCD per erroneous element under it."""
    by_position: dict[int, list[EdiError]] = {}
    for e in errors:
        if e.position is not None:
            by_position.setdefault(e.position, []).append(e)
    out = []
    for position in sorted(by_position):
        found = by_position[position]
        whole = next((e for e in found if e.element is None), None)
        out.append(_seg("UCS", str(position), whole.code if whole else ""))
        for e in found:
            if e.element is not None:
                out.append(_seg("UCD", e.code, [str(e.element), str(e.component or "")]))
    return out


def _message_response(msg: Message, errors: Sequence[EdiError]) -> list[Segment]:
    """UCM; the first error of UNH or UNT goes on it, the others below it as UCS/UCD."""
    envelope = next((e for e in errors if e.tag in _MESSAGE_TAGS), None)
    action = REJECTED if errors else ACCEPTED
    identifier = list(msg.identifier[:5])  # S009 of syntax 3: type, version, release, agency, association
    ucm = _seg("UCM", msg.reference, identifier, action, *_error_elements(envelope, _MESSAGE_TAGS))
    return [ucm, *_details([e for e in errors if e is not envelope])]


def _responses(
    ic: Interchange, rejected: Mapping[int, Sequence[EdiError]], group: str | None
) -> list[Segment]:
    out: list[Segment] = []
    for i, msg in enumerate(ic.messages):
        if msg.type != "CONTRL" and msg.group == group:
            out += _message_response(msg, rejected.get(i, ()))
    return out


def _group_response(group: Group) -> Segment:
    error = group.errors[0] if group.errors else None
    action = REJECTED if error else ACCEPTED
    return _seg("UCF", group.reference, list(group.sender), list(group.recipient), action,
                *_error_elements(error, _GROUP_TAGS))  # fmt: skip


def render_contrl(
    ic: Interchange,
    rejected: Mapping[int, Sequence[EdiError]],
    *,
    control_number: int,
    sender: tuple[str, str],
    recipient: tuple[str, str],
    now: datetime | None = None,
) -> bytes:
    """The CONTRL for ``ic``; ``rejected`` maps the index of each refused message (in
    ``ic.messages``) to its errors. CONTRL messages in ``ic`` are not acknowledged."""
    now = now or datetime.now(UTC)
    ref = str(control_number)
    error = ic.errors[0] if ic.errors else None
    eancom = any(m.part(4).startswith("EAN") for m in ic.messages)
    body = [
        _seg("UCI", ic.control_reference, _party(ic.sender, ic.sender_qualifier),
             _party(ic.recipient, ic.recipient_qualifier), REJECTED if error else ACCEPTED,
             *_error_elements(error, _INTERCHANGE_TAGS)),
    ]  # fmt: skip
    if error is None and ic.groups:
        for group in ic.groups:
            body.append(_group_response(group))
            if not group.errors:
                body += _responses(ic, rejected, group.reference)
    elif error is None:
        body += _responses(ic, rejected, None)
    identifier = ["CONTRL", "D", "3", "UN", *(["EAN002"] if eancom else [])]
    segments = [
        _seg("UNB", ["UNOC", "3"], _party(*sender), _party(*recipient), [f"{now:%y%m%d}", f"{now:%H%M}"], ref,
             *(["", "", "", "", "", "1"] if ic.test else [])),
        _seg("UNH", "1", identifier),
        *body,
        _seg("UNT", str(len(body) + 2), "1"),
        _seg("UNZ", "1", ref),
    ]  # fmt: skip
    text = Serializer(Characters.from_str(DEFAULT_SERVICE_STRING)).serialize(segments, with_una_header=True)
    return text.encode("latin-1")


__all__ = ["ACCEPTED", "REJECTED", "parties", "render_contrl"]
