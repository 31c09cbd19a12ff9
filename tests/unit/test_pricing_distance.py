"""Distance: base + per km or km bands per trip, minimum, rounding of started km, trips x quantity."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from legato.domain.errors import ValidationFailed
from legato.domain.pricing.mechanisms import Charge, PriceInputs, build

D = Decimal
VAN = {"base": "35.00", "per_km": "1.20"}
BANDS = [
    {"up_to": "50", "price": "1.50"},
    {"up_to": "200", "price": "1.10"},
    {"up_to": None, "price": "0.90"},
]


def trip(config: dict[str, Any], km: str | None, quantity: str = "1") -> Charge:
    inputs = PriceInputs(D(quantity), distance_km=None if km is None else D(km))
    return build("distance", config).price(inputs, None, None)


def test_base_plus_every_kilometre_as_given_by_default() -> None:
    charge = trip(VAN, "42.3")
    assert charge.amount == D("35.00") + D("42.3") * D("1.20")
    assert charge.rule == "distance:per_km"
    assert charge.inputs == {"distance_km": "42.3", "charged_km": "42.3", "trips": "1"}


def test_round_km_up_charges_every_started_kilometre_and_whole_ones_stay_as_they_are() -> None:
    assert trip({**VAN, "round_km": "up"}, "42.01").amount == D("35.00") + 43 * D("1.20")
    assert trip({**VAN, "round_km": "up"}, "42").amount == D("35.00") + 42 * D("1.20")


def test_the_minimum_tops_up_each_trip_and_the_quantity_counts_trips() -> None:
    config = {**VAN, "minimum": "50.00"}
    one, two = trip(config, "8"), trip(config, "8", quantity="2")
    assert one.amount == D("50.00")
    assert one.parts[-1].label == "minimum charge 50"
    assert two.amount == D("100.00")
    assert sum(p.amount for p in two.parts) == two.amount
    assert trip(config, "20").amount == D("59.00")  # over the minimum: no top-up
    assert len(trip(config, "20").parts) == 2


def test_km_bands_apply_graduated_or_volume() -> None:
    graduated = trip({"mode": "graduated", "bands": BANDS}, "260")
    volume = trip({"mode": "volume", "bands": BANDS}, "260")
    assert graduated.amount == 50 * D("1.50") + 150 * D("1.10") + 60 * D("0.90")
    assert volume.amount == 260 * D("0.90")
    assert (graduated.rule, volume.rule) == ("distance:graduated", "distance:volume")


def test_a_zero_distance_costs_the_base_only() -> None:
    assert trip(VAN, "0").amount == D("35.00")
    assert trip({"per_km": "2"}, "0").parts == ()


@pytest.mark.parametrize(("km", "path"), [(None, "inputs.distance_km"), ("-1", "inputs.distance_km")])
def test_a_missing_or_negative_distance_is_refused(km: str | None, path: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        trip(VAN, km)
    assert caught.value.issues[0].path == path


@pytest.mark.parametrize(
    ("config", "path"),
    [
        ({"base": "10"}, "pricing.per_km"),
        ({"per_km": "1", "mode": "volume", "bands": BANDS}, "pricing.per_km"),
        ({"per_km": 1.2}, "pricing.per_km"),
        ({"per_km": "1", "mode": "volume"}, "pricing.mode"),
        ({"bands": BANDS}, "pricing.mode"),
        ({"mode": "graduated", "bands": [{"up_to": "50", "price": "1"}]}, "pricing.bands[0].up_to"),
        ({"mode": "graduated", "bands": [BANDS[0], {"up_to": None, "price": "x"}]}, "pricing.bands[1].price"),
        ({**VAN, "minimum": "-5"}, "pricing.minimum"),
        ({**VAN, "base": 3.5}, "pricing.base"),
        ({**VAN, "round_km": "down"}, "pricing.round_km"),
        ({**VAN, "per_mile": "2"}, "pricing.per_mile"),
    ],
)
def test_a_wrong_configuration_is_refused_naming_the_field(config: dict[str, Any], path: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        build("distance", config)
    assert [i.path for i in caught.value.issues] == [path]


km = st.decimals(min_value=0, max_value=1000, places=2)


@given(km, km, st.sampled_from(["up", "none"]), st.integers(1, 5))
def test_a_longer_trip_never_costs_less_and_trips_multiply(
    a: Decimal, b: Decimal, rounding: str, n: int
) -> None:
    config = {**VAN, "minimum": "50", "round_km": rounding}
    shorter, longer = sorted((a, b))
    assert trip(config, str(shorter)).amount <= trip(config, str(longer)).amount
    assert trip(config, str(a), quantity=str(n)).amount == n * trip(config, str(a)).amount
