"""The edi-x12 adapter without a database: what an interchange means (997s, orders, refusals,
cancellations), how an 850 becomes a canonical order, and the settings it checks."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from legato.domain.catalog import Channel, ChannelSettings, ChannelType
from legato.domain.matching import CustomerRef
from legato.domain.order import Address
from legato.intake.adapters import get_adapter
from legato.intake.base import (
    CancelOrder,
    Delivery,
    Emit,
    PlaceDraft,
    Reject,
    SignatureInvalid,
    Unparseable,
)

SAMPLES = Path(__file__).parent.parent / "fixtures" / "edi" / "x12"
ADAPTER = get_adapter("edi-x12")
SECRET = "x12-partner-secret"


def channel(**extra: Any) -> Channel:
    return Channel(
        "EDI-1",
        "EDI partner",
        ChannelType.B2B,
        "edi-x12",
        "USD",
        ChannelSettings(extra=extra),
        {"webhook_secret": SECRET},
        id=7,
    )


def delivery(name: str | bytes, signature: str | None = None) -> Delivery:
    body = name if isinstance(name, bytes) else (SAMPLES / name).read_bytes()
    sig = signature or "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    return Delivery("POST", "/intake/EDI-1", {}, {"x-legato-signature": sig}, body, datetime.now(UTC))


class Counting:
    def __init__(self) -> None:
        self.asked: list[str] = []

    def next(self, name: str) -> int:
        self.asked.append(name)
        return self.asked.count(name)


def test_the_house_signature_is_checked_and_the_inbox_gets_the_interchange_control_number() -> None:
    d = delivery("850-4010-harbor.edi")
    ADAPTER.verify(d, channel())
    with pytest.raises(SignatureInvalid):
        ADAPTER.verify(delivery("850-4010-harbor.edi", "sha256=" + "0" * 64), channel())
    assert ADAPTER.describe(d) == ("850", "000004711")


def test_the_harbor_order_becomes_one_997_and_one_canonical_order() -> None:
    intents = ADAPTER.parse(delivery("850-4010-harbor.edi"), channel(x12_item_qualifier="VN"))
    assert [type(i) for i in intents] == [Emit, PlaceDraft]
    emit = intents[0]
    assert isinstance(emit, Emit) and (emit.kind, emit.filename) == ("997", "997-HARBORRETAIL-4711.x12")
    body, control = emit.render(Counting())
    assert control == "000000001" and b"AK5*A~AK9*A*1*1*1~" in body
    assert isinstance(intents[1], PlaceDraft)
    draft = intents[1].draft
    assert (draft.channel_code, draft.external_reference, draft.currency) == ("EDI-1", "HR-4500012345", "USD")
    assert [(ln.sku, ln.quantity, ln.unit_price, ln.name) for ln in draft.lines] == [
        ("TEA-100", Decimal(24), Decimal("4.5"), "Breakfast tea, 100 bags"),
        ("MUG-200", Decimal(6), Decimal(12), "Stoneware mug, 350 ml"),
        ("POT-300", Decimal(2), Decimal("39.99"), "Cast iron teapot, case of 4"),
    ]
    assert draft.customer == CustomerRef(
        name="Harbor Outfitters Inc",
        email="dana.whitfield@harbor.example",
        phone="6175550142",
        code="HARB-001",
        properties={"x12_id_qualifier": "92"},
    )
    assert draft.shipping_address == Address(
        name="Receiving Dock 4",
        company="Harbor Outfitters DC 12",
        line1="1200 Commerce Way",
        line2="Building B",
        city="Worcester",
        region="MA",
        postcode="01608",
        country="US",
        phone="5085550199",
    )
    assert draft.billing_address == Address(
        name="Harbor Outfitters Accounts Payable",
        line1="PO Box 5500",
        city="Boston",
        region="MA",
        postcode="02110",
        country="US",
    )
    assert draft.notes == "\n".join(
        [
            "X12 850 PO HR-4500012345 (original, type SA) of 2024-05-01",
            "delivery requested: 2024-05-15",
            "ship requested: 2024-05-10",
            "REF DP: 032",
            "REF IA: VEND-7781",
            "contact BD: Dana Whitfield, dana.whitfield@harbor.example, 6175550142",
            "AMT TT: 259.98",
            "line 3: quantity 2 CA",
        ]
    )


def test_the_item_qualifier_setting_chooses_the_sku() -> None:
    def skus(qualifier: str) -> list[str]:
        (_, place) = ADAPTER.parse(delivery("850-4010-harbor.edi"), channel(x12_item_qualifier=qualifier))
        assert isinstance(place, PlaceDraft)
        return [ln.sku for ln in place.draft.lines]

    # line 2 has no BP: it falls back to its VN; line 3 has no UP: to its VN, which comes before BP
    assert skus("BP") == ["HB-88120", "MUG-200", "HB-88311"]
    assert skus("UP") == ["012345678905", "012345678912", "POT-300"]


def test_every_group_gets_its_997_first_and_every_set_its_order() -> None:
    intents = ADAPTER.parse(delivery("850-5010-northwind-two-groups.edi"), channel())
    assert [type(i).__name__ for i in intents] == ["Emit", "Emit", "PlaceDraft", "PlaceDraft", "PlaceDraft"]
    assert [i.filename for i in intents if isinstance(i, Emit)] == [
        "997-5035550100-88001.x12",
        "997-5035550100-88002.x12",
    ]
    drafts = [i.draft for i in intents if isinstance(i, PlaceDraft)]
    assert [d.external_reference for d in drafts] == ["NW-2024-0091", "NW-2024-0092", "NW-2024-0093"]
    assert [ln.sku for ln in drafts[0].lines] == ["NW-TEA-100", "NW-MUG-200"]  # IN before UK by default
    assert drafts[0].customer == CustomerRef(
        name="Northwind Grocers", code="123456789", properties={"x12_id_qualifier": "1"}
    )


def test_a_partly_bad_interchange_refuses_only_the_bad_set_naming_it_and_its_errors() -> None:
    intents = ADAPTER.parse(delivery("850-5010-maple-partly-bad.edi"), channel())
    assert [type(i).__name__ for i in intents] == ["Emit", "PlaceDraft", "Reject", "PlaceDraft"]
    reject = intents[2]
    assert isinstance(reject, Reject) and reject.reference == "MX-502"
    assert [(i.path, i.code, i.value) for i in reject.issues] == [
        ("segment 14 BEG05", "invalid_date", "20241315"),
        ("segment 16 PO106", "invalid_code", "XX"),
    ]
    assert reject.issues[0].message.startswith("segment 14 (BEG), element BEG05: '20241315' is not a date")


def test_a_broken_group_refuses_every_set_in_it() -> None:
    intents = ADAPTER.parse(delivery("broken-ge-count.edi"), channel())
    assert [type(i).__name__ for i in intents] == ["Emit", "Reject"]
    assert isinstance(intents[1], Reject) and intents[1].reference == "BRK-100"
    assert [i.code for i in intents[1].issues] == ["group_count_mismatch"]


def test_a_cancellation_comes_after_everything_else() -> None:
    intents = ADAPTER.parse(delivery("850-4010-harbor-cancel.edi"), channel())
    assert [type(i) for i in intents] == [Emit, CancelOrder]
    assert intents[1] == CancelOrder("HR-4500012345", "the buyer cancelled PO HR-4500012345 (850 BEG01 01)")


def test_an_unreadable_interchange_is_unparseable_naming_the_segment() -> None:
    with pytest.raises(Unparseable) as caught:
        ADAPTER.parse(delivery("broken-truncated.edi"), channel())
    (issue,) = caught.value.issues
    assert (issue.path, issue.code) == ("segment 11 CTT", "truncated")
    assert caught.value.detail.startswith("segment 11 (CTT): the interchange ends after this segment")


@pytest.mark.parametrize(
    ("extra", "path", "message"),
    [
        (
            {"x12_item_qualifier": "CL"},
            "settings.extra.x12_item_qualifier",
            "'CL' is not an item id qualifier",
        ),
        ({"x12_version": "00305"}, "settings.extra.x12_version", "must be 00401 or 00501, not '00305'"),
        (
            {"x12_separators": {"element": "~"}},
            "settings.extra.x12_separators",
            "the separators must all differ",
        ),
        ({"x12_separators": {"colon": ":"}}, "settings.extra.x12_separators", "must be an object with keys"),
        ({"x12_sender_id": "A" * 16}, "settings.extra.x12_sender_id", "must be text of 1 to 15 characters"),
        (
            {"x12_sender_id": "SOMEONE-ELSE"},
            "segment 1 ISA08",
            "the interchange is addressed to 'LEGATOSUPPLY'; channel EDI-1 has x12_sender_id 'SOMEONE-ELSE'",
        ),
        (
            {"x12_receiver_id": "OTHERBUYER"},
            "segment 1 ISA06",
            "the interchange comes from 'HARBORRETAIL'; channel EDI-1 has x12_receiver_id 'OTHERBUYER'",
        ),
    ],
)
def test_a_setting_that_cannot_work_quarantines_the_delivery_naming_it(
    extra: dict[str, Any], path: str, message: str
) -> None:
    with pytest.raises(Unparseable) as caught:
        ADAPTER.parse(delivery("850-4010-harbor.edi"), channel(**extra))
    assert caught.value.issues[0].path == path
    assert message in caught.value.detail


def test_the_partner_settings_when_right_let_the_interchange_through() -> None:
    extra = {"x12_sender_id": "LEGATOSUPPLY", "x12_receiver_id": "HARBORRETAIL", "x12_version": "00501"}
    emit, _ = ADAPTER.parse(delivery("850-4010-harbor.edi"), channel(**extra))
    assert isinstance(emit, Emit)
    body, _ = emit.render(Counting())
    assert body.startswith(b"ISA*00*          *00*          *ZZ*LEGATOSUPPLY   *ZZ*HARBORRETAIL   *")
    assert b"*^*00501*000000001*0*P*>~" in body and b"AK1*PO*4711*004010~" in body
