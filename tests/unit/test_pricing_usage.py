"""Usage billing: a fee, a free allowance, then overage or bands over the allowance; units x quantity."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from legato.domain.errors import ValidationFailed
from legato.domain.pricing.mechanisms import Charge, PriceInputs, build

D = Decimal
PLAN = {"metric": "hours", "base": "150.00", "included": "100", "overage": "2.50"}
TIERS = {
    "metric": "kWh",
    "base": "5",
    "included": "10",
    "bands": [{"up_to": "100", "price": "0.30"}, {"up_to": None, "price": "0.20"}],
}


def bill(config: dict[str, Any], usage: dict[str, str], quantity: str = "1") -> Charge:
    inputs = PriceInputs(D(quantity), usage={k: D(v) for k, v in usage.items()})
    return build("usage", config).price(inputs, None, None)


def test_usage_over_the_allowance_is_charged_at_the_overage_rate() -> None:
    charge = bill(PLAN, {"hours": "130", "km": "900"})
    assert charge.amount == D("150.00") + 30 * D("2.50")
    assert charge.rule == "usage:overage"
    assert charge.inputs == {
        "metric": "hours",
        "usage": "130",
        "included": "100",
        "billable": "30",
        "units": "1",
    }


def test_usage_within_the_allowance_costs_the_fee_alone() -> None:
    assert bill(PLAN, {"hours": "100"}).amount == D("150.00")
    assert bill(PLAN, {"hours": "0"}).amount == D("150.00")


def test_bands_apply_graduated_to_the_usage_above_the_allowance() -> None:
    charge = bill(TIERS, {"kWh": "250"})  # 240 over: 100 at 0.30, 140 at 0.20
    assert charge.amount == 5 + 100 * D("0.30") + 140 * D("0.20")
    assert charge.rule == "usage:graduated"
    assert [p.label for p in charge.parts] == ["base", "included kWh", "up to 100 kWh", "over 100 kWh"]


def test_bands_may_apply_as_volume() -> None:
    assert bill({**TIERS, "mode": "volume"}, {"kWh": "250"}).amount == 5 + 240 * D("0.20")


def test_the_quantity_counts_units_on_the_plan_with_the_same_reading() -> None:
    one, three = bill(PLAN, {"hours": "130"}), bill(PLAN, {"hours": "130"}, quantity="3")
    assert three.amount == 3 * one.amount
    assert sum(p.amount for p in three.parts) == three.amount
    assert three.inputs["units"] == "3"


def test_a_plan_without_fee_or_allowance_charges_usage_only() -> None:
    assert bill({"metric": "GB", "overage": "0.10"}, {"GB": "12.5"}).amount == D("1.25")


@pytest.mark.parametrize(
    ("usage", "path"),
    [
        ({}, "inputs.usage.hours"),
        ({"hours": "-1"}, "inputs.usage.hours"),
        ({"Hours": "5"}, "inputs.usage.hours"),
    ],
)
def test_a_missing_or_negative_reading_is_refused_naming_the_metric(usage: dict[str, str], path: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        bill(PLAN, usage)
    assert caught.value.issues[0].path == path


@pytest.mark.parametrize(
    ("config", "path"),
    [
        ({"overage": "1"}, "pricing.metric"),
        ({"metric": "", "overage": "1"}, "pricing.metric"),
        ({"metric": 7, "overage": "1"}, "pricing.metric"),
        ({"metric": "kWh"}, "pricing.overage"),
        ({"metric": "kWh", "overage": "1", "bands": TIERS["bands"]}, "pricing.overage"),
        ({"metric": "kWh", "overage": 0.3}, "pricing.overage"),
        ({"metric": "kWh", "overage": "1", "mode": "volume"}, "pricing.mode"),
        ({"metric": "kWh", "bands": TIERS["bands"], "mode": "tiered"}, "pricing.mode"),
        ({"metric": "kWh", "bands": [{"up_to": "10", "price": "1"}]}, "pricing.bands[0].up_to"),
        ({**PLAN, "included": "-5"}, "pricing.included"),
        ({**PLAN, "base": "1,50"}, "pricing.base"),
        ({**PLAN, "allowance": "100"}, "pricing.allowance"),
    ],
)
def test_a_wrong_plan_is_refused_naming_the_field(config: dict[str, Any], path: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        build("usage", config)
    assert [i.path for i in caught.value.issues] == [path]


amounts = st.decimals(min_value=0, max_value=10_000, places=3)
plans = st.sampled_from(
    [
        PLAN,
        {**PLAN, "overage": "0"},
        TIERS,
        {**TIERS, "mode": "volume"},
        {**TIERS, "bands": [{"up_to": "5", "price": "1", "flat": "9"}, {"up_to": None, "price": "0"}]},
    ]
)


@given(plans, st.data(), st.integers(1, 5))
def test_within_the_allowance_nothing_is_charged_beyond_the_fee(
    config: dict[str, Any], data: st.DataObject, units: int
) -> None:
    used = data.draw(st.decimals(min_value=0, max_value=D(config["included"]), places=3))
    charge = bill(config, {config["metric"]: str(used)}, quantity=str(units))
    assert charge.amount == units * D(config["base"])


@given(plans.filter(lambda plan: plan.get("mode") != "volume"), amounts, amounts)
def test_more_usage_never_costs_less_with_overage_or_graduated_bands(
    config: dict[str, Any], a: Decimal, b: Decimal
) -> None:
    low, high = sorted((a, b))
    metric = config["metric"]
    assert bill(config, {metric: str(low)}).amount <= bill(config, {metric: str(high)}).amount
