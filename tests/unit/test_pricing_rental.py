"""Time-based hire: periods by rule, minimum and proration, and the properties a customer relies on
(a longer hire never costs less; the cheapest rule beats any single rate and any other rule)."""

from __future__ import annotations

import itertools
import math
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from legato.domain.errors import ValidationFailed
from legato.domain.pricing.mechanisms import Charge, PriceInputs, build

D = Decimal
START = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
TOWER = {"rates": {"day": "25.00", "week": "120.00"}}
HOURS = {"hour": 1, "day": 24, "week": 168, "month": 720}  # month_days 30


def hire(config: dict[str, Any], length: timedelta, quantity: str = "1", start: datetime = START) -> Charge:
    inputs = PriceInputs(D(quantity), start=start, end=start + length)
    return build("rental", config).price(inputs, None, None)


def days(n: float) -> timedelta:
    return timedelta(days=n)


def test_cheapest_combines_whole_periods_and_prefers_more_of_a_longer_one_when_it_costs_less() -> None:
    assert hire(TOWER, days(9)).amount == D("170.00")  # 1 week + 2 days
    assert hire(TOWER, days(12)).amount == D("240.00")  # 2 weeks < 1 week + 5 days
    assert hire(TOWER, days(5)).amount == D("120.00")  # a week < 5 days
    assert hire(TOWER, days(4)).amount == D("100.00")


def test_a_started_period_counts_as_a_whole_one_unless_prorated() -> None:
    assert hire(TOWER, days(2) + timedelta(minutes=1)).amount == D("75.00")
    prorated = hire({**TOWER, "proration": "prorate"}, days(2) + timedelta(hours=6))
    assert prorated.amount == D("50.00") + D("0.25") * D("25.00")
    assert prorated.parts[-1].label == "day pro rata"


def test_largest_first_takes_the_longest_period_first_but_never_pays_more_than_one_more_of_it() -> None:
    config = {"rates": {"day": "20.00", "week": "60.00", "month": "300.00"}, "rule": "largest_first"}
    assert hire(config, days(35)).inputs["periods"] == "1 month + 1 week"  # 5 days capped at a week
    assert hire(config, days(32)).amount == D("340.00")  # 1 month + 2 days
    assert hire({**config, "rule": "cheapest"}, days(35)).amount == D("300.00")  # 5 weeks


def test_exact_uses_only_the_shortest_rate() -> None:
    config = {"rates": {"hour": "10", "day": "50"}, "rule": "exact"}
    assert hire(config, timedelta(hours=30)).amount == D("300")
    assert hire({**config, "proration": "prorate"}, timedelta(minutes=90)).amount == D("15")


def test_a_minimum_hire_is_charged_for_a_shorter_one_and_recorded() -> None:
    config = {**TOWER, "minimum": {"unit": "day", "count": "3"}}
    short = hire(config, timedelta(hours=5))
    assert short.amount == D("75.00")
    assert short.inputs["minimum"] == "3 day"
    assert "minimum" not in hire(config, days(4)).inputs


def test_month_days_sets_the_month_length() -> None:
    config = {"rates": {"day": "20", "month": "400"}, "month_days": 31}
    assert hire(config, days(31)).inputs["periods"] == "1 month"
    assert hire({**config, "month_days": "28"}, days(31)).inputs["periods"] == "1 month + 3 day"


def test_the_quantity_multiplies_the_hire_and_the_breakdown_counts_periods_for_all_units() -> None:
    one, three = hire(TOWER, days(9)), hire(TOWER, days(9), quantity="3")
    assert three.amount == 3 * one.amount
    assert [(p.label, p.quantity) for p in three.parts] == [("week", 3), ("day", 6)]
    assert three.inputs["units"] == "3"
    assert three.inputs["start"] == START.isoformat()
    assert three.inputs["end"] == (START + days(9)).isoformat()


def test_time_is_measured_in_utc_so_the_clock_change_is_not_charged() -> None:
    london = ZoneInfo("Europe/London")
    start = datetime(2026, 3, 28, 12, tzinfo=london)  # the clocks go forward on the 29th
    end = datetime(2026, 3, 29, 12, tzinfo=london)
    charge = build("rental", {"rates": {"hour": "10"}}).price(
        PriceInputs(D(1), start=start, end=end), None, None
    )
    assert charge.amount == D("230")
    assert charge.inputs["hours"] == "23"


@pytest.mark.parametrize(
    ("start", "end", "path"),
    [
        (None, START + days(1), "inputs.start"),
        (START, None, "inputs.end"),
        (START, START, "inputs.end"),
        (START, START - days(1), "inputs.end"),
        (datetime(2026, 3, 2, 8), START + days(1), "inputs.start"),
    ],
)
def test_a_hire_without_a_proper_start_and_end_is_refused(
    start: datetime | None, end: datetime | None, path: str
) -> None:
    with pytest.raises(ValidationFailed) as caught:
        build("rental", TOWER).price(PriceInputs(D(1), start=start, end=end), None, None)
    assert caught.value.issues[0].path == path


@pytest.mark.parametrize(
    ("config", "path"),
    [
        ({}, "pricing.rates"),
        ({"rates": {}}, "pricing.rates"),
        ({"rates": {"fortnight": "200"}}, "pricing.rates.fortnight"),
        ({"rates": {"day": "0"}}, "pricing.rates.day"),
        ({"rates": {"day": 25.0}}, "pricing.rates.day"),
        ({**TOWER, "rule": "fair"}, "pricing.rule"),
        ({**TOWER, "proration": "round_down"}, "pricing.proration"),
        ({**TOWER, "minimum": {"unit": "year", "count": 1}}, "pricing.minimum.unit"),
        ({**TOWER, "minimum": {"unit": "day", "count": 0}}, "pricing.minimum.count"),
        ({**TOWER, "minimum": {"unit": "day"}}, "pricing.minimum.count"),
        ({**TOWER, "minimum": {"unit": "day", "count": 1, "of": "x"}}, "pricing.minimum.of"),
        ({**TOWER, "minimum": "1 day"}, "pricing.minimum"),
        ({**TOWER, "month_days": 27}, "pricing.month_days"),
        ({**TOWER, "month_days": "30.5"}, "pricing.month_days"),
        ({**TOWER, "month_days": 30.0}, "pricing.month_days"),
        ({**TOWER, "deposit": "50"}, "pricing.deposit"),
    ],
)
def test_a_wrong_configuration_is_refused_naming_the_field(config: dict[str, Any], path: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        build("rental", config)
    assert [i.path for i in caught.value.issues] == [path]


# --- properties --------------------------------------------------------------------------------------

rate_sets = st.dictionaries(
    st.sampled_from(list(HOURS)), st.decimals(min_value=1, max_value=900, places=2), min_size=1
).map(lambda rates: {unit: str(rate) for unit, rate in rates.items()})
minutes = st.integers(1, 80 * 24 * 60)


@settings(max_examples=150)
@given(
    rate_sets,
    st.sampled_from(["cheapest", "largest_first", "exact"]),
    st.sampled_from(["round_up", "prorate"]),
    st.none() | st.integers(1, 48),
    minutes,
    st.integers(0, 3 * 24 * 60),
)
def test_a_longer_hire_never_costs_less(
    rates: dict[str, str], rule: str, proration: str, minimum: int | None, length: int, more: int
) -> None:
    config: dict[str, Any] = {"rates": rates, "rule": rule, "proration": proration}
    if minimum is not None:
        config["minimum"] = {"unit": "hour", "count": minimum}
    shorter, longer = timedelta(minutes=length), timedelta(minutes=length + more)
    assert hire(config, shorter).amount <= hire(config, longer).amount


@settings(max_examples=200)
@given(rate_sets, st.sampled_from(["round_up", "prorate"]), minutes)
@example(rates={"week": "1.00", "month": "1.00"}, proration="prorate", length=4 * 7 * 24 * 60 + 1)
def test_cheapest_costs_no_more_than_any_single_period_or_any_other_rule(
    rates: dict[str, str], proration: str, length: int
) -> None:
    config = {"rates": rates, "proration": proration}
    cheapest = hire({**config, "rule": "cheapest"}, timedelta(minutes=length)).amount
    for unit, rate in rates.items():
        assert cheapest <= math.ceil(length / (HOURS[unit] * 60)) * D(rate)
    assert cheapest <= hire({**config, "rule": "largest_first"}, timedelta(minutes=length)).amount
    assert cheapest <= hire({**config, "rule": "exact"}, timedelta(minutes=length)).amount


def cover_costs(rates: dict[str, str], hours: int) -> list[Decimal]:
    """cost[k]: the cheapest whole periods covering k hours, by dynamic programming over every k."""
    periods = [(HOURS[unit], D(rate)) for unit, rate in rates.items()]
    cost = [D(0)] + [D("Infinity")] * hours
    for k in range(1, hours + 1):
        cost[k] = min(rate + cost[max(0, k - length)] for length, rate in periods)
    return cost


@settings(max_examples=60)
@given(rate_sets, st.integers(1, 2200))
def test_cheapest_finds_the_same_optimum_as_an_exhaustive_search(rates: dict[str, str], hours: int) -> None:
    expected = cover_costs(rates, hours)[hours]
    assert hire({"rates": rates}, timedelta(hours=hours)).amount == expected


@settings(max_examples=60)
@given(rate_sets, st.integers(1, 60 * 24 * 60))
@example(rates={"week": "1.00", "month": "1.00"}, length=30 * 24 * 60 + 1)  # a month and a minute of a week
def test_cheapest_prorated_finds_the_same_optimum_as_an_exhaustive_search(
    rates: dict[str, str], length: int
) -> None:
    """Every count of the longer periods, the rest at the shortest rate pro rata."""
    shortest = min(rates, key=HOURS.__getitem__)
    per_minute = D(rates[shortest]) / (HOURS[shortest] * 60)
    longer = [(HOURS[u] * 60, D(r)) for u, r in rates.items() if u != shortest]
    expected = min(
        sum((c * rate for c, (_, rate) in zip(counts, longer, strict=True)), D(0))
        + max(0, length - sum(c * size for c, (size, _) in zip(counts, longer, strict=True))) * per_minute
        for counts in itertools.product(*[range(-(-length // size) + 1) for size, _ in longer])
    )
    charged = hire({"rates": rates, "proration": "prorate"}, timedelta(minutes=length)).amount
    assert abs(charged - expected) < D("1e-15")
