"""Closing an order tells the fulfilment edge, in the same unit of work; other moves do not."""

from __future__ import annotations

from decimal import Decimal

from legato.domain.commands import LineDraft, OrderDraft, PlaceOrder, TransitionOrder
from legato.services.orders import place_order, transition_order
from legato.testing import FakeUnitOfWork


def placed(uow: FakeUnitOfWork) -> int:
    order = place_order(
        uow, PlaceOrder(OrderDraft("WEB", (LineDraft("TEA", Decimal(2)),)), "apikey:test")
    ).order
    assert order.id is not None
    return order.id


def test_cancelling_or_voiding_an_order_closes_its_fulfilment_in_the_same_commit(uow: FakeUnitOfWork) -> None:
    first, second = placed(uow), placed(uow)
    transition_order(uow, TransitionOrder(first, "processing", "user:ann", None))
    assert uow.committed.fulfilment == []  # placing and processing close nothing
    before = uow.commits
    transition_order(uow, TransitionOrder(first, "cancelled", "user:ann", "customer changed their mind"))
    transition_order(uow, TransitionOrder(second, "voided", "user:ann", "entered twice"))
    assert uow.commits == before + 2
    assert uow.committed.fulfilment == [
        ("order_closed", first, "customer changed their mind"),
        ("order_closed", second, "entered twice"),
    ]
