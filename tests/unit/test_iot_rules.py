"""The replenishment rule as a pure state machine: hysteresis, one order per breach, the
guards for stale readings and open orders, quantities, and the usage counter."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from legato.domain.errors import ValidationFailed
from legato.domain.replenishment import (
    Action,
    Comparison,
    QuantityMode,
    Reading,
    Rule,
    RuleState,
    breached,
    check_rule,
    counter_increase,
    evaluate,
    order_quantity,
    places,
    recovered,
)

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
TANK = Rule(
    code="TANK-7", device_id="tank-7", metric="level", comparison=Comparison.BELOW, threshold=Decimal(20),
    rearm=Decimal(60), account_code="ACME", sku="FUEL", quantity=Decimal(1000),
)  # fmt: skip
BIN = replace(TANK, code="BIN-1", comparison=Comparison.ABOVE, threshold=Decimal(80), rearm=Decimal(20))
PAR = replace(TANK, quantity_mode=QuantityMode.UP_TO_PAR, quantity=None, par_level=Decimal(100))


def reading(value: str | int, minutes: int) -> Reading:
    return Reading("tank-7", "level", Decimal(value), T0 + timedelta(minutes=minutes), "%")


def run(rule: Rule, values: list[int], state: RuleState | None = None) -> tuple[list[Action], RuleState]:
    state = state or RuleState()
    actions = []
    for i, v in enumerate(values):
        d = evaluate(rule, state, reading(v, i))
        actions.append(d.action)
        state = d.state
    return actions, state


def test_a_tank_below_20_orders_once_and_rearms_only_at_60() -> None:
    actions, state = run(TANK, [50, 19, 15, 25, 19, 59, 60])
    assert actions == [Action.NONE, Action.ORDER, Action.NONE, Action.NONE, Action.NONE, Action.NONE,
                       Action.REARM]  # fmt: skip
    assert state.armed and state.breaches == 1 and state.order_open


def test_a_breach_while_the_last_order_is_open_orders_nothing_until_it_closes() -> None:
    actions, state = run(TANK, [10, 70, 10, 12])
    assert actions == [Action.ORDER, Action.REARM, Action.SUPPRESSED, Action.SUPPRESSED]
    assert state.armed and state.breaches == 1  # still armed: the next breach after the close orders
    closed = replace(state, order_open=False)
    d = evaluate(TANK, closed, reading(11, 10))
    assert (d.action, d.state.breaches, d.state.armed, d.quantity) == (Action.ORDER, 2, False, Decimal(1000))


def test_an_above_rule_breaches_over_its_threshold_and_rearms_at_or_under_its_rearm_level() -> None:
    actions, _ = run(BIN, [50, 80, 81, 85, 21, 20])
    assert actions == [Action.NONE, Action.NONE, Action.ORDER, Action.NONE, Action.NONE, Action.REARM]


def test_a_reading_not_newer_than_the_last_one_seen_moves_nothing() -> None:
    state = evaluate(TANK, RuleState(), reading(50, 5)).state
    for minutes in (5, 4, -100):
        d = evaluate(TANK, state, reading(1, minutes))
        assert (d.action, d.state) == (Action.STALE, state)


def test_an_inactive_rule_moves_nothing() -> None:
    d = evaluate(replace(TANK, active=False), RuleState(), reading(1, 0))
    assert (d.action, d.state) == (Action.INACTIVE, RuleState())


@pytest.mark.parametrize(
    ("value", "quantity"), [("12.5", 88), ("99.1", 1), ("100", 1), ("150", 1), ("-3", 103)]
)
def test_up_to_par_orders_par_minus_the_reading_rounded_up_at_least_one(value: str, quantity: int) -> None:
    assert order_quantity(PAR, Decimal(value)) == quantity


LEVELS = st.integers(min_value=-10, max_value=110)


@given(st.lists(st.tuples(LEVELS, st.integers(-3, 10), st.booleans()), max_size=60))
def test_never_two_orders_without_a_rearm_in_between(steps: list[tuple[int, int, bool]]) -> None:
    """Random levels at random (also out-of-order) times, with the open order closing at
    random moments: between any two orders there is a re-arm."""
    state, minutes, since_order = RuleState(), 0, None
    for value, jump, closes in steps:
        minutes += jump
        if closes:
            state = replace(state, order_open=False)
        d = evaluate(TANK, state, reading(value, minutes))
        if d.action is Action.ORDER:
            assert since_order in (None, Action.REARM), "a second order without a re-arm"
            since_order = Action.ORDER
        elif d.action is Action.REARM:
            since_order = Action.REARM
        state = d.state


@given(st.lists(st.tuples(LEVELS, st.integers(-3, 10), st.booleans()), max_size=60))
def test_an_armed_rule_with_no_open_order_orders_on_every_fresh_breach_and_only_then(
    steps: list[tuple[int, int, bool]],
) -> None:
    state, minutes = RuleState(), 0
    for value, jump, closes in steps:
        minutes += jump
        if closes:
            state = replace(state, order_open=False)
        r = reading(value, minutes)
        d = evaluate(TANK, state, r)
        fresh = state.last_reading_at is None or r.at > state.last_reading_at
        should = fresh and state.armed and not state.order_open and breached(TANK, r.value)
        assert (d.action is Action.ORDER) == should
        if d.action is Action.ORDER:
            assert d.state.breaches == state.breaches + 1 and not d.state.armed
        if d.action is Action.REARM:
            assert recovered(TANK, r.value) and not state.armed
        if not fresh:
            assert d.state == state
        state = d.state


@given(st.decimals(min_value=-1000, max_value=99, places=3), st.integers(min_value=21, max_value=10_000))
def test_up_to_par_fills_the_level_back_to_par_with_the_fewest_whole_units(value: Decimal, par: int) -> None:
    rule = replace(PAR, par_level=Decimal(par))
    q = order_quantity(rule, value)
    assert q >= 1 and q == q.to_integral_value()
    assert value + q >= par or q == 1
    assert q == 1 or value + q - 1 < par


COUNTER = st.lists(st.decimals(min_value=0, max_value=100_000, places=2), max_size=40)


@given(COUNTER, st.integers(min_value=0, max_value=40))
def test_usage_of_consecutive_windows_adds_up_to_the_usage_of_their_union(
    values: list[Decimal], cut: int
) -> None:
    cut = min(cut, len(values))
    # the windows share their boundary reading: the second one opens where the first closed
    first, second = values[: cut + 1], values[cut:]
    assert counter_increase(first) + counter_increase(second) == counter_increase(values)
    assert counter_increase(values) >= 0


@given(COUNTER)
def test_a_counter_that_never_resets_used_last_minus_first(values: list[Decimal]) -> None:
    ordered = sorted(values)
    assert counter_increase(ordered) == (ordered[-1] - ordered[0] if ordered else 0)


def test_a_counter_reset_adds_nothing_for_the_step_down() -> None:
    # 1200 h, 1210 h, the controller is replaced (reset to 0), then 5 h
    assert counter_increase([Decimal(1200), Decimal(1210), Decimal(0), Decimal(5)]) == 15


def _codes(rule: Rule) -> dict[str, str]:
    with pytest.raises(ValidationFailed) as caught:
        check_rule(rule)
    return {i.path: i.code for i in caught.value.issues}


def test_a_rule_whose_levels_make_no_hysteresis_band_is_refused_naming_the_field() -> None:
    assert _codes(replace(TANK, rearm=Decimal(10))) == {"rearm": "rearm_inside_breach"}
    assert _codes(replace(BIN, rearm=Decimal(90))) == {"rearm": "rearm_inside_breach"}
    assert check_rule(replace(TANK, rearm=TANK.threshold)) is not None  # no band, but coherent


def test_quantities_must_fit_the_mode() -> None:
    assert _codes(replace(TANK, quantity=None)) == {"quantity": "required"}
    assert _codes(replace(TANK, quantity=Decimal(0))) == {"quantity": "out_of_range"}
    assert _codes(replace(TANK, par_level=Decimal(100))) == {"par_level": "not_applicable"}
    assert _codes(replace(PAR, par_level=None, quantity=Decimal(3))) == {
        "par_level": "required", "quantity": "not_applicable"}  # fmt: skip
    assert _codes(replace(PAR, par_level=Decimal(20))) == {"par_level": "out_of_range"}
    assert _codes(replace(PAR, comparison=Comparison.ABOVE, rearm=Decimal(10))) == {
        "quantity_mode": "not_applicable"}  # fmt: skip


def test_a_float_threshold_is_refused_with_a_clear_error() -> None:
    codes = _codes(replace(TANK, threshold=20.5))  # type: ignore[arg-type]
    assert codes == {"threshold": "not_decimal"}
    assert _codes(replace(TANK, rearm=Decimal("60.1234567"))) == {"rearm": "too_precise"}
    assert _codes(replace(TANK, threshold=Decimal("1e15"), rearm=Decimal("2e15"))) == {
        "threshold": "out_of_range", "rearm": "out_of_range"}  # fmt: skip


def test_places_counts_the_decimals_as_written() -> None:
    assert [places(Decimal(v)) for v in ("2.50", "3", "1E+3", "0.000001")] == [2, 0, 0, 6]
