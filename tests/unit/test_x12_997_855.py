"""The 997 and the 855: what each says for each sample (every broken one with its codes),
their envelopes and control numbers, and that both read back with our own tokenizer."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from legato.domain.order import OrderLine, SalesOrder
from legato.intake.edi.x12 import Interchange, Separators, read_interchange
from legato.intake.edi.x12_850 import check_group
from legato.intake.edi.x12_out import Envelope, SettingError, envelope, line_status, render_855, render_997
from legato.intake.edi.x12_po import Item, PurchaseOrder

ROOT = Path(__file__).parent.parent.parent
SAMPLES = ROOT / "tests" / "fixtures" / "edi" / "x12"
DOC = ROOT / "docs" / "channels" / "x12.md"
AT = datetime(2024, 5, 1, 9, 31, tzinfo=UTC)


class Counters:
    """Per-channel sequences as the store keeps them: each name counts up from 1."""

    def __init__(self, **start: int) -> None:
        self.values = dict(start)

    def next(self, name: str) -> int:
        self.values[name] = self.values.get(name, 0) + 1
        return self.values[name]


def read(name: str | bytes) -> Interchange:
    return read_interchange(name if isinstance(name, bytes) else (SAMPLES / name).read_bytes())


def acks(
    name: str | bytes, extra: dict[str, Any] | None = None, counters: Counters | None = None
) -> list[str]:
    """The 997 of every group of a sample."""
    ic = read(name)
    out = []
    for group in ic.groups:
        body, _ = render_997(
            counters or Counters(), envelope(extra or {}, ic, group), group, check_group(group), AT
        )
        out.append(body.decode())
    return out


def doc_block(name: str) -> str:
    """A worked-example block of docs/channels/x12.md (```x12 <name>), as one string."""
    found = re.search(rf"```x12 {re.escape(name)}\n(.*?)```", DOC.read_text(), re.S)
    assert found, name
    return found.group(1)


def harbor_order(prices: tuple[str, str, str] = ("4.50", "12.00", "42.00"), **line3: Any) -> SalesOrder:
    lines = [
        OrderLine(1, "TEA-100", "Breakfast tea", Decimal(24), Decimal(prices[0]), "channel"),
        OrderLine(2, "MUG-200", "Mug", Decimal(6), Decimal(prices[1]), "channel"),
        OrderLine(
            3, "POT-300", "Teapot", line3.pop("quantity", Decimal(2)), Decimal(prices[2]), "product", **line3
        ),
    ]
    return SalesOrder("EDI-HARBOR", "USD", lines, id=1)


def harbor_po() -> tuple[Interchange, PurchaseOrder]:
    ic = read("850-4010-harbor.edi")
    (result,) = check_group(ic.groups[0])
    assert result.order is not None
    return ic, result.order


def test_the_worked_example_file_is_the_fixture_and_its_997_and_855_are_the_documented_ones() -> None:
    assert doc_block("850-4010-harbor.edi") == (SAMPLES / "850-4010-harbor.edi").read_text().replace(
        "\r\n", "\n"
    )
    assert acks("850-4010-harbor.edi") == [doc_block("997").replace("\n", "")]
    ic, po = harbor_po()
    env = envelope({}, ic, ic.groups[0])
    body, control = render_855(
        Counters(isa=1, gs=1), env, po, harbor_order(), datetime(2024, 5, 1, 9, 32, tzinfo=UTC)
    )
    assert (body.decode(), control) == (doc_block("855").replace("\n", ""), "000000002")


#: what the 997 says of each sample: AK2 loops (AK3 segment, AK4 element, AK5 set) and AK9
SAYS = {
    "broken-se-count.edi": "AK1*PO*301~AK2*850*0001~AK5*R*4~AK9*R*1*1*0~",
    "broken-se-control.edi": "AK1*PO*301~AK2*850*0001~AK5*R*3~AK9*R*1*1*0~",
    "broken-ge-count.edi": "AK1*PO*301~AK9*R*2*1*0*5~",
    "broken-ge-control.edi": "AK1*PO*301~AK9*R*1*1*0*4~",
    "broken-beg-date.edi": "AK1*PO*301~AK2*850*0001~AK3*BEG*2**8~AK4*5*373*8*20240231~AK5*R*5~AK9*R*1*1*0~",
    "broken-qualifier.edi": "AK1*PO*301~AK2*850*0001~AK3*PO1*8*PO1*8~AK4*6*235*7*XX~AK5*R*5~AK9*R*1*1*0~",
    "broken-ctt.edi": "AK1*PO*301~AK2*850*0001~AK3*CTT*9*CTT*8~AK4*1*354*6*3~AK5*R*5~AK9*R*1*1*0~",
    "broken-quantity.edi": "AK1*PO*301~AK2*850*0001~AK3*PO1*7*PO1*8~AK4*2*330*6*TEN~AK5*R*5~AK9*R*1*1*0~",
    "850-5010-maple-partly-bad.edi": "AK1*PO*7001*005010~AK2*850*0001~AK5*A~AK2*850*0002~AK3*BEG*2**8~"
    "AK4*5*373*8*20241315~AK3*PO1*4*PO1*8~AK4*6*235*7*XX~AK5*R*5~AK2*850*0003~AK5*A~AK9*P*3*3*2~",
    "850-5010-cedar-two-orders.edi": "AK1|PO|102|005010\nAK2|850|0001\nAK5|A\nAK2|850|0002\nAK5|A\n"
    "AK9|A|2|2|2\n",
}


@pytest.mark.parametrize(("name", "says"), SAYS.items())
def test_each_sample_gets_the_997_its_errors_call_for(name: str, says: str) -> None:
    (ack,) = acks(name)
    start = ack.index("AK1")
    assert ack[start : ack.index(f"SE{says[3]}", start)] == says, ack


def test_a_skipped_unknown_segment_is_accepted_with_errors_noted() -> None:
    body = (
        (SAMPLES / "850-4010-minimal.edi")
        .read_bytes()
        .replace(b"N1*ST*Corner Shop~", b"ZZZ*1~\nN1*ST*Corner Shop~")
    )
    body = body.replace(b"SE*7*1001~", b"SE*8*1001~")
    (ack,) = acks(body)
    assert "AK2*850*1001~AK3*ZZZ*3**6~AK5*E*5~AK9*E*1*1*1~" in ack


def test_each_group_of_an_interchange_gets_its_own_997() -> None:
    first, second = acks("850-5010-northwind-two-groups.edi")
    assert "AK1^PO^88001^005010~AK2^850^0001~AK5^A~AK2^850^0002~AK5^A~AK9^A^2^2^2~" in first
    assert "AK1^PO^88002^005010~AK2^850^0003~AK5^A~AK9^A^1^1^1~" in second


def test_control_numbers_come_from_the_channel_counters_and_isa13_is_nine_digits() -> None:
    counters = Counters(isa=41, gs=6)
    ic = read("850-5010-northwind-two-groups.edi")
    controls = []
    for group in ic.groups:
        body, control = render_997(counters, envelope({}, ic, group), group, check_group(group), AT)
        back = read_interchange(body)
        assert (back.control, back.trailer.get(2)) == (control, control)
        controls.append((control, back.groups[0].control, back.groups[0].trailer.get(2)))  # type: ignore[union-attr]
    assert controls == [("000000042", "7", "7"), ("000000043", "8", "8")]


def test_the_envelope_answers_the_partner_turned_round_unless_the_settings_say_otherwise() -> None:
    ic = read("850-5010-northwind-two-groups.edi")
    assert envelope({}, ic, ic.groups[0]) == Envelope(
        "14",
        "0614141000012",
        "12",
        "5035550100",
        "LEGATOSUPPLY",
        "5035550100",
        "00501",
        Separators("^", ":", "~", "|"),
        "P",
    )
    chosen = envelope(
        {
            "x12_sender_qualifier": "ZZ",
            "x12_sender_id": "LEGATO",
            "x12_version": "00401",
            "x12_application_sender_id": "LEGATO-APP",
            "x12_separators": {"element": "*", "segment": "\n"},
        },
        ic,
        ic.groups[0],
    )
    assert (chosen.sender_qualifier, chosen.sender_id, chosen.application_sender, chosen.version) == (
        "ZZ",
        "LEGATO",
        "LEGATO-APP",
        "00401",
    )
    assert chosen.separators == Separators("*", ":", "\n", None)
    five = envelope({"x12_version": "00501"}, read("850-4010-harbor.edi"))
    assert five.separators == Separators("*", ">", "~", "^")  # a repetition separator is chosen for 5010


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            {"x12_receiver_qualifier": "QQ"},
            "settings.extra.x12_receiver_qualifier: 'QQ' is not an interchange id",
        ),
        (
            {"x12_receiver_id": "BAD*ID"},
            "settings.extra.x12_receiver_id: 'BAD*ID' contains one of the separators",
        ),
        (
            {"x12_application_sender_id": ""},
            "settings.extra.x12_application_sender_id: must be text of 2 to 15",
        ),
        (
            {"x12_separators": {"element": "AB"}},
            "settings.extra.x12_separators: the element separator must be one",
        ),
        ({"x12_separators": ["*"]}, "settings.extra.x12_separators: must be an object with keys"),
    ],
)
def test_a_bad_trading_partner_setting_is_named(extra: dict[str, Any], message: str) -> None:
    with pytest.raises(SettingError) as caught:
        envelope(extra, read("850-4010-harbor.edi"))
    assert str(caught.value).startswith(message)


SEPARATOR_POOL = "*|^~>:!{`#@;"


@settings(max_examples=60, deadline=None)
@given(
    st.permutations(SEPARATOR_POOL),
    st.sampled_from(["00401", "00501"]),
    st.booleans(),
    st.integers(1, 10**10),
)
def test_every_997_and_855_reads_back_with_our_tokenizer_whatever_the_separators(
    chars: list[str], version: str, newline: bool, start: int
) -> None:
    seps = {
        "element": chars[0],
        "component": chars[1],
        "segment": "\n" if newline else chars[2],
        "repetition": chars[3],
    }
    extra = {"x12_version": version, "x12_separators": seps}
    ic, po = harbor_po()
    maple = read("850-5010-maple-partly-bad.edi")
    counters = Counters(isa=start, gs=start)
    documents = [
        render_997(
            counters,
            envelope(extra, maple, maple.groups[0]),
            maple.groups[0],
            check_group(maple.groups[0]),
            AT,
        ),
        render_855(counters, envelope(extra, ic, ic.groups[0]), po, harbor_order(), AT),
    ]
    for (body, control), (kind, functional_id) in zip(documents, [("997", "FA"), ("855", "PR")], strict=True):
        back = read_interchange(body)
        assert back.version == version and back.control == control == f"{int(control):09d}"
        (group,) = back.groups
        (ts,) = group.sets
        assert (group.functional_id, ts.id, ts.control) == (functional_id, kind, "0001")
        # the counts and control numbers of SE, GE and IEA agree: only "not an 850 / not PO" is said
        assert [e.code for e in group.errors] == ["group_not_supported"]
        assert [e.code for e in ts.errors] == ["set_not_supported"]


# --- the 855 ------------------------------------------------------------------------------------


def _855(order: SalesOrder, **kw: Any) -> str:
    ic, po = harbor_po()
    body, _ = render_855(Counters(), envelope({}, ic, ic.groups[0]), po, order, AT, **kw)
    text = body.decode()
    return text[text.index("BAK") : text.index("CTT")]


def test_an_order_taken_as_sent_is_acknowledged_ad_every_line_ia() -> None:
    text = _855(harbor_order(("4.5", "12", "39.99")))
    assert text.startswith("BAK*00*AD*HR-4500012345*20240501****SO-000001*20240501~CUR*SE*USD~")
    assert re.findall(r"ACK\*(\w+)\*", text) == ["IA", "IA", "IA"]


def test_a_cancelled_line_is_ir_a_backordered_one_ib_and_a_changed_quantity_ic() -> None:
    cancelled = _855(harbor_order(("4.5", "12", "39.99"), status="cancelled"))
    assert "PO1*3*2*CA*39.99*PE*BP*HB-88311*VN*POT-300~ACK*IR*2*CA~" in cancelled
    assert cancelled.startswith("BAK*00*AC*")
    backordered = _855(harbor_order(("4.5", "12", "39.99")), backordered={2})
    assert re.findall(r"ACK\*(\w+)\*", backordered) == ["IA", "IB", "IA"]
    fewer = _855(harbor_order(("4.5", "12", "39.99"), quantity=Decimal(1)))
    assert "ACK*IC*1*CA~" in fewer


def test_an_855_value_holding_a_separator_cannot_be_written() -> None:
    ic, po = harbor_po()
    env = envelope({"x12_separators": {"element": "-"}}, ic, ic.groups[0])  # the PO number has a "-"
    with pytest.raises(ValueError, match=r"BAK03 'HR-4500012345' holds one of the separators"):
        render_855(Counters(), env, po, harbor_order(), AT)


ITEM = Item(1, "1", Decimal(5), "EA", Decimal("2.50"), None, (("VN", "TEA-100"),))
AMOUNTS = st.decimals(min_value=Decimal("0.01"), max_value=Decimal(1000), places=2)


@given(
    AMOUNTS,
    AMOUNTS,
    st.sampled_from([None, Decimal("2.50")]),
    st.sampled_from(["open", "cancelled", "review"]),
)
def test_a_line_is_ia_exactly_when_it_is_open_and_as_ordered(
    quantity: Decimal, price: Decimal, sent: Decimal | None, status: str
) -> None:
    item = Item(1, "1", Decimal(5), "EA", sent, None, (("VN", "TEA-100"),))
    line = OrderLine(1, "TEA-100", "Tea", quantity, price, "channel", status=status)
    code = line_status(item, line)
    if status != "open":
        assert code == "IR"
    else:
        assert (code == "IA") == (quantity == 5 and (sent is None or price == sent))
        assert code in ("IA", "IC")
    assert line_status(ITEM, None) == "IR"
