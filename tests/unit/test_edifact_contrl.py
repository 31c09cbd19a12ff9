"""The CONTRL Legato sends back: UCI/UCF/UCM actions, UCS/UCD positions, its own envelope, and that
it reads back through Legato's own EDIFACT reader without a single error."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from legato.intake.edi.edifact import EdiError, Interchange, Seg, read_interchange
from legato.intake.edi.edifact_orders import read_orders
from legato.intake.edi.edifact_out import parties, render_contrl

ROOT = Path(__file__).parent.parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "edi" / "edifact"
WHEN = datetime(2024, 3, 15, 9, 31)


def inbound(name: str) -> Interchange:
    return read_interchange((FIXTURES / name).read_bytes())


def rejected(ic: Interchange) -> dict[int, list[EdiError]]:
    out = {}
    for i, msg in enumerate(ic.messages):
        group = ic.group_of(msg)
        errors = [*(group.errors if group else []), *read_orders(msg, ic.decimal_marks)[1]]
        if errors:
            out[i] = errors
    return out


def contrl(ic: Interchange, number: int = 1, **extra: str) -> bytes:
    sender, recipient = parties(ic, extra)
    return render_contrl(
        ic, rejected(ic), control_number=number, sender=sender, recipient=recipient, now=WHEN
    )


def segments(body: bytes) -> list[str]:
    """The CONTRL's segments as text, after checking it reads back cleanly."""
    back = read_interchange(body)
    assert back.errors == [] and [m.type for m in back.messages] == ["CONTRL"]
    assert back.messages[0].errors == [], back.messages[0].errors
    assert (back.syntax, back.syntax_version, back.una) == ("UNOC", "3", True)
    return body.decode("latin-1").removeprefix("UNA:+.? '").rstrip("'").split("'")


def body_of(body: bytes) -> list[str]:
    """Only UCI ... (between UNH and UNT)."""
    return segments(body)[2:-2]


def test_a_clean_interchange_is_acknowledged_message_by_message_to_its_sender() -> None:
    out = segments(contrl(inbound("orders_d01b_unoc_no_una.edi"), 42))
    assert out == [
        "UNB+UNOC:3+4012345000009:14+4398765000004:14+240315:0931+42",
        "UNH+1+CONTRL:D:3:UN:EAN002",
        "UCI+4711+4398765000004:14+4012345000009:14+7",
        "UCM+1+ORDERS:D:01B:UN:EAN010+7",
        "UCM+2+ORDERS:D:01B:UN:EAN010+7",
        "UNT+5+1",
        "UNZ+1+42",
    ]


def test_the_worked_example_in_the_docs_is_what_legato_sends() -> None:
    doc = (ROOT / "docs" / "channels" / "edifact.md").read_text()
    blocks = re.findall(r"```edifact\n(.*?)```", doc, re.S)
    assert blocks[0] == (FIXTURES / "orders_d96a_eancom.edi").read_text()
    sent = contrl(inbound("orders_d96a_eancom.edi"), 1)
    assert blocks[1] == "UNA:+.? '\n" + "\n".join(s + "'" for s in segments(sent)) + "\n"


def test_a_refused_message_gets_ucm_4_with_ucs_and_ucd_pointing_at_the_element() -> None:
    assert body_of(contrl(inbound("broken_qty_not_number.edi"))) == [
        "UCI+BRK8+5412345000013:14+4012345000009:14+7",
        "UCM+Q1+ORDERS:D:96A:UN:EAN008+7",
        "UCM+Q2+ORDERS:D:96A:UN:EAN008+4",
        "UCS+11",
        "UCD+12+1:2",
    ]
    assert body_of(contrl(inbound("broken_dtm_date.edi")))[1:] == [
        "UCM+D1+ORDERS:D:96A:UN:EAN008+4", "UCS+3", "UCD+12+1:2", "UCS+6", "UCD+12+1:2"]  # fmt: skip
    assert body_of(contrl(inbound("broken_unknown_function.edi")))[1:] == [
        "UCM+F1+ORDERS:D:96A:UN:EAN008+4", "UCS+2", "UCD+14+3"]  # fmt: skip


def test_envelope_errors_go_on_the_ucm_or_uci_with_their_segment_and_element() -> None:
    assert body_of(contrl(inbound("broken_unt_count.edi")))[1:] == [
        "UCM+OK1+ORDERS:D:96A:UN:EAN008+7", "UCM+BAD2+ORDERS:D:96A:UN:EAN008+4+29+UNT+1"]  # fmt: skip
    # the interchange is rejected as a whole: no message is acknowledged
    assert body_of(contrl(inbound("broken_unz_count.edi"))) == [
        "UCI+BRK2+5412345000013:14+4012345000009:14+4+29+UNZ+1"
    ]
    assert body_of(contrl(inbound("broken_unz_reference.edi"))) == [
        "UCI+BRK3+5412345000013:14+4012345000009:14+4+28+UNZ+2"]  # fmt: skip


def test_groups_are_answered_with_ucf_and_a_refused_group_holds_its_messages() -> None:
    ic = inbound("orders_groups.edi")
    assert body_of(contrl(ic))[1:] == [
        "UCF+GRP1+5412345000013:14+4012345000009:14+7",
        "UCM+M1+ORDERS:D:96A:UN:EAN008+7",
        "UCM+M2+ORDERS:D:96A:UN:EAN008+7",
        "UCF+GRP2+5412345000013:14+4012345000009:14+7",
        "UCM+M3+ORDERS:D:96A:UN:EAN008+7",
    ]
    ic.groups[1].errors.append(Seg("UNE", (("2",), ("GRP2",)), 20).error("count 2 does not match", "29", 1))
    assert body_of(contrl(ic))[-1] == "UCF+GRP2+5412345000013:14+4012345000009:14+4+29+UNE+1"


def test_the_channel_names_the_parties_and_a_test_interchange_stays_a_test() -> None:
    ic = inbound("orders_d96a_eancom.edi")
    assert parties(ic, {}) == (("4012345000009", "14"), ("5412345000013", "14"))
    assert parties(ic, {"edifact_sender_id": "SUPPLIER01"}) == (("SUPPLIER01", "14"), ("5412345000013", "14"))
    settings_ = {
        "edifact_sender_id": "LEGATO",
        "edifact_sender_qualifier": "ZZZ",
        "edifact_recipient_id": "HUB",
    }
    assert parties(ic, settings_) == (("LEGATO", "ZZZ"), ("HUB", "14"))
    ic.test = True
    assert segments(contrl(ic, 7, **settings_))[0] == "UNB+UNOC:3+LEGATO:ZZZ+HUB:14+240315:0931+7++++++1"


def test_text_outside_latin_1_is_replaced_and_released_so_it_still_reads_back() -> None:
    ic = inbound("orders_release_escapes.edi")
    ic.sender = "Łódź+1"
    out = contrl(ic)
    assert b"UCI+REL0001+??\xf3d???+1:14" in out  # Ł and ź become '?', released as '??'; '+' as '?+'
    uci = read_interchange(out).messages[0].segments[1]
    assert uci.get(2, 1) == "?\xf3d?+1"


def test_a_contrl_in_the_interchange_is_not_acknowledged() -> None:
    ic = inbound("orders_d96a_eancom.edi")
    ic.messages[0].identifier = ("CONTRL", "D", "3", "UN")
    assert body_of(contrl(ic)) == ["UCI+00000000000778+5412345000013:14+4012345000009:14+7"]


@given(st.lists(st.booleans(), min_size=1, max_size=12), st.integers(1, 10**9))
@settings(max_examples=60, deadline=None)
def test_any_mix_of_refused_messages_reads_back_with_one_ucm_each(refused: list[bool], number: int) -> None:
    msgs = "".join(
        f"UNH+M{i}+ORDERS:D:96A:UN'BGM+220+P{i}+9'LIN+1++4000862141404:EN'QTY+21:{'x' if bad else 1}'"
        f"UNT+5+M{i}'"
        for i, bad in enumerate(refused)
    )
    body = f"UNB+UNOC:3+A:14+B:14+240101:1200+R9'{msgs}UNZ+{len(refused)}+R9'".encode()
    ic = read_interchange(body)
    out = body_of(
        render_contrl(ic, rejected(ic), control_number=number, sender=("B", "14"), recipient=("A", "14"))
    )
    ucms = [s for s in out if s.startswith("UCM")]
    assert ucms == [f"UCM+M{i}+ORDERS:D:96A:UN+{4 if bad else 7}" for i, bad in enumerate(refused)]
    assert out.count("UCS+4") == out.count("UCD+12+1:2") == sum(refused)


def test_a_message_without_unt_or_of_another_type_is_refused_on_its_ucm() -> None:
    body = (
        b"UNB+UNOC:3+A:14+B:14+240101:1200+R7'UNH+M1+ORDERS:D:96A:UN'BGM+220+P1+9'"
        b"UNH+M2+INVOIC:D:96A:UN'BGM+380+I1+9'UNT+3+M2'UNZ+2+R7'"
    )
    ic = read_interchange(body)
    out = body_of(
        render_contrl(ic, rejected(ic), control_number=1, sender=("B", "14"), recipient=("A", "14"))
    )
    assert out[1:] == [
        "UCM+M1+ORDERS:D:96A:UN+4+13+UNT",
        "UCS+3+13",  # and no line item (LIN) where UNT should have been
        "UCM+M2+INVOIC:D:96A:UN+4+14+UNH+2:1",
    ]
