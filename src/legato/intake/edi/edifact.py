"""Reading an EDIFACT interchange (ISO 9735): bytes -> an envelope checked to the letter.

pydifact's ``Parser`` tokenises (UNA service string advice, release character); the envelope is
checked here, since pydifact's ``Interchange`` drops the UNZ and knows no positions. Every problem
is an ``EdiError`` naming segment position, tag, element and component, with the ISO 9735 (0085)
syntax error code a CONTRL reports. Bytes are decoded per the UNB syntax identifier (UNOA/UNOB
ISO 646, UNOC ISO 8859-1, UNOD-UNOK the other 8859 parts, UNOW/UNOY UTF-8); a byte outside it, a
missing UNB or UNZ and a broken UNA make the interchange unreadable (``Unparseable``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from pydifact.control.characters import Characters
from pydifact.exceptions import EDISyntaxError, ValidationError
from pydifact.parser import Parser
from pydifact.segments import Segment, SegmentFactory

from legato.domain.errors import FieldIssue
from legato.intake.base import Unparseable

#: UNB syntax identifier -> Python codec (ISO 9735 code list 0001)
CODECS = {
    "UNOA": "ascii", "UNOB": "ascii", "UNOC": "latin-1", "UNOD": "iso8859-2", "UNOE": "iso8859-5",
    "UNOF": "iso8859-7", "UNOG": "iso8859-3", "UNOH": "iso8859-4", "UNOI": "iso8859-6",
    "UNOJ": "iso8859-8", "UNOK": "iso8859-9", "UNOW": "utf-8", "UNOY": "utf-8",
}  # fmt: skip
#: syntax error code (0085) -> the code of the field issue Legato records
ERROR_CODES = {
    "2": "syntax_not_supported", "12": "invalid_value", "13": "missing", "14": "value_not_supported",
    "15": "not_supported_here", "16": "too_many_constituents", "19": "invalid_decimal_mark",
    "20": "invalid_service_character", "21": "invalid_character", "28": "reference_mismatch",
    "29": "count_mismatch", "32": "lower_level_empty",
}  # fmt: skip
#: component, data element, decimal mark, release, reserved (repetition), segment terminator
DEFAULT_SERVICE_STRING = ":+.? '"
_TAG = re.compile(r"[A-Z][A-Z0-9]{2}")
_ENVELOPE = frozenset({"UNH", "UNT", "UNG", "UNE", "UNZ"})
_PYDIFACT_ERRORS = (EDISyntaxError, ValidationError, ValueError, IndexError, TypeError)


@dataclass(frozen=True)
class EdiError:
    """One problem, where it is (segment position and tag, element, component) and its 0085 code.

    ``position`` counts from UNH = 1 inside a message (as a CONTRL's UCS does), from UNB = 1
    outside one."""

    text: str
    code: str = "12"
    tag: str | None = None
    position: int | None = None
    element: int | None = None
    component: int | None = None
    value: str | None = None

    @property
    def where(self) -> str:
        parts = []
        if self.position is not None:
            parts.append(f"segment {self.position}" + (f" ({self.tag})" if self.tag else ""))
        elif self.tag:
            parts.append(f"segment {self.tag}")
        if self.element is not None:
            component = f" component {self.component}" if self.component else ""
            parts.append(f"element {self.element}{component}")
        return ", ".join(parts)

    def describe(self) -> str:
        return f"{self.where}: {self.text}" if self.where else self.text

    def issue(self, scope: str) -> FieldIssue:
        """As a field issue; ``scope`` names the message or interchange (``message ME000001``)."""
        path = f"{scope}, {self.where}" if self.where else scope
        return FieldIssue(path, self.describe(), ERROR_CODES.get(self.code, "invalid"), self.value)


class Bad(Exception):
    """Raised by a segment reader; carries the one error that stops reading that segment."""

    def __init__(self, error: EdiError) -> None:
        super().__init__(error.describe())
        self.error = error


@dataclass(frozen=True)
class Seg:
    """One segment: its tag, elements (each a tuple of components), and where it is."""

    tag: str
    elements: tuple[tuple[str, ...], ...]
    index: int  # in the interchange, UNB = 1
    position: int = 0  # in its message, UNH = 1; 0 outside a message

    def get(self, element: int, component: int = 1) -> str:
        """The value at element/component (1-based), "" when absent."""
        if element > len(self.elements):
            return ""
        parts = self.elements[element - 1]
        return parts[component - 1] if component <= len(parts) else ""

    def components(self, element: int) -> tuple[str, ...]:
        return self.elements[element - 1] if element <= len(self.elements) else ()

    def error(
        self, text: str, code: str = "12", element: int | None = None, component: int | None = None,
        value: str | None = None,
    ) -> EdiError:  # fmt: skip
        where = self.position or self.index
        return EdiError(text, code, self.tag, where, element, component, value)


@dataclass
class Message:
    """UNH ... UNT, with the envelope errors found in them."""

    reference: str
    identifier: tuple[str, ...]  # message type, version, release, controlling agency, association code
    segments: list[Seg]
    errors: list[EdiError] = field(default_factory=list)
    group: str | None = None  # the reference of its UNG group

    def part(self, i: int) -> str:
        return self.identifier[i] if i < len(self.identifier) else ""

    @property
    def type(self) -> str:
        return self.part(0)

    @property
    def version(self) -> str:
        return f"{self.part(1)}{self.part(2)}"  # "D96A"


@dataclass
class Group:
    """UNG ... UNE (optional functional group)."""

    reference: str
    sender: tuple[str, ...]  # S006: id, qualifier
    recipient: tuple[str, ...]  # S007
    errors: list[EdiError] = field(default_factory=list)


@dataclass
class Interchange:
    syntax: str  # UNOC
    syntax_version: str  # 3
    sender: str
    sender_qualifier: str
    recipient: str
    recipient_qualifier: str
    control_reference: str
    prepared: tuple[str, str]  # date, time as sent
    test: bool
    service_string: str  # the six UNA characters (the defaults when there was no UNA)
    una: bool
    messages: list[Message] = field(default_factory=list)
    groups: list[Group] = field(default_factory=list)
    errors: list[EdiError] = field(default_factory=list)  # of UNB/UNZ: the interchange is rejected

    @property
    def decimal_marks(self) -> tuple[str, ...]:
        """Syntax 4 takes either mark; otherwise the UNA's (either when there is no UNA)."""
        if self.syntax_version == "4" or not self.una:
            return (".", ",")
        return (self.service_string[2],)

    def group_of(self, message: Message) -> Group | None:
        return next((g for g in self.groups if g.reference == message.group), None)


# --- reading --------------------------------------------------------------------------


def _unreadable(error: EdiError) -> Unparseable:
    return Unparseable(error.describe(), issues=[error.issue("interchange")])


def _service_string(text: str) -> tuple[str, bool]:
    if not text.startswith("UNA"):
        return DEFAULT_SERVICE_STRING, False
    chars = text[3:9]
    if len(chars) < 6:
        raise _unreadable(EdiError("the UNA service string advice needs six characters", "20", "UNA"))
    special = [chars[i] for i in (0, 1, 3, 5)]
    if len(set(special)) < 4 or any(c.isalnum() for c in special):
        msg = f"service characters {chars!r}: the separators, release and terminator must be distinct symbols"
        raise _unreadable(EdiError(msg, "20", "UNA", value=chars))
    if chars[2] not in ".,":
        raise _unreadable(EdiError(f"UNA decimal mark {chars[2]!r} is neither '.' nor ','", "20", "UNA",
                                   value=chars))  # fmt: skip
    return chars, True


def _segment_at(text: str, offset: int, chars: str) -> tuple[int, str]:
    """(segment number, tag) of the segment holding ``offset`` (UNA not counted)."""
    start = 9 if text.startswith("UNA") else 0
    count, i, begin = 1, start, start
    while i < offset:
        c = text[i]
        if c == chars[3]:
            i += 2
            continue
        if c == chars[5]:
            count, begin = count + 1, i + 1
        i += 1
    return count, text[begin:offset].strip()[:3]


def _decode(body: bytes) -> tuple[str, str]:
    """(text, service string): the body decoded per its UNB syntax identifier."""
    body = body.removeprefix(b"\xef\xbb\xbf").lstrip(b" \r\n\t")
    head = body[:1024].decode("latin-1")
    chars, una = _service_string(head)
    rest = head[9:].lstrip(" \r\n\t") if una else head
    if not rest.startswith("UNB"):
        found = rest[:3] or "nothing"
        raise _unreadable(EdiError(f"an interchange begins with UNB (after an optional UNA), not {found!r}",
                                   "13", position=1, value=rest[:20]))  # fmt: skip
    syntax = rest[4:].split(chars[0], 1)[0].split(chars[1], 1)[0][:8]
    codec = CODECS.get(syntax)
    if codec is None:
        known = ", ".join(CODECS)
        err = EdiError(
            f"syntax identifier {syntax!r} is not supported ({known})", "2", "UNB", 1, 1, 1, syntax
        )
        raise _unreadable(err)
    try:
        text = body.decode(codec)
    except UnicodeDecodeError as exc:
        latin = body.decode("latin-1")
        number, tag = _segment_at(latin, exc.start, chars)
        byte = body[exc.start]
        msg = (f"byte 0x{byte:02X} at offset {exc.start} is not a {syntax} character ({codec}); "
               "the UNB syntax identifier must name the character set the data is written in")  # fmt: skip
        raise _unreadable(EdiError(msg, "21", tag or None, number, value=f"0x{byte:02X}")) from None
    return text, chars


class _Factory(SegmentFactory):
    """pydifact's factory without its directory validation (which warns for every service
    segment, as it ships no service directory): the checks are ours."""

    @staticmethod
    def create_segment(name: str, *elements: Any, validate: bool = True, version: str = "",
                       directory: str = "") -> Segment:  # fmt: skip
        if not isinstance(name, str) or not _TAG.fullmatch(name):
            raise EDISyntaxError(f"{name!r} is not a segment tag")
        return Segment(name, *(elements or ("",)))


def _parsed(text: str, chars: str) -> Iterator[Seg]:
    parser = Parser(factory=_Factory(), characters=Characters.from_str(chars))
    index = 0
    for seg in parser.parse(text):
        if seg.tag != "UNA":
            index += 1
            yield Seg(seg.tag, tuple((e,) if isinstance(e, str) else tuple(e) for e in seg.elements), index)


def _segments(text: str, chars: str) -> list[Seg]:
    out: list[Seg] = []
    try:
        out.extend(_parsed(text, chars))
    except _PYDIFACT_ERRORS as exc:
        reason = str(exc).removeprefix("EDIFACT Syntax Error: ")
        if "Unexpected end" in reason:
            reason = f"the data ends inside a segment (no terminator {chars[5]!r}): it is truncated"
        after = f" (after segment {out[-1].index}, {out[-1].tag})" if out else ""
        raise _unreadable(EdiError(f"unreadable{after}: {reason}", "12", position=len(out) + 1)) from None
    return out


def read_interchange(body: bytes) -> Interchange:
    """The interchange in ``body``; raises ``Unparseable`` if it cannot be read at all.

    Errors of the envelope (counts, references, misplaced segments) do not raise: they are
    recorded on the interchange, its groups and its messages, for the CONTRL and the inbox."""
    text, chars = _decode(body)
    segs = _segments(text, chars)
    ic = _header(segs[0], chars, text.startswith("UNA"))
    _body(ic, segs)
    return ic


def peek(body: bytes) -> tuple[str | None, str | None]:
    """(sender, control reference) from the UNB in the first 2 KB, for the inbox, before the
    signature is checked (so it reads little); (None, None) if there is no readable UNB."""
    text = body[:2048].removeprefix(b"\xef\xbb\xbf").lstrip(b" \r\n\t").decode("latin-1")
    try:
        unb = next(_parsed(text, _service_string(text)[0]))
    except (Unparseable, StopIteration, *_PYDIFACT_ERRORS):
        return None, None
    return (unb.get(2) or None, unb.get(5) or None) if unb.tag == "UNB" else (None, None)


def _header(unb: Seg, chars: str, una: bool) -> Interchange:
    for element, what in ((2, "interchange sender (0004)"), (3, "interchange recipient (0010)"),
                          (5, "interchange control reference (0020)")):  # fmt: skip
        if not unb.get(element):
            raise _unreadable(unb.error(f"the {what} is missing", "13", element, 1 if element < 5 else None))
    ic = Interchange(
        unb.get(1, 1), unb.get(1, 2), unb.get(2, 1), unb.get(2, 2), unb.get(3, 1), unb.get(3, 2), unb.get(5),
        (unb.get(4, 1), unb.get(4, 2)), test=unb.get(11) == "1", service_string=chars, una=una,
    )  # fmt: skip
    if ic.syntax_version not in ("1", "2", "3", "4"):
        ic.errors.append(unb.error(f"syntax version {ic.syntax_version!r} is not 1 to 4", "2", 1, 2,
                                   ic.syntax_version))  # fmt: skip
    date, time = ic.prepared
    if not (re.fullmatch(r"\d{6}|\d{8}", date) and re.fullmatch(r"([01]\d|2[0-3])[0-5]\d", time)):
        ic.errors.append(unb.error(f"date/time of preparation {date}:{time} is not YYMMDD:HHMM", "12", 4,
                                   value=f"{date}:{time}"))  # fmt: skip
    return ic


def _body(ic: Interchange, segs: list[Seg]) -> None:
    group: Group | None = None
    group_start = 0
    in_groups = 0
    i, n = 1, len(segs)
    unz: Seg | None = None
    while i < n:
        s = segs[i]
        if s.tag == "UNZ":
            unz = s
            break
        if s.tag == "UNH":
            i = _message(ic, segs, i, group)
            continue
        if s.tag == "UNG":
            if group is not None:
                group.errors.append(s.error(f"group {group.reference} has no UNE before this UNG", "13"))
            group = Group(s.get(5), s.components(2), s.components(3))
            group_start, in_groups = len(ic.messages), in_groups + 1
            ic.groups.append(group)
            if not group.reference:
                group.errors.append(s.error("the group reference number (0048) is missing", "13", 5))
        elif s.tag == "UNE" and group is not None:
            count = len(ic.messages) - group_start
            _count_check(group.errors, s, count, "message(s) received in the group", group.reference)
            group = None
        elif s.tag == "UNE":
            ic.errors.append(s.error("UNE without a UNG", "15"))
        else:
            ic.errors.append(s.error(f"{s.tag} is not allowed outside a message", "15"))
        i += 1
    if unz is None:
        last = segs[-1]
        msg = f"the interchange ends after segment {last.index} ({last.tag}) without UNZ: it is truncated"
        raise _unreadable(EdiError(msg, "13", "UNZ", last.index + 1))
    if group is not None:
        group.errors.append(unz.error(f"group {group.reference} has no UNE", "13"))
    if unz.index < n:
        extra = segs[unz.index]
        ic.errors.append(extra.error(f"{extra.tag} after UNZ: one interchange per delivery", "15"))
    loose = [m for m in ic.messages if m.group is None]
    if in_groups and loose:
        ic.errors.append(unz.error("groups (UNG) and messages outside groups are mixed", "15"))
    if not ic.messages:
        ic.errors.append(unz.error("the interchange holds no message", "32"))
    what = "group(s) received" if in_groups else "message(s) received"
    _count_check(ic.errors, unz, in_groups or len(ic.messages), what, ic.control_reference)


def _count_check(errors: list[EdiError], trailer: Seg, actual: int, what: str, reference: str) -> None:
    """A trailer (UNT, UNE, UNZ): element 1 counts, element 2 repeats the header's reference."""
    sent = trailer.get(1)
    if not sent.isdigit():
        errors.append(trailer.error(f"count {sent!r} is not a number", "12" if sent else "13", 1, value=sent))
    elif int(sent) != actual:
        text = f"count {sent} does not match the {actual} {what}"
        errors.append(trailer.error(text, "29", 1, value=sent))
    if trailer.get(2) != reference:
        text = f"reference {trailer.get(2)!r} does not match the header's {reference!r}"
        errors.append(trailer.error(text, "28", 2, value=trailer.get(2)))


def _message(ic: Interchange, segs: list[Seg], start: int, group: Group | None) -> int:
    """Read UNH ... UNT from ``start``; returns the index after it."""
    end = start + 1
    while end < len(segs) and segs[end].tag not in _ENVELOPE:
        end += 1
    closed = end < len(segs) and segs[end].tag == "UNT"
    body = segs[start : end + 1] if closed else segs[start:end]
    body = [replace(s, position=k) for k, s in enumerate(body, 1)]
    unh = body[0]
    msg = Message(unh.get(1), unh.components(2), body, group=group.reference if group else None)
    ic.messages.append(msg)
    if not msg.reference:
        msg.errors.append(unh.error("the message reference number (0062) is missing", "13", 1))
    for c, what in enumerate(("message type", "version", "release", "controlling agency"), 1):
        if not unh.get(2, c):
            msg.errors.append(unh.error(f"the {what} is missing", "13", 2, c))
    if closed:
        _count_check(msg.errors, body[-1], len(body), "segments received from UNH to UNT", msg.reference)
        return end + 1
    found = segs[end].tag if end < len(segs) else "the end"
    msg.errors.append(EdiError(f"the message has no UNT before {found}", "13", "UNT", len(body) + 1))
    return end


__all__ = [
    "CODECS",
    "DEFAULT_SERVICE_STRING",
    "ERROR_CODES",
    "Bad",
    "EdiError",
    "Group",
    "Interchange",
    "Message",
    "Seg",
    "peek",
    "read_interchange",
]
