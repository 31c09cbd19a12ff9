"""What Legato sends an X12 trading partner: the 997 functional acknowledgment of every
inbound functional group, and the 855 purchase order acknowledgment of a confirmed order.

Each document is one interchange (ISA/GS/ST ... SE/GE/IEA) numbered from the channel's
counters: ISA13 is ``counters.next("isa")`` zero-padded to 9 digits, GS06 is
``counters.next("gs")``, ST02 is 0001. The envelope comes from the channel's settings
(``settings.extra``), each defaulting to the inbound interchange's, turned round:

- ``x12_sender_qualifier`` / ``x12_sender_id``: us (default: the inbound ISA07/ISA08);
- ``x12_receiver_qualifier`` / ``x12_receiver_id``: the partner (default: ISA05/ISA06);
- ``x12_application_sender_id`` / ``x12_application_receiver_id``: GS02/GS03 (default:
  the inbound GS03/GS02);
- ``x12_version``: ``00401`` or ``00501`` (default: the inbound ISA12);
- ``x12_separators``: ``{"element", "component", "segment", "repetition"}`` (default: the
  inbound interchange's; repetition is used in 00501 only).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from legato.domain.order import OrderLine, SalesOrder
from legato.intake.base import Counters
from legato.intake.edi.x12_model import (
    DIGITS,
    ELEMENT_CODES,
    GROUP_CODES,
    INTERCHANGE_QUALIFIERS,
    SEGMENT_CODES,
    SET_CODES,
    VERSIONS,
    FunctionalGroup,
    Interchange,
    Separators,
)
from legato.intake.edi.x12_po import Item, PurchaseOrder, SetResult

SEPARATOR_KEYS = ("element", "component", "segment", "repetition")
REPETITION_CHOICES = "^{!`"
Seg = list[str]


class SettingError(ValueError):
    """A trading-partner setting that cannot make an envelope."""

    def __init__(self, name: str, message: str) -> None:
        self.name = name
        super().__init__(f"settings.extra.{name}: {message}")


@dataclass(frozen=True)
class Envelope:
    sender_qualifier: str
    sender_id: str
    receiver_qualifier: str
    receiver_id: str
    application_sender: str
    application_receiver: str
    version: str  # ISA12
    separators: Separators
    usage: str = "P"  # ISA15, as the partner sent it (a test interchange is answered as a test)


def envelope(
    extra: Mapping[str, Any], inbound: Interchange, group: FunctionalGroup | None = None
) -> Envelope:
    """The envelope of a document answering ``inbound``; SettingError names a bad setting."""

    def text(name: str, default: str, least: int, most: int) -> str:
        value = extra.get(name, default)
        if not isinstance(value, str) or not least <= len(value.strip()) <= most:
            raise SettingError(name, f"must be text of {least} to {most} characters, not {value!r}")
        return value.strip()

    version = extra.get("x12_version", inbound.version)
    if version not in VERSIONS:
        raise SettingError("x12_version", f"must be 00401 or 00501, not {version!r}")
    env = Envelope(
        text("x12_sender_qualifier", inbound.receiver_qualifier, 2, 2),
        text("x12_sender_id", inbound.receiver_id, 1, 15),
        text("x12_receiver_qualifier", inbound.sender_qualifier, 2, 2),
        text("x12_receiver_id", inbound.sender_id, 1, 15),
        text("x12_application_sender_id", group.receiver if group else inbound.receiver_id, 2, 15),
        text("x12_application_receiver_id", group.sender if group else inbound.sender_id, 2, 15),
        version,
        separators(extra.get("x12_separators"), inbound.separators, version),
        inbound.usage,
    )
    for name in ("x12_sender_qualifier", "x12_receiver_qualifier"):
        if extra.get(name, "ZZ") not in INTERCHANGE_QUALIFIERS:
            raise SettingError(
                name, f"{extra[name]!r} is not an interchange id qualifier (e.g. 01, 12, 14, ZZ)"
            )
    for name, value in (("x12_sender_id", env.sender_id), ("x12_receiver_id", env.receiver_id)):
        if any(c in value for c in env.separators.all()):
            raise SettingError(name, f"{value!r} contains one of the separators")
    return env


def separators(setting: Any, inbound: Separators, version: str) -> Separators:
    """The ``x12_separators`` setting over the inbound interchange's separators."""
    if setting is None:
        setting = {}
    if not isinstance(setting, Mapping) or set(setting) - set(SEPARATOR_KEYS):
        raise SettingError("x12_separators", f"must be an object with keys {', '.join(SEPARATOR_KEYS)}")
    chosen = {k: setting.get(k, getattr(inbound, k)) for k in SEPARATOR_KEYS}
    if version == "00401":
        chosen["repetition"] = None
    elif chosen["repetition"] is None:
        used = {chosen["element"], chosen["component"], chosen["segment"]}
        chosen["repetition"] = next(c for c in REPETITION_CHOICES if c not in used)
    if not all(isinstance(v, str) or v is None for v in chosen.values()):
        raise SettingError("x12_separators", "each separator is one character")
    seps = Separators(**chosen)
    problem = seps.problem()
    if problem:
        raise SettingError("x12_separators", problem)
    return seps


# --- the 997 ---------------------------------------------------------------------------------


def render_997(
    counters: Counters,
    env: Envelope,
    group: FunctionalGroup,
    results: Sequence[SetResult],
    now: datetime | None = None,
) -> tuple[bytes, str]:
    """The 997 acknowledging one inbound functional group: AK1, an AK2 loop per transaction
    set (AK3/AK4 for each segment and element in error, AK5), AK9. Returns (body, ISA13)."""
    v5 = env.version == "00501"
    clean = _cleaner(env.separators)
    body = [
        ["AK1", clean(group.functional_id), clean(group.control), *([clean(group.version)] if v5 else [])]
    ]
    if not group.errors:  # a rejected group is answered by its AK9 alone
        for r in results:
            body += _ak2_loop(r, v5, clean, env.separators.component)
    accepted = 0 if group.errors else sum(r.status != "R" for r in results)
    said = group.trailer.get(1) if group.trailer else ""
    codes = _unique(GROUP_CODES[e.code] for e in group.errors if e.code in GROUP_CODES)
    status = _group_status(group, results)
    body.append(["AK9", status, said if DIGITS.match(said) else str(len(results)), str(len(results)),
                 str(accepted), *codes[:5]])  # fmt: skip
    return _interchange(env, counters, "FA", "997", body, now)


def _ak2_loop(r: SetResult, v5: bool, clean: Callable[[str], str], component: str) -> list[Seg]:
    ts = r.transaction_set
    out = [
        ["AK2", clean(ts.id), clean(ts.control), *([clean(ts.convention)] if v5 and ts.convention else [])]
    ]
    noted = [e for e in (*r.errors, *r.warnings) if e.code not in SET_CODES]
    for position in sorted({e.position for e in noted}):
        errs = [e for e in noted if e.position == position]
        code = next((SEGMENT_CODES[e.code] for e in errs if e.code in SEGMENT_CODES), "8")
        segment_id = "".join(c for c in errs[0].segment.upper() if c.isalnum())[:3].ljust(2, "X")
        out.append(["AK3", segment_id, str(ts.set_position(position)), errs[0].loop or "", code])
        for e in errs:
            if e.element is not None and e.code in ELEMENT_CODES:
                where = str(e.element) + (f"{component}{e.component}" if e.component else "")
                out.append(["AK4", where, e.ref or "", ELEMENT_CODES[e.code], clean(e.value or "")[:99]])
    codes = [SET_CODES[e.code] for e in r.errors if e.code in SET_CODES]
    if any(e.code not in SET_CODES for e in (*r.errors, *r.warnings)):
        codes.append("5")  # one or more segments in error
    out.append(["AK5", r.status, *_unique(codes)[:5]])
    return out


def _group_status(group: FunctionalGroup, results: Sequence[SetResult]) -> str:
    """AK901: A accepted, E accepted with errors noted, P partially accepted, R rejected."""
    statuses = [r.status for r in results]
    if group.errors or (statuses and all(s == "R" for s in statuses)):
        return "R"
    if "R" in statuses:
        return "P"
    return "E" if "E" in statuses else "A"


# --- the 855 ---------------------------------------------------------------------------------


def line_status(item: Item, line: OrderLine | None, backordered: bool = False) -> str:
    """ACK01 of one line: IR rejected (not on the order, cancelled, held for review), IB
    backordered, IC changed (the quantity, or the unit price sent, differs), IA accepted."""
    if line is None or line.status in ("cancelled", "review"):
        return "IR"
    if backordered:
        return "IB"
    if line.quantity != item.quantity or (item.unit_price is not None and line.unit_price != item.unit_price):
        return "IC"
    return "IA"


def render_855(
    counters: Counters,
    env: Envelope,
    po: PurchaseOrder,
    order: SalesOrder,
    now: datetime | None = None,
    backordered: Collection[int] = (),
) -> tuple[bytes, str]:
    """The 855 of a placed order: BAK (AD: every line accepted as ordered; AC: with changes),
    CUR, PO1 + ACK per line of the 850 (lines matched by position; ``backordered``: line
    numbers to acknowledge IB), CTT. Returns (body, ISA13); ValueError if a value holds one
    of the envelope's separators."""
    now = now or datetime.now(UTC)
    by_number = {ln.line_no: ln for ln in order.lines}
    lines: list[Seg] = []
    statuses = []
    for i, item in enumerate(po.items, start=1):
        line = by_number.get(i)
        status = line_status(item, line, i in backordered)
        statuses.append(status)
        price = line.unit_price if line is not None and status != "IR" else item.unit_price
        quantity = line.quantity if line is not None and status != "IR" else item.quantity
        ids = [part for pair in item.ids for part in pair]
        lines.append(["PO1", item.line_id or str(i), _num(item.quantity), item.unit,
                      "" if price is None else _num(price), item.price_basis or "", *ids])  # fmt: skip
        lines.append(["ACK", status, _num(quantity), item.unit])
    ack = "AD" if all(s == "IA" for s in statuses) else "AC"
    body = [
        ["BAK", "00", ack, po.number, po.po_date.strftime("%Y%m%d"), "", "", "", order.number or "",
         now.strftime("%Y%m%d")],
        ["CUR", "SE", order.currency],
        *lines,
        ["CTT", str(len(po.items)), _num(sum((it.quantity for it in po.items), Decimal(0)))],
    ]  # fmt: skip
    return _interchange(env, counters, "PR", "855", body, now)


# --- writing ---------------------------------------------------------------------------------


def _interchange(
    env: Envelope, counters: Counters, functional_id: str, set_id: str, body: list[Seg], now: datetime | None
) -> tuple[bytes, str]:
    now = now or datetime.now(UTC)
    control = f"{counters.next('isa') % 10**9:09d}"
    group = str(counters.next("gs") % 10**9)
    s = env.separators
    isa = ["ISA", "00", " " * 10, "00", " " * 10, env.sender_qualifier, env.sender_id.ljust(15),
           env.receiver_qualifier, env.receiver_id.ljust(15), now.strftime("%y%m%d"), now.strftime("%H%M"),
           s.repetition or "U", env.version, control, "0", env.usage, s.component]  # fmt: skip
    segments = [
        ["GS", functional_id, env.application_sender, env.application_receiver, now.strftime("%Y%m%d"),
         now.strftime("%H%M"), group, "X", VERSIONS[env.version]],
        ["ST", set_id, "0001"], *body, ["SE", str(len(body) + 2), "0001"],
        ["GE", "1", group], ["IEA", "1", control],
    ]  # fmt: skip
    text = s.element.join(isa) + s.segment + "".join(_segment(seg, s) for seg in segments)
    return text.encode(), control


def _segment(elements: Seg, s: Separators) -> str:
    while elements and elements[-1] == "":
        elements = elements[:-1]  # trailing empty elements are left out
    for n, value in enumerate(elements[1:], start=1):
        if any(c in value for c in s.all()):
            raise ValueError(f"{elements[0]}{n:02d} {value!r} holds one of the separators {s.all()!r}")
    return s.element.join(elements) + s.segment


def _cleaner(s: Separators) -> Callable[[str], str]:
    chars = s.all()

    def clean(value: str) -> str:
        return "".join(" " if c in chars else c for c in value).strip()

    return clean


def _num(value: Decimal) -> str:
    """An X12 R (decimal) value: no exponent, no trailing zeros."""
    text = format(value.normalize(), "f")
    return text if text != "-0" else "0"


def _unique(codes: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(codes))


__all__ = [
    "Envelope",
    "SettingError",
    "envelope",
    "line_status",
    "render_855",
    "render_997",
    "separators",
]
