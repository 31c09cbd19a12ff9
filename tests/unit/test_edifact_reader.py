"""The EDIFACT reader on the sample interchanges (tests/fixtures/edi/edifact): envelopes, service
strings, character sets, the ORDERS segments Legato reads, and a precise error for each broken one."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydifact.control.characters import Characters
from pydifact.segments import Segment
from pydifact.serializer import Serializer

from legato.intake.base import Unparseable
from legato.intake.edi.edifact import EdiError, Interchange, peek, read_interchange
from legato.intake.edi.edifact_orders import Party, PurchaseOrder, is_gtin, read_orders

FIXTURES = Path(__file__).parent.parent / "fixtures" / "edi" / "edifact"
GOOD = sorted(p.name for p in FIXTURES.glob("orders_*.edi"))


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def orders(name_or_body: str | bytes) -> tuple[Interchange, list[tuple[PurchaseOrder, list[EdiError]]]]:
    body = fixture(name_or_body) if isinstance(name_or_body, str) else name_or_body
    ic = read_interchange(body)
    return ic, [read_orders(m, ic.decimal_marks) for m in ic.messages]


def unreadable(body: bytes) -> str:
    with pytest.raises(Unparseable) as exc:
        read_interchange(body)
    assert exc.value.issues and exc.value.issues[0].path.startswith("interchange")
    return str(exc.value.detail)


@pytest.mark.parametrize("name", GOOD)
def test_every_sample_order_interchange_reads_without_a_single_error(name: str) -> None:
    ic, read = orders(name)
    assert ic.errors == [] and all(g.errors == [] for g in ic.groups)
    assert read and all(errors == [] for _, errors in read)
    assert peek(fixture(name)) == (ic.sender, ic.control_reference)


def test_the_d96a_eancom_order_is_read_segment_by_segment() -> None:
    ic, [(po, _)] = orders("orders_d96a_eancom.edi")
    assert (ic.syntax, ic.syntax_version, ic.una, ic.decimal_marks) == ("UNOA", "2", True, (".",))
    assert (ic.sender, ic.sender_qualifier, ic.recipient, ic.control_reference) == (
        "5412345000013", "14", "4012345000009", "00000000000778")  # fmt: skip
    assert (po.reference, po.version, po.association, po.document_code) == (
        "ME000001",
        "D96A",
        "EAN008",
        "220",
    )
    assert (po.number, po.function, po.action, po.currency) == ("PO-128576", "9", "place", "EUR")
    assert po.document_date == datetime(2024, 3, 15) and po.delivery_date == datetime(2024, 3, 20, 10, 0)
    assert po.references == [("CT", "652744"), ("PL", "AUG24")]
    assert po.notes == ["Deliver to gate 4, before noon"]
    street = ("Industrieweg 5", "Dock 3")
    dp = Party("DP", "5412345000020", "9", "Superstore Vilvoorde DC", street, "Vilvoorde", None, "1800", "BE")
    assert po.parties["DP"] == dp
    assert po.parties["BY"].gln == "5412345000013" and po.parties["SU"].name is None
    first, second = po.lines
    assert (first.number, first.ids, first.description) == (
        "1", [("EN", "4000862141404"), ("SA", "TEA-100")], "Green tea, 100 bags")  # fmt: skip
    assert (first.quantity, first.unit, first.net_price, first.amount) == (
        Decimal(48),
        "PCE",
        Decimal("2.1"),
        Decimal("100.80"),
    )
    assert (second.gross_price, second.net_price, second.quantity) == (
        Decimal("7.50"),
        Decimal("6.75"),
        Decimal(12),
    )
    assert po.totals == {"79": Decimal("181.80")}


def test_a_d01b_interchange_without_una_is_decoded_as_latin_1_per_unoc() -> None:
    body = fixture("orders_d01b_unoc_no_una.edi")
    assert b"\xfc" in body and b"\n" not in body  # ISO 8859-1 bytes, all on one line
    ic, read = orders(body)
    assert (ic.una, ic.syntax, ic.decimal_marks) == (False, "UNOC", (".", ","))
    assert [po.number for po, _ in read] == ["4501", "4502"]
    po = read[0][0]
    assert po.version == "D01B" and po.association == "EAN010"
    assert po.parties["BY"].name == "Bäckerei Müller GmbH" and po.parties["DP"].city == "München"
    assert po.parties["DP"].region == "BY" and po.parties["DP"].street == ("Lagerstraße 9", "Tor 2")
    assert [ln.ids for ln in po.lines] == [[("SRV", "4000862141404")], [("SRV", "4000862141411")]]


def test_custom_una_separators_and_a_comma_decimal_mark_are_honoured() -> None:
    ic, [(po, _)] = orders("orders_custom_una_comma.edi")
    assert ic.service_string == "|*,# ~" and ic.decimal_marks == (",",)
    assert po.lines[0].quantity == Decimal("2.5") and po.lines[0].net_price == Decimal("12.50")
    assert po.parties["DP"].name == "Kaashandel de Vries*Zonen"  # released data separator


def test_the_release_character_keeps_separators_as_data_in_utf_8() -> None:
    ic, [(po, _)] = orders("orders_release_escapes.edi")
    assert ic.syntax == "UNOY" and ic.decimal_marks == (".", ",")  # syntax 4: either mark
    assert po.parties["BY"].name == "Bits + Bytes Sp. z o.o." and po.parties["BY"].street == ("ul. Długa 1",)
    assert po.parties["DP"].name == "O'Brien & Co" and po.parties["DP"].street == ("Unit 4:5 Dock Road",)
    assert po.lines[0].ids[1] == ("SA", "TEA:100") and po.lines[0].description == "Tea 50+50 ? mix"
    assert po.notes == ["Call +44 20 7946 0000 on arrival: ask for O'Brien"]


def test_groups_carry_their_messages_and_functions_decide_the_action() -> None:
    ic, read = orders("orders_groups.edi")
    assert [g.reference for g in ic.groups] == ["GRP1", "GRP2"]
    assert [m.group for m in ic.messages] == ["GRP1", "GRP1", "GRP2"]
    assert [(po.number, po.action) for po, _ in read] == [("GR-1", "place"), ("GR-2", "provisional"),
                                                          ("GR-3", "place")]  # fmt: skip
    _, cancel = orders("orders_cancel.edi")
    assert (cancel[0][0].number, cancel[0][0].action, cancel[0][0].lines) == ("PO-128576", "cancel", [])
    assert cancel[1][0].action == "copy"


BROKEN = [
    # fixture, message index (None: the interchange), code, where, text
    ("broken_unt_count.edi", 1, "29", "segment 8 (UNT), element 1",
     "count 9 does not match the 8 segments received from UNH to UNT"),
    ("broken_unz_count.edi", None, "29", "segment 11 (UNZ), element 1",
     "count 2 does not match the 1 message(s) received"),
    ("broken_unz_reference.edi", None, "28", "segment 11 (UNZ), element 2",
     "reference 'BRK4' does not match the header's 'BRK3'"),
    ("broken_dtm_date.edi", 0, "12", "segment 3 (DTM), element 1 component 2",
     "'20240231' is not a date in format 102 (CCYYMMDD)"),
    ("broken_unknown_function.edi", 0, "14", "segment 2 (BGM), element 3",
     "message function '99' is not one of 1, 5, 6, 7, 9, 16, 31, 42, 46"),
    ("broken_qty_not_number.edi", 1, "12", "segment 11 (QTY), element 1 component 2",
     "quantity 'ten' is not a number"),
    ("broken_cnt_mismatch.edi", 0, "29", "segment 9 (CNT), element 1 component 2",
     "control value 3 does not match the 2 line items (LIN)"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "index", "code", "where", "text"), BROKEN)
def test_each_broken_interchange_names_the_segment_element_and_component(
    name: str, index: int | None, code: str, where: str, text: str
) -> None:
    ic, read = orders(name)
    errors = ic.errors if index is None else read[index][1]
    assert (errors[0].code, errors[0].where, errors[0].text) == (code, where, text)
    if index is not None:
        assert ic.errors == [] and all(not e for i, (_, e) in enumerate(read) if i != index)


def test_a_bad_date_on_a_line_is_an_error_too() -> None:
    _, [(_, errors)] = orders("broken_dtm_date.edi")
    assert errors[1].describe() == (
        "segment 6 (DTM), element 1 component 2: '202403251290' is not a date in format 203 "
        "(CCYYMMDDHHMM)")  # fmt: skip


def test_a_truncated_interchange_is_unreadable_naming_where_it_stops() -> None:
    detail = unreadable(fixture("broken_truncated.edi"))
    assert detail.startswith("segment 7: unreadable (after segment 6, LIN): the data ends inside a segment")
    whole = fixture("orders_d96a_eancom.edi")
    cut = whole[: whole.index(b"UNZ")]  # ends cleanly after UNT, but without UNZ
    assert (
        unreadable(cut)
        == "segment 31 (UNZ): the interchange ends after segment 30 (UNT) without UNZ: it is truncated"
    )


def test_bytes_outside_the_declared_character_set_are_unreadable_with_the_segment() -> None:
    detail = unreadable(fixture("broken_not_utf8.edi"))
    assert detail.startswith("segment 4 (NAD): byte 0xE4 at offset 150 is not a UNOY character (utf-8)")
    latin = fixture("orders_d01b_unoc_no_una.edi").replace(b"UNOC:3", b"UNOA:3")
    assert unreadable(latin).startswith("segment 5 (NAD): byte 0xE4 at offset 158 is not a UNOA character")


@pytest.mark.parametrize(
    ("body", "start"),
    [
        (b'{"order": 1}', "segment 1: an interchange begins with UNB"),
        (b"", "segment 1: an interchange begins with UNB (after an optional UNA), not 'nothing'"),
        (b"UNB+UNOZ:3+A+B+240101:0000+1'UNZ+0+1'",
         "segment 1 (UNB), element 1 component 1: syntax identifier 'UNOZ'"),
        (b"UNA:+.?'", "segment UNA: the UNA service string advice needs six characters"),
        (b"UNA::.? 'UNB", "segment UNA: service characters \"::.? '\": the separators"),
        (b"UNB+UNOC:3++B+240101:0000+1'UNZ+0+1'",
         "segment 1 (UNB), element 2 component 1: the interchange sender"),
        (b"UNB+UNOC:3+A+B+240101:0000+1'un+1'",
         "segment 2: unreadable (after segment 1, UNB): 'un' is not a segment tag"),
    ],
)  # fmt: skip
def test_what_is_not_an_interchange_is_unreadable(body: bytes, start: str) -> None:
    assert unreadable(body).startswith(start)


def interchange(
    *segments: str, header: str = "UNB+UNOC:3+5412345000013:14+4012345000009:14+240101:1200+R1"
) -> bytes:
    """An interchange with the default UNA (so '.' is its only decimal mark)."""
    return ("UNA:+.? '" + "'".join([header, *segments]) + "'").encode()


def message(ref: str, *body: str, count: int | None = None, version: str = "ORDERS:D:96A:UN") -> list[str]:
    segs = [f"UNH+{ref}+{version}", *body]
    return [*segs, f"UNT+{count or len(segs) + 1}+{ref}"]


ORDER = ("BGM+220+X1+9", "LIN+1++4000862141404:EN", "QTY+21:2")


@pytest.mark.parametrize(
    ("segments", "expected"),
    [
        ([*message("M1", *ORDER), "UNZ+1+R1"], []),
        ([*message("M1", "BGM+220+X1+9", "LIN+1++4000862141404:EN", "QTY+21:2,5"), "UNZ+1+R1"],
         ["segment 4 (QTY), element 1 component 2: quantity '2,5' uses ',' as decimal mark; "
          "this interchange's (UNA) is '.'"]),
        ([*message("M1", *ORDER, version="ORDERS:D:93A:UN"), "UNZ+1+R1"],
         ["segment 1 (UNH), element 2 component 2: ORDERS D:93A:UN is not read here (D:96A:UN or D:01B:UN)"]),
        ([*message("M1", *ORDER, version="INVOIC:D:96A:UN"), "UNZ+1+R1"],
         ["segment 1 (UNH), element 2 component 1: message type 'INVOIC' is not read here (ORDERS)"]),
        ([*message("M1", "BGM+220+X1+9", "NAD+BY+5412345000012::9", "LIN+1++4000862141405:EN", "QTY+21:0"),
          "UNZ+1+R1"],
         ["segment 3 (NAD), element 2 component 1: '5412345000012' is not a GLN "
          "(13 digits with a GS1 check digit)",
          "segment 4 (LIN), element 3 component 1: item number '4000862141405' (EN) is not a GTIN "
          "(8, 12, 13 or 14 digits with a GS1 check digit)",
          "segment 5 (QTY), element 1 component 2: ordered quantity '0' must be above 0"]),
        ([*message("M1", "BGM+220++9", "LIN+1", "QTY+21:1", "CUX+2:eur", "DTM+137:20240101:999"), "UNZ+1+R1"],
         ["segment 6 (DTM), element 1 component 3: date format '999' is not supported (102 CCYYMMDD, 203 "
          "CCYYMMDDHHMM, 204 CCYYMMDDHHMMSS, 718 CCYYMMDD-CCYYMMDD)",
          "segment 2 (BGM), element 2 component 1: the document number (1004) is missing",
          "segment 3 (LIN), element 3 component 1: line 1 names no item (LIN element 3 and PIA are empty)"]),
        ([*message("M1", "BGM+220+X1+9", "UNS+S"), "UNZ+1+R1"],
         ["segment 3 (LIN): an order needs at least one line item (LIN)"]),
        (["UNH+M1+ORDERS:D:96A:UN", *ORDER, *message("M2", *ORDER), "UNZ+2+R1"],
         ["segment 5 (UNT): the message has no UNT before UNH"]),
        ([*message("M1", "LIN+1++4000862141404:EN", "QTY+21:1"), "UNZ+1+R1"],
         ["segment 2 (BGM): the message has no BGM (beginning of message)"]),
    ],
)  # fmt: skip
def test_message_errors_are_collected_with_their_positions(segments: list[str], expected: list[str]) -> None:
    ic = read_interchange(interchange(*segments))
    _, errors = read_orders(ic.messages[0], ic.decimal_marks)
    assert [e.describe() for e in errors] == expected


def test_the_cux_currency_and_a_segment_outside_a_message_are_checked() -> None:
    ic = read_interchange(interchange(*message("M1", "CUX+2:eur", *ORDER), "FTX+AAI+++stray", "UNZ+1+R1"))
    assert [e.describe() for e in ic.errors] == ["segment 8 (FTX): FTX is not allowed outside a message"]
    assert [e.describe() for e in read_orders(ic.messages[0], (".",))[1]] == [
        "segment 2 (CUX), element 1 component 2: currency 'eur' is not an ISO 4217 code"]  # fmt: skip


def test_group_counts_and_references_are_checked() -> None:
    ic = read_interchange(interchange("UNG+ORDERS+A+B+240101:1200+G1+UN+D:96A", *message("M1", *ORDER),
                                      "UNE+2+G2", "UNZ+1+R1"))  # fmt: skip
    assert [e.describe() for e in ic.groups[0].errors] == [
        "segment 8 (UNE), element 1: count 2 does not match the 1 message(s) received in the group",
        "segment 8 (UNE), element 2: reference 'G2' does not match the header's 'G1'",
    ]
    empty = read_interchange(interchange("UNZ+0+R1"))
    assert [e.describe() for e in empty.errors] == ["segment 2 (UNZ): the interchange holds no message"]
    bad_date = read_interchange(interchange(*message("M1", *ORDER), "UNZ+1+R1",
                                            header="UNB+UNOC:3+A+B+240199:2500+R1"))  # fmt: skip
    assert bad_date.errors[0].where == "segment 1 (UNB), element 4"


@given(st.binary(max_size=300))
@settings(max_examples=150, deadline=None)
def test_any_bytes_either_read_or_are_unparseable_never_a_crash(body: bytes) -> None:
    for candidate in (body, b"UNA:+.? 'UNB+UNOC:3+A+B+240101:1200+R1'" + body):
        try:
            ic = read_interchange(candidate)
        except Unparseable:
            continue
        for m in ic.messages:
            read_orders(m, ic.decimal_marks)


@given(st.data())
@settings(max_examples=150, deadline=None)
def test_a_sample_with_any_byte_changed_reads_or_is_unparseable(data: st.DataObject) -> None:
    body = bytearray(fixture(data.draw(st.sampled_from(GOOD))))
    at = data.draw(st.integers(0, len(body) - 1))
    body[at : at + data.draw(st.integers(0, 3))] = data.draw(st.binary(max_size=3))
    try:
        ic = read_interchange(bytes(body))
    except Unparseable:
        return
    for m in ic.messages:
        read_orders(m, ic.decimal_marks)


SEPARATORS = st.sampled_from([":+.? '", ":+,? '", "|*,# ~", "^~.\\ !", ":+.?*'"])
TEXT = st.text(st.characters(min_codepoint=32, max_codepoint=255, blacklist_characters="\x7f"), min_size=1,
               max_size=30).map(str.strip).filter(bool)  # fmt: skip


@given(SEPARATORS, TEXT, TEXT, st.decimals(min_value=Decimal("0.001"), max_value=Decimal("99999"), places=3))
@settings(max_examples=150, deadline=None)
def test_any_name_and_quantity_written_with_any_service_string_reads_back_the_same(
    una: str, name: str, item: str, quantity: Decimal
) -> None:
    chars = Characters.from_str(una)
    qty = format(quantity, "f").replace(".", una[2])
    segments = [
        Segment(
            "UNB", ["UNOC", "3"], ["5412345000013", "14"], ["4012345000009", "14"], ["240101", "1200"], "R1"
        ),
        Segment("UNH", "M1", ["ORDERS", "D", "96A", "UN", "EAN008"]),
        Segment("BGM", "220", "X1", "9"),
        Segment("NAD", "BY", ["5412345000013", "", "9"], "", name),
        Segment("LIN", "1", "", [item, "SA"]),
        Segment("QTY", ["21", qty]),
        Segment("UNT", "6", "M1"),
        Segment("UNZ", "1", "R1"),
    ]
    body = Serializer(chars).serialize(segments, with_una_header=True).encode("latin-1")
    ic, [(po, errors)] = orders(body)
    assert errors == [] and ic.service_string == una
    assert po.parties["BY"].name == name and po.lines[0].ids == [("SA", item)]
    assert po.lines[0].quantity == quantity


@given(st.text("0123456789", min_size=7, max_size=13))
def test_a_gtin_is_valid_only_with_its_check_digit(body: str) -> None:
    digits = [int(c) for c in reversed(body)]
    check = (10 - sum(d * (3 if i % 2 == 0 else 1) for i, d in enumerate(digits)) % 10) % 10
    code = body + str(check)
    assert is_gtin(code) is (len(code) in (8, 12, 13, 14))
    assert not is_gtin(body + str((check + 1) % 10))
