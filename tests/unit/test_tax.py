"""Tax rates by region and class, and line tax with prices that include tax or not."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from legato.domain.errors import ValidationFailed
from legato.domain.money import minor_units, round_amount
from legato.domain.tax import NO_RATE, TaxRate, TaxRules, line_tax

D = Decimal
RULES = TaxRules(
    [
        TaxRate("GB", "standard", D("0.20"), "VAT 20%"),
        TaxRate("GB", "reduced", D("0.05"), "VAT 5%"),
        TaxRate("GB", "zero", D(0), "VAT 0%"),
        TaxRate("US", "standard", D(0), "no federal sales tax"),
        TaxRate("US-CA", "standard", D("0.0725"), "CA sales tax"),
    ]
)


def test_the_most_specific_region_wins_and_a_region_may_be_given_either_way() -> None:
    assert RULES.rate_for("US", "CA", "standard") == RULES.rate_for("us", "US-CA", "standard")
    assert RULES.rate_for("US", "CA", "standard").rate == D("0.0725")  # type: ignore[union-attr]
    assert RULES.rate_for("US", "NY", "standard").name == "no federal sales tax"  # type: ignore[union-attr]
    assert RULES.rate_for("GB", None, "reduced").rate == D("0.05")  # type: ignore[union-attr]


def test_there_is_no_fallback_from_one_tax_class_to_another() -> None:
    assert RULES.rate_for("US", "CA", "reduced") is None
    assert RULES.rate_for("DE", None, "standard") is None
    none = RULES.resolve("DE", None, "standard")
    assert (none.rate, none.name, none.region) == (D(0), NO_RATE, "DE")
    assert RULES.resolve("GB", None, None).name == "VAT 20%"  # a product without a class is standard


def test_exclusive_adds_the_tax_and_inclusive_takes_it_out_of_the_price() -> None:
    assert line_tax(D("10.00"), D("0.20"), inclusive=False, currency="GBP") == (
        D("10.00"),
        D("2.00"),
        D("12.00"),
    )
    assert line_tax(D("12.00"), D("0.20"), inclusive=True, currency="GBP") == (
        D("10.00"),
        D("2.00"),
        D("12.00"),
    )
    assert line_tax(D("9.99"), D("0.20"), inclusive=True, currency="GBP") == (D("8.32"), D("1.67"), D("9.99"))
    assert line_tax(D("1000"), D("0.10"), inclusive=True, currency="JPY") == (D(909), D(91), D(1000))
    assert line_tax(D("0.125"), D("0.20"), inclusive=False, currency="GBP", rounding="half_even") == (
        D("0.12"),
        D("0.02"),
        D("0.14"),
    )


def test_a_bad_rate_names_each_field_and_two_rates_for_one_place_and_class_are_refused() -> None:
    with pytest.raises(ValidationFailed) as err:
        TaxRate("gb", "Standard", 0.2, "")  # type: ignore[arg-type]
    assert {i.path for i in err.value.issues} == {"region", "tax_class", "rate", "name"}
    with pytest.raises(ValidationFailed) as err:
        TaxRate("GB", "standard", D("1.5"), "too much")
    assert err.value.issues[0].code == "out_of_range"
    with pytest.raises(ValidationFailed, match="two rates for GB standard"):
        TaxRules([TaxRate("GB", "standard", D("0.2"), "a"), TaxRate("GB", "standard", D("0.1"), "b")])


amounts = st.integers(0, 10**9).map(lambda n: D(n) / 1000)
rates = st.integers(0, 10**6).map(lambda n: D(n) / 10**6)
currencies = st.sampled_from(["GBP", "JPY", "KWD", "USD"])
roundings = st.sampled_from(["half_up", "half_even"])


@given(amounts, rates, st.booleans(), currencies, roundings)
def test_net_plus_tax_is_the_gross_always(amount: D, rate: D, inclusive: bool, currency: str, r: str) -> None:
    net, tax, gross = line_tax(amount, rate, inclusive=inclusive, currency=currency, rounding=r)
    assert net + tax == gross
    assert all(x == round_amount(x, currency) for x in (net, tax, gross))
    assert tax >= 0


@given(amounts, rates, currencies, roundings)
def test_inclusive_and_exclusive_prices_agree_within_one_minor_unit(
    amount: D, rate: D, cur: str, r: str
) -> None:
    net, _, gross = line_tax(amount, rate, inclusive=False, currency=cur, rounding=r)
    back, _, same_gross = line_tax(gross, rate, inclusive=True, currency=cur, rounding=r)
    assert same_gross == gross
    assert abs(back - net) <= D(1).scaleb(-minor_units(cur))
