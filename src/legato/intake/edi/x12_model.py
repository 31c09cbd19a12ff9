"""The X12 vocabulary the tokenizer, the 850 reader and the 997/855 writer share: separators,
segments, the envelopes, located errors and the 997's error codes, and X12 dates and times."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from legato.domain.errors import FieldIssue

#: ISA12 -> the GS08 version it goes with (Legato reads these two)
VERSIONS = {"00401": "004010", "00501": "005010"}
ISA_WIDTHS = (2, 10, 2, 10, 2, 15, 2, 15, 6, 4, 1, 5, 9, 1, 1)  # ISA01..ISA15; ISA16 is one character
ISA_LENGTH = 106  # with its terminator
#: ISA05 / ISA07 interchange id qualifiers (code list I05)
INTERCHANGE_QUALIFIERS = frozenset(
    [*(f"{n:02d}" for n in (1, 2, 3, 4, *range(8, 21), *range(27, 39))), "AM", "NR", "SA", "SN", "ZZ"]
)
SEGMENT_ID = re.compile(r"[A-Z][A-Z0-9]{1,2}\Z")
DIGITS = re.compile(r"\d+\Z")
LINE_BREAKS = "\r\n"

#: error code -> AK403 (data element syntax error code) of the 997
ELEMENT_CODES = {
    "missing": "1", "conditional_missing": "2", "too_many_elements": "3", "too_short": "4",
    "too_long": "5", "invalid_character": "6", "not_a_number": "6", "out_of_range": "6",
    "line_count_mismatch": "6", "invalid_code": "7", "invalid_date": "8", "invalid_time": "9",
}  # fmt: skip
#: error code -> AK304 (segment syntax error code); an element error makes its segment "8"
SEGMENT_CODES = {
    "unrecognized_segment": "1", "unexpected_segment": "2", "missing_segment": "3",
    "segment_repeated": "5", "not_in_set": "6", "out_of_sequence": "7",
}  # fmt: skip
#: error code -> AK502 (transaction set syntax error code)
SET_CODES = {
    "set_not_supported": "1", "trailer_missing": "2", "control_mismatch": "3", "count_mismatch": "4",
    "bad_set_control_number": "7", "duplicate_set_control_number": "23",
}  # fmt: skip
#: error code -> AK905 (functional group syntax error code)
GROUP_CODES = {
    "group_not_supported": "1", "version_not_supported": "2", "group_trailer_missing": "3",
    "group_control_mismatch": "4", "group_count_mismatch": "5", "bad_group_control_number": "6",
}  # fmt: skip


@dataclass(frozen=True)
class Separators:
    element: str = "*"
    component: str = ">"
    segment: str = "~"
    repetition: str | None = None  # 00501 only

    def problem(self) -> str | None:
        """Why these cannot delimit an interchange, or None."""
        named = {"element": self.element, "component": self.component, "segment": self.segment}
        if self.repetition is not None:
            named["repetition"] = self.repetition
        for name, char in named.items():
            if len(char) != 1 or char.isalnum() or char == " ":
                return f"the {name} separator must be one character, not a letter, digit or space: {char!r}"
        if len(set(named.values())) != len(named):
            return "the separators must all differ: " + ", ".join(f"{k} {v!r}" for k, v in named.items())
        return None

    def all(self) -> str:
        return self.element + self.component + self.segment + (self.repetition or "")


@dataclass(frozen=True)
class Segment:
    id: str
    elements: tuple[str, ...]  # elements[0] is XX01
    position: int  # 1-based in the interchange (ISA = 1)

    def get(self, n: int) -> str:
        """Element ``n`` (1-based), stripped; "" when absent."""
        return self.elements[n - 1].strip() if 0 < n <= len(self.elements) else ""

    def name(self, n: int) -> str:
        return f"{self.id}{n:02d}"


class X12Error(Exception):
    """One problem, located: ``segment 14 (SE), element SE01: says 12 segments, ...``.

    ``code`` is one of the keys of ELEMENT_CODES, SEGMENT_CODES, SET_CODES or GROUP_CODES
    (or ``interchange`` / ``truncated`` for an interchange that cannot be read), which is how
    the 997 reports it; ``loop`` is the X12 loop the segment is in (AK303).
    """

    def __init__(
        self,
        position: int,
        segment: str,
        message: str,
        *,
        element: int | None = None,
        component: int | None = None,
        value: str | None = None,
        code: str = "interchange",
        loop: str | None = None,
        ref: str | None = None,
    ) -> None:
        self.position, self.segment, self.message = position, segment, message
        self.element, self.component, self.value = element, component, value
        self.code, self.loop, self.ref = code, loop, ref
        super().__init__(str(self))

    @classmethod
    def at(cls, seg: Segment, message: str, **kw: Any) -> X12Error:
        return cls(seg.position, seg.id, message, **kw)

    @property
    def element_name(self) -> str | None:
        if self.element is None:
            return None
        return f"{self.segment}{self.element:02d}" + (f"-{self.component}" if self.component else "")

    @property
    def path(self) -> str:
        return f"segment {self.position} {self.element_name or self.segment}"

    def __str__(self) -> str:
        where = f"segment {self.position} ({self.segment or '?'})"
        if self.element_name:
            where += f", element {self.element_name}"
        return f"{where}: {self.message}"

    def issue(self) -> FieldIssue:
        return FieldIssue(self.path, str(self), self.code, self.value)


@dataclass
class TransactionSet:
    header: Segment  # ST
    segments: list[Segment] = field(default_factory=list)  # between ST and SE
    trailer: Segment | None = None  # SE
    errors: list[X12Error] = field(default_factory=list)

    @property
    def id(self) -> str:
        return self.header.get(1)

    @property
    def control(self) -> str:
        return self.header.get(2)

    @property
    def convention(self) -> str:
        return self.header.get(3)

    def set_position(self, position: int) -> int:
        """A segment's position within the transaction set (ST = 1), as the 997 gives it."""
        return position - self.header.position + 1


@dataclass
class FunctionalGroup:
    header: Segment  # GS
    sets: list[TransactionSet] = field(default_factory=list)
    trailer: Segment | None = None  # GE
    errors: list[X12Error] = field(default_factory=list)

    @property
    def functional_id(self) -> str:
        return self.header.get(1)

    @property
    def sender(self) -> str:
        return self.header.get(2)

    @property
    def receiver(self) -> str:
        return self.header.get(3)

    @property
    def control(self) -> str:
        return self.header.get(6)

    @property
    def version(self) -> str:
        return self.header.get(8)


@dataclass
class Interchange:
    separators: Separators
    header: Segment  # ISA
    groups: list[FunctionalGroup]
    trailer: Segment  # IEA

    @property
    def sender_qualifier(self) -> str:
        return self.header.get(5)

    @property
    def sender_id(self) -> str:
        return self.header.get(6)

    @property
    def receiver_qualifier(self) -> str:
        return self.header.get(7)

    @property
    def receiver_id(self) -> str:
        return self.header.get(8)

    @property
    def version(self) -> str:
        return self.header.get(12)

    @property
    def control(self) -> str:
        return self.header.get(13)

    @property
    def usage(self) -> str:
        return self.header.get(15)


# --- values ---------------------------------------------------------------------------------


def parse_date(value: str, *, short: bool = False) -> date:
    """CCYYMMDD (or YYMMDD for the ISA's date); ValueError says what is wrong."""
    form = "YYMMDD" if short else "CCYYMMDD"
    if len(value) != len(form) or not value.isdigit():
        raise ValueError(f"{value!r} is not a date ({form})")
    try:
        return datetime.strptime(value, "%y%m%d" if short else "%Y%m%d").date()
    except ValueError:
        year, month, day = (
            (2000 + int(value[:2]), value[2:4], value[4:])
            if short
            else (int(value[:4]), value[4:6], value[6:])
        )
        if not 1 <= int(month) <= 12:
            raise ValueError(f"{value!r} is not a date ({form}): there is no month {month}") from None
        raise ValueError(f"{value!r} is not a date ({form}): {year}-{month} has no day {day}") from None


def check_time(value: str, *, short: bool = False) -> None:
    """HHMM, HHMMSS, HHMMSSD or HHMMSSDD (only HHMM when ``short``: the ISA's time), in
    24-hour time; ValueError says what is wrong."""
    form = "HHMM" if short else "HHMM[SS[D[D]]]"
    if len(value) not in ((4,) if short else (4, 6, 7, 8)) or not value.isdigit():
        raise ValueError(f"{value!r} is not a time ({form})")
    if int(value[:2]) > 23 or int(value[2:4]) > 59 or (len(value) >= 6 and int(value[4:6]) > 59):
        raise ValueError(f"{value!r} is not a time of day (HHMM[SS])")


__all__ = [
    "DIGITS",
    "ELEMENT_CODES",
    "GROUP_CODES",
    "INTERCHANGE_QUALIFIERS",
    "ISA_LENGTH",
    "ISA_WIDTHS",
    "LINE_BREAKS",
    "SEGMENT_CODES",
    "SEGMENT_ID",
    "SET_CODES",
    "VERSIONS",
    "FunctionalGroup",
    "Interchange",
    "Segment",
    "Separators",
    "TransactionSet",
    "X12Error",
    "check_time",
    "parse_date",
]
