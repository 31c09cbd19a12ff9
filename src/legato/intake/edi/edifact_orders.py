"""Reading one ORDERS message (UN/EDIFACT D.96A or D.01B, the EANCOM subset) into plain values.

Only what an order needs is read (see docs/channels/edifact.md for the table); other
segments are skipped, but every date, quantity, price and amount anywhere in the message is
checked, so a CONTRL never acknowledges a message Legato could not have read. Every
problem is collected (not just the first) as an ``EdiError`` naming its position.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from legato.intake.edi.edifact import Bad, EdiError, Message, Seg

SUPPORTED_VERSIONS = ("D96A", "D01B")
#: BGM 1225 message function -> what Legato does (a closed list: anything else is refused)
FUNCTIONS = {
    "9": "place", "5": "place", "7": "place", "6": "place", "42": "place",  # original, replace,
    "16": "provisional", "46": "provisional",  # duplicate, confirmation(s); proposal, provisional
    "31": "copy", "1": "cancel",
}  # fmt: skip
#: DTM 2379 format -> (strptime pattern, how it is written)
DATE_FORMATS = {
    "102": ("%Y%m%d", "CCYYMMDD"),
    "203": ("%Y%m%d%H%M", "CCYYMMDDHHMM"),
    "204": ("%Y%m%d%H%M%S", "CCYYMMDDHHMMSS"),
    "718": ("%Y%m%d", "CCYYMMDD-CCYYMMDD"),
}
#: item number types that are a GS1 GTIN (EN in D.96A EANCOM, SRV in D.01B EANCOM)
GTIN_TYPES = frozenset({"EN", "SRV"})
_NUMBER = re.compile(r"-?(\d*)([.,]?)(\d*)")


@dataclass(frozen=True)
class Party:
    qualifier: str  # BY, SU, DP, IV ...
    id: str | None = None
    agency: str | None = None  # 3055: 9 = GS1 (the id is a GLN)
    name: str | None = None
    street: tuple[str, ...] = ()
    city: str | None = None
    region: str | None = None
    postcode: str | None = None
    country: str | None = None

    @property
    def gln(self) -> str | None:
        return self.id if self.agency == "9" else None


@dataclass
class ItemLine:
    number: str
    position: int  # of its LIN in the message
    ids: list[tuple[str, str]] = field(default_factory=list)  # (type, id): the LIN's, then each PIA's
    description: str | None = None
    quantity: Decimal | None = None  # QTY+21
    unit: str | None = None
    net_price: Decimal | None = None  # PRI+AAA, per unit (divided by the unit price basis)
    gross_price: Decimal | None = None  # PRI+AAB
    amount: Decimal | None = None  # MOA+203


@dataclass
class PurchaseOrder:
    reference: str  # UNH 0062
    version: str = ""  # D96A
    association: str = ""  # EAN008 ...
    document_code: str = ""  # BGM 1001: 220 order ...
    number: str = ""  # BGM 1004: the buyer's order number
    function: str = "9"
    document_date: datetime | None = None  # DTM+137
    delivery_date: datetime | None = None  # DTM+2
    parties: dict[str, Party] = field(default_factory=dict)
    references: list[tuple[str, str]] = field(default_factory=list)  # RFF (qualifier, number)
    currency: str | None = None  # CUX
    lines: list[ItemLine] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # FTX
    totals: dict[str, Decimal] = field(default_factory=dict)  # MOA in the summary section

    @property
    def action(self) -> str:
        return FUNCTIONS.get(self.function, "place")


# --- values ---------------------------------------------------------------------------------


def number(seg: Seg, element: int, component: int, what: str, marks: tuple[str, ...]) -> Decimal | None:
    """A numeric value (sign, digits, the interchange's decimal mark), None when empty."""
    raw = seg.get(element, component)
    if not raw:
        return None
    m = _NUMBER.fullmatch(raw)
    if m is None or not (m[1] or m[3]):
        raise Bad(seg.error(f"{what} {raw!r} is not a number", "12", element, component, raw))
    if m[2] and m[2] not in marks:
        text = f"{what} {raw!r} uses {m[2]!r} as decimal mark; this interchange's (UNA) is {marks[0]!r}"
        raise Bad(seg.error(text, "19", element, component, raw))
    if m[2] and not (m[1] and m[3]):
        text = f"{what} {raw!r} needs a digit on each side of the decimal mark"
        raise Bad(seg.error(text, "19", element, component, raw))
    return Decimal(raw.replace(",", "."))


def is_gtin(code: str) -> bool:
    """8, 12, 13 or 14 digits whose last is the GS1 check digit (a GLN is a 13-digit one)."""
    if len(code) not in (8, 12, 13, 14) or not code.isdigit():
        return False
    body = [int(c) for c in reversed(code[:-1])]
    total = sum(d * (3 if i % 2 == 0 else 1) for i, d in enumerate(body))
    return (10 - total % 10) % 10 == int(code[-1])


def read_date(seg: Seg) -> tuple[str, datetime]:
    """DTM C507: (qualifier, the date); the format is 2379, or guessed from the length if absent."""
    qualifier, raw, fmt = seg.get(1, 1), seg.get(1, 2), seg.get(1, 3)
    if not raw:
        raise Bad(seg.error("the date (2380) is missing", "13", 1, 2))
    if not fmt:
        fmt = {8: "102", 12: "203", 14: "204"}.get(len(raw), "")
        if not fmt:
            raise Bad(seg.error(f"the format (2379) of {raw!r} is missing", "13", 1, 3))
    if fmt not in DATE_FORMATS:
        known = ", ".join(f"{k} {v[1]}" for k, v in DATE_FORMATS.items())
        raise Bad(seg.error(f"date format {fmt!r} is not supported ({known})", "14", 1, 3, fmt))
    pattern, label = DATE_FORMATS[fmt]
    parts = raw.split("-") if fmt == "718" else [raw]
    try:
        if len(parts) != (2 if fmt == "718" else 1):
            raise ValueError(raw)
        dates = []
        for p in parts:
            if not p.isdigit() or len(p) != len(label.split("-")[0]):
                raise ValueError(p)
            dates.append(datetime.strptime(p, pattern))
    except ValueError:
        raise Bad(seg.error(f"{raw!r} is not a date in format {fmt} ({label})", "12", 1, 2, raw)) from None
    return qualifier, dates[0]


# --- segments ---------------------------------------------------------------------------------


@dataclass
class _State:
    po: PurchaseOrder
    marks: tuple[str, ...]
    line: ItemLine | None = None
    summary: bool = False
    bgm: Seg | None = None
    counts: list[tuple[Seg, str, Decimal]] = field(default_factory=list)  # CNT
    ordered: set[int] = field(default_factory=set)  # positions of the LINs with a QTY+21, even a bad one
    named: set[int] = field(default_factory=set)  # positions of the LINs with an item id, even a bad one


def _bgm(st: _State, seg: Seg) -> None:
    st.bgm = seg
    st.po.document_code, st.po.number = seg.get(1, 1), seg.get(2, 1)
    function = seg.get(3) or "9"
    if function not in FUNCTIONS:
        known = ", ".join(sorted(FUNCTIONS, key=int))
        raise Bad(seg.error(f"message function {function!r} is not one of {known}", "14", 3, value=function))
    st.po.function = function


def _dtm(st: _State, seg: Seg) -> None:
    qualifier, when = read_date(seg)
    if st.line is None and not st.summary:
        if qualifier == "137":
            st.po.document_date = when
        elif qualifier == "2":
            st.po.delivery_date = when


def _text(seg: Seg, element: int) -> str:
    return " ".join(c.strip() for c in seg.components(element) if c.strip())


def _nad(st: _State, seg: Seg) -> None:
    if st.line is not None or st.summary:
        return
    qualifier, party_id, agency = seg.get(1), seg.get(2, 1), seg.get(2, 3)
    if agency == "9" and party_id and not (len(party_id) == 13 and is_gtin(party_id)):
        raise Bad(
            seg.error(f"{party_id!r} is not a GLN (13 digits with a GS1 check digit)", "12", 2, 1, party_id)
        )
    country = seg.get(9)
    if country and not re.fullmatch(r"[A-Z]{2}", country):
        raise Bad(
            seg.error(f"country {country!r} is not an ISO 3166 two-letter code", "12", 9, value=country)
        )
    name = _text(seg, 4) or (seg.get(3, 1) or None)  # C080 party name, else C058's first line
    street = tuple(c for c in seg.components(5) if c) or tuple(c for c in seg.components(3)[1:] if c)
    region = seg.get(7, 4) or seg.get(7, 1)  # D.01B: C819 (code ... name); D.96A: 3229
    party = Party(qualifier, party_id or None, agency or None, name or None, street, seg.get(6) or None,
                  region or None, seg.get(8) or None, country or None)  # fmt: skip
    st.po.parties.setdefault(qualifier, party)


def _lin(st: _State, seg: Seg) -> None:
    if st.summary:
        raise Bad(seg.error("a line item (LIN) after the summary separator (UNS)", "15"))
    line_no = seg.get(1)
    if not line_no.isdigit():
        raise Bad(seg.error(f"line item number {line_no!r} is not a number", "12" if line_no else "13", 1))
    st.line = ItemLine(line_no, seg.position)
    st.po.lines.append(st.line)
    _item_id(st, st.line, seg, 3)


def _item_id(st: _State, line: ItemLine, seg: Seg, element: int) -> None:
    item, kind = seg.get(element, 1), seg.get(element, 2)
    if not item:
        return
    st.named.add(line.position)
    if kind in GTIN_TYPES and not is_gtin(item):
        text = f"item number {item!r} ({kind}) is not a GTIN (8, 12, 13 or 14 digits with a GS1 check digit)"
        raise Bad(seg.error(text, "12", element, 1, item))
    line.ids.append((kind, item))


def _pia(st: _State, seg: Seg) -> None:
    if st.line is not None:
        for element in range(2, 7):
            _item_id(st, st.line, seg, element)


def _imd(st: _State, seg: Seg) -> None:
    text = " ".join(p for p in (seg.get(3, 4).strip(), seg.get(3, 5).strip()) if p)
    if st.line is not None and text and st.line.description is None:
        st.line.description = text


def _qty(st: _State, seg: Seg) -> None:
    if seg.get(1, 1) == "21" and st.line is not None:
        st.ordered.add(st.line.position)
    quantity = number(seg, 1, 2, "quantity", st.marks)
    if seg.get(1, 1) == "21" and st.line is not None:
        if quantity is None:
            raise Bad(seg.error("the ordered quantity is missing", "13", 1, 2))
        if quantity <= 0:
            raise Bad(
                seg.error(f"ordered quantity {seg.get(1, 2)!r} must be above 0", "12", 1, 2, seg.get(1, 2))
            )
        st.line.quantity, st.line.unit = quantity, seg.get(1, 3) or None


def _pri(st: _State, seg: Seg) -> None:
    price = number(seg, 1, 2, "price", st.marks)
    basis = number(seg, 1, 5, "unit price basis", st.marks) or Decimal(1)
    if basis <= 0:
        raise Bad(seg.error(f"unit price basis {seg.get(1, 5)!r} must be above 0", "12", 1, 5, seg.get(1, 5)))
    if st.line is None or price is None:
        return
    if price < 0:
        raise Bad(seg.error(f"price {seg.get(1, 2)!r} is negative", "12", 1, 2, seg.get(1, 2)))
    if seg.get(1, 1) == "AAA":
        st.line.net_price = price / basis
    elif seg.get(1, 1) == "AAB":
        st.line.gross_price = price / basis


def _moa(st: _State, seg: Seg) -> None:
    amount = number(seg, 1, 2, "amount", st.marks)
    if amount is None:
        return
    if st.summary:
        st.po.totals[seg.get(1, 1)] = amount
    elif st.line is not None and seg.get(1, 1) == "203":
        st.line.amount = amount


def _header_only(action: Callable[[_State, Seg], None]) -> Callable[[_State, Seg], None]:
    def run(st: _State, seg: Seg) -> None:
        if st.line is None and not st.summary:
            action(st, seg)

    return run


def _ftx(st: _State, seg: Seg) -> None:
    if text := _text(seg, 4):
        st.po.notes.append(text)


def _rff(st: _State, seg: Seg) -> None:
    if seg.get(1, 2):
        st.po.references.append((seg.get(1, 1), seg.get(1, 2)))


def _cux(st: _State, seg: Seg) -> None:
    currency = seg.get(1, 2)
    if currency and not re.fullmatch(r"[A-Z]{3}", currency):
        raise Bad(seg.error(f"currency {currency!r} is not an ISO 4217 code", "12", 1, 2, currency))
    st.po.currency = st.po.currency or currency or None


def _uns(st: _State, seg: Seg) -> None:
    st.summary, st.line = True, None


def _cnt(st: _State, seg: Seg) -> None:
    value = number(seg, 1, 2, "control value", st.marks)
    if value is not None:
        st.counts.append((seg, seg.get(1, 1), value))


_READERS: dict[str, Callable[[_State, Seg], None]] = {
    "BGM": _bgm, "DTM": _dtm, "NAD": _nad, "LIN": _lin, "PIA": _pia, "IMD": _imd, "QTY": _qty,
    "PRI": _pri, "MOA": _moa, "UNS": _uns, "CNT": _cnt, "FTX": _header_only(_ftx),
    "RFF": _header_only(_rff), "CUX": _header_only(_cux),
}  # fmt: skip


def read_orders(msg: Message, marks: tuple[str, ...]) -> tuple[PurchaseOrder, list[EdiError]]:
    """The order in ``msg`` and every problem with it (its envelope's included); the order is
    usable only when the list is empty. ``marks``: the decimal marks the interchange allows."""
    po = PurchaseOrder(msg.reference, msg.version, msg.part(4))
    errors = list(msg.errors)
    unh = msg.segments[0]
    if msg.type != "ORDERS":
        errors.append(unh.error(f"message type {msg.type!r} is not read here (ORDERS)", "14", 2, 1, msg.type))
    elif msg.version not in SUPPORTED_VERSIONS or msg.part(3) != "UN":
        text = f"ORDERS {msg.part(1)}:{msg.part(2)}:{msg.part(3)} is not read here (D:96A:UN or D:01B:UN)"
        errors.append(unh.error(text, "14", 2, 2, msg.version))
    if msg.type != "ORDERS":
        return po, errors
    st = _State(po, marks)
    for seg in msg.segments[1:]:
        reader = _READERS.get(seg.tag)
        try:
            if reader is not None:
                reader(st, seg)
        except Bad as bad:
            errors.append(bad.error)
    errors.extend(_checks(st, msg))
    return po, errors


def _checks(st: _State, msg: Message) -> list[EdiError]:
    po, out = st.po, []
    if st.bgm is None:
        return [EdiError("the message has no BGM (beginning of message)", "13", "BGM", 2)]
    if not po.number:
        out.append(st.bgm.error("the document number (1004) is missing", "13", 2, 1))
    if po.action in ("place", "provisional") and not po.lines:
        where = next((s.position for s in msg.segments if s.tag in ("UNS", "UNT")), len(msg.segments) + 1)
        out.append(EdiError("an order needs at least one line item (LIN)", "13", "LIN", where))
    for line in po.lines:
        if line.position not in st.ordered:
            out.append(EdiError(f"line {line.number} has no ordered quantity (QTY+21)", "13", "LIN",
                                line.position))  # fmt: skip
        if line.position not in st.named:
            text = f"line {line.number} names no item (LIN element 3 and PIA are empty)"
            out.append(EdiError(text, "13", "LIN", line.position, 3, 1))
    for seg, qualifier, value in st.counts:
        if qualifier == "2" and value != len(po.lines):
            text = f"control value {seg.get(1, 2)} does not match the {len(po.lines)} line items (LIN)"
            out.append(seg.error(text, "29", 1, 2, seg.get(1, 2)))
        total = sum((ln.quantity or Decimal(0) for ln in po.lines), Decimal(0))
        if qualifier == "1" and value != total:
            text = f"control value {seg.get(1, 2)} does not match the total ordered quantity {total}"
            out.append(seg.error(text, "29", 1, 2, seg.get(1, 2)))
    return out


__all__ = [
    "DATE_FORMATS",
    "FUNCTIONS",
    "GTIN_TYPES",
    "SUPPORTED_VERSIONS",
    "ItemLine",
    "Party",
    "PurchaseOrder",
    "is_gtin",
    "number",
    "read_date",
    "read_orders",
]
