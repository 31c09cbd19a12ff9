"""The ledger's arithmetic (domain ``apply``): whatever the sequence of receipts, reservations,
releases, shipments, returns and adjustments, on hand, reserved and available never go negative
and always equal the sum of the accepted movements' deltas; a refused movement changes nothing."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from legato.domain.errors import ValidationFailed
from legato.domain.inventory.ledger import MOVEMENTS, InsufficientStock, Level, apply, deltas

D = Decimal
quantities = st.decimals(min_value=D("0.0001"), max_value=D(50), places=4)
steps = st.tuples(st.sampled_from(sorted(MOVEMENTS)), quantities, st.booleans())


def _expected_refusal(level: Level, kind: str, q: Decimal) -> bool:
    """When a movement must be refused, worked out from the table in the ledger's docstring."""
    if kind == "reservation":
        return q > level.on_hand - level.reserved
    if kind in ("release", "shipment"):
        return q > level.reserved
    if kind == "adjustment" and q < 0:
        return level.on_hand + q < level.reserved
    return False  # receipts, returns and upward adjustments always fit


@given(st.lists(steps, max_size=60))
def test_levels_never_go_negative_and_equal_the_sum_of_accepted_deltas(
    sequence: list[tuple[str, Decimal, bool]],
) -> None:
    level, on_hand_sum, reserved_sum = Level(), D(0), D(0)
    for kind, q, downward in sequence:
        q = -q if kind == "adjustment" and downward else q
        before = level
        try:
            level = apply(level, kind, q, what="TEA")
        except InsufficientStock:
            assert _expected_refusal(before, kind, q), (kind, q, before)
            assert level == before  # refused: nothing changed
            continue
        assert not _expected_refusal(before, kind, q), (kind, q, before)
        d_on_hand, d_reserved = deltas(kind, q)
        on_hand_sum += d_on_hand
        reserved_sum += d_reserved
        assert level == Level(on_hand_sum, reserved_sum)
        assert level.on_hand >= 0 and level.reserved >= 0 and level.available >= 0


@given(st.sampled_from(sorted(MOVEMENTS)), st.decimals(max_value=D(0), allow_nan=False, allow_infinity=False))
def test_a_zero_or_negative_quantity_is_refused_except_a_downward_adjustment(kind: str, q: Decimal) -> None:
    if kind == "adjustment" and q < 0:
        assert apply(Level(D(1000000), D(0)), kind, max(q, D(-1000000))).on_hand >= 0
        return
    with pytest.raises(ValidationFailed) as refused:
        apply(Level(D(5), D(1)), kind, q)
    assert refused.value.issues[0].path == "quantity"


def test_a_shipment_takes_reserved_units_out_of_both_on_hand_and_reserved() -> None:
    assert apply(Level(D(10), D(4)), "shipment", D(3)) == Level(D(7), D(1))
    with pytest.raises(InsufficientStock, match="only 4 reserved"):
        apply(Level(D(10), D(4)), "shipment", D(5))
