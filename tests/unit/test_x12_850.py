"""Reading 850 purchase orders: what each segment gives, the item id chosen for the SKU, and
the precise error of every broken purchase order."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from legato.intake.edi.x12 import read_interchange
from legato.intake.edi.x12_850 import check_group
from legato.intake.edi.x12_po import ATTRIBUTES, ITEM_ORDER, PRODUCT_QUALIFIERS, SetResult, choose_item_id

SAMPLES = Path(__file__).parent.parent / "fixtures" / "edi" / "x12"


def results(name: str | bytes) -> list[SetResult]:
    body = name if isinstance(name, bytes) else (SAMPLES / name).read_bytes()
    return [r for g in read_interchange(body).groups for r in check_group(g)]


def only(name: str | bytes) -> SetResult:
    (result,) = results(name)
    return result


def test_the_4010_harbor_order_is_read_segment_by_segment() -> None:
    r = only("850-4010-harbor.edi")
    assert (r.status, r.errors, r.warnings) == ("A", (), ())
    po = r.order
    assert po is not None
    assert (po.purpose, po.order_type, po.number, po.po_date, po.currency) == (
        "00",
        "SA",
        "HR-4500012345",
        date(2024, 5, 1),
        "USD",
    )
    assert po.references == (("DP", "032"), ("IA", "VEND-7781"))
    assert po.dates == (("002", date(2024, 5, 15)), ("010", date(2024, 5, 10)))
    assert po.amounts == (("TT", Decimal("259.98")),)
    (buyer_contact,) = po.contacts
    assert (buyer_contact.function, buyer_contact.email, buyer_contact.phone) == (
        "BD",
        "dana.whitfield@harbor.example",
        "6175550142",
    )
    ship = po.party("ST")
    assert ship is not None
    assert (ship.name, ship.names, ship.id_qualifier, ship.id) == (
        "Harbor Outfitters DC 12",
        ("Receiving Dock 4",),
        "92",
        "DC12",
    )
    assert (ship.street, ship.city, ship.region, ship.postcode, ship.country) == (
        ("1200 Commerce Way", "Building B"),
        "Worcester",
        "MA",
        "01608",
        "US",
    )
    assert ship.contacts[0].phone == "5085550199"
    assert [p.entity for p in po.parties] == ["BY", "ST", "BT"]
    assert [(i.line_id, i.quantity, i.unit, i.unit_price, i.description) for i in po.items] == [
        ("1", Decimal(24), "EA", Decimal("4.5"), "Breakfast tea, 100 bags"),
        ("2", Decimal(6), "EA", Decimal(12), "Stoneware mug, 350 ml"),
        ("3", Decimal(2), "CA", Decimal("39.99"), "Cast iron teapot, case of 4"),
    ]
    assert po.items[0].ids == (("VN", "TEA-100"), ("UP", "012345678905"), ("BP", "HB-88120"))


def test_5010_sets_and_groups_are_each_one_order_and_optional_segments_may_be_absent() -> None:
    cedar = results("850-5010-cedar-two-orders.edi")
    assert [(r.status, r.reference) for r in cedar] == [("A", "CP-77001"), ("A", "CP-77002")]
    second = cedar[1].order
    assert second is not None
    assert second.messages == ("Deliver before 7am, kitchen door",)
    assert second.items[0].unit_price is None and second.items[0].ids == (("SK", "POT-300"),)
    assert second.party("BY", "BT").id_qualifier == "91"  # type: ignore[union-attr]
    northwind = results("850-5010-northwind-two-groups.edi")
    assert [r.reference for r in northwind] == ["NW-2024-0091", "NW-2024-0092", "NW-2024-0093"]
    assert northwind[0].order.party("ST").id_qualifier == "UL"  # type: ignore[union-attr]
    minimal = only("850-4010-minimal.edi").order
    assert minimal is not None
    assert (minimal.currency, minimal.contacts, minimal.dates, minimal.party("BY", "BT")) == (
        None,
        (),
        (),
        None,
    )
    assert minimal.items[0].line_id is None and minimal.items[0].description is None


def test_a_cancellation_needs_no_lines() -> None:
    r = only("850-4010-harbor-cancel.edi")
    assert r.status == "A" and r.order is not None
    assert (r.order.purpose, r.order.items) == ("01", ())


#: each broken purchase order and its exact error; the 997 codes are checked in test_x12_997_855
BROKEN = {
    "broken-beg-date.edi": "segment 4 (BEG), element BEG05: '20240231' is not a date (CCYYMMDD): "
    "2024-02 has no day 31",
    "broken-qualifier.edi": "segment 10 (PO1), element PO106: product id qualifier 'XX' is not one "
    f"Legato reads ({', '.join(sorted(PRODUCT_QUALIFIERS))})",
    "broken-ctt.edi": "segment 11 (CTT), element CTT01: says 3 line items, the purchase order has 2",
    "broken-quantity.edi": "segment 9 (PO1), element PO102: quantity 'TEN' is not a number",
}


@pytest.mark.parametrize(("name", "message"), BROKEN.items())
def test_a_broken_purchase_order_is_rejected_with_its_element_named(name: str, message: str) -> None:
    r = only(name)
    assert (r.status, r.order, r.reference) == ("R", None, "BRK-100")
    assert [str(e) for e in r.errors] == [message]


def test_one_bad_order_does_not_stop_the_others_and_every_error_of_it_is_reported() -> None:
    maple = results("850-5010-maple-partly-bad.edi")
    assert [(r.status, r.reference) for r in maple] == [("A", "MX-501"), ("R", "MX-502"), ("A", "MX-503")]
    assert [(e.path, e.code, e.value, e.loop) for e in maple[1].errors] == [
        ("segment 14 BEG05", "invalid_date", "20241315", None),
        ("segment 16 PO106", "invalid_code", "XX", "PO1"),
    ]


def _po(*body: str) -> bytes:
    """A 4010 interchange holding one 850 made of these segments (between ST and SE)."""
    isa = "ISA*00*          *00*          *ZZ*BUYER          *ZZ*SELLER         *240601*1200*U*00401"
    isa += "*000000001*0*P*>"
    segs = [
        isa,
        "GS*PO*BUYER*SELLER*20240601*1200*1*X*004010",
        "ST*850*0001",
        *body,
        f"SE*{len(body) + 2}*0001",
        "GE*1*1",
        "IEA*1*000000001",
    ]
    return ("~\n".join(segs) + "~\n").encode()


BEG = "BEG*00*SA*T-1**20240601"
LINE = "PO1*1*2*EA*3.5**VN*TEA-100"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ((LINE,), "segment 4 (BEG): an 850 begins with BEG after ST; it is missing"),
        ((BEG, BEG, LINE), "segment 5 (BEG): BEG comes once, right after ST"),
        ((BEG, "N3*1 High Street", LINE), "segment 5 (N3): N3 belongs in an N1 loop, after its N1"),
        (
            (BEG, LINE, "CTT*1", "PO1*2*1*EA**VN*MUG-200"),
            "segment 7 (PO1): PO1 after CTT: the summary holds only CTT and AMT",
        ),
        ((BEG,), "segment 5 (PO1): a purchase order needs at least one PO1 line"),
        (
            (BEG, "PO1*1*0*EA*3.5**VN*TEA-100"),
            "segment 5 (PO1), element PO102: quantity must be above 0, not 0",
        ),
        (
            (BEG, "PO1*1*2*EA*-1**VN*TEA-100"),
            "segment 5 (PO1), element PO104: unit price must be at least 0, not -1",
        ),
        ((BEG, "PO1*1*2*EA*3.5**VN"), "segment 5 (PO1), element PO107: PO106 and PO107 go together"),
        (
            (BEG, "PO1*1*2*EA*3.5**CL*BLUE"),
            "segment 5 (PO1), element PO106: the line names no item: give a "
            "product id qualifier and id (PO106/PO107)",
        ),
        ((BEG, "PO1*1*2****VN*TEA-100"), "segment 5 (PO1), element PO103: is required and missing"),
        (
            ("BEG*05*SA*T-1**20240601", LINE),
            "segment 4 (BEG), element BEG01: purpose '05' is not one Legato reads (00, 01, 06, 07)",
        ),
        (("BEG*00*SA***20240601", LINE), "segment 4 (BEG), element BEG03: is required and missing"),
        ((BEG, "CUR*BY*XYZ", LINE), "segment 5 (CUR), element CUR02: 'XYZ' is not an ISO 4217 currency code"),
        (
            (BEG, "CUR*BY*USD", LINE, "CUR*BY*EUR"),
            "segment 7 (CUR), element CUR02: line currency EUR differs "
            "from the order's USD: a Legato order has one currency",
        ),
        (
            (BEG, "DTM*2*20240610", LINE),
            "segment 5 (DTM), element DTM01: date/time qualifier '2' is not a code (3 digits)",
        ),
        (
            (BEG, "DTM*002*20240610*2575", LINE),
            "segment 5 (DTM), element DTM03: '2575' is not a time of day (HHMM[SS])",
        ),
        (
            (BEG, "N1*ST*Shop*XX*77", LINE),
            "segment 5 (N1), element N103: identification code qualifier 'XX' is "
            "not one Legato reads (1, 9, 91, 92, UL, ZZ)",
        ),
        (
            (BEG, "N1*ST*Shop", "N4*Leeds**LS1*GBR", LINE),
            "segment 6 (N4), element N404: country 'GBR' is not an ISO 3166 two-letter code",
        ),
        ((BEG, "PER*BD*Ann*EM", LINE), "segment 5 (PER), element PER04: PER03 and PER04 go together"),
        ((BEG, "PID*F****Tea", LINE), None),  # a header description: accepted
        (
            (BEG, LINE, "PID*Q****Tea"),
            "segment 6 (PID), element PID01: item description type 'Q' is not one Legato reads (F, S, X)",
        ),
        ((BEG, "b@d*1", LINE), "segment 5 (b@d): 'b@d' is not a segment id"),
    ],
)
def test_each_mistake_in_a_purchase_order_is_named(body: tuple[str, ...], message: str | None) -> None:
    r = only(_po(*body))
    assert [str(e) for e in r.errors] == ([message] if message else [])


def test_an_unknown_segment_is_skipped_and_noted_the_order_still_taken() -> None:
    r = only(_po(BEG, "ZZZ*1*2", LINE))
    assert (r.status, r.errors) == ("E", ())
    assert [str(w) for w in r.warnings] == ["segment 5 (ZZZ): ZZZ is not a segment of the 850; skipped"]
    assert r.order is not None and r.order.items[0].ids == (("VN", "TEA-100"),)


def test_segments_legato_does_not_read_are_accepted_and_line_level_parties_do_not_replace_the_order_s() -> (
    None
):
    r = only(
        _po(
            BEG,
            "N1*ST*Main DC",
            "N3*1 Dock Road",
            "ITD*01*3",
            "TD5*O*2*UPSN",
            LINE,
            "N1*ST*Store 4",
            "N3*4 Side Street",
            "MSG*gift wrap",
            "CTT*1",
            "AMT*TT*7",
        )
    )
    assert r.status == "A" and r.order is not None
    assert [(p.entity, p.street) for p in r.order.parties] == [("ST", ("1 Dock Road",))]
    assert r.order.messages == ("line 1: gift wrap",)


# --- the item id that becomes the SKU ------------------------------------------------------------

IDS = st.lists(
    st.tuples(st.sampled_from(sorted(PRODUCT_QUALIFIERS)), st.text("ABC123-", min_size=1)), max_size=6
)


@given(IDS, st.sampled_from([None, *ITEM_ORDER]))
def test_the_preferred_qualifier_wins_else_the_documented_order_never_an_attribute(
    ids: list[tuple[str, str]], preferred: str | None
) -> None:
    chosen = choose_item_id(ids, preferred)
    identifying = [q for q, _ in ids if q not in ATTRIBUTES]
    if not identifying:
        assert chosen is None
        return
    assert chosen is not None
    qualifier, value = chosen
    assert value == dict(reversed(ids))[qualifier]  # the first pair of that qualifier
    if preferred in identifying:
        assert qualifier == preferred
    else:
        assert qualifier == min(identifying, key=ITEM_ORDER.index)


def test_the_vendor_s_number_is_taken_before_the_buyer_s_and_the_gtin() -> None:
    ids = (("UP", "012345678905"), ("BP", "HB-88120"), ("VN", "TEA-100"))
    assert choose_item_id(ids) == ("VN", "TEA-100")
    assert choose_item_id(ids, "UP") == ("UP", "012345678905")
    assert choose_item_id(ids, "SK") == ("VN", "TEA-100")
    assert choose_item_id((("CL", "BLUE"), ("SZ", "M"))) is None
