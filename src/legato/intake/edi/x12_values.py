"""Checking the elements of a segment as Legato reads them: each check records a located
``X12Error`` (with the element's X12 data element number, for the 997's AK402) and returns
None when the value is wrong, so that one pass reports every problem of a transaction set."""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation

from legato.intake.edi.x12_model import Segment, X12Error, check_time, parse_date
from legato.intake.edi.x12_po import FORM, NUMBER

#: (segment, element) -> X12 data element reference number (AK402 of the 997)
ELEMENT_REFS = {
    ("BEG", 1): "353", ("BEG", 2): "92", ("BEG", 3): "324", ("BEG", 4): "328", ("BEG", 5): "373",
    ("CUR", 1): "98", ("CUR", 2): "100", ("REF", 1): "128", ("REF", 2): "127", ("REF", 3): "352",
    ("PER", 1): "366", ("PER", 2): "93", ("PER", 3): "365", ("PER", 4): "364", ("PER", 5): "365",
    ("PER", 6): "364", ("PER", 7): "365", ("PER", 8): "364", ("DTM", 1): "374", ("DTM", 2): "373",
    ("DTM", 3): "337", ("N1", 1): "98", ("N1", 2): "93", ("N1", 3): "66", ("N1", 4): "67", ("N2", 1): "93",
    ("N2", 2): "93", ("N3", 1): "166", ("N3", 2): "166", ("N4", 1): "19", ("N4", 2): "156", ("N4", 3): "116",
    ("N4", 4): "26", ("PO1", 1): "350", ("PO1", 2): "330", ("PO1", 3): "355", ("PO1", 4): "212",
    ("PO1", 5): "639", ("PID", 1): "349", ("PID", 5): "352", ("MSG", 1): "933", ("NTE", 1): "363",
    ("NTE", 2): "352", ("CTT", 1): "354", ("CTT", 2): "347", ("AMT", 1): "522", ("AMT", 2): "782",
}  # fmt: skip


def element_ref(segment: str, n: int) -> str | None:
    """The data element number of ``segment``'s element ``n`` (PO106... alternate 235 and 234)."""
    if segment == "PO1" and n >= 6:
        return "235" if n % 2 == 0 else "234"
    return ELEMENT_REFS.get((segment, n))


class ElementChecks:
    """Collects the errors of one transaction set; ``loop`` is the loop being read (AK303)."""

    def __init__(self) -> None:
        self.errors: list[X12Error] = []
        self.loop: str | None = None

    def fail(self, seg: Segment, message: str, n: int | None = None, code: str = "invalid_code") -> None:
        value = (seg.get(n) or None) if n else None
        ref = element_ref(seg.id, n) if n else None
        self.errors.append(
            X12Error.at(seg, message, element=n, value=value, code=code, loop=self.loop, ref=ref)
        )

    def text(self, seg: Segment, n: int, *, required: bool = False, most: int = 80) -> str | None:
        value = seg.get(n)
        if not value:
            if required:
                self.fail(seg, "is required and missing", n, "missing")
            return None
        if len(value) > most:
            self.fail(seg, f"is {len(value)} characters; at most {most}", n, "too_long")
            return None
        return value

    def code(
        self,
        seg: Segment,
        n: int,
        known: dict[str, str] | None = None,
        *,
        required: bool = False,
        what: str = "code",
    ) -> str | None:
        value = self.text(seg, n, required=required)
        if value is None:
            return None
        if known is not None and value not in known:
            names = ", ".join(sorted(known))
            self.fail(seg, f"{what} {value!r} is not one Legato reads ({names})", n)
            return None
        if known is None and not FORM.match(value):
            self.fail(seg, f"{what} {value!r} is not a code (1 to 3 letters or digits)", n)
            return None
        return value

    def number(
        self,
        seg: Segment,
        n: int,
        what: str,
        *,
        required: bool = False,
        positive: bool = False,
        allow_negative: bool = False,
    ) -> Decimal | None:
        value = self.text(seg, n, required=required, most=18)
        if value is None:
            return None
        try:
            if not NUMBER.match(value):
                raise InvalidOperation
            number = Decimal(value)
        except InvalidOperation:
            self.fail(seg, f"{what} {value!r} is not a number", n, "not_a_number")
            return None
        if (positive and number <= 0) or (not allow_negative and number < 0):
            self.fail(
                seg, f"{what} must be {'above' if positive else 'at least'} 0, not {value}", n, "out_of_range"
            )
            return None
        return number

    def date(self, seg: Segment, n: int, *, required: bool = False) -> date | None:
        value = self.text(seg, n, required=required)
        if value is None:
            return None
        try:
            return parse_date(value)
        except ValueError as exc:
            self.fail(seg, str(exc), n, "invalid_date")
            return None

    def time(self, seg: Segment, n: int) -> None:
        if seg.get(n):
            try:
                check_time(seg.get(n))
            except ValueError as exc:
                self.fail(seg, str(exc), n, "invalid_time")


__all__ = ["ELEMENT_REFS", "ElementChecks", "element_ref"]
