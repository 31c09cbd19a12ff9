"""Price resolution beyond simple prices: mechanisms, contracted and channel lists, conversion."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from legato.domain.catalog import Pricelist, PricelistKind, PricePolicy, Product
from legato.domain.pricing import Conversion, PriceBook, Priced, PricingFailed, resolve_price

D = Decimal
TODAY = date(2026, 11, 23)

SLABS_EUR = {
    "mode": "graduated",
    "bands": [
        {"up_to": "10", "price": "5.00"},
        {"up_to": "50", "price": "4.50"},
        {"up_to": None, "price": "4.00"},
    ],
}
BOLTS = Product(sku="BOLT", name="Bolt", pricing={"mechanism": "slabs", "currencies": {"EUR": SLABS_EUR}})
WIDGET = Product(sku="WIDGET", name="Widget", prices={"EUR": D("10.00")})


def price(
    product: Product,
    quantity: str = "1",
    *,
    currency: str = "EUR",
    contract: Pricelist | None = None,
    channel_list: Pricelist | None = None,
    inputs: dict[str, str] | None = None,
    convert: object = None,
    rule: object = None,
) -> Priced:
    book = PriceBook(currency, "EUR", contract, channel_list, convert, rule)  # type: ignore[arg-type]
    return resolve_price(
        book, product, D(quantity), inputs=inputs or {}, sent_price=None, policy=PricePolicy.CATALOG,
        on=TODAY, path="lines[0]",
    )  # fmt: skip


def test_a_slab_priced_product_keeps_the_mechanisms_charge_and_records_its_breakdown() -> None:
    priced = price(BOLTS, "25")
    assert priced.charge == D("117.50")  # 10 x 5.00 + 15 x 4.50
    assert priced.unit_price == D("4.70")
    assert priced.source == "product"
    assert priced.detail["mechanism"] == "slabs" and priced.detail["list"] == "base"
    assert sum(D(p["amount"]) for p in priced.detail["parts"]) == D("117.50")


def test_a_contract_with_its_own_slabs_beats_the_base_list() -> None:
    own = {"mechanism": "slabs", "mode": "volume", "bands": [{"up_to": None, "price": "3.00"}]}
    contract = Pricelist("ACME", "Acme", "EUR", item_pricing={"BOLT": own})
    priced = price(BOLTS, "25", contract=contract)
    assert (priced.charge, priced.source, priced.detail["list"]) == (D("75.00"), "contract:ACME", "ACME")


def test_a_percent_off_contract_applies_to_a_mechanisms_charge() -> None:
    contract = Pricelist("ACME", "Acme", "EUR", kind=PricelistKind.PERCENT_OFF, percent_off=D("10"))
    priced = price(BOLTS, "25", contract=contract)
    assert priced.charge == D("105.750")
    assert priced.source == "contract:ACME:-10%"


def test_the_contract_comes_before_the_channel_list_and_the_channel_list_before_the_base_list() -> None:
    contract = Pricelist("ACME", "Acme", "EUR", items={"WIDGET": D("7.00")})
    channel = Pricelist("WEB-EUR", "Web", "EUR", items={"WIDGET": D("9.00")}, channel_code="WEB")
    assert price(WIDGET, contract=contract, channel_list=channel).source == "contract:ACME"
    assert price(WIDGET, channel_list=channel).source == "channel_list:WEB-EUR"
    assert price(WIDGET, channel_list=channel).unit_price == D("9.00")
    other = Pricelist("ACME", "Acme", "EUR", items={"OTHER": D("1.00")})
    assert price(WIDGET, contract=other, channel_list=channel).source == "channel_list:WEB-EUR"


def test_a_list_out_of_force_or_in_another_currency_is_skipped() -> None:
    expired = Pricelist("OLD", "Old", "EUR", items={"WIDGET": D("1.00")}, valid_to=date(2026, 1, 1))
    dollars = Pricelist("USD", "USD", "USD", items={"WIDGET": D("1.00")})
    assert price(WIDGET, contract=expired).source == "product"
    assert price(WIDGET, channel_list=dollars).source == "product"


def _eur_to_usd(amount: Decimal, src: str, dst: str) -> tuple[Decimal, Conversion] | None:
    if (src, dst) != ("EUR", "USD"):
        return None
    return amount * D("1.10"), Conversion("EUR", D("1.10"), TODAY, "ecb", D(0), stale=False)


def test_a_price_missing_in_the_currency_is_converted_from_the_base_list_and_says_so() -> None:
    priced = price(WIDGET, currency="USD", convert=_eur_to_usd)
    assert priced.unit_price == D("11.00") and priced.charge is None
    assert priced.source == "converted:EUR"
    assert priced.detail["fx"]["rate"] == "1.10"
    assert priced.conversion is not None and priced.conversion.as_of == TODAY


def test_the_price_rule_shapes_a_converted_unit_price() -> None:
    def to_99(amount: Decimal, currency: str) -> Decimal:
        return amount.to_integral_value(rounding="ROUND_CEILING") - D("0.01")

    assert price(WIDGET, currency="USD", convert=_eur_to_usd, rule=to_99).unit_price == D("10.99")


def test_a_mechanisms_charge_is_converted_whole() -> None:
    priced = price(BOLTS, "25", currency="USD", convert=_eur_to_usd)
    assert priced.charge == D("129.2500")
    assert priced.detail["mechanism"] == "slabs"


def test_no_rate_names_the_line_and_both_currencies() -> None:
    with pytest.raises(PricingFailed) as caught:
        price(WIDGET, currency="GBP", convert=_eur_to_usd)
    (issue,) = caught.value.issues
    assert issue.path == "lines[0].sku" and issue.code == "rate_missing"
    assert "EUR->GBP" in issue.message


def test_a_product_without_a_price_in_the_currency_and_no_converter_is_not_priced() -> None:
    with pytest.raises(PricingFailed) as caught:
        price(WIDGET, currency="USD")
    assert [i.code for i in caught.value.issues] == ["price_not_found"]


def test_bad_inputs_are_named_by_their_path() -> None:
    with pytest.raises(PricingFailed) as caught:
        price(WIDGET, inputs={"start": "tomorrow", "distance_km": "-3", "length_cm": "10"})
    paths = sorted(i.path for i in caught.value.issues)
    # the lone length_cm: dimensions come as all three or none
    assert paths == ["lines[0].inputs", "lines[0].inputs.distance_km", "lines[0].inputs.start"]


def test_a_missing_mechanism_input_is_reported_under_the_line() -> None:
    rental = Product(
        sku="SCAFFOLD", name="Scaffold tower",
        pricing={"mechanism": "rental", "currencies": {"EUR": {"rates": {"day": "25.00"}}}},
    )  # fmt: skip
    with pytest.raises(PricingFailed) as caught:
        price(rental)
    assert all(i.path.startswith("lines[0].") for i in caught.value.issues)
    assert any("start" in i.path for i in caught.value.issues)


@given(st.integers(min_value=1, max_value=500))
def test_a_converted_simple_price_is_whole_minor_units(quantity: int) -> None:
    priced = price(WIDGET, str(quantity), currency="USD", convert=_eur_to_usd)
    assert priced.unit_price == priced.unit_price.quantize(D("0.01"))
