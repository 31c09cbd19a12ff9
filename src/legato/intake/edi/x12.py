"""X12 interchanges: a tokenizer of our own and the envelope's structural checks.

An interchange names its own separators: the element separator is the ISA's fourth
character, the component separator is ISA16, the segment terminator is the character after
ISA16, and in version 00501 ISA11 is the repetition separator (in 00401 it is the code
``U``). The ISA is fixed-width (106 characters with its terminator), so they can be read
before anything else. CR/LF after a terminator is tolerated (and a CR before an LF that is
the terminator itself).

Problems come at three depths, and each is an ``X12Error`` naming the segment's position
(1-based, ISA = 1), its id and the element:

- the interchange (ISA/IEA, a segment outside any envelope, a cut-short file) cannot be
  read at all: ``read_interchange`` raises;
- a functional group (GS/GE) or a transaction set (ST/SE) that is wrong is kept with its
  ``errors``, so that the 997 can reject it while the rest of the interchange goes on.
"""

from __future__ import annotations

from legato.intake.edi.x12_model import (
    DIGITS,
    ELEMENT_CODES,
    GROUP_CODES,
    INTERCHANGE_QUALIFIERS,
    ISA_LENGTH,
    ISA_WIDTHS,
    LINE_BREAKS,
    SEGMENT_CODES,
    SET_CODES,
    VERSIONS,
    FunctionalGroup,
    Interchange,
    Segment,
    Separators,
    TransactionSet,
    X12Error,
    check_time,
    parse_date,
)

# --- reading -----------------------------------------------------------------------------------


def read_interchange(data: bytes) -> Interchange:
    """Tokenize and check the envelopes of one interchange; raises X12Error when the
    interchange cannot be read (groups and sets in error are returned with their errors)."""
    raw = data.removeprefix(b"\xef\xbb\xbf").lstrip(b" \t\r\n")
    if not raw.startswith(b"ISA"):
        start = raw[:20].decode("utf-8", "replace")
        raise X12Error(
            1,
            "ISA",
            f"an X12 interchange starts with ISA; this starts with {start!r}",
            code="unrecognized_segment",
        )
    seps = _separators(raw)
    segments = _split(_decode(raw, seps), seps)
    _check_isa(segments[0], seps)
    return _structure(segments, seps)


def peek_control_number(data: bytes) -> str | None:
    """ISA13 of a delivery, or None when it does not start like an interchange (for the inbox)."""
    try:
        seps = _separators(data.removeprefix(b"\xef\xbb\xbf").lstrip(b" \t\r\n"))
    except X12Error:
        return None
    head = data.removeprefix(b"\xef\xbb\xbf").lstrip(b" \t\r\n")[:ISA_LENGTH].decode("ascii")
    return head.split(seps.element)[13]


def _separators(raw: bytes) -> Separators:
    if not raw.startswith(b"ISA"):
        raise X12Error(1, "ISA", "no ISA segment", code="unrecognized_segment")
    try:
        head = raw[:ISA_LENGTH].decode("ascii")
    except UnicodeDecodeError as exc:
        raise X12Error(
            1, "ISA", f"byte {exc.start} of the ISA is not ASCII", code="invalid_character"
        ) from None
    if len(head) < 4:
        raise X12Error(1, "ISA", "the interchange is cut short inside its ISA segment", code="truncated")
    parts = head.split(head[3], 16)
    if len(parts) < 17:
        raise X12Error(
            1,
            "ISA",
            f"the ISA has {len(parts) - 1} of its 16 elements before its 106th character "
            f"(it is fixed-width, 106 characters)",
            code="truncated",
        )
    for n, (width, value) in enumerate(zip(ISA_WIDTHS, parts[1:16], strict=True), start=1):
        if len(value) != width:
            raise X12Error(
                1,
                "ISA",
                f"must be {width} characters (the ISA is fixed-width, 106 characters), "
                f"not {len(value)}: {value!r}",
                element=n,
                value=value,
                code="too_short" if len(value) < width else "too_long",
            )
    if len(parts[16]) < 2:
        raise X12Error(
            1,
            "ISA",
            "no segment terminator after ISA16 (the interchange is cut short)",
            element=16,
            code="truncated",
        )
    seps = Separators(head[3], parts[16][0], parts[16][1], parts[11] if parts[12] == "00501" else None)
    problem = seps.problem()
    if problem:
        element = 11 if seps.repetition and "repetition" in problem else 16
        raise X12Error(1, "ISA", problem, element=element, value=seps.all(), code="invalid_character")
    return seps


def _decode(raw: bytes, seps: Separators) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        term = seps.segment.encode()
        start = raw.rfind(term, 0, exc.start) + 1
        seg_id = raw[start:].lstrip(b"\r\n").split(seps.element.encode(), 1)[0][:3].decode("ascii", "replace")
        position = raw[: exc.start].count(term) + 1
        msg = f"byte {exc.start} (0x{raw[exc.start]:02X}) is not text (ASCII or UTF-8)"
        raise X12Error(position, seg_id, msg, code="invalid_character") from None


def _split(text: str, seps: Separators) -> list[Segment]:
    pieces = text.split(seps.segment)
    tail = pieces.pop()
    segments: list[Segment] = []
    for piece in pieces:
        if seps.segment == "\n":
            piece = piece.removesuffix("\r")
            if not piece.strip():
                continue  # blank lines between segments
        elif seps.segment == "\r":
            piece = piece.lstrip("\n")
            if not piece.strip():
                continue
        else:
            piece = piece.lstrip(LINE_BREAKS)
        parts = piece.split(seps.element)
        segments.append(Segment(parts[0].strip(), tuple(parts[1:]), len(segments) + 1))
    if tail.strip(" \t\r\n\x00\x1a"):
        last = tail.strip().split(seps.element, 1)[0][:3]
        msg = f"the last segment is not terminated by {seps.segment!r}: the interchange is cut short"
        raise X12Error(len(segments) + 1, last, msg, code="truncated")
    return segments


def _check_isa(isa: Segment, seps: Separators) -> None:
    def fail(n: int, message: str, code: str = "invalid_code") -> X12Error:
        return X12Error.at(isa, message, element=n, value=isa.elements[n - 1], code=code)

    version = isa.get(12)
    if version not in VERSIONS:
        raise fail(12, f"version {version!r} is not read here: Legato reads 00401 (4010) and 00501 (5010)")
    if version == "00401" and isa.elements[10] != "U":
        raise fail(11, f"in version 00401 ISA11 is the standards identifier 'U', not {isa.elements[10]!r}")
    if isa.get(1) not in {"00", "01", "02", "03", "04", "05", "06"}:
        raise fail(1, f"{isa.get(1)!r} is not an authorization information qualifier")
    if isa.get(3) not in {"00", "01"}:
        raise fail(3, f"{isa.get(3)!r} is not a security information qualifier")
    for n in (5, 7):
        if isa.get(n) not in INTERCHANGE_QUALIFIERS:
            raise fail(n, f"{isa.get(n)!r} is not an interchange id qualifier (e.g. 01, 12, 14, ZZ)")
        if not isa.get(n + 1):
            raise fail(n + 1, "the interchange id is blank", "missing")
    try:
        parse_date(isa.get(9), short=True)
    except ValueError as exc:
        raise fail(9, str(exc), "invalid_date") from None
    try:
        check_time(isa.get(10), short=True)
    except ValueError as exc:
        raise fail(10, str(exc), "invalid_time") from None
    if not DIGITS.match(isa.get(13)):
        raise fail(
            13, f"the interchange control number must be 9 digits, not {isa.get(13)!r}", "not_a_number"
        )
    if isa.get(14) not in {"0", "1"}:
        raise fail(14, f"acknowledgment requested must be 0 or 1, not {isa.get(14)!r}")
    if isa.get(15) not in {"P", "T", "I"}:
        raise fail(15, f"the usage indicator must be P, T or I, not {isa.get(15)!r}")


def _structure(segments: list[Segment], seps: Separators) -> Interchange:
    isa, groups, i = segments[0], [], 1
    while i < len(segments):
        seg = segments[i]
        if seg.id == "GS":
            group, i = _group(segments, i)
            groups.append(group)
        elif seg.id == "IEA":
            _check_iea(seg, isa, len(groups))
            if i + 1 < len(segments):
                extra = segments[i + 1]
                raise X12Error.at(
                    extra,
                    "content after the IEA trailer: send one interchange per delivery",
                    code="unexpected_segment",
                )
            return Interchange(seps, isa, groups, seg)
        else:
            msg = f"{seg.id or 'an empty segment'} is outside any functional group (expected GS or IEA)"
            raise X12Error.at(seg, msg, code="unexpected_segment")
    last = segments[-1]
    msg = "the interchange ends after this segment without its IEA trailer: it is cut short"
    raise X12Error.at(last, msg, code="truncated")


def _group(segments: list[Segment], i: int) -> tuple[FunctionalGroup, int]:
    group = FunctionalGroup(segments[i])
    _check_gs(group)
    i += 1
    while i < len(segments):
        seg = segments[i]
        if seg.id == "ST":
            ts, i = _set(segments, i)
            if any(other.control == ts.control for other in group.sets):
                msg = f"transaction set control number {ts.control!r} is used twice in this group"
                ts.errors.append(
                    X12Error.at(
                        ts.header, msg, element=2, value=ts.control, code="duplicate_set_control_number"
                    )
                )
            group.sets.append(ts)
        elif seg.id == "GE":
            group.trailer = seg
            _check_ge(group)
            return group, i + 1
        elif seg.id in ("GS", "IEA"):
            break
        else:
            msg = f"{seg.id or 'an empty segment'} is outside any transaction set (expected ST or GE)"
            raise X12Error.at(seg, msg, code="unexpected_segment")
    msg = f"functional group {group.control!r} has no GE trailer"
    group.errors.append(X12Error.at(group.header, msg, code="group_trailer_missing"))
    return group, i


def _set(segments: list[Segment], i: int) -> tuple[TransactionSet, int]:
    ts = TransactionSet(segments[i])
    if ts.id != "850":
        msg = f"transaction set {ts.id!r} is not read here: Legato reads 850 purchase orders"
        ts.errors.append(X12Error.at(ts.header, msg, element=1, value=ts.id, code="set_not_supported"))
    if not 4 <= len(ts.control) <= 9:
        msg = f"the transaction set control number must be 4 to 9 characters, not {ts.control!r}"
        ts.errors.append(
            X12Error.at(ts.header, msg, element=2, value=ts.control, code="bad_set_control_number")
        )
    i += 1
    while i < len(segments):
        seg = segments[i]
        if seg.id == "SE":
            ts.trailer = seg
            _check_se(ts)
            return ts, i + 1
        if seg.id in ("ST", "GE", "GS", "IEA"):
            break
        ts.segments.append(seg)
        i += 1
    before = f"segment {segments[i].position} ({segments[i].id})" if i < len(segments) else "the end"
    msg = f"transaction set {ts.control!r} has no SE trailer before {before}"
    ts.errors.append(X12Error.at(ts.header, msg, code="trailer_missing"))
    return ts, i


def _count(seg: Segment, n: int, actual: int, what: str, code: str) -> X12Error | None:
    said = seg.get(n)
    if not DIGITS.match(said):
        return X12Error.at(
            seg, f"the number of {what} must be a number, not {said!r}", element=n, value=said, code=code
        )
    if int(said) != actual:
        return X12Error.at(
            seg,
            f"says {int(said)} {what}, the {_OWNER[seg.id]} has {actual}",
            element=n,
            value=said,
            code=code,
        )
    return None


_OWNER = {"SE": "transaction set", "GE": "functional group", "IEA": "interchange"}


def _same(seg: Segment, n: int, expected: str, header: str, code: str) -> X12Error | None:
    if seg.get(n) == expected:
        return None
    msg = f"control number {seg.get(n)!r} differs from {header} {expected!r}"
    return X12Error.at(seg, msg, element=n, value=seg.get(n), code=code)


def _check_se(ts: TransactionSet) -> None:
    assert ts.trailer is not None
    for problem in (
        _count(ts.trailer, 1, len(ts.segments) + 2, "segments", "count_mismatch"),
        _same(ts.trailer, 2, ts.control, "ST02", "control_mismatch"),
    ):
        if problem is not None:
            ts.errors.append(problem)


def _check_gs(group: FunctionalGroup) -> None:
    gs = group.header

    def add(n: int, message: str, code: str) -> None:
        group.errors.append(X12Error.at(gs, message, element=n, value=gs.get(n), code=code))

    if group.functional_id != "PO":
        add(
            1,
            f"functional group {group.functional_id!r} is not read here: Legato reads purchase orders (PO)",
            "group_not_supported",
        )
    for n in (2, 3):
        if not 2 <= len(gs.get(n)) <= 15:
            add(
                n,
                f"the application {'sender' if n == 2 else 'receiver'} code must be 2 to 15 characters",
                "missing" if not gs.get(n) else "too_short" if len(gs.get(n)) < 2 else "too_long",
            )
    try:
        parse_date(gs.get(4))
    except ValueError as exc:
        add(4, str(exc), "invalid_date")
    try:
        check_time(gs.get(5))
    except ValueError as exc:
        add(5, str(exc), "invalid_time")
    if not (DIGITS.match(group.control) and len(group.control) <= 9):
        add(
            6,
            f"the group control number must be 1 to 9 digits, not {group.control!r}",
            "bad_group_control_number",
        )
    if gs.get(7) not in ("X", "T"):
        add(7, f"the responsible agency code must be X, not {gs.get(7)!r}", "invalid_code")
    if not group.version.startswith(tuple(VERSIONS.values())):
        add(
            8,
            f"version {group.version!r} is not read here: Legato reads 004010 and 005010",
            "version_not_supported",
        )


def _check_ge(group: FunctionalGroup) -> None:
    assert group.trailer is not None
    for problem in (
        _count(group.trailer, 1, len(group.sets), "transaction sets", "group_count_mismatch"),
        _same(group.trailer, 2, group.control, "GS06", "group_control_mismatch"),
    ):
        if problem is not None:
            group.errors.append(problem)


def _check_iea(iea: Segment, isa: Segment, groups: int) -> None:
    for problem in (
        _count(iea, 1, groups, "functional groups", "interchange"),
        _same(iea, 2, isa.get(13), "ISA13", "interchange"),
    ):
        if problem is not None:
            raise problem


__all__ = [
    "ELEMENT_CODES",
    "GROUP_CODES",
    "SEGMENT_CODES",
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
    "peek_control_number",
    "read_interchange",
]
