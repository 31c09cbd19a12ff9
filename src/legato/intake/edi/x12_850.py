"""Reading one X12 850 purchase order (4010 or 5010) into plain values, checking what
Legato acts on.

Segments read: BEG, CUR, REF, PER, DTM, N1 loops (N1/N2/N3/N4/PER), PO1 with its PID,
MSG/NTE, CTT and AMT. Every other segment of the 850 (FOB, ITD, TD5, SAC, SDQ, ...) is
accepted and not read; a segment id the 850 does not define is skipped and noted (the 997
then says "accepted with errors"); a malformed segment id is an error.

Code lists. Where Legato acts on a code, the list is closed and an unknown code is an error
naming the element: BEG01 (purpose), the product id qualifiers of PO1 (PO106, PO108 ...),
PID01, and N103 in the ship-to, bill-to and buyer loops. Codes Legato only keeps or passes
on (BEG02, REF01, PER01/03, DTM01, N101 of other parties, PO103 units, PO105, AMT01, NTE01)
are checked for their form only: partners use the large X12 lists as they agree.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from legato.domain.money import is_currency
from legato.intake.edi.x12_model import (
    DIGITS,
    SEGMENT_ID,
    FunctionalGroup,
    Segment,
    TransactionSet,
    X12Error,
)
from legato.intake.edi.x12_po import (
    ATTRIBUTES,
    KNOWN,
    N1_LOOP,
    PARTIES,
    PARTY_QUALIFIERS,
    PRODUCT_QUALIFIERS,
    PURPOSES,
    Contact,
    Item,
    Party,
    PurchaseOrder,
    SetResult,
)
from legato.intake.edi.x12_values import ElementChecks


def check_group(group: FunctionalGroup) -> list[SetResult]:
    """Every transaction set of a group, read and checked."""
    results = []
    for ts in group.sets:
        order, number, errors, warnings = read_850(ts) if ts.id == "850" else (None, None, [], [])
        results.append(SetResult(ts, order, number, (*ts.errors, *errors), tuple(warnings)))
    return results


def read_850(ts: TransactionSet) -> tuple[PurchaseOrder | None, str | None, list[X12Error], list[X12Error]]:
    """(the order or None, BEG03, errors, warnings); every error names its element."""
    r = _Reader(ts)
    r.run()
    number = r.beg.number if r.beg else None
    return (r.order() if not r.errors else None), number, r.errors, r.warnings


@dataclass
class _Beg:
    purpose: str | None
    order_type: str | None
    number: str | None
    release: str | None
    date: date | None


@dataclass
class _Line:
    seg: Segment
    line_id: str | None
    quantity: Decimal | None
    unit: str | None
    unit_price: Decimal | None
    price_basis: str | None
    ids: tuple[tuple[str, str], ...]
    descriptions: list[str] = field(default_factory=list)


@dataclass
class _Party:
    entity: str
    name: str | None
    id_qualifier: str | None
    id: str | None
    names: list[str] = field(default_factory=list)
    street: list[str] = field(default_factory=list)
    city: str | None = None
    region: str | None = None
    postcode: str | None = None
    country: str | None = None
    contacts: list[Contact] = field(default_factory=list)


class _Reader(ElementChecks):
    def __init__(self, ts: TransactionSet) -> None:
        super().__init__()
        self.ts = ts
        self.warnings: list[X12Error] = []
        self.beg: _Beg | None = None
        self.currency: str | None = None
        self.parties: list[_Party] = []
        self.party: _Party | None = None
        self.lines: list[_Line] = []
        self.line: _Line | None = None
        self.refs: list[tuple[str, str]] = []
        self.contacts: list[Contact] = []
        self.dates: list[tuple[str, date]] = []
        self.amounts: list[tuple[str, Decimal]] = []
        self.messages: list[str] = []
        self.ctt: Segment | None = None

    # --- the walk ---

    def run(self) -> None:
        body = self.ts.segments
        if not body or body[0].id != "BEG":
            position = self.ts.header.position + 1
            self.errors.append(
                X12Error(
                    position, "BEG", "an 850 begins with BEG after ST; it is missing", code="missing_segment"
                )
            )
        for seg in body:
            self.segment(seg)
        self.finish()

    def segment(self, seg: Segment) -> None:
        sid = seg.id
        if not SEGMENT_ID.match(sid):
            self.loop = None
            self.errors.append(X12Error.at(seg, f"{sid!r} is not a segment id", code="unrecognized_segment"))
            return
        if sid not in KNOWN:
            self.warnings.append(
                X12Error.at(seg, f"{sid} is not a segment of the 850; skipped", code="not_in_set")
            )
            return
        if self.ctt is not None and sid != "AMT":
            code = "segment_repeated" if sid == "CTT" else "out_of_sequence"
            self.errors.append(
                X12Error.at(
                    seg, f"{sid} after CTT: the summary holds only CTT and AMT", code=code, loop="CTT"
                )
            )
            return
        if self.party is not None and sid not in N1_LOOP:
            self.party = None
        self.loop = self._loop(sid)
        handler = getattr(self, f"_{sid.lower()}", None)
        if handler is not None:
            handler(seg)

    def _loop(self, sid: str) -> str | None:
        """The loop a segment is in (AK303 of the 997)."""
        if sid == "CTT" or (sid == "AMT" and self.ctt is not None):
            return "CTT"
        if self.party is not None or sid == "N1":
            return "N1"
        if self.line is not None or sid == "PO1":
            return "PID" if sid == "PID" else "PO1"
        return {"N9": "N9", "MSG": "N9", "AMT": "AMT"}.get(sid)

    def _beg(self, seg: Segment) -> None:
        if self.beg is not None or seg is not self.ts.segments[0]:
            code = "segment_repeated" if self.beg is not None else "out_of_sequence"
            self.errors.append(X12Error.at(seg, "BEG comes once, right after ST", code=code))
            return
        self.beg = _Beg(
            self.code(seg, 1, PURPOSES, required=True, what="purpose"),
            self.code(seg, 2, required=True, what="purchase order type"),
            self.text(seg, 3, required=True, most=22),
            self.text(seg, 4, most=30),
            self.date(seg, 5, required=True),
        )

    def _cur(self, seg: Segment) -> None:
        self.code(seg, 1, required=True, what="entity")
        currency = self.text(seg, 2, required=True)
        if currency is None:
            return
        if not is_currency(currency):
            self.fail(seg, f"{currency!r} is not an ISO 4217 currency code", 2)
        elif self.line is not None:
            if currency != (self.currency or currency):
                msg = f"line currency {currency} differs from the order's {self.currency}"
                self.fail(seg, msg + ": a Legato order has one currency", 2)
        elif self.currency is not None:
            self.errors.append(X12Error.at(seg, "the order's CUR comes once", code="segment_repeated"))
        else:
            self.currency = currency

    def _ref(self, seg: Segment) -> None:
        qualifier = self.code(seg, 1, required=True, what="reference qualifier")
        value = self.text(seg, 2, most=50) or self.text(seg, 3)
        if qualifier and not value:
            self.fail(seg, "REF02 or REF03 is required", 2, "conditional_missing")
        elif qualifier and value and self.party is None and self.line is None:
            self.refs.append((qualifier, value))

    def _per(self, seg: Segment) -> None:
        function = self.code(seg, 1, required=True, what="contact function")
        found: dict[str, str] = {}
        for n in (3, 5, 7):
            qualifier = self.code(seg, n, what="communication number qualifier")
            number = self.text(seg, n + 1)
            if bool(qualifier) != bool(number):
                pair = f"{seg.name(n)} and {seg.name(n + 1)} go together"
                self.fail(seg, pair, n + (1 if qualifier else 0), "conditional_missing")
            elif qualifier and number:
                found.setdefault(qualifier, number)
        if function is None:
            return
        contact = Contact(function, self.text(seg, 2), found.get("EM"), found.get("TE"))
        if self.party is not None:
            self.party.contacts.append(contact)
        elif self.line is None:
            self.contacts.append(contact)

    def _dtm(self, seg: Segment) -> None:
        qualifier = self.text(seg, 1, required=True)
        if qualifier and not (DIGITS.match(qualifier) and len(qualifier) == 3):
            self.fail(seg, f"date/time qualifier {qualifier!r} is not a code (3 digits)", 1)
        when = self.date(seg, 2, required=True)
        self.time(seg, 3)
        if qualifier and when and self.line is None:
            self.dates.append((qualifier, when))

    def _n1(self, seg: Segment) -> None:
        entity = self.code(seg, 1, required=True, what="entity")
        read = entity in PARTIES and self.line is None
        qualifier = self.code(
            seg, 3, PARTY_QUALIFIERS if read else None, what="identification code qualifier"
        )
        ident = self.text(seg, 4)
        if bool(seg.get(3)) != bool(ident):
            self.fail(seg, "N103 and N104 go together", 4 if seg.get(3) else 3, "conditional_missing")
        name = self.text(seg, 2, most=60)
        if not name and not ident:
            self.fail(seg, "a party needs a name (N102) or an id (N104)", 2, "conditional_missing")
        self.party = _Party(entity or "", name, qualifier, ident)
        if read:  # other parties (and a line's) are checked, not kept
            self.parties.append(self.party)

    def _n2(self, seg: Segment) -> None:
        if self._in_party(seg):
            names = [self.text(seg, 1, required=True, most=60), self.text(seg, 2, most=60)]
            self.party.names.extend(n for n in names if n)  # type: ignore[union-attr]

    def _n3(self, seg: Segment) -> None:
        if self._in_party(seg):
            lines = [self.text(seg, 1, required=True, most=55), self.text(seg, 2, most=55)]
            self.party.street.extend(n for n in lines if n)  # type: ignore[union-attr]

    def _n4(self, seg: Segment) -> None:
        if self.party is None:
            self._in_party(seg)
            return
        country = self.text(seg, 4)
        if country and not re.fullmatch(r"[A-Z]{2}", country):
            self.fail(seg, f"country {country!r} is not an ISO 3166 two-letter code", 4)
            country = None
        p = self.party
        p.city, p.region, p.country = self.text(seg, 1, most=30), self.text(seg, 2), country
        p.postcode = self.text(seg, 3, most=15)

    def _in_party(self, seg: Segment) -> bool:
        """Whether an N2/N3/N4 is in an N1 loop (else its error is recorded)."""
        if self.party is None:
            msg = f"{seg.id} belongs in an N1 loop, after its N1"
            self.errors.append(X12Error.at(seg, msg, code="out_of_sequence"))
        return self.party is not None

    def _po1(self, seg: Segment) -> None:
        if len(seg.elements) > 25:
            self.fail(seg, f"PO1 has {len(seg.elements)} elements; at most 25", 26, "too_many_elements")
        quantity = self.number(seg, 2, "quantity", required=True, positive=True)
        unit = self.code(seg, 3, required=bool(seg.get(2)), what="unit of measure")
        price = self.number(seg, 4, "unit price")
        basis = self.code(seg, 5, what="basis of unit price")
        ids: list[tuple[str, str]] = []
        for n in range(6, min(len(seg.elements), 25) + 1, 2):
            qualifier, ident = seg.get(n), seg.get(n + 1)
            if bool(qualifier) != bool(ident):
                self.fail(
                    seg,
                    f"{seg.name(n)} and {seg.name(n + 1)} go together",
                    n if ident else n + 1,
                    "conditional_missing",
                )
            elif (
                qualifier
                and self.code(seg, n, PRODUCT_QUALIFIERS, what="product id qualifier")
                and self.text(seg, n + 1, most=48)
            ):
                ids.append((qualifier, ident))
        if not any(q not in ATTRIBUTES for q, _ in ids) and not any(
            e.position == seg.position and e.element and e.element >= 6 for e in self.errors
        ):
            msg = "the line names no item: give a product id qualifier and id (PO106/PO107)"
            self.fail(seg, msg, 6, "conditional_missing")
        self.line = _Line(seg, self.text(seg, 1, most=20), quantity, unit, price, basis, tuple(ids))
        self.lines.append(self.line)

    def _pid(self, seg: Segment) -> None:
        kinds = {"F": "free-form", "S": "structured", "X": "both"}
        kind = self.code(seg, 1, kinds, required=True, what="item description type")
        text = self.text(seg, 5)
        if kind in ("F", "X") and not text:
            self.fail(seg, "a free-form description needs its text in PID05", 5, "conditional_missing")
        if text and self.line is not None:
            self.line.descriptions.append(text)

    def _msg(self, seg: Segment) -> None:
        text = self.text(seg, 1, required=True, most=264)
        if text:
            line = self.line
            self.messages.append(f"line {line.line_id or len(self.lines)}: {text}" if line else text)

    def _nte(self, seg: Segment) -> None:
        text = self.text(seg, 2, required=True)
        if text:
            self.messages.append(text)

    def _amt(self, seg: Segment) -> None:
        qualifier = self.code(seg, 1, required=True, what="amount qualifier")
        amount = self.number(seg, 2, "amount", required=True, allow_negative=True)
        if qualifier and amount is not None and (self.line is None or self.ctt is not None):
            self.amounts.append((qualifier, amount))

    def _ctt(self, seg: Segment) -> None:
        self.ctt, self.line, self.party = seg, None, None
        count = self.text(seg, 1, required=True)
        if count is not None and not DIGITS.match(count):
            self.fail(seg, f"the number of line items {count!r} is not a number", 1, "not_a_number")
        elif count is not None and int(count) != len(self.lines):
            msg = f"says {int(count)} line items, the purchase order has {len(self.lines)}"
            self.fail(seg, msg, 1, "line_count_mismatch")
        self.number(seg, 2, "hash total", allow_negative=True)

    def finish(self) -> None:
        purpose = self.beg.purpose if self.beg else None
        if not self.lines and purpose != "01":
            at = self.ts.trailer or self.ts.header
            msg = "a purchase order needs at least one PO1 line"
            self.errors.append(X12Error(at.position, "PO1", msg, code="missing_segment"))

    def order(self) -> PurchaseOrder:
        """The order read (called only when there were no errors, so every required value is set)."""
        b = self.beg
        assert b is not None and b.purpose and b.order_type and b.number and b.date
        return PurchaseOrder(
            self.ts.control, b.purpose, b.order_type, b.number, b.release, b.date,
            tuple(self._item(ln) for ln in self.lines), self.currency,
            tuple(self._party(p) for p in self.parties), tuple(self.refs), tuple(self.contacts),
            tuple(self.dates), tuple(self.amounts), tuple(self.messages),
        )  # fmt: skip

    @staticmethod
    def _item(ln: _Line) -> Item:
        assert ln.quantity is not None and ln.unit is not None
        return Item(ln.seg.position, ln.line_id, ln.quantity, ln.unit, ln.unit_price, ln.price_basis, ln.ids,
                    " ".join(ln.descriptions) or None)  # fmt: skip

    @staticmethod
    def _party(p: _Party) -> Party:
        return Party(p.entity, p.name, tuple(p.names), p.id_qualifier, p.id, tuple(p.street), p.city,
                     p.region, p.postcode, p.country, tuple(p.contacts))  # fmt: skip


__all__ = ["check_group", "read_850"]
