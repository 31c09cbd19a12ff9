"""Money, rounding to the currency's minor unit, and order totals as sums of rounded parts."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from legato.domain.errors import UnknownCurrency, ValidationFailed
from legato.domain.money import ROUNDING_MODES, Money, check_currency, minor_units, round_amount
from legato.domain.order import OrderLine, Totals, compute_totals, price_line

D = Decimal
CURRENCIES = ["USD", "EUR", "GBP", "JPY", "KWD"]


def quantum(currency: str) -> Decimal:
    return D(1).scaleb(-minor_units(currency))


def is_rounded(amount: Decimal, currency: str) -> bool:
    return amount.quantize(quantum(currency)) == amount


def line(
    no: int = 1,
    quantity: str = "1",
    unit_price: str = "0",
    discount: str = "0",
    tax_rate: str = "0",
    status: str = "open",
) -> OrderLine:
    return OrderLine(
        line_no=no,
        sku=f"SKU-{no}",
        name=f"Item {no}",
        quantity=D(quantity),
        unit_price=D(unit_price),
        price_source="product",
        discount=D(discount),
        tax_rate=D(tax_rate),
        status=status,
    )


# --- minor units and rounding ---------------------------------------------------------------------


@pytest.mark.parametrize(("currency", "digits"), [("JPY", 0), ("KWD", 3), ("USD", 2), ("EUR", 2), ("GBP", 2)])
def test_each_currency_rounds_to_its_own_minor_unit(currency: str, digits: int) -> None:
    assert minor_units(currency) == digits
    assert round_amount(D("1"), currency).as_tuple().exponent == -digits


@pytest.mark.parametrize(
    ("amount", "currency", "half_up", "half_even"),
    [
        ("0.125", "USD", "0.13", "0.12"),
        ("0.135", "USD", "0.14", "0.14"),
        ("0.005", "EUR", "0.01", "0.00"),
        ("0.015", "GBP", "0.02", "0.02"),
        ("2.5", "JPY", "3", "2"),
        ("3.5", "JPY", "4", "4"),
        ("0.0005", "KWD", "0.001", "0.000"),
        ("1.2345", "KWD", "1.235", "1.234"),
        ("-0.125", "USD", "-0.13", "-0.12"),
        ("-2.5", "JPY", "-3", "-2"),
    ],
)
def test_ties_round_half_up_or_half_even_as_named(
    amount: str, currency: str, half_up: str, half_even: str
) -> None:
    assert str(round_amount(D(amount), currency)) == half_up
    assert str(round_amount(D(amount), currency, "half_up")) == half_up
    assert str(round_amount(D(amount), currency, "half_even")) == half_even


@pytest.mark.parametrize("mode", sorted(ROUNDING_MODES))
def test_amounts_that_are_not_ties_round_the_same_in_every_mode(mode: str) -> None:
    assert round_amount(D("0.1249"), "USD", mode) == D("0.12")
    assert round_amount(D("0.1251"), "USD", mode) == D("0.13")
    assert round_amount(D("2.49"), "JPY", mode) == D("2")


def test_the_rounding_modes_are_half_up_and_half_even() -> None:
    assert set(ROUNDING_MODES) == {"half_up", "half_even"}


@pytest.mark.parametrize("code", ["ZZZ", "usd", "US", "USDX", "", "€"])
def test_an_unknown_currency_raises_unknown_currency(code: str) -> None:
    with pytest.raises(UnknownCurrency) as caught:
        minor_units(code)
    assert isinstance(caught.value, ValidationFailed)
    assert caught.value.code == "unknown_currency"
    with pytest.raises(UnknownCurrency):
        round_amount(D("1"), code)
    with pytest.raises(UnknownCurrency):
        Money(D("1"), code)


def test_check_currency_returns_a_known_code_unchanged() -> None:
    assert check_currency("KWD") == "KWD"
    with pytest.raises(UnknownCurrency):
        check_currency(None)  # type: ignore[arg-type]


# --- Money ----------------------------------------------------------------------------------------


def test_money_refuses_a_float_amount() -> None:
    with pytest.raises(TypeError):
        Money(0.1, "USD")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Money("0.10", "USD")  # type: ignore[arg-type]


def test_money_refuses_to_be_multiplied_by_a_float() -> None:
    with pytest.raises(TypeError):
        Money(D("1.00"), "USD") * 1.5  # type: ignore[operator]


def test_money_accepts_an_int_and_keeps_it_as_a_decimal() -> None:
    money = Money(3, "JPY")  # type: ignore[arg-type]
    assert isinstance(money.amount, Decimal)
    assert money == Money(D("3"), "JPY")


@pytest.mark.parametrize("op", ["add", "sub"])
def test_money_refuses_to_mix_currencies(op: str) -> None:
    usd, eur = Money(D("1.00"), "USD"), Money(D("1.00"), "EUR")
    with pytest.raises(ValueError, match="USD"):
        usd + eur if op == "add" else usd - eur


def test_money_refuses_to_add_a_bare_number() -> None:
    with pytest.raises(TypeError):
        Money(D("1.00"), "USD") + D("1.00")  # type: ignore[operator]


def test_money_arithmetic_keeps_the_currency_and_full_precision() -> None:
    a, b = Money(D("1.005"), "USD"), Money(D("2.5"), "USD")
    assert a + b == Money(D("3.505"), "USD")
    assert b - a == Money(D("1.495"), "USD")
    assert a * 3 == 3 * a == Money(D("3.015"), "USD")
    assert a * D("0.5") == Money(D("0.5025"), "USD")
    assert -a == Money(D("-1.005"), "USD")
    assert Money.zero("KWD") == Money(D(0), "KWD")


def test_money_rounds_only_when_asked_and_prints_rounded() -> None:
    money = Money(D("0.125"), "USD")
    assert money.amount == D("0.125")
    assert money.rounded() == Money(D("0.13"), "USD")
    assert money.rounded("half_even") == Money(D("0.12"), "USD")
    assert str(money) == "0.13 USD"
    assert str(Money(D("1234.5"), "JPY")) == "1235 JPY"
    assert str(Money(D("1"), "KWD")) == "1.000 KWD"


@pytest.mark.parametrize("amount", ["NaN", "Infinity", "-Infinity", "sNaN"])
def test_money_refuses_an_amount_that_is_not_a_finite_number(amount: str) -> None:
    with pytest.raises((TypeError, ValueError)):
        Money(D(amount), "USD")


# --- line pricing ---------------------------------------------------------------------------------


def test_a_line_rounds_its_amount_then_taxes_the_discounted_amount() -> None:
    priced = price_line(line(quantity="3", unit_price="0.335", discount="0.5", tax_rate="0.2"), "USD")
    assert priced.amount == D("1.01")  # 1.005 half-up
    assert priced.discount == D("0.50")
    assert priced.tax == D("0.10")  # 0.51 x 20 % = 0.102
    assert priced.total == D("0.61")


def test_a_line_priced_half_even_rounds_ties_to_even() -> None:
    priced = price_line(line(quantity="3", unit_price="0.335"), "USD", "half_even")
    assert priced.amount == D("1.00")


def test_a_discount_never_exceeds_the_line_amount() -> None:
    priced = price_line(line(quantity="1", unit_price="5", discount="9.99", tax_rate="0.2"), "GBP")
    assert priced.discount == priced.amount == D("5.00")
    assert priced.tax == D("0.00")
    assert priced.total == D("0.00")


def test_a_yen_line_has_no_decimals() -> None:
    priced = price_line(line(quantity="3", unit_price="333.5", tax_rate="0.1"), "JPY")
    assert (priced.amount, priced.tax, priced.total) == (D("1001"), D("100"), D("1101"))


def test_totals_exclude_cancelled_lines() -> None:
    lines = [
        price_line(line(1, "2", "10.00", tax_rate="0.2"), "GBP"),
        price_line(line(2, "1", "99.99", tax_rate="0.2", status="cancelled"), "GBP"),
    ]
    totals = compute_totals(lines, "GBP", shipping=D("4.99"), shipping_tax_rate=D("0.2"))
    assert totals == Totals(
        subtotal=D("20.00"), discount=D("0"), shipping=D("4.99"), tax=D("5.00"), grand_total=D("29.99")
    )


def test_totals_of_no_lines_are_zero() -> None:
    assert compute_totals([], "EUR") == Totals()


def test_shipping_is_rounded_before_it_is_taxed() -> None:
    totals = compute_totals([], "USD", shipping=D("0.125"), shipping_tax_rate=D("0.5"))
    assert totals.shipping == D("0.13")
    assert totals.tax == D("0.07")  # 0.13 x 50 % = 0.065 -> 0.07, not 0.0625 -> 0.06
    assert totals.grand_total == D("0.20")


# --- properties -----------------------------------------------------------------------------------

amounts = st.decimals(min_value=0, max_value=10_000, places=4, allow_nan=False, allow_infinity=False)
rates = st.sampled_from([D("0"), D("0.05"), D("0.075"), D("0.0825"), D("0.19"), D("0.2"), D("0.25")])
raw_lines = st.lists(
    st.builds(
        line,
        no=st.integers(1, 999),
        quantity=st.decimals(min_value=0, max_value=1_000, places=3).map(str),
        unit_price=amounts.map(str),
        discount=st.decimals(min_value=0, max_value=500, places=4).map(str),
        tax_rate=rates.map(str),
        status=st.sampled_from(["open", "open", "cancelled"]),
    ),
    max_size=8,
)


@settings(max_examples=200, deadline=None)
@given(
    raw=raw_lines,
    currency=st.sampled_from(CURRENCIES),
    rounding=st.sampled_from(sorted(ROUNDING_MODES)),
    shipping=st.decimals(min_value=0, max_value=500, places=4),
    shipping_tax_rate=rates,
)
def test_totals_are_sums_of_rounded_parts(
    raw: list[OrderLine], currency: str, rounding: str, shipping: Decimal, shipping_tax_rate: Decimal
) -> None:
    lines = [price_line(ln, currency, rounding) for ln in raw]
    totals = compute_totals(lines, currency, shipping, shipping_tax_rate, rounding)
    live = [ln for ln in lines if ln.status != "cancelled"]

    ship = round_amount(shipping, currency, rounding)
    ship_tax = round_amount(ship * shipping_tax_rate, currency, rounding)
    assert totals.grand_total == sum((ln.total for ln in live), D(0)) + ship + ship_tax
    assert totals.subtotal - totals.discount + totals.shipping + totals.tax == totals.grand_total
    assert totals.subtotal == sum((ln.amount for ln in live), D(0))
    assert totals.discount == sum((ln.discount for ln in live), D(0))
    assert totals.shipping == ship
    assert totals.tax == sum((ln.tax for ln in live), D(0)) + ship_tax
    for figure in totals.as_dict().values():
        assert is_rounded(figure, currency)
    for ln in lines:
        assert all(is_rounded(x, currency) for x in (ln.amount, ln.discount, ln.tax, ln.total))
        assert D(0) <= ln.discount <= ln.amount
        assert ln.total == ln.amount - ln.discount + ln.tax


@settings(max_examples=200, deadline=None)
@given(raw=raw_lines, currency=st.sampled_from(CURRENCIES), shipping=st.decimals(0, 500, places=4))
def test_cancelled_lines_never_count_towards_the_totals(
    raw: list[OrderLine], currency: str, shipping: Decimal
) -> None:
    lines = [price_line(ln, currency) for ln in raw]
    live_only = [ln for ln in lines if ln.status != "cancelled"]
    assert compute_totals(lines, currency, shipping) == compute_totals(live_only, currency, shipping)


@settings(max_examples=200, deadline=None)
@given(
    amount=st.decimals(min_value=-1_000_000, max_value=1_000_000, places=6),
    currency=st.sampled_from(CURRENCIES),
    rounding=st.sampled_from(sorted(ROUNDING_MODES)),
)
def test_rounding_lands_on_the_minor_unit_within_half_a_unit_and_is_idempotent(
    amount: Decimal, currency: str, rounding: str
) -> None:
    rounded = round_amount(amount, currency, rounding)
    assert rounded.as_tuple().exponent == -minor_units(currency)
    assert abs(rounded - amount) <= quantum(currency) / 2
    assert round_amount(rounded, currency, rounding) == rounded
