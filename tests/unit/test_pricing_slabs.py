"""Quantity slabs: graduated and volume each match a unit-by-unit count, and bad slabs are named."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from legato.domain.errors import ValidationFailed
from legato.domain.pricing.mechanisms import Charge, PriceInputs, build

D = Decimal
BANDS = [{"up_to": "10", "price": "5.00"}, {"up_to": "50", "price": "4.50"}, {"up_to": None, "price": "4.00"}]


def slabs(mode: str, bands: list[dict[str, Any]] = BANDS, quantity: str | int = "25") -> Charge:
    return build("slabs", {"mode": mode, "bands": bands}).price(PriceInputs(D(quantity)), None, None)


def test_graduated_prices_each_slab_on_its_own() -> None:
    assert slabs("graduated").amount == 10 * D("5.00") + 15 * D("4.50")
    assert slabs("graduated", quantity=60).amount == 10 * D("5.00") + 40 * D("4.50") + 10 * D("4.00")


def test_volume_prices_the_whole_quantity_at_the_slab_it_reaches() -> None:
    assert slabs("volume").amount == 25 * D("4.50")
    assert slabs("volume", quantity=60).amount == 60 * D("4.00")


def test_a_slab_includes_its_upper_limit_and_a_fraction_above_it_reaches_the_next() -> None:
    assert slabs("volume", quantity="10").amount == D("50.00")
    assert slabs("volume", quantity="10.5").amount == D("10.5") * D("4.50")
    assert slabs("graduated", quantity="10.5").amount == D("50.00") + D("0.5") * D("4.50")


def test_flat_fees_are_added_once_per_slab_reached_and_never_for_nothing() -> None:
    bands = [{"up_to": "10", "price": "1", "flat": "3"}, {"up_to": None, "price": "0.5", "flat": "7"}]
    assert slabs("graduated", bands, 12).amount == 10 + 3 + 2 * D("0.5") + 7
    assert slabs("volume", bands, 12).amount == 12 * D("0.5") + 7
    assert slabs("volume", bands, 4).amount == 4 + 3
    zero = slabs("graduated", bands, 0)
    assert (zero.amount, zero.parts) == (0, ())
    assert slabs("volume", bands, 0).amount == 0


def test_the_charge_records_its_rule_quantity_and_a_breakdown_that_adds_up() -> None:
    charge = slabs("graduated", quantity="25")
    assert charge.rule == "slabs:graduated"
    assert charge.inputs == {"quantity": "25"}
    assert [p.label for p in charge.parts] == ["up to 10", "over 10 up to 50"]
    assert sum(p.amount for p in charge.parts) == charge.amount
    assert charge.unit_price(D(25)) == D("4.70")


def test_a_negative_quantity_is_refused_on_the_input() -> None:
    with pytest.raises(ValidationFailed) as caught:
        slabs("graduated", quantity="-1")
    assert caught.value.issues[0].path == "inputs.quantity"


@pytest.mark.parametrize(
    ("config", "path"),
    [
        ({"bands": BANDS}, "pricing.mode"),
        ({"mode": "tiered", "bands": BANDS}, "pricing.mode"),
        ({"mode": "volume"}, "pricing.bands"),
        ({"mode": "volume", "bands": []}, "pricing.bands"),
        ({"mode": "volume", "bands": "5.00"}, "pricing.bands"),
        ({"mode": "volume", "bands": [BANDS[0], "x", BANDS[2]]}, "pricing.bands[1]"),
        (
            {"mode": "volume", "bands": [BANDS[0], {"up_to": "50", "price": 4.5}, BANDS[2]]},
            "pricing.bands[1].price",
        ),
        (
            {"mode": "volume", "bands": [BANDS[0], {"up_to": "50", "price": "-1"}, BANDS[2]]},
            "pricing.bands[1].price",
        ),
        (
            {"mode": "volume", "bands": [BANDS[0], {"up_to": "50", "price": "abc"}, BANDS[2]]},
            "pricing.bands[1].price",
        ),
        ({"mode": "volume", "bands": [BANDS[0], {"up_to": "50"}, BANDS[2]]}, "pricing.bands[1].price"),
        (
            {"mode": "volume", "bands": [BANDS[0], {"up_to": "10", "price": "4"}, BANDS[2]]},
            "pricing.bands[1].up_to",
        ),
        ({"mode": "volume", "bands": [{"up_to": "0", "price": "4"}, BANDS[2]]}, "pricing.bands[0].up_to"),
        ({"mode": "volume", "bands": [{"price": "4"}, BANDS[2]]}, "pricing.bands[0].up_to"),
        ({"mode": "volume", "bands": [BANDS[2], BANDS[0]]}, "pricing.bands[0].up_to"),
        ({"mode": "volume", "bands": BANDS[:2]}, "pricing.bands[1].up_to"),
        ({"mode": "volume", "bands": [{"up_to": None, "prise": "4"}]}, "pricing.bands[0].prise"),
        ({"mode": "volume", "bands": [{"up_to": None, "price": "4", "flat": 1.0}]}, "pricing.bands[0].flat"),
        ({"mode": "volume", "bands": BANDS, "colour": "red"}, "pricing.colour"),
    ],
)
def test_a_wrong_configuration_is_refused_naming_the_field(config: dict[str, Any], path: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        build("slabs", config)
    assert [i.path for i in caught.value.issues] == [path]


def test_errors_are_named_under_the_path_the_caller_gives_and_the_envelope_is_accepted() -> None:
    with pytest.raises(ValidationFailed) as caught:
        build("slabs", {"mode": "volume", "bands": [{"up_to": None, "price": 1.5}]}, "lines[3].pricing")
    assert caught.value.issues[0].path == "lines[3].pricing.bands[0].price"
    assert "decimal string" in caught.value.issues[0].message
    config = {"mechanism": "slabs", "description": "trade breaks", "mode": "volume", "bands": BANDS}
    assert build("slabs", config).price(PriceInputs(D(1)), None, None).amount == D("5.00")


# --- properties: each mode against a unit-by-unit count ------------------------------------------

prices = st.decimals(min_value=0, max_value=100, places=2)


@st.composite
def band_tables(draw: st.DrawFn) -> list[dict[str, Any]]:
    limits = sorted(draw(st.sets(st.integers(1, 60), min_size=0, max_size=5)))
    flat = draw(st.booleans())
    bands: list[dict[str, Any]] = [{"up_to": str(limit), "price": str(draw(prices))} for limit in limits]
    bands.append({"up_to": None, "price": str(draw(prices))})
    if flat:
        for band in bands:
            band["flat"] = str(draw(prices))
    return bands


def band_of(bands: list[dict[str, Any]], unit: int) -> int:
    return next(i for i, b in enumerate(bands) if b["up_to"] is None or unit <= int(b["up_to"]))


def flat(band: dict[str, Any]) -> Decimal:
    return D(band.get("flat", "0"))


@given(band_tables(), st.integers(0, 120))
def test_graduated_equals_pricing_unit_by_unit_at_each_units_own_slab(
    bands: list[dict[str, Any]], q: int
) -> None:
    reached = {band_of(bands, unit) for unit in range(1, q + 1)}
    expected = sum((D(bands[band_of(bands, unit)]["price"]) for unit in range(1, q + 1)), D(0))
    expected += sum((flat(bands[i]) for i in reached), D(0))
    assert slabs("graduated", bands, q).amount == expected


@given(band_tables(), st.integers(0, 120))
def test_volume_equals_every_unit_at_the_slab_of_the_last_unit(bands: list[dict[str, Any]], q: int) -> None:
    if q == 0:
        expected = D(0)
    else:
        last = bands[band_of(bands, q)]
        expected = sum((D(last["price"]) for _ in range(q)), D(0)) + flat(last)
    assert slabs("volume", bands, q).amount == expected


@given(
    band_tables(),
    st.decimals(min_value=0, max_value=100, places=3),
    st.decimals(min_value=0, max_value=5, places=3),
)
def test_graduated_never_costs_less_for_more(bands: list[dict[str, Any]], q: Decimal, more: Decimal) -> None:
    assert slabs("graduated", bands, str(q + more)).amount >= slabs("graduated", bands, str(q)).amount
