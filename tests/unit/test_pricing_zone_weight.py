"""Courier rate card: zones by longest prefix, chargeable weight, bands, surcharges in order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from legato.domain.catalog import Dimensions
from legato.domain.errors import ValidationFailed
from legato.domain.pricing.mechanisms import Charge, PriceInputs, build

D = Decimal
WEDNESDAY = datetime(2026, 3, 4, 10, tzinfo=UTC)
SATURDAY = datetime(2026, 3, 7, 10, tzinfo=UTC)
BANDS = [
    {"up_to_kg": "1", "price": "4.50"},
    {"up_to_kg": "5", "price": "6.90"},
    {"up_to_kg": None, "price": "12.00", "per_kg_over": "0.80"},
]
CARD: dict[str, Any] = {
    "zones": {"SOUTH": ["S"], "LONDON": ["SW1", "EC"], "NORTH": ["M", "LS"], "ISLANDS": ["HS", "ZE"]},
    "rates": {"LONDON": {"*": BANDS, "ISLANDS": [{"up_to_kg": "2", "price": "20"}]}, "*": {"NORTH": BANDS}},
}


def card(**changes: Any) -> dict[str, Any]:
    return {**CARD, **changes}


def ship(
    config: dict[str, Any],
    *,
    origin: str | None = "EC1A 1BB",
    destination: str | None = "M1 1AE",
    weight: str | None = "2",
    size: tuple[int, int, int] | None = None,
    quantity: str = "1",
    at: datetime | None = WEDNESDAY,
    product_weight: str | None = None,
    product_size: tuple[int, int, int] | None = None,
) -> Charge:
    def dims(s: tuple[int, int, int] | None) -> Dimensions | None:
        return None if s is None else Dimensions(D(s[0]), D(s[1]), D(s[2]))

    inputs = PriceInputs(
        D(quantity),
        origin=origin,
        destination=destination,
        at=at,
        weight_kg=None if weight is None else D(weight),
        dimensions=dims(size),
    )
    product_kg = None if product_weight is None else D(product_weight)
    return build("zone_weight", config).price(inputs, product_kg, dims(product_size))


def test_the_longest_prefix_wins_without_regard_to_case_or_spaces() -> None:
    assert ship(CARD, destination="sw1a 1aa").inputs["destination_zone"] == "LONDON"  # SW1 beats S
    assert ship(CARD, destination="S1 2HE").inputs["destination_zone"] == "SOUTH"
    assert ship(CARD, origin=" ec1a1bb ").inputs["origin_zone"] == "LONDON"


def test_an_unknown_postcode_is_refused_naming_it_unless_a_zone_catches_all() -> None:
    with pytest.raises(ValidationFailed) as caught:
        ship(CARD, destination="XY1 1AA")
    issue = caught.value.issues[0]
    assert (issue.path, issue.code, issue.value) == ("inputs.destination", "unknown_zone", "XY1 1AA")
    assert "'XY1 1AA'" in issue.message
    catch_all = card(zones={**CARD["zones"], "REST": ["*"]}, rates={"LONDON": {"*": BANDS}})
    assert ship(catch_all, destination="XY1 1AA").inputs["destination_zone"] == "REST"


def test_rates_fall_back_from_the_exact_pair_to_any_destination_then_any_origin() -> None:
    assert ship(CARD, destination="HS1 2AA").amount == D("20")  # LONDON -> ISLANDS
    assert ship(CARD, destination="S1 2HE").amount == D("6.90")  # LONDON -> *
    assert ship(CARD, origin="S1 2HE", destination="LS1 4AP").amount == D("6.90")  # * -> NORTH
    with pytest.raises(ValidationFailed) as caught:
        ship(CARD, origin="S1 2HE", destination="EC1A 1BB")
    assert (caught.value.issues[0].path, caught.value.issues[0].code) == ("inputs.destination", "no_rate")


def test_the_origin_is_needed_unless_every_origin_of_the_card_is_any() -> None:
    with pytest.raises(ValidationFailed) as caught:
        ship(CARD, origin=None)
    assert caught.value.issues[0].path == "inputs.origin"
    assert ship(card(rates={"*": {"*": BANDS}}), origin=None).amount == D("6.90")
    with pytest.raises(ValidationFailed) as caught:
        ship(CARD, destination=None)
    assert caught.value.issues[0].path == "inputs.destination"


def test_the_chargeable_weight_is_the_greater_of_actual_and_volumetric() -> None:
    config = card(volumetric_divisor="5000")
    light_but_big = ship(config, weight="0.5", size=(40, 30, 20))  # 24000 / 5000 = 4.8 kg
    assert (light_but_big.amount, light_but_big.inputs["chargeable_kg"]) == (D("6.90"), "4.8")
    heavy_but_small = ship(config, weight="0.9", size=(10, 10, 10))
    assert (heavy_but_small.amount, heavy_but_small.inputs["chargeable_kg"]) == (D("4.50"), "0.9")
    assert ship(CARD, weight="0.5", size=(40, 30, 20)).amount == D("4.50")  # no divisor: actual only


def test_the_lines_weight_and_size_come_first_then_the_products() -> None:
    config = card(volumetric_divisor="5000")
    assert ship(config, weight=None, product_weight="3").amount == D("6.90")
    assert ship(config, weight="0.5", product_weight="3").amount == D("4.50")
    assert ship(config, weight="0.5", product_size=(40, 30, 20)).inputs["volumetric_kg"] == "4.8"
    assert ship(config, weight="0.5").inputs["dimensions"] == "unknown"
    with pytest.raises(ValidationFailed) as caught:
        ship(config, weight=None)
    assert caught.value.issues[0].path == "inputs.weight_kg"


def test_the_open_band_charges_every_started_kg_over_the_previous_limit() -> None:
    assert ship(CARD, weight="5.01").amount == D("12.00") + D("0.80")
    assert ship(CARD, weight="7").amount == D("12.00") + 2 * D("0.80")
    assert ship(CARD, weight="5").amount == D("6.90")


def test_a_parcel_over_the_last_closed_band_is_refused() -> None:
    with pytest.raises(ValidationFailed) as caught:
        ship(CARD, destination="HS1 2AA", weight="2.5")
    assert caught.value.issues[0].path == "inputs.weight_kg"
    assert "2 kg" in caught.value.issues[0].message


def test_surcharges_apply_in_order_a_percentage_on_the_charge_so_far() -> None:
    remote = {"kind": "remote", "zones": ["NORTH"], "amount": "8.00"}
    fuel = {"kind": "fuel", "percent": "10"}
    assert ship(card(surcharges=[fuel, remote])).amount == D("6.90") * D("1.1") + 8
    after = ship(card(surcharges=[remote, fuel]))
    assert after.amount == (D("6.90") + 8) * D("1.1")
    assert [p.label for p in after.parts] == ["LONDON to NORTH, up to 5 kg", "remote area", "fuel 10%"]
    assert ship(card(surcharges=[remote, fuel]), destination="S1 2HE").amount == D("6.90") * D("1.1")


def test_oversize_applies_over_the_longest_side_limit_and_only_with_a_known_size() -> None:
    config = card(surcharges=[{"kind": "oversize", "max_side_cm": "120", "amount": "15"}])
    assert ship(config, size=(121, 10, 10)).amount == D("21.90")
    assert ship(config, size=(120, 10, 10)).amount == D("6.90")
    unknown = ship(config)
    assert (unknown.amount, unknown.inputs["dimensions"]) == (D("6.90"), "unknown")


def test_the_weekend_surcharge_follows_the_day_where_the_parcel_is_dispatched() -> None:
    config = card(surcharges=[{"kind": "weekend", "amount": "5.00"}])
    assert ship(config, at=SATURDAY).amount == D("11.90")
    assert ship(config, at=SATURDAY + timedelta(days=1)).amount == D("11.90")
    assert ship(config, at=WEDNESDAY).amount == D("6.90")
    friday_night_in_new_york = datetime(
        2026, 3, 6, 22, tzinfo=timezone(timedelta(hours=-5))
    )  # Saturday in UTC
    assert ship(config, at=friday_night_in_new_york).amount == D("6.90")
    assert ship(config, at=friday_night_in_new_york).inputs["at"] == "2026-03-06T22:00:00-05:00"
    percent = card(surcharges=[{"kind": "weekend", "percent": "20"}])
    assert ship(percent, at=SATURDAY).amount == D("6.90") * D("1.2")
    for at, path in ((None, "inputs.at"), (datetime(2026, 3, 7, 10), "inputs.at")):
        with pytest.raises(ValidationFailed) as caught:
            ship(config, at=at)
        assert caught.value.issues[0].path == path


def test_the_quantity_is_a_whole_number_of_parcels_and_multiplies_the_charge() -> None:
    config = card(surcharges=[{"kind": "fuel", "percent": "12.5"}])
    assert ship(config, quantity="3").amount == 3 * ship(config).amount
    assert ship(config, quantity="3").inputs["parcels"] == "3"
    with pytest.raises(ValidationFailed) as caught:
        ship(config, quantity="1.5")
    assert caught.value.issues[0].path == "inputs.quantity"


@pytest.mark.parametrize(
    ("changes", "path"),
    [
        ({"zones": None}, "pricing.zones"),
        ({"zones": {}}, "pricing.zones"),
        ({"zones": {"A": ["SW1"], "B": ["sw 1"]}}, "pricing.zones.B[0]"),
        ({"zones": {"A": []}}, "pricing.zones.A"),
        ({"zones": {"A": "SW1"}}, "pricing.zones.A"),
        ({"zones": {"*": ["SW1"]}}, "pricing.zones.*"),
        ({"rates": {}}, "pricing.rates"),
        ({"rates": {"MOON": {"*": BANDS}}}, "pricing.rates.MOON"),
        ({"rates": {"LONDON": {"MARS": BANDS}}}, "pricing.rates.LONDON.MARS"),
        ({"rates": {"LONDON": {"*": []}}}, "pricing.rates.LONDON.*"),
        ({"rates": {"LONDON": {"*": [BANDS[1], BANDS[0]]}}}, "pricing.rates.LONDON.*[1].up_to_kg"),
        (
            {"rates": {"LONDON": {"*": [BANDS[1], {"up_to_kg": "9", "price": "5"}]}}},
            "pricing.rates.LONDON.*[1].price",
        ),
        ({"rates": {"LONDON": {"*": [BANDS[2], BANDS[0]]}}}, "pricing.rates.LONDON.*[0].up_to_kg"),
        (
            {"rates": {"LONDON": {"*": [{"up_to_kg": "1", "price": "1", "per_kg_over": "1"}]}}},
            "pricing.rates.LONDON.*[0].per_kg_over",
        ),
        ({"rates": {"LONDON": {"*": [{"price": "1"}]}}}, "pricing.rates.LONDON.*[0].up_to_kg"),
        ({"rates": {"LONDON": {"*": [{"up_to_kg": None, "price": 4.5}]}}}, "pricing.rates.LONDON.*[0].price"),
        ({"volumetric_divisor": "0"}, "pricing.volumetric_divisor"),
        ({"surcharges": [{"kind": "toll", "amount": "1"}]}, "pricing.surcharges[0].kind"),
        ({"surcharges": [{"kind": "fuel"}]}, "pricing.surcharges[0].amount"),
        ({"surcharges": [{"kind": "fuel", "percent": "5", "amount": "1"}]}, "pricing.surcharges[0].amount"),
        (
            {"surcharges": [{"kind": "fuel", "percent": "5", "zones": ["NORTH"]}]},
            "pricing.surcharges[0].zones",
        ),
        (
            {"surcharges": [{"kind": "remote", "amount": "5", "zones": ["MOON"]}]},
            "pricing.surcharges[0].zones[0]",
        ),
        ({"surcharges": [{"kind": "remote", "amount": "5"}]}, "pricing.surcharges[0].zones"),
        ({"surcharges": [{"kind": "oversize", "amount": "5"}]}, "pricing.surcharges[0].max_side_cm"),
        ({"surcharges": [{"kind": "weekend", "percent": 10.0}]}, "pricing.surcharges[0].percent"),
        ({"fuel": "12.5"}, "pricing.fuel"),
    ],
)
def test_a_wrong_rate_card_is_refused_naming_the_field(changes: dict[str, Any], path: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        build("zone_weight", card(**changes))
    assert [i.path for i in caught.value.issues] == [path]


@st.composite
def rate_cards(draw: st.DrawFn) -> dict[str, Any]:
    limits = sorted(draw(st.sets(st.integers(1, 40), max_size=5)))
    steps = draw(st.lists(st.decimals(0, 20, places=2), min_size=len(limits) + 1, max_size=len(limits) + 1))
    price, bands = D(0), []
    for limit, step in zip([*limits, None], steps, strict=True):
        price += step
        bands.append({"up_to_kg": None if limit is None else str(limit), "price": str(price)})
    bands[-1]["per_kg_over"] = str(draw(st.decimals(0, 5, places=2)))
    surcharges = draw(
        st.lists(
            st.sampled_from(
                [
                    {"kind": "fuel", "percent": "12.5"},
                    {"kind": "remote", "zones": ["NORTH"], "amount": "8"},
                    {"kind": "oversize", "max_side_cm": "100", "amount": "15"},
                    {"kind": "weekend", "percent": "10"},
                ]
            ),
            max_size=4,
        )
    )
    return card(rates={"*": {"*": bands}}, surcharges=surcharges, volumetric_divisor="5000")


weights = st.decimals(min_value=0, max_value=80, places=3)


@given(rate_cards(), weights, weights, st.sampled_from([WEDNESDAY, SATURDAY]))
def test_a_heavier_parcel_never_costs_less(
    config: dict[str, Any], a: Decimal, b: Decimal, at: datetime
) -> None:
    lighter, heavier = sorted((a, b))
    for size in (None, (50, 40, 30), (110, 20, 20)):
        cheap = ship(config, weight=str(lighter), size=size, at=at).amount
        assert cheap <= ship(config, weight=str(heavier), size=size, at=at).amount
