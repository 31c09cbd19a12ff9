"""The ``edifact`` adapter without a database: what each sample interchange means for Legato (orders,
cancellations, refusals, the CONTRL), the item id a line takes, the channel's settings, signatures."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from legato.domain.catalog import Channel, ChannelSettings, ChannelType
from legato.domain.commands import OrderDraft
from legato.domain.errors import ValidationFailed
from legato.domain.lifecycle import OrderStatus
from legato.domain.order import Address
from legato.intake.adapters import get_adapter
from legato.intake.adapters.edifact import ADAPTER, choose_item
from legato.intake.base import (
    CancelOrder,
    Delivery,
    Emit,
    Ignore,
    Intent,
    PlaceDraft,
    Reject,
    SignatureInvalid,
)
from legato.intake.edi.edifact import read_interchange
from legato.intake.edi.edifact_orders import ItemLine

FIXTURES = Path(__file__).parent.parent / "fixtures" / "edi" / "edifact"
SECRET = "edi-secret-3f9a"


class Numbers:
    def __init__(self) -> None:
        self.n = 0

    def next(self, name: str) -> int:
        assert name == "unb"
        self.n += 1
        return self.n


def channel(**extra: Any) -> Channel:
    return Channel("EDI-BE", "EDIFACT", ChannelType.B2B, "edifact", "EUR", ChannelSettings(extra=extra),
                   secrets={"webhook_secret": SECRET})  # fmt: skip


def delivery(body: bytes, signature: str | None = None) -> Delivery:
    sig = (
        signature
        if signature is not None
        else "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    )
    return Delivery("POST", "/intake/EDI-BE", {}, {"x-legato-signature": sig}, body, datetime.now(UTC))


def intents(name: str, **extra: Any) -> list[Intent]:
    body = (FIXTURES / name).read_bytes()
    return ADAPTER.parse(delivery(body), channel(**extra))


def drafts(found: list[Intent]) -> list[OrderDraft]:
    return [i.draft for i in found if isinstance(i, PlaceDraft)]


def test_the_adapter_is_registered_and_describes_an_interchange_by_its_control_reference() -> None:
    assert get_adapter("edifact") is ADAPTER
    body = (FIXTURES / "orders_d96a_eancom.edi").read_bytes()
    assert ADAPTER.describe(delivery(body)) == ("ORDERS", "00000000000778")
    assert ADAPTER.describe(delivery(b"not edifact")) == ("ORDERS", None)
    assert ADAPTER.handshake(delivery(body), channel()) is None


def test_only_a_body_signed_with_the_channels_secret_is_accepted() -> None:
    body = (FIXTURES / "orders_d96a_eancom.edi").read_bytes()
    ADAPTER.verify(delivery(body), channel())
    for bad in ("", "sha256=" + "0" * 64, "sha256=" + hmac.new(b"other", body, hashlib.sha256).hexdigest()):
        with pytest.raises(SignatureInvalid):
            ADAPTER.verify(delivery(body, bad), channel())
    with pytest.raises(SignatureInvalid):
        ADAPTER.verify(delivery(body), Channel("X", "X", ChannelType.B2B, "edifact", "EUR"))


def test_a_valid_order_becomes_a_contrl_then_a_draft_with_customer_addresses_and_prices() -> None:
    emit, place = intents("orders_d96a_eancom.edi")
    assert isinstance(emit, Emit) and emit.kind == "CONTRL"
    assert emit.filename == "CONTRL-5412345000013-00000000000778.edi"
    body, number = emit.render(Numbers())
    assert number == "1" and b"+1'UNH+1+CONTRL:D:3:UN:EAN002'" in body
    assert isinstance(place, PlaceDraft)
    d = place.draft
    assert (d.channel_code, d.external_reference, d.currency, d.status) == (
        "EDI-BE", "PO-128576", "EUR", OrderStatus.CREATED)  # fmt: skip
    assert d.customer is not None
    assert (d.customer.code, d.customer.name, d.customer.properties) == (
        "5412345000013", "Superstore Brussels", {"gln": "5412345000013"})  # fmt: skip
    shipping = Address(company="Superstore Vilvoorde DC", line1="Industrieweg 5", line2="Dock 3",
                       city="Vilvoorde", postcode="1800", country="BE")  # fmt: skip
    assert d.shipping_address == shipping
    assert d.billing_address is not None and d.billing_address.company == "Superstore Finance NV"
    assert [(ln.sku, ln.quantity, ln.unit_price, ln.name) for ln in d.lines] == [
        ("4000862141404", Decimal(48), Decimal("2.1"), "Green tea, 100 bags"),
        ("4000862141411", Decimal(12), Decimal("6.75"), "Stoneware mug"),
    ]
    assert d.notes == (
        "ORDERS PO-128576 (D96A EAN008) dated 2024-03-15; delivery requested 2024-03-20 10:00; "
        "references CT 652744, PL AUG24; Deliver to gate 4, before noon"
    )


@pytest.mark.parametrize(
    ("setting", "skus"),
    [
        (None, ["4000862141404", "4000862141411"]),
        ("EN", ["4000862141404", "4000862141411"]),
        ("SA", ["TEA-100", "MUG-200"]),
        (["IN", "SA"], ["TEA-100", "MUG-200"]),
        ("BP", ["4000862141404", "4000862141411"]),  # none present: the LIN's item number
    ],
)
def test_the_channel_chooses_which_item_id_becomes_the_sku(setting: Any, skus: list[str]) -> None:
    extra = {} if setting is None else {"edifact_item_id": setting}
    assert [ln.sku for ln in drafts(intents("orders_d96a_eancom.edi", **extra))[0].lines] == skus


def test_en_also_finds_a_d01b_srv_gtin_and_the_fallback_is_the_first_id() -> None:
    found = drafts(intents("orders_d01b_unoc_no_una.edi", edifact_item_id="EN"))
    assert [[ln.sku for ln in d.lines] for d in found] == [
        ["4000862141404", "4000862141411"],
        ["4000862141428"],
    ]
    pia_only = ItemLine("1", 2, [("SA", "A-1"), ("IN", "B-2")])
    assert choose_item(pia_only, ["EN"]) == "A-1" and choose_item(pia_only, ["IN"]) == "B-2"
    # no NAD+IV: the buyer is billed
    assert found[0].billing_address == Address(company="Bäckerei Müller GmbH", line1="Hauptstraße 5",
                                               city="München", postcode="80331", country="DE")  # fmt: skip


def test_message_functions_cancel_ignore_replace_and_hold_provisional_orders() -> None:
    _, cancel, copy = intents("orders_cancel.edi")
    assert cancel == CancelOrder("PO-128576", "ORDERS PO-128576 with message function 1 (cancellation)")
    assert isinstance(copy, Ignore) and "copy" in copy.reason
    grouped = drafts(intents("orders_groups.edi"))
    assert [(d.external_reference, d.status) for d in grouped] == [
        ("GR-1", OrderStatus.CREATED),
        ("GR-2", OrderStatus.PENDING_APPROVAL),
        ("GR-3", OrderStatus.CREATED),
    ]


def test_a_refused_message_is_a_reject_naming_it_while_the_good_one_is_placed() -> None:
    emit, place, reject = intents("broken_qty_not_number.edi")
    assert isinstance(emit, Emit) and isinstance(place, PlaceDraft) and isinstance(reject, Reject)
    assert place.draft.external_reference == "B-700"
    assert reject.reference == "B-701"
    [issue] = reject.issues
    assert (issue.path, issue.code, issue.value) == (
        "message Q2, segment 11 (QTY), element 1 component 2", "invalid_value", "ten")  # fmt: skip
    assert issue.message == "segment 11 (QTY), element 1 component 2: quantity 'ten' is not a number"
    assert b"UCM+Q2+ORDERS:D:96A:UN:EAN008+4'UCS+11'UCD+12+1:2'" in emit.render(Numbers())[0]


def test_a_rejected_interchange_places_nothing_but_still_gets_its_contrl() -> None:
    emit, reject = intents("broken_unz_reference.edi")
    assert isinstance(emit, Emit) and isinstance(reject, Reject)
    assert reject.reference == "interchange BRK3"
    assert reject.issues[0].path == "interchange BRK3, segment 11 (UNZ), element 2"
    assert reject.issues[0].code == "reference_mismatch"
    assert b"UCI+BRK3+5412345000013:14+4012345000009:14+4+28+UNZ+2'" in emit.render(Numbers())[0]


def test_a_test_interchange_tags_its_orders_and_contrl_can_be_switched_off() -> None:
    body = (
        (FIXTURES / "orders_d96a_eancom.edi")
        .read_bytes()
        .replace(b"00000000000778'", b"00000000000778++++++1'", 1)
    )
    assert read_interchange(body).test
    found = ADAPTER.parse(delivery(body), channel(edifact_contrl=False))
    assert [type(i) for i in found] == [PlaceDraft]
    assert drafts(found)[0].tags == ("edifact-test",)


def test_an_interchange_of_contrls_only_is_kept_without_an_answer() -> None:
    emit = intents("orders_d96a_eancom.edi")[0]
    assert isinstance(emit, Emit)
    contrl = emit.render(Numbers())[0]
    found = ADAPTER.parse(delivery(contrl), channel())
    assert len(found) == 1 and isinstance(found[0], Ignore)


@pytest.mark.parametrize(
    ("extra", "path"),
    [
        ({"edifact_item_id": "gtin"}, "settings.edifact_item_id"),
        ({"edifact_item_id": ["EN", 4]}, "settings.edifact_item_id"),
        ({"edifact_sender_id": 5412345000013}, "settings.edifact_sender_id"),
        ({"edifact_recipient_qualifier": ""}, "settings.edifact_recipient_qualifier"),
    ],
)
def test_a_bad_channel_setting_is_a_precise_error(extra: dict[str, Any], path: str) -> None:
    body = (FIXTURES / "orders_d96a_eancom.edi").read_bytes()
    with pytest.raises(ValidationFailed) as exc:
        ADAPTER.parse(delivery(body), channel(**extra))
    assert [i.path for i in exc.value.issues] == [path]
    assert exc.value.issues[0].code == "invalid_setting"


def test_an_empty_interchange_is_refused_with_a_contrl_saying_so() -> None:
    body = b"UNB+UNOC:3+5412345000013:14+4012345000009:14+240101:1200+E1'UNZ+0+E1'"
    emit, reject = ADAPTER.parse(delivery(body), channel())
    assert isinstance(emit, Emit) and isinstance(reject, Reject)
    assert b"UCI+E1+5412345000013:14+4012345000009:14+4+32+UNZ'" in emit.render(Numbers())[0]
    # describing a delivery reads no further than its first 2 KB, before the signature is checked
    assert ADAPTER.describe(delivery(b"UNB+UNOC:3+A+B+240101:1200+R1" + b"x" * 5000)) == ("ORDERS", None)
