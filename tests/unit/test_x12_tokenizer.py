"""The X12 tokenizer and envelope checks: separators read from the ISA, CR/LF tolerated, and
every broken envelope refused with a message naming its segment position and element."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from legato.intake.edi.x12 import Separators, X12Error, peek_control_number, read_interchange

SAMPLES = Path(__file__).parent.parent / "fixtures" / "edi" / "x12"


def sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


@pytest.mark.parametrize(
    ("name", "separators", "shape"),
    [
        ("850-4010-harbor.edi", Separators("*", ">", "~", None), [1]),
        ("850-4010-minimal.edi", Separators("*", ":", "~", None), [1]),
        ("850-5010-cedar-two-orders.edi", Separators("|", "^", "\n", "{"), [2]),
        ("850-5010-northwind-two-groups.edi", Separators("^", ":", "~", "|"), [2, 1]),
        ("850-5010-maple-partly-bad.edi", Separators("*", ":", "~", "^"), [3]),
    ],
)
def test_separators_come_from_the_isa_and_every_group_and_set_is_read(
    name: str, separators: Separators, shape: list[int]
) -> None:
    ic = read_interchange(sample(name))
    assert ic.separators == separators
    assert [len(g.sets) for g in ic.groups] == shape
    assert all(not g.errors and not any(ts.errors for ts in g.sets) for g in ic.groups)
    assert all(ts.segments[0].id == "BEG" for g in ic.groups for ts in g.sets)


def test_the_envelope_values_are_read_with_the_isa_padding_removed() -> None:
    ic = read_interchange(sample("850-5010-northwind-two-groups.edi"))
    assert (ic.sender_qualifier, ic.sender_id, ic.receiver_qualifier, ic.receiver_id) == (
        "12",
        "5035550100",
        "14",
        "0614141000012",
    )
    assert (ic.version, ic.control, ic.usage) == ("00501", "000000088", "P")
    assert [(g.functional_id, g.control, g.version) for g in ic.groups] == [
        ("PO", "88001", "005010"),
        ("PO", "88002", "005010"),
    ]
    assert [ts.control for g in ic.groups for ts in g.sets] == ["0001", "0002", "0003"]
    # positions count from the ISA (1) across the groups to the IEA
    assert ic.trailer.position == sample("850-5010-northwind-two-groups.edi").count(b"~")
    assert ic.groups[1].header.position == ic.groups[0].trailer.position + 1  # type: ignore[union-attr]


def test_crlf_after_terminators_and_a_byte_order_mark_are_tolerated() -> None:
    harbor = sample("850-4010-harbor.edi")
    assert b"~\r\n" in harbor
    plain = harbor.replace(b"\r\n", b"")
    assert _shape(read_interchange(harbor)) == _shape(read_interchange(plain))
    assert _shape(read_interchange(b"\xef\xbb\xbf\r\n" + plain + b"\r\n\r\n")) == _shape(
        read_interchange(plain)
    )


def _shape(ic: object) -> list[tuple[str, tuple[str, ...]]]:
    return [(s.id, s.elements) for g in ic.groups for ts in g.sets for s in ts.segments]  # type: ignore[attr-defined]


#: each broken envelope and the exact error it gets: raised (the interchange cannot be read),
#: or kept on its group / transaction set (the 997 rejects that part)
RAISED = {
    "broken-isa-width.edi": "segment 1 (ISA), element ISA06: must be 15 characters (the ISA is "
    "fixed-width, 106 characters), not 14: 'BROKENARROW   '",
    "broken-iea-count.edi": "segment 14 (IEA), element IEA01: says 2 functional groups, the "
    "interchange has 1",
    "broken-iea-control.edi": "segment 14 (IEA), element IEA02: control number '000000399' differs "
    "from ISA13 '000000301'",
    "broken-truncated.edi": "segment 11 (CTT): the interchange ends after this segment without its "
    "IEA trailer: it is cut short",
}
GROUP = {
    "broken-ge-count.edi": "segment 13 (GE), element GE01: says 2 transaction sets, the functional "
    "group has 1",
    "broken-ge-control.edi": "segment 13 (GE), element GE02: control number '302' differs from GS06 '301'",
}
SET = {
    "broken-se-count.edi": "segment 12 (SE), element SE01: says 12 segments, the transaction set has 10",
    "broken-se-control.edi": "segment 12 (SE), element SE02: control number '0002' differs from ST02 '0001'",
}


@pytest.mark.parametrize(("name", "message"), RAISED.items())
def test_an_interchange_that_cannot_be_read_raises_naming_the_segment(name: str, message: str) -> None:
    with pytest.raises(X12Error) as caught:
        read_interchange(sample(name))
    assert str(caught.value) == message


@pytest.mark.parametrize(("name", "message"), GROUP.items())
def test_a_broken_group_trailer_is_kept_on_its_group(name: str, message: str) -> None:
    (group,) = read_interchange(sample(name)).groups
    assert [str(e) for e in group.errors] == [message]
    assert not group.sets[0].errors


@pytest.mark.parametrize(("name", "message"), SET.items())
def test_a_broken_set_trailer_is_kept_on_its_transaction_set(name: str, message: str) -> None:
    (group,) = read_interchange(sample(name)).groups
    assert not group.errors
    assert [str(e) for e in group.sets[0].errors] == [message]


def _harbor_plain() -> bytes:
    return sample("850-4010-harbor.edi").replace(b"\r\n", b"")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            (b"*00401*", b"*00305*"),
            "segment 1 (ISA), element ISA12: version '00305' is not read here: Legato reads "
            "00401 (4010) and 00501 (5010)",
        ),
        (
            (b"*U*00401*", b"*^*00401*"),
            "segment 1 (ISA), element ISA11: in version 00401 ISA11 is the standards identifier 'U', not '^'",
        ),
        (
            (b"*240501*", b"*240231*"),
            "segment 1 (ISA), element ISA09: '240231' is not a date (YYMMDD): 2024-02 has no day 31",
        ),
        ((b"*0930*U", b"*2460*U"), "segment 1 (ISA), element ISA10: '2460' is not a time of day (HHMM[SS])"),
        (
            (b"*ZZ*HARBOR", b"*QQ*HARBOR"),
            "segment 1 (ISA), element ISA05: 'QQ' is not an interchange id qualifier (e.g. 01, 12, 14, ZZ)",
        ),
        (
            (b"*U*00401*", b"*U*00501*"),
            "segment 1 (ISA), element ISA11: the repetition separator must be one character, not a letter, "
            "digit or space: 'U'",
        ),
        (
            (b"*P*>~", b"*P*~~"),
            "segment 1 (ISA), element ISA16: the separators must all differ: element '*', "
            "component '~', segment '~'",
        ),
        ((b"GS*PO*", b"XX*PO*"), "segment 2 (XX): XX is outside any functional group (expected GS or IEA)"),
        (
            (b"BEG*00*SA*HR-4500012345", b"BEG*00*SA*HR-45\xff"),
            "segment 4 (BEG): byte 193 (0xFF) is not text (ASCII or UTF-8)",
        ),
        (
            (b"IEA*1*000004711~", b"IEA*1*000004711~GS*PO~"),
            "segment 31 (GS): content after the IEA trailer: send one interchange per delivery",
        ),
        (
            (b"IEA*1*000004711~", b"IEA*1*000004711"),
            "segment 30 (IEA): the last segment is not terminated by '~': the interchange is cut short",
        ),
    ],
)
def test_a_bad_interchange_header_or_body_is_named_precisely(
    change: tuple[bytes, bytes], message: str
) -> None:
    body = _harbor_plain()
    assert change[0] in body
    with pytest.raises(X12Error) as caught:
        read_interchange(body.replace(change[0], change[1], 1))
    assert str(caught.value) == message


def test_something_that_is_not_x12_is_refused_at_its_first_characters() -> None:
    with pytest.raises(
        X12Error, match=r"segment 1 \(ISA\): an X12 interchange starts with ISA; this starts with "
    ):
        read_interchange(b'{"order": 1}')
    with pytest.raises(
        X12Error, match=r"segment 1 \(ISA\): the ISA has 8 of its 16 elements before its 106th"
    ):
        read_interchange(_harbor_plain()[:60])


def test_a_group_without_ge_and_a_set_without_se_are_kept_with_their_errors() -> None:
    body = _harbor_plain().replace(b"SE*26*0001~", b"").replace(b"GE*1*4711~", b"")
    (group,) = read_interchange(body).groups
    assert [e.code for e in group.errors] == ["group_trailer_missing"]
    assert [str(e) for e in group.sets[0].errors] == [
        "segment 3 (ST): transaction set '0001' has no SE trailer before segment 28 (IEA)"
    ]


def test_the_control_number_is_peeked_for_the_inbox_without_reading_the_rest() -> None:
    assert peek_control_number(sample("850-5010-cedar-two-orders.edi")) == "000000102"
    assert peek_control_number(sample("broken-truncated.edi")) == "000000301"
    assert peek_control_number(b"not x12 at all") is None


# --- properties --------------------------------------------------------------------------------

POOL = "*|^~>:!{`#@;"
VALUE = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcxyz0123456789 .-/()", min_size=0, max_size=12)
SEGMENT = st.tuples(
    st.sampled_from(["REF", "MSG", "N9", "PO1", "DTM", "AMT"]), st.lists(VALUE, min_size=1, max_size=6)
)


@st.composite
def dialects(draw: st.DrawFn) -> tuple[Separators, str]:
    chars = draw(st.permutations(POOL))
    newline_terminated = draw(st.booleans())
    version = draw(st.sampled_from(["00401", "00501"]))
    seps = Separators(
        chars[0], chars[1], "\n" if newline_terminated else chars[2], chars[3] if version == "00501" else None
    )
    brk = "" if newline_terminated else draw(st.sampled_from(["", "\n", "\r\n"]))
    return seps, brk


def build(seps: Separators, brk: str, body: list[tuple[str, list[str]]]) -> bytes:
    version = "00501" if seps.repetition else "00401"
    isa = [
        "ISA",
        "00",
        " " * 10,
        "00",
        " " * 10,
        "ZZ",
        "SENDER".ljust(15),
        "ZZ",
        "RECEIVER".ljust(15),
        "240601",
        "1200",
        seps.repetition or "U",
        version,
        "000000042",
        "0",
        "T",
        seps.component,
    ]
    segs = [
        ["GS", "PO", "SENDER", "RECEIVER", "20240601", "1200", "42", "X", "004010"],
        ["ST", "850", "0001"],
        *([sid, *els] for sid, els in body),
        ["SE", str(len(body) + 2), "0001"],
        ["GE", "1", "42"],
        ["IEA", "1", "000000042"],
    ]
    return "".join(seps.element.join(s) + seps.segment + brk for s in [isa, *segs]).encode()


@settings(max_examples=150, deadline=None)
@given(dialects(), st.lists(SEGMENT, min_size=0, max_size=8))
def test_any_separators_and_line_breaks_give_back_the_segments_written(
    dialect: tuple[Separators, str], body: list[tuple[str, list[str]]]
) -> None:
    seps, brk = dialect
    ic = read_interchange(build(seps, brk, body))
    assert ic.separators == seps
    (ts,) = ic.groups[0].sets
    assert not ts.errors and not ic.groups[0].errors
    assert [(s.id, list(s.elements)) for s in ts.segments] == body


@settings(max_examples=150, deadline=None)
@given(dialects(), st.lists(SEGMENT, min_size=1, max_size=5), st.data())
def test_every_cut_short_interchange_is_refused_never_half_read(
    dialect: tuple[Separators, str], body: list[tuple[str, list[str]]], data: st.DataObject
) -> None:
    whole = build(*dialect, body).rstrip(b"\r\n")
    cut = data.draw(st.integers(min_value=0, max_value=len(whole) - 1))
    with pytest.raises(X12Error):
        read_interchange(whole[:cut])
