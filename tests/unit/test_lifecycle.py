"""The order lifecycle table, the hold/release rule, and the three independent tracks."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from legato.domain.errors import IllegalTransition, ValidationFailed
from legato.domain.lifecycle import (
    FINAL_STATUSES,
    INITIAL_STATUSES,
    TRACKS,
    TRANSITIONS,
    FulfilmentStatus,
    InvoiceStatus,
    OrderStatus,
    PaymentStatus,
    allowed_targets,
    check_transition,
    parse_status,
    parse_track,
)
from legato.domain.order import SalesOrder

S = OrderStatus
AT = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

#: The table as DESIGN.md and the lifecycle docstring describe it, written out by hand so the
#: code's table is checked against the documented rules, not against itself.
DOCUMENTED = {
    S.PENDING_APPROVAL: {S.CREATED, S.ON_HOLD, S.CANCELLED, S.VOIDED},
    S.CREATED: {S.PENDING_APPROVAL, S.PROCESSING, S.ON_HOLD, S.CANCELLED, S.VOIDED},
    S.PROCESSING: {S.COMPLETED, S.ON_HOLD, S.CANCELLED},
    S.COMPLETED: set(),
    S.CANCELLED: set(),
    S.VOIDED: set(),
}
#: Where an order on hold may go, by the status it was held from.
DOCUMENTED_RELEASE = {
    S.PENDING_APPROVAL: {S.PENDING_APPROVAL, S.CANCELLED, S.VOIDED},
    S.CREATED: {S.CREATED, S.CANCELLED, S.VOIDED},
    S.PROCESSING: {S.PROCESSING, S.CANCELLED},
}
HOLDABLE = sorted(DOCUMENTED_RELEASE)
TRACK_VALUES = [(name, member.value) for name, enum in TRACKS.items() for member in enum]


def documented_targets(status: OrderStatus, held_from: OrderStatus | None) -> set[OrderStatus]:
    if status is S.ON_HOLD:
        return DOCUMENTED_RELEASE[held_from or S.CREATED]
    return DOCUMENTED[status]


def new_order(status: OrderStatus = S.CREATED, held_from: OrderStatus | None = None) -> SalesOrder:
    return SalesOrder(
        channel_code="SHOP-UK", currency="GBP", lines=[], id=42, status=status, held_from=held_from
    )


# --- the table ------------------------------------------------------------------------------------


def test_every_status_has_a_row_in_the_transition_table() -> None:
    assert set(TRANSITIONS) == set(OrderStatus)


@pytest.mark.parametrize("status", sorted(DOCUMENTED))
def test_the_table_allows_exactly_the_documented_steps(status: OrderStatus) -> None:
    assert allowed_targets(status) == DOCUMENTED[status]
    assert TRANSITIONS[status] == DOCUMENTED[status]


def test_completed_cancelled_and_voided_are_the_final_statuses() -> None:
    assert {S.COMPLETED, S.CANCELLED, S.VOIDED} == FINAL_STATUSES


def test_orders_may_start_created_pending_approval_or_on_hold() -> None:
    assert {S.CREATED, S.PENDING_APPROVAL, S.ON_HOLD} == INITIAL_STATUSES


@pytest.mark.parametrize("final", sorted(FINAL_STATUSES))
@pytest.mark.parametrize("held_from", [None, *HOLDABLE])
def test_no_transition_leaves_a_final_status(final: OrderStatus, held_from: OrderStatus | None) -> None:
    assert allowed_targets(final, held_from) == frozenset()


@pytest.mark.parametrize("held_from", HOLDABLE)
def test_an_order_on_hold_may_only_return_to_its_origin_or_be_cancelled_or_voided_where_the_origin_allows(
    held_from: OrderStatus,
) -> None:
    assert allowed_targets(S.ON_HOLD, held_from) == DOCUMENTED_RELEASE[held_from]


def test_an_order_created_on_hold_is_released_to_created() -> None:
    assert allowed_targets(S.ON_HOLD, None) == {S.CREATED, S.CANCELLED, S.VOIDED}
    order = new_order(S.ON_HOLD)
    order.transition(S.CREATED, "user:alice", AT)
    assert order.status is S.CREATED


def test_an_order_on_hold_cannot_be_held_again() -> None:
    for origin in HOLDABLE:
        assert S.ON_HOLD not in allowed_targets(S.ON_HOLD, origin)


@pytest.mark.parametrize("origin", HOLDABLE)
def test_holding_remembers_the_origin_and_any_other_step_forgets_it(origin: OrderStatus) -> None:
    assert check_transition(origin, S.ON_HOLD) is origin
    assert check_transition(S.ON_HOLD, origin, held_from=origin) is None
    assert check_transition(S.ON_HOLD, S.CANCELLED, held_from=origin) is None


def test_an_illegal_transition_names_the_allowed_targets() -> None:
    with pytest.raises(IllegalTransition) as caught:
        check_transition(S.CREATED, S.COMPLETED)
    err = caught.value
    assert err.code == "illegal_transition"
    assert err.status == 409
    assert err.extra["allowed"] == ["cancelled", "on_hold", "pending_approval", "processing", "voided"]
    assert err.extra["current"] == "created"
    assert err.extra["requested"] == "completed"


def test_leaving_a_final_status_is_refused_with_an_empty_allowed_list() -> None:
    with pytest.raises(IllegalTransition) as caught:
        check_transition(S.COMPLETED, S.PROCESSING)
    assert caught.value.extra["allowed"] == []
    assert "final" in caught.value.detail


def test_releasing_a_hold_to_another_status_is_refused_and_names_the_origin() -> None:
    with pytest.raises(IllegalTransition) as caught:
        check_transition(S.ON_HOLD, S.CREATED, held_from=S.PROCESSING)
    assert caught.value.extra["allowed"] == ["cancelled", "processing"]
    assert "processing" in caught.value.detail


# --- the order aggregate --------------------------------------------------------------------------


@pytest.mark.parametrize("origin", HOLDABLE)
def test_release_returns_to_the_status_the_order_was_held_from(origin: OrderStatus) -> None:
    order = new_order(origin)
    order.transition(S.ON_HOLD, "rule:fraud-check", AT, "score above 80")
    assert (order.status, order.held_from) == (S.ON_HOLD, origin)
    order.transition(origin, "user:alice", AT, "checked")
    assert (order.status, order.held_from) == (origin, None)


def test_a_transition_records_one_timeline_entry_and_one_event_with_actor_and_reason() -> None:
    order = new_order()
    order.transition(S.PROCESSING, "user:alice", AT, "picked")
    [entry] = order.timeline
    assert order.new_entries == [entry]
    assert (entry.kind, entry.actor, entry.reason, entry.at) == ("status_changed", "user:alice", "picked", AT)
    assert (entry.from_value, entry.to_value) == ("created", "processing")
    [event] = order.new_events
    assert (event.type, event.aggregate_type, event.aggregate_id) == ("order.status_changed", "order", 42)
    assert event.payload["from"] == "created"
    assert event.payload["to"] == "processing"
    assert event.payload["actor"] == "user:alice"
    assert event.payload["reason"] == "picked"
    assert event.payload["number"] == "SO-000042"
    assert order.updated_at == AT


def test_a_refused_transition_changes_nothing_and_records_nothing() -> None:
    order = new_order(S.ON_HOLD, held_from=S.PROCESSING)
    with pytest.raises(IllegalTransition):
        order.transition(S.CREATED, "user:alice", AT)
    assert (order.status, order.held_from) == (S.ON_HOLD, S.PROCESSING)
    assert order.timeline == [] and order.new_entries == [] and order.new_events == []
    assert order.updated_at is None


@settings(max_examples=200, deadline=None)
@given(
    start=st.sampled_from(sorted(INITIAL_STATUSES)),
    requests=st.lists(st.sampled_from(list(OrderStatus)), max_size=30),
)
def test_no_sequence_of_requests_takes_an_order_where_the_table_forbids(
    start: OrderStatus, requests: list[OrderStatus]
) -> None:
    order = new_order(start)
    final_reached: OrderStatus | None = None
    for to in requests:
        before, held_from = order.status, order.held_from
        entries, events = len(order.timeline), len(order.new_events)
        allowed = allowed_targets(before, held_from)
        assert allowed == documented_targets(before, held_from)
        try:
            order.transition(to, "user:prop", AT)
        except IllegalTransition as exc:
            assert to not in allowed
            assert exc.extra["allowed"] == sorted(s.value for s in allowed)
            assert (order.status, order.held_from) == (before, held_from)
            assert (len(order.timeline), len(order.new_events)) == (entries, events)
            assert len(order.new_entries) == entries
        else:
            assert to in allowed
            assert before not in FINAL_STATUSES
            if before is S.ON_HOLD and to not in (S.CANCELLED, S.VOIDED):
                assert to is (held_from or S.CREATED)
            assert order.status is to
            assert order.held_from == (before if to is S.ON_HOLD else None)
            assert (len(order.timeline), len(order.new_events)) == (entries + 1, events + 1)
            assert len(order.new_entries) == entries + 1
            assert (order.timeline[-1].from_value, order.timeline[-1].to_value) == (before.value, to.value)
            assert order.new_events[-1].payload["from"] == before.value
            assert order.new_events[-1].payload["to"] == to.value
        if final_reached is not None:
            assert order.status is final_reached
        elif order.status in FINAL_STATUSES:
            final_reached = order.status
    # the timeline replays the whole history: each entry starts where the previous one ended
    values = [start.value] + [e.to_value for e in order.timeline]
    assert [e.from_value for e in order.timeline] == values[:-1]
    assert values[-1] == order.status.value


# --- the tracks -----------------------------------------------------------------------------------


def test_the_three_tracks_and_their_values() -> None:
    assert {"payment": PaymentStatus, "fulfilment": FulfilmentStatus, "invoice": InvoiceStatus} == TRACKS
    order = new_order()
    assert order.payment_status is PaymentStatus.UNPAID
    assert order.fulfilment_status is FulfilmentStatus.UNFULFILLED
    assert order.invoice_status is InvoiceStatus.NOT_INVOICED


@pytest.mark.parametrize("status", list(OrderStatus))
@pytest.mark.parametrize(
    ("track", "value"), [("payment", "paid"), ("fulfilment", "fulfilled"), ("invoice", "credited")]
)
def test_a_track_changes_whatever_the_lifecycle_status(status: OrderStatus, track: str, value: str) -> None:
    order = new_order(status, held_from=S.CREATED if status is S.ON_HOLD else None)
    order.set_track(track, value, "user:alice", AT)
    assert getattr(order, f"{track}_status") == value
    assert order.status is status


def test_a_track_may_move_backwards_within_its_own_values() -> None:
    order = new_order()
    order.set_track("payment", "refunded", "user:alice", AT)
    order.set_track("payment", "unpaid", "user:alice", AT)
    assert order.payment_status is PaymentStatus.UNPAID


def test_an_unpaid_unshipped_uninvoiced_order_can_still_be_processed_and_completed() -> None:
    order = new_order()
    order.transition(S.PROCESSING, "system", AT)
    order.transition(S.COMPLETED, "system", AT)
    assert order.status is S.COMPLETED
    assert order.payment_status is PaymentStatus.UNPAID
    assert order.fulfilment_status is FulfilmentStatus.UNFULFILLED
    assert order.invoice_status is InvoiceStatus.NOT_INVOICED


def test_an_order_may_ship_before_it_is_paid() -> None:
    order = new_order(S.PROCESSING)
    order.set_track("fulfilment", "fulfilled", "system", AT)
    assert order.payment_status is PaymentStatus.UNPAID
    assert order.fulfilment_status is FulfilmentStatus.FULFILLED


def test_a_track_change_records_one_timeline_entry_and_one_event_naming_the_track() -> None:
    order = new_order()
    order.set_track("invoice", "invoiced", "user:bob", AT, "INV-7")
    [entry] = order.timeline
    assert (entry.kind, entry.actor, entry.reason) == ("track_changed", "user:bob", "INV-7")
    assert (entry.from_value, entry.to_value, entry.data) == (
        "not_invoiced",
        "invoiced",
        {"track": "invoice"},
    )
    [event] = order.new_events
    assert event.type == "order.track_changed"
    assert {k: event.payload[k] for k in ("track", "from", "to", "reason")} == {
        "track": "invoice",
        "from": "not_invoiced",
        "to": "invoiced",
        "reason": "INV-7",
    }


def test_setting_a_track_to_its_current_value_records_nothing() -> None:
    order = new_order()
    order.set_track("payment", "unpaid", "user:bob", AT)
    assert order.timeline == [] and order.new_events == [] and order.updated_at is None


@settings(max_examples=200, deadline=None)
@given(
    ops=st.lists(
        st.one_of(
            st.tuples(st.just("status"), st.sampled_from(list(OrderStatus))),
            st.tuples(st.just("track"), st.sampled_from(TRACK_VALUES)),
        ),
        max_size=30,
    )
)
def test_tracks_and_lifecycle_never_move_each_other(ops: list[tuple[str, object]]) -> None:
    order = new_order()
    expected_tracks = {"payment": "unpaid", "fulfilment": "unfulfilled", "invoice": "not_invoiced"}
    for kind, arg in ops:
        status_before = order.status
        tracks_before = {name: getattr(order, f"{name}_status") for name in TRACKS}
        if kind == "status":
            assert isinstance(arg, OrderStatus)
            with contextlib.suppress(IllegalTransition):
                order.transition(arg, "user:prop", AT)
            assert {name: getattr(order, f"{name}_status") for name in TRACKS} == tracks_before
        else:
            assert isinstance(arg, tuple)
            track, value = arg
            events = len(order.new_events)
            order.set_track(track, value, "user:prop", AT)
            changed = expected_tracks[track] != value
            paid = changed and (track, value) == ("payment", "paid")  # also payment.received
            assert len(order.new_events) == events + changed + paid
            expected_tracks[track] = value
            assert order.status is status_before
        assert {name: getattr(order, f"{name}_status") for name in TRACKS} == expected_tracks


# --- parsing names --------------------------------------------------------------------------------


def test_a_known_status_name_parses_to_its_member() -> None:
    assert parse_status("on_hold") is S.ON_HOLD


@pytest.mark.parametrize("name", ["shipped", "CREATED", "", "on hold"])
def test_an_unknown_status_name_is_a_validation_error_with_a_field_issue(name: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        parse_status(name, path="body.to")
    [issue] = caught.value.issues
    assert (issue.path, issue.code, issue.value) == ("body.to", "invalid_status", name)
    assert caught.value.code == "validation"
    assert "pending_approval" in issue.message


def test_a_known_track_value_parses_to_its_member() -> None:
    assert parse_track("fulfilment", "partially_returned") is FulfilmentStatus.PARTIALLY_RETURNED


@pytest.mark.parametrize("track", ["shipping", "Payment", "", "status"])
def test_an_unknown_track_name_is_a_validation_error_on_the_track_field(track: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        parse_track(track, "paid")
    [issue] = caught.value.issues
    assert (issue.path, issue.code, issue.value) == ("track", "invalid_track", track)


@pytest.mark.parametrize(
    ("track", "value"), [("payment", "fulfilled"), ("invoice", "paid"), ("fulfilment", "")]
)
def test_a_value_from_another_track_is_a_validation_error_on_the_to_field(track: str, value: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        parse_track(track, value)
    [issue] = caught.value.issues
    assert (issue.path, issue.code, issue.value) == ("to", "invalid_status", value)


def test_an_unknown_track_leaves_the_order_unchanged() -> None:
    order = new_order()
    with pytest.raises(ValidationFailed):
        order.set_track("shipping", "paid", "user:alice", AT)
    with pytest.raises(ValidationFailed):
        order.set_track("payment", "shipped", "user:alice", AT)
    assert order.payment_status is PaymentStatus.UNPAID
    assert order.timeline == [] and order.new_events == []
