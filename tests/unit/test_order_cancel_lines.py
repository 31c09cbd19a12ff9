"""Cancelling some lines of an order, in the domain: the totals are those of the lines left (a
property over any order and any choice of lines), a repeat records nothing, and what may not be
cancelled is refused with a precise error."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from legato.domain.errors import Conflict, ValidationFailed
from legato.domain.lifecycle import OrderStatus
from legato.domain.order import OrderLine, SalesOrder, compute_totals, price_line

AT = datetime(2026, 11, 23, 12, tzinfo=UTC)
money = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("999.99"), places=2)
lines_st = st.lists(
    st.tuples(st.integers(1, 50), money, st.sampled_from([Decimal(0), Decimal("0.2"), Decimal("0.05")])),
    min_size=2,
    max_size=8,
)


def make(specs: list[tuple[int, Decimal, Decimal]], shipping: Decimal = Decimal("4.95")) -> SalesOrder:
    lines = [
        price_line(
            OrderLine(n, f"SKU-{n}", f"Item {n}", Decimal(q), price, "product", Decimal(0), rate), "GBP"
        )
        for n, (q, price, rate) in enumerate(specs, start=1)
    ]
    order = SalesOrder("WEB", "GBP", lines, shipping=shipping, shipping_tax_rate=Decimal("0.2"), id=12)
    order.totals = compute_totals(lines, "GBP", shipping, Decimal("0.2"))
    return order


@given(lines_st, st.data())
def test_the_totals_after_a_partial_cancellation_are_those_of_the_lines_left(
    specs: list[tuple[int, Decimal, Decimal]], data: st.DataObject
) -> None:
    order = make(specs)
    numbers = [ln.line_no for ln in order.lines]
    chosen = data.draw(st.lists(st.sampled_from(numbers), min_size=1, max_size=len(numbers) - 1, unique=True))
    assert order.cancel_lines(chosen, "user:ann", AT, "changed mind") == sorted(chosen)
    left = [ln for ln in order.lines if ln.line_no not in chosen]
    expected = compute_totals(left, "GBP", Decimal("4.95"), Decimal("0.2"))
    assert order.totals == expected
    assert order.totals.grand_total == sum((ln.total for ln in left), Decimal(0)) + Decimal("4.95") + (
        expected.tax - sum((ln.tax for ln in left), Decimal(0))
    )
    assert {ln.line_no for ln in order.lines if ln.status == "cancelled"} == set(chosen)
    [entry] = order.new_entries
    assert (entry.kind, entry.data, entry.reason) == (
        "lines_cancelled",
        {"lines": sorted(chosen)},
        "changed mind",
    )
    assert order.new_events[0].payload["cancelled_lines"] == sorted(chosen)


def test_a_repeat_records_nothing_and_changes_nothing() -> None:
    order = make([(1, Decimal("10.00"), Decimal("0.2")), (2, Decimal("5.00"), Decimal("0.2"))])
    order.cancel_lines([2], "user:ann", AT)
    totals, entries = order.totals, len(order.new_entries)
    assert order.cancel_lines([2], "user:ann", AT) == []
    assert (order.totals, len(order.new_entries)) == (totals, entries)


def test_unknown_lines_every_line_and_a_final_order_are_refused() -> None:
    order = make([(1, Decimal("10.00"), Decimal("0.2")), (2, Decimal("5.00"), Decimal("0.2"))])
    with pytest.raises(ValidationFailed) as unknown:
        order.cancel_lines([2, 9], "user:ann", AT)
    assert [(i.path, i.code) for i in unknown.value.issues] == [("lines[1]", "unknown_line")]
    with pytest.raises(Conflict, match="cancel the order instead"):
        order.cancel_lines([1, 2], "user:ann", AT)
    assert all(ln.status == "open" for ln in order.lines) and not order.new_entries
    order.status = OrderStatus.COMPLETED
    with pytest.raises(Conflict, match="completed; its lines cannot be cancelled"):
        order.cancel_lines([1], "user:ann", AT)
