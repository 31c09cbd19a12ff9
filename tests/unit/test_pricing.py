"""Price resolution, simple prices: the channel's price, the contract, the list price, or nothing.

(Mechanisms, channel lists and conversion have their own tests: test_pricing_engine.py.)"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import pytest

from legato.domain.catalog import Pricelist, PricelistKind, PricePolicy, Product
from legato.domain.pricing import PriceBook, PricingFailed, resolve_price

D = Decimal
TODAY = date(2026, 3, 1)
WIDGET = Product(sku="WIDGET", name="Widget", prices={"GBP": D("10.00"), "EUR": D("12.00")})


@dataclass(frozen=True)
class PricedUnit:
    unit_price: Decimal
    source: str


def contract(
    kind: PricelistKind = PricelistKind.FIXED,
    currency: str = "GBP",
    items: dict[str, Decimal] | None = None,
    percent_off: str = "0",
    valid_from: date | None = None,
    valid_to: date | None = None,
) -> Pricelist:
    return Pricelist(
        code="ACME-2026",
        name="Acme contract",
        currency=currency,
        kind=kind,
        percent_off=D(percent_off),
        items={"WIDGET": D("8.00")} if items is None else items,
        valid_from=valid_from,
        valid_to=valid_to,
    )


def resolve(
    *,
    currency: str = "GBP",
    sent: str | None = None,
    policy: PricePolicy = PricePolicy.CATALOG,
    pricelist: Pricelist | None = None,
    product: Product = WIDGET,
    on: date = TODAY,
) -> PricedUnit | None:
    book = PriceBook(currency=currency, base_currency="GBP", contract=pricelist)
    try:
        priced = resolve_price(
            book, product, D(1), inputs={}, sent_price=None if sent is None else D(sent),
            policy=policy, on=on, path="lines[0]",
        )  # fmt: skip
    except PricingFailed as exc:
        assert [i.code for i in exc.issues] == ["price_not_found"]
        return None
    assert priced.charge is None  # a simple price: quantity x unit price
    return PricedUnit(priced.unit_price, priced.source)


# --- the channel's price --------------------------------------------------------------------------


def test_a_trusted_channel_keeps_the_price_it_sent() -> None:
    assert resolve(sent="9.99", policy=PricePolicy.TRUST) == PricedUnit(D("9.99"), "channel")


def test_a_trusted_price_wins_even_over_a_contract() -> None:
    assert resolve(sent="9.99", policy=PricePolicy.TRUST, pricelist=contract()) == PricedUnit(
        D("9.99"), "channel"
    )


def test_a_trusted_channel_that_sends_no_price_gets_the_catalogue_price() -> None:
    assert resolve(policy=PricePolicy.TRUST) == PricedUnit(D("10.00"), "product")
    assert resolve(policy=PricePolicy.TRUST, pricelist=contract()) == PricedUnit(
        D("8.00"), "contract:ACME-2026"
    )


def test_a_catalogue_channel_ignores_the_price_it_sent() -> None:
    assert resolve(sent="0.01", policy=PricePolicy.CATALOG) == PricedUnit(D("10.00"), "product")


def test_a_trusted_zero_price_is_kept() -> None:
    assert resolve(sent="0", policy=PricePolicy.TRUST) == PricedUnit(D("0"), "channel")


# --- the list price -------------------------------------------------------------------------------


def test_the_list_price_in_the_order_currency_is_used() -> None:
    assert resolve(currency="EUR") == PricedUnit(D("12.00"), "product")


def test_no_price_in_the_order_currency_leaves_the_line_unpriced() -> None:
    assert resolve(currency="USD") is None
    assert resolve(currency="USD", sent="5.00", policy=PricePolicy.CATALOG) is None


# --- the contract ---------------------------------------------------------------------------------


def test_a_contract_fixed_price_wins_over_the_list_price() -> None:
    assert resolve(pricelist=contract()) == PricedUnit(D("8.00"), "contract:ACME-2026")


def test_a_fixed_contract_that_does_not_list_the_sku_falls_back_to_the_list_price() -> None:
    assert resolve(pricelist=contract(items={"GADGET": D("1.00")})) == PricedUnit(D("10.00"), "product")


def test_a_contract_prices_a_sku_that_has_no_list_price_in_that_currency() -> None:
    special = Product(sku="WIDGET", name="Widget", prices={})
    assert resolve(product=special, pricelist=contract()) == PricedUnit(D("8.00"), "contract:ACME-2026")


def test_a_percent_off_contract_discounts_the_list_price() -> None:
    pricelist = contract(PricelistKind.PERCENT_OFF, items={}, percent_off="12.5")
    priced = resolve(pricelist=pricelist)
    assert priced is not None
    assert priced.unit_price == D("8.75")
    assert priced.source == "contract:ACME-2026:-12.5%"


def test_a_percent_off_contract_still_honours_its_fixed_items() -> None:
    pricelist = contract(PricelistKind.PERCENT_OFF, percent_off="50")
    assert resolve(pricelist=pricelist) == PricedUnit(D("8.00"), "contract:ACME-2026")


def test_a_percent_off_contract_cannot_price_a_sku_without_a_list_price() -> None:
    special = Product(sku="WIDGET", name="Widget", prices={"EUR": D("12.00")})
    pricelist = contract(PricelistKind.PERCENT_OFF, items={}, percent_off="10")
    assert resolve(product=special, pricelist=pricelist) is None


def test_a_fixed_contract_ignores_its_percent_off_field() -> None:
    assert resolve(pricelist=contract(items={}, percent_off="50")) == PricedUnit(D("10.00"), "product")


@pytest.mark.parametrize("percent", ["10", "20", "10.0000", "100"])
def test_a_whole_percentage_is_written_plainly_in_the_price_source(percent: str) -> None:
    priced = resolve(pricelist=contract(PricelistKind.PERCENT_OFF, items={}, percent_off=percent))
    assert priced is not None
    assert priced.source == f"contract:ACME-2026:-{int(D(percent))}%"


def test_a_contract_in_another_currency_is_ignored() -> None:
    assert resolve(pricelist=contract(currency="EUR")) == PricedUnit(D("10.00"), "product")
    pricelist = contract(PricelistKind.PERCENT_OFF, currency="EUR", items={}, percent_off="50")
    assert resolve(pricelist=pricelist) == PricedUnit(D("10.00"), "product")


@pytest.mark.parametrize(
    ("valid_from", "valid_to"),
    [(date(2026, 3, 2), None), (None, date(2026, 2, 28)), (date(2025, 1, 1), date(2025, 12, 31))],
)
def test_a_contract_outside_its_validity_dates_is_ignored(
    valid_from: date | None, valid_to: date | None
) -> None:
    pricelist = contract(valid_from=valid_from, valid_to=valid_to)
    assert resolve(pricelist=pricelist) == PricedUnit(D("10.00"), "product")


@pytest.mark.parametrize(
    ("valid_from", "valid_to"),
    [(TODAY, None), (None, TODAY), (TODAY, TODAY), (date(2026, 1, 1), date(2026, 12, 31)), (None, None)],
)
def test_a_contract_is_in_force_from_its_first_to_its_last_day_inclusive(
    valid_from: date | None, valid_to: date | None
) -> None:
    pricelist = contract(valid_from=valid_from, valid_to=valid_to)
    assert pricelist.in_force(TODAY)
    assert resolve(pricelist=pricelist) == PricedUnit(D("8.00"), "contract:ACME-2026")


def test_a_percent_off_price_is_rounded_to_the_currency_minor_unit() -> None:
    pricelist = contract(PricelistKind.PERCENT_OFF, currency="EUR", items={}, percent_off="12")
    special = Product(sku="WIDGET", name="Widget", prices={"EUR": D("32.95")})
    assert resolve(currency="EUR", product=special, pricelist=pricelist) == PricedUnit(
        D("29.00"), "contract:ACME-2026:-12%"
    )
