"""place_order, transitions, edits and quotes, on the in-memory unit of work."""

from __future__ import annotations

from decimal import Decimal

import pytest

from legato.domain.commands import (
    ConvertQuote,
    CreateQuote,
    EditOrder,
    LineDraft,
    OrderDraft,
    PlaceOrder,
    TransitionOrder,
    TransitionQuote,
)
from legato.domain.errors import (
    Conflict,
    CustomerNotMatched,
    IllegalTransition,
    PriceNotFound,
    UnknownProduct,
)
from legato.domain.matching import CustomerRef
from legato.services.orders import edit_order, place_order, transition_order
from legato.services.quotes import convert_quote, create_quote, transition_quote
from legato.testing import FakeUnitOfWork


def draft(channel: str = "WEB", *lines: tuple[str, int], **kw: object) -> OrderDraft:
    return OrderDraft(channel, tuple(LineDraft(sku, Decimal(q)) for sku, q in (lines or (("TEA", 2),))), **kw)


def test_placing_an_order_writes_one_timeline_entry_and_one_event_in_one_commit(uow: FakeUnitOfWork) -> None:
    before = uow.commits
    result = place_order(uow, PlaceOrder(draft(), "apikey:test"))
    assert result.created and uow.commits == before + 1
    assert [e.type for e in uow.events] == ["order.created"]
    stored = uow.committed.orders[result.order.id]
    assert [e.kind for e in stored.timeline] == ["created"]
    assert result.order.totals.grand_total == Decimal("9.00")


def test_the_same_external_reference_twice_returns_the_first_order_and_writes_nothing(
    uow: FakeUnitOfWork,
) -> None:
    first = place_order(uow, PlaceOrder(draft(external_reference="EXT-1"), "a"))
    commits, events = uow.commits, len(uow.events)
    again = place_order(uow, PlaceOrder(draft("WEB", ("MUG", 9), external_reference="EXT-1"), "a"))
    assert not again.created and again.order.id == first.order.id
    assert (uow.commits, len(uow.events)) == (commits, events)


def test_a_contracted_account_gets_its_contract_price_in_its_currency(uow: FakeUnitOfWork) -> None:
    order = place_order(
        uow, PlaceOrder(draft("B2B", ("TEA", 10), customer=CustomerRef(code="ACME")), "a")
    ).order
    assert order.currency == "EUR" and order.account_code == "ACME"
    assert order.lines[0].unit_price == Decimal("4.10") and order.lines[0].price_source == "contract:ACME-EUR"


def test_a_channel_that_rejects_unknown_customers_writes_nothing(uow: FakeUnitOfWork) -> None:
    with pytest.raises(CustomerNotMatched):
        place_order(uow, PlaceOrder(draft("B2B", customer=CustomerRef(email="nobody@x.example")), "a"))
    assert uow.committed.orders == {} and uow.events == []


def test_a_channel_set_to_create_accounts_creates_one_for_a_new_customer(uow: FakeUnitOfWork) -> None:
    order = place_order(
        uow, PlaceOrder(draft("NEW", customer=CustomerRef(name="Ann", email="Ann@Example.org")), "a")
    ).order
    assert order.account_code is not None
    assert uow.committed.accounts[order.account_code].email == "ann@example.org"


def test_every_bad_line_is_reported_at_once_with_its_path(uow: FakeUnitOfWork) -> None:
    with pytest.raises(UnknownProduct) as info:
        place_order(uow, PlaceOrder(draft("WEB", ("NOPE", 1), ("TEA", 1), ("GONE", 2)), "a"))
    assert [i.path for i in info.value.issues] == ["lines[0].sku", "lines[2].sku"]


def test_a_product_without_a_price_in_the_order_currency_is_refused(uow: FakeUnitOfWork) -> None:
    with pytest.raises(PriceNotFound):
        place_order(uow, PlaceOrder(draft("WEB", ("MUG", 1), currency="EUR"), "a"))


def test_a_trusting_channel_keeps_the_prices_it_sends(uow: FakeUnitOfWork) -> None:
    d = OrderDraft("MKT", (LineDraft("TEA", Decimal(3), unit_price=Decimal("777")),))
    order = place_order(uow, PlaceOrder(d, "a")).order
    assert order.lines[0].price_source == "channel" and order.totals.grand_total == Decimal("2331")


def test_a_transition_is_recorded_and_an_illegal_one_changes_nothing(uow: FakeUnitOfWork) -> None:
    oid = place_order(uow, PlaceOrder(draft(), "a")).order.id
    transition_order(uow, TransitionOrder(oid, "processing", "rule:go", "paid"))
    with pytest.raises(IllegalTransition):
        transition_order(uow, TransitionOrder(oid, "pending_approval", "a"))
    stored = uow.committed.orders[oid]
    assert stored.status == "processing"
    assert [(e.kind, e.actor, e.reason) for e in stored.timeline][-1] == ("status_changed", "rule:go", "paid")
    assert [e.type for e in uow.events] == ["order.created", "order.status_changed"]


def test_a_final_order_cannot_be_edited(uow: FakeUnitOfWork) -> None:
    oid = place_order(uow, PlaceOrder(draft(), "a")).order.id
    transition_order(uow, TransitionOrder(oid, "cancelled", "a", "customer asked"))
    with pytest.raises(Conflict):
        edit_order(uow, EditOrder(oid, {"priority": 5}, "a"))


def test_an_accepted_quote_converts_once_into_an_order_linked_both_ways(uow: FakeUnitOfWork) -> None:
    quote = create_quote(
        uow, CreateQuote(draft("B2B", ("TEA", 5), customer=CustomerRef(code="ACME")), "sales")
    )
    transition_quote(uow, TransitionQuote(quote.id, "sent", "sales"))
    transition_quote(uow, TransitionQuote(quote.id, "accepted", "customer"))
    quote, order = convert_quote(uow, ConvertQuote(quote.id, "sales"))
    assert quote.order_id == order.id and order.quote_id == quote.id
    assert order.lines == quote.lines and order.totals == quote.totals
    with pytest.raises(IllegalTransition):
        convert_quote(uow, ConvertQuote(quote.id, "sales"))
    assert len(uow.committed.orders) == 1
    assert "quote.converted" in [e.type for e in uow.events]


def test_a_draft_quote_cannot_be_converted(uow: FakeUnitOfWork) -> None:
    quote = create_quote(uow, CreateQuote(draft(), "sales"))
    with pytest.raises(IllegalTransition):
        convert_quote(uow, ConvertQuote(quote.id, "sales"))
    assert uow.committed.orders == {}
