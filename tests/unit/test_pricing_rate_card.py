"""Custom rate card: values from attributes or bands, the most specific row, surcharges in order."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from legato.domain.errors import ValidationFailed
from legato.domain.pricing.mechanisms import Charge, PriceInputs, build

D = Decimal
WEIGHT = {"input": "weight_kg", "bands": [{"up_to": "1", "label": "0-1"}, {"up_to": None, "label": "1+"}]}
CARD: dict[str, Any] = {
    "variables": ["zone", "weight_band", "service"],
    "bands": {"weight_band": WEIGHT},
    "rows": [
        {"zone": "A", "weight_band": "0-1", "service": "express", "price": "9.00"},
        {"zone": "A", "weight_band": "*", "service": "*", "price": "6.00"},
        {"zone": "*", "weight_band": "1+", "service": "*", "price": "15.00"},
        {"zone": "*", "weight_band": "*", "service": "express", "price": "12.00"},
    ],
}


def card(**changes: Any) -> dict[str, Any]:
    return {**CARD, **changes}


def quote(
    config: dict[str, Any],
    zone: str | None = "A",
    service: str | None = "express",
    weight: str | None = "0.5",
    quantity: str = "1",
    product_weight: str | None = None,
    distance: str | None = None,
) -> Charge:
    attributes = {k: v for k, v in (("zone", zone), ("service", service)) if v is not None}
    inputs = PriceInputs(
        D(quantity),
        attributes=attributes,
        weight_kg=None if weight is None else D(weight),
        distance_km=None if distance is None else D(distance),
    )
    return build("rate_card", config).price(
        inputs, None if product_weight is None else D(product_weight), None
    )


def test_an_exact_row_wins_over_wildcards() -> None:
    charge = quote(CARD)
    assert charge.amount == D("9.00")
    assert charge.parts[0].label == "zone=A, weight_band=0-1, service=express"
    assert charge.inputs == {
        "zone": "A",
        "weight_band": "0-1",
        "service": "express",
        "weight_kg": "0.5",
        "quantity": "1",
    }


def test_the_row_with_more_exact_values_wins_and_a_tie_goes_to_the_earlier_variable() -> None:
    assert quote(CARD, service="standard").amount == D("6.00")  # A/*/* is the only match
    assert quote(CARD, zone="A", weight="3", service="standard").amount == D("6.00")  # A/*/* beats */1+/*
    assert quote(CARD, zone="B", weight="3").amount == D("15.00")  # */1+/* beats */*/express
    assert quote(CARD, zone="B", weight="0.2").amount == D("12.00")


def test_no_matching_row_is_refused_naming_the_values_looked_up() -> None:
    with pytest.raises(ValidationFailed) as caught:
        quote(CARD, zone="B", service="standard")
    issue = caught.value.issues[0]
    assert (issue.path, issue.code) == ("inputs.attributes", "no_rate")
    assert issue.value == {"zone": "B", "weight_band": "0-1", "service": "standard"}
    assert "zone='B', weight_band='0-1', service='standard'" in issue.message


def test_base_and_surcharges_apply_in_order_on_the_unit_price_then_the_quantity_multiplies() -> None:
    config = card(
        base="1.00",
        surcharges=[
            {"percent": "10", "when": {"service": "express"}},
            {"amount": "2.00", "when": {"zone": "A", "weight_band": "0-1"}},
            {"percent": "50", "when": {"zone": "B"}},
            {"amount": "0.50"},
        ],
    )
    one = quote(config)
    assert one.amount == (D("9.00") + 1) * D("1.1") + 2 + D("0.50")
    assert [p.label for p in one.parts][2:] == [
        "surcharge (service=express) 10%",
        "surcharge (zone=A, weight_band=0-1)",
        "surcharge (always)",
    ]
    two = quote(config, quantity="2")
    assert two.amount == 2 * one.amount
    assert sum(p.amount for p in two.parts) == two.amount


def test_a_banded_variable_takes_the_lines_weight_else_the_products() -> None:
    assert quote(CARD, zone="B", weight=None, product_weight="4").amount == D("15.00")
    assert quote(CARD, zone="B", weight="1", product_weight="4").amount == D("12.00")
    for weight in (None, "-0.5"):
        with pytest.raises(ValidationFailed) as caught:
            quote(CARD, weight=weight)
        assert caught.value.issues[0].path == "inputs.weight_kg"


def test_distance_and_quantity_can_be_banded_too_and_a_value_above_a_closed_band_is_refused() -> None:
    config = {
        "variables": ["km", "size"],
        "bands": {
            "km": {"input": "distance_km", "bands": [{"up_to": "10", "label": "local"}]},
            "size": {
                "input": "quantity",
                "bands": [{"up_to": "9", "label": "few"}, {"up_to": None, "label": "many"}],
            },
        },
        "rows": [{"km": "local", "size": "few", "price": "3"}, {"km": "local", "size": "many", "price": "2"}],
    }
    assert quote(config, distance="4", quantity="12").amount == 12 * D(2)
    assert quote(config, distance="4", quantity="3").inputs["size"] == "few"
    for distance in (None, "10.5"):
        with pytest.raises(ValidationFailed) as caught:
            quote(config, distance=distance)
        assert caught.value.issues[0].path == "inputs.distance_km"


def test_a_missing_attribute_is_refused_naming_it() -> None:
    with pytest.raises(ValidationFailed) as caught:
        quote(CARD, service=None)
    assert caught.value.issues[0].path == "inputs.attributes.service"


ROW = {"zone": "A", "weight_band": "0-1", "service": "x", "price": "1"}


@pytest.mark.parametrize(
    ("changes", "path"),
    [
        ({"variables": None}, "pricing.variables"),
        ({"variables": []}, "pricing.variables"),
        ({"variables": ["zone", "zone"]}, "pricing.variables[1]"),
        ({"variables": ["price"]}, "pricing.variables[0]"),
        ({"variables": ["zone", 3]}, "pricing.variables[1]"),
        ({"bands": {"size": WEIGHT}}, "pricing.bands.size"),
        ({"bands": {"weight_band": {**WEIGHT, "input": "height"}}}, "pricing.bands.weight_band.input"),
        (
            {"bands": {"weight_band": {**WEIGHT, "bands": list(reversed(WEIGHT["bands"]))}}},
            "pricing.bands.weight_band.bands[1].up_to",
        ),
        (
            {
                "bands": {
                    "weight_band": {
                        **WEIGHT,
                        "bands": [{"up_to": "1", "label": "a"}, {"up_to": "2", "label": "a"}],
                    }
                }
            },
            "pricing.bands.weight_band.bands[1].label",
        ),
        (
            {"bands": {"weight_band": {**WEIGHT, "bands": [{"up_to": "1", "label": "*"}]}}},
            "pricing.bands.weight_band.bands[0].label",
        ),
        (
            {"bands": {"weight_band": {**WEIGHT, "bands": [{"label": "a"}]}}},
            "pricing.bands.weight_band.bands[0].up_to",
        ),
        ({"rows": []}, "pricing.rows"),
        ({"rows": [{"zone": "A", "weight_band": "0-1", "price": "1"}]}, "pricing.rows[0].service"),
        ({"rows": [{**ROW, "colour": "red"}]}, "pricing.rows[0].colour"),
        ({"rows": [{**ROW, "weight_band": "heavy"}]}, "pricing.rows[0].weight_band"),
        ({"rows": [ROW, {**ROW, "price": "2"}]}, "pricing.rows[1]"),
        ({"rows": [{**ROW, "price": 1.5}]}, "pricing.rows[0].price"),
        ({"rows": [{**ROW, "zone": ""}]}, "pricing.rows[0].zone"),
        ({"surcharges": [{"percent": "5", "when": {"colour": "red"}}]}, "pricing.surcharges[0].when.colour"),
        (
            {"surcharges": [{"percent": "5", "when": {"weight_band": "heavy"}}]},
            "pricing.surcharges[0].when.weight_band",
        ),
        ({"surcharges": [{"percent": "5", "amount": "1"}]}, "pricing.surcharges[0].amount"),
        ({"surcharges": [{"percent": "5", "if": {}}]}, "pricing.surcharges[0].if"),
        ({"base": 1.0}, "pricing.base"),
        ({"default": "5"}, "pricing.default"),
    ],
)
def test_a_wrong_rate_card_is_refused_naming_the_field(changes: dict[str, Any], path: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        build("rate_card", card(**changes))
    assert [i.path for i in caught.value.issues] == [path]


# --- property: the row chosen is the one a plain reading of the rule picks, in any row order ----------

VALUES = ("a", "b", "*")


@st.composite
def tables(draw: st.DrawFn) -> tuple[list[dict[str, str]], dict[str, str]]:
    keys = draw(st.lists(st.tuples(*[st.sampled_from(VALUES)] * 3), min_size=1, max_size=20, unique=True))
    rows = [{"x": x, "y": y, "z": z, "price": str(i + 1)} for i, (x, y, z) in enumerate(keys)]
    wanted = dict(zip("xyz", draw(st.tuples(*[st.sampled_from(VALUES[:2])] * 3)), strict=True))
    return draw(st.permutations(rows)), wanted


@given(tables())
def test_the_most_specific_row_wins_whatever_the_order_of_the_rows(
    table: tuple[list[dict[str, str]], dict[str, str]],
) -> None:
    rows, wanted = table
    matching = [r for r in rows if all(r[v] in ("*", wanted[v]) for v in "xyz")]
    config = {"variables": ["x", "y", "z"], "rows": rows}
    inputs = PriceInputs(D(1), attributes=wanted)
    if not matching:
        with pytest.raises(ValidationFailed):
            build("rate_card", config).price(inputs, None, None)
        return
    best = max(matching, key=lambda r: (sum(r[v] != "*" for v in "xyz"), [r[v] != "*" for v in "xyz"]))
    assert build("rate_card", config).price(inputs, None, None).amount == D(best["price"])
