"""The sales order aggregate: public numbers, creation, and edits of editable fields."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from legato.domain.errors import Conflict, ValidationFailed
from legato.domain.lifecycle import FINAL_STATUSES, OrderStatus
from legato.domain.order import (
    EDITABLE_FIELDS,
    ORDER_PREFIX,
    QUOTE_PREFIX,
    Address,
    SalesOrder,
    Totals,
    format_number,
    parse_number,
)

AT = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def new_order(status: OrderStatus = OrderStatus.CREATED) -> SalesOrder:
    return SalesOrder(channel_code="SHOP-UK", currency="GBP", lines=[], id=7, status=status)


# --- numbers --------------------------------------------------------------------------------------


def test_the_public_number_is_the_prefix_and_the_zero_padded_id() -> None:
    assert format_number(ORDER_PREFIX, 42) == "SO-000042"
    assert format_number(QUOTE_PREFIX, 3) == "Q-000003"
    assert format_number(ORDER_PREFIX, 1_234_567) == "SO-1234567"
    assert new_order().number == "SO-000007"


def test_an_order_without_an_id_has_no_number() -> None:
    assert SalesOrder(channel_code="SHOP-UK", currency="GBP", lines=[]).number is None


@pytest.mark.parametrize("text", ["SO-000042", "so-000042", "  SO-42 ", "42", "000042"])
def test_a_number_or_a_bare_id_parses_back_to_the_id(text: str) -> None:
    assert parse_number(ORDER_PREFIX, text) == 42


@pytest.mark.parametrize(
    "text", ["", "SO-", "SO-12a", "Q-000042", "-42", "4 2", "1" * 19, "alice@example.com"]
)
def test_anything_else_is_not_a_number(text: str) -> None:
    assert parse_number(ORDER_PREFIX, text) is None


@settings(max_examples=200, deadline=None)
@given(id_=st.integers(min_value=1, max_value=10**17))
def test_format_and_parse_round_trip(id_: int) -> None:
    assert parse_number(ORDER_PREFIX, format_number(ORDER_PREFIX, id_)) == id_
    assert parse_number(QUOTE_PREFIX, format_number(QUOTE_PREFIX, id_)) == id_


@pytest.mark.parametrize("text", ["²", "SO-²", "SO-00042³"])
def test_a_search_text_with_superscript_digits_is_not_a_number(text: str) -> None:
    assert parse_number(ORDER_PREFIX, text) is None


# --- creation -------------------------------------------------------------------------------------


def test_creation_records_one_entry_and_an_order_created_event() -> None:
    order = new_order()
    order.account_code = "ACME"
    order.external_reference = "#1001"
    order.totals = Totals(grand_total=Decimal("12.50"))
    order.created("apikey:demo", AT, "from the web shop")
    [entry] = order.timeline
    assert (entry.kind, entry.actor, entry.to_value, entry.reason) == (
        "created",
        "apikey:demo",
        "created",
        "from the web shop",
    )
    [event] = order.new_events
    assert event.type == "order.created"
    assert event.payload["grand_total"] == "12.50"
    assert event.payload["account"] == "ACME"
    assert event.payload["external_reference"] == "#1001"
    assert event.payload["channel"] == "SHOP-UK"


# --- edits ----------------------------------------------------------------------------------------


def test_an_edit_changes_the_fields_and_records_which_ones() -> None:
    order = new_order()
    address = Address(name="Ada", line1="1 Main St", city="Leeds", country="GB")
    order.edit({"priority": 5, "shipping_address": address, "notes": None}, "user:alice", AT, "call")
    assert order.priority == 5 and order.shipping_address == address
    [entry] = order.timeline
    assert (entry.kind, entry.reason, entry.data) == (
        "edited",
        "call",
        {"fields": ["priority", "shipping_address"]},
    )
    [event] = order.new_events
    assert (event.type, event.payload["fields"]) == ("order.updated", ["priority", "shipping_address"])


def test_an_edit_that_changes_nothing_records_nothing() -> None:
    order = new_order()
    order.edit({"priority": 0, "tags": ()}, "user:alice", AT)
    assert order.timeline == [] and order.new_events == []


@pytest.mark.parametrize("status", sorted(FINAL_STATUSES))
def test_a_final_order_cannot_be_edited(status: OrderStatus) -> None:
    order = new_order(status)
    with pytest.raises(Conflict):
        order.edit({"priority": 1}, "user:alice", AT)
    assert order.priority == 0 and order.timeline == []


@pytest.mark.parametrize(
    "status", [OrderStatus.ON_HOLD, OrderStatus.PENDING_APPROVAL, OrderStatus.PROCESSING]
)
def test_an_order_that_is_not_final_can_be_edited(status: OrderStatus) -> None:
    order = new_order(status)
    order.edit({"tags": ("vip",)}, "user:alice", AT)
    assert order.tags == ("vip",)


def test_only_the_editable_fields_can_be_edited() -> None:
    assert EDITABLE_FIELDS == ("priority", "tags", "notes", "billing_address", "shipping_address")
    order = new_order()
    with pytest.raises(ValidationFailed) as info:
        order.edit({"status": "completed"}, "user:alice", AT)
    assert [i.path for i in info.value.issues] == ["status"]
    assert order.status is OrderStatus.CREATED


def test_an_edit_with_a_non_editable_field_changes_nothing() -> None:
    order = new_order()
    with pytest.raises(ValidationFailed):
        order.edit({"priority": 9, "currency": "USD"}, "user:alice", AT)
    assert order.priority == 0
    assert order.new_entries == [] and order.new_events == []
