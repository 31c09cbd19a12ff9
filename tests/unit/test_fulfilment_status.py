"""The fulfilment order's status machine and its roll-up to the sales order (pure domain)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from legato.domain.errors import IllegalTransition, ValidationFailed
from legato.domain.inventory.fulfilment import (
    FINAL,
    HOLDABLE,
    SHIPPED,
    FoKind,
    FoStatus,
    allowed,
    check,
    fo_number,
    parse_status,
    rollup,
)
from legato.domain.lifecycle import FulfilmentStatus

S, K = FoStatus, FoKind


def walk(kind: FoKind, *targets: FoStatus) -> tuple[FoStatus, FoStatus | None]:
    status, held_from = S.CREATED, None
    for target in targets:
        held_from = check(status, target, kind, held_from)
        status = target
    return status, held_from


def test_a_shipped_fo_goes_through_the_warehouse_steps_to_delivered() -> None:
    assert walk(K.SHIP, S.RELEASED, S.PICKING, S.PACKED, S.DISPATCHED, S.DELIVERED) == (S.DELIVERED, None)


def test_a_warehouse_may_skip_steps_it_does_not_report_but_never_go_back() -> None:
    assert walk(K.SHIP, S.DISPATCHED)[0] is S.DISPATCHED
    with pytest.raises(IllegalTransition) as e:
        walk(K.SHIP, S.PACKED, S.PICKING)
    assert e.value.extra["allowed"] == ["cancelled", "dispatched", "on_hold"]


def test_a_pickup_fo_is_collected_from_packed_and_never_dispatched() -> None:
    assert walk(K.PICKUP, S.RELEASED, S.PACKED, S.COLLECTED)[0] is S.COLLECTED
    with pytest.raises(IllegalTransition, match="collected at the store, never dispatched"):
        walk(K.PICKUP, S.PACKED, S.DISPATCHED)
    with pytest.raises(IllegalTransition, match="only a pickup order that is packed"):
        walk(K.SHIP, S.PACKED, S.COLLECTED)
    with pytest.raises(IllegalTransition):
        walk(K.PICKUP, S.RELEASED, S.COLLECTED)


def test_a_hold_remembers_where_it_came_from_and_release_returns_there() -> None:
    status, held_from = walk(K.SHIP, S.PICKING, S.ON_HOLD)
    assert (status, held_from) == (S.ON_HOLD, S.PICKING)
    assert allowed(status, K.SHIP, held_from) == {S.PICKING, S.CANCELLED}
    with pytest.raises(IllegalTransition, match="on hold from picking"):
        check(status, S.PACKED, K.SHIP, held_from)
    assert walk(K.SHIP, S.PICKING, S.ON_HOLD, S.PICKING, S.PACKED) == (S.PACKED, None)


def test_a_dispatched_fo_can_be_neither_held_nor_cancelled_and_the_error_says_so() -> None:
    for target in (S.ON_HOLD, S.CANCELLED):
        with pytest.raises(IllegalTransition, match=r"already dispatched.*neither held nor cancelled") as e:
            check(S.DISPATCHED, target, K.SHIP, number="SO-000012-F2")
        assert "SO-000012-F2" in e.value.detail
        assert e.value.extra == {"allowed": ["delivered"], "current": "dispatched", "requested": target.value}


def test_final_statuses_have_no_way_out() -> None:
    for status in FINAL:
        assert allowed(status, K.SHIP) == frozenset()
        with pytest.raises(IllegalTransition, match="final"):
            check(status, S.RELEASED, K.SHIP)


def test_an_unknown_status_names_the_field_and_the_choices() -> None:
    with pytest.raises(ValidationFailed) as e:
        parse_status("shipped", "rows[2].status")
    assert e.value.issues[0].path == "rows[2].status"
    assert "dispatched" in e.value.detail


def test_the_fo_number_is_the_order_number_and_the_leg() -> None:
    assert fo_number("SO-000012", 2) == "SO-000012-F2"


@given(
    kind=st.sampled_from(list(FoKind)),
    targets=st.lists(st.sampled_from(list(FoStatus)), max_size=12),
)
@settings(max_examples=400)
def test_no_sequence_of_events_breaks_the_status_machine(kind: FoKind, targets: list[FoStatus]) -> None:
    """Whatever a warehouse sends, in whatever order: refused events change nothing; a final
    status is never left; a dispatched FO is never held or cancelled; a pickup FO is never
    dispatched and only it is collected; held_from is set exactly while on hold, and a release
    returns to it."""
    status, held_from = S.CREATED, None
    for target in targets:
        try:
            new_held_from = check(status, target, kind, held_from)
        except IllegalTransition:
            continue
        assert status not in FINAL
        if status in (S.DISPATCHED, S.DELIVERED):
            assert target not in (S.ON_HOLD, S.CANCELLED)
        if target is S.ON_HOLD:
            assert status in HOLDABLE and new_held_from is status
        if status is S.ON_HOLD and target is not S.CANCELLED:
            assert target is held_from
        assert (new_held_from is not None) == (target is S.ON_HOLD)
        status, held_from = target, new_held_from
        if kind is K.PICKUP:
            assert status not in (S.DISPATCHED, S.DELIVERED)
        else:
            assert status is not S.COLLECTED


def test_rollup_of_a_two_leg_order_over_its_life() -> None:
    F = FulfilmentStatus
    assert rollup([S.CREATED, S.RELEASED], False) == (F.UNFULFILLED, False)
    assert rollup([S.DISPATCHED, S.PICKING], False) == (F.PARTIALLY_FULFILLED, False)
    assert rollup([S.DISPATCHED, S.DISPATCHED], False) == (F.FULFILLED, False)  # dispatched = shipped
    assert rollup([S.DELIVERED, S.DISPATCHED], False) == (F.FULFILLED, False)  # not all closed yet
    assert rollup([S.DELIVERED, S.DELIVERED], False) == (F.FULFILLED, True)
    assert rollup([S.DELIVERED, S.DELIVERED], True) == (F.PARTIALLY_FULFILLED, False)  # a backorder waits
    assert rollup([S.COLLECTED, S.CANCELLED], False) == (F.FULFILLED, True)
    assert rollup([S.CANCELLED, S.CANCELLED], False) == (F.UNFULFILLED, False)  # nothing handed over
    assert rollup([], False) == (F.UNFULFILLED, False)


@given(st.lists(st.sampled_from(list(FoStatus)), max_size=6), st.booleans())
def test_rollup_never_completes_an_order_that_is_not_fulfilled(statuses: list[FoStatus], waits: bool) -> None:
    track, complete = rollup(statuses, waits)
    live = [s for s in statuses if s is not S.CANCELLED]
    if complete:
        assert track is FulfilmentStatus.FULFILLED and not waits
        assert all(s in FINAL for s in statuses)
    assert (track is FulfilmentStatus.UNFULFILLED) == (not any(s in SHIPPED for s in live))
    if track is FulfilmentStatus.FULFILLED:
        assert live and all(s in SHIPPED for s in live) and not waits
