"""Rates, conversion, price rules and staleness (legato.domain.fx), with the worked examples
of docs/pricing/currency.md read out of the page itself."""

from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError as PydanticValidationError

from legato.config import Settings
from legato.domain.errors import ValidationFailed
from legato.domain.fx import (
    DEFAULT_MAX_AGE_DAYS,
    PriceRuleInvalid,
    Rate,
    RateMissing,
    RateStale,
    RateTable,
    apply_price_rule,
    check_fresh,
    check_price_rule,
    convert,
    is_stale,
    manual_rate,
    parse_ecb,
)
from legato.domain.money import minor_units, round_amount

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "pricing" / "currency.md"
ECB_DAILY = ROOT / "tests" / "fixtures" / "fx" / "eurofxref-daily.xml"
D = Decimal
FRI = date(2026, 11, 20)


def _ecb() -> RateTable:
    return RateTable(parse_ecb(ECB_DAILY.read_bytes()))


def _doc_table(first_header: str) -> list[dict[str, str]]:
    """The rows of the Markdown table in the doc whose first column is ``first_header``."""
    lines = DOC.read_text(encoding="utf-8").splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.startswith(f"| {first_header} |"))
    header = [c.strip() for c in lines[start].strip("|").split("|")]
    rows = []
    for ln in lines[start + 2 :]:
        if not ln.startswith("|"):
            break
        rows.append(dict(zip(header, (c.strip().strip("`") for c in ln.strip("|").split("|")), strict=True)))
    assert rows, first_header
    return rows


# --- rates and the table -------------------------------------------------------------------


def test_a_rate_refuses_floats_unknown_currencies_and_non_positive_values() -> None:
    with pytest.raises(TypeError, match="never a float"):
        Rate("EUR", "USD", 1.0845, FRI, "ecb")  # type: ignore[arg-type]
    with pytest.raises(ValidationFailed) as bad:
        Rate("EUR", "XYZ", D(0), FRI, "ecb")
    assert [(i.path, i.code) for i in bad.value.issues] == [
        ("quote", "unknown_currency"),
        ("rate", "invalid_rate"),
    ]
    with pytest.raises(ValidationFailed, match="always 1"):
        Rate("EUR", "EUR", D(2), FRI, "manual")


def test_the_table_finds_a_pair_directly_inverted_or_crossed_through_a_common_base() -> None:
    table = _ecb()
    assert table.rate("EUR", "USD") == Rate("EUR", "USD", D("1.0845"), FRI, "ecb")
    usd_eur = table.rate("USD", "EUR")
    assert usd_eur is not None and usd_eur.rate == D(1) / D("1.0845")
    gbp_usd = table.rate("GBP", "USD")
    assert gbp_usd is not None
    assert (gbp_usd.via, gbp_usd.provider) == ("EUR", "ecb")
    assert abs(gbp_usd.rate - D("1.0845") / D("0.87120")) < D("1e-24")


def test_a_cross_rate_is_dated_by_its_older_leg_and_names_both_providers() -> None:
    table = RateTable(
        [
            Rate("EUR", "USD", D("1.08"), date(2026, 11, 20), "ecb"),
            Rate("EUR", "AED", D("3.98"), date(2026, 11, 2), "manual"),
        ]
    )
    cross = table.rate("USD", "AED")
    assert cross is not None
    assert (cross.as_of, cross.provider, cross.via) == (date(2026, 11, 2), "ecb+manual", "EUR")


def test_the_newest_rate_of_a_pair_wins_and_the_same_currency_is_always_one() -> None:
    table = RateTable(
        [Rate("EUR", "USD", D("1.07"), date(2026, 11, 19), "ecb"), Rate("EUR", "USD", D("1.08"), FRI, "ecb")]
    )
    assert [r.rate for r in table.rates] == [D("1.08")]
    same = table.rate("JPY", "JPY")
    assert same is not None and same.rate == 1 and not is_stale(same, date(2100, 1, 1), 1)


def test_no_path_between_two_currencies_means_no_rate() -> None:
    table = RateTable(
        [Rate("EUR", "USD", D("1.08"), FRI, "ecb"), Rate("GBP", "AED", D("4.6"), FRI, "manual")]
    )
    assert table.rate("USD", "AED") is None


# --- conversion ----------------------------------------------------------------------------


def test_conversion_applies_the_margin_unrounded_and_none_for_the_same_currency() -> None:
    table = _ecb()
    done = convert(D("100.00"), "EUR", "USD", table, margin_percent=D(2))
    assert done.amount == D("110.619") and done.rate.rate == D("1.0845") and done.margin_percent == 2
    same = convert(D("100.00"), "EUR", "EUR", table, margin_percent=D(2))
    assert (same.amount, same.margin_percent) == (D("100.00"), 0)


def test_a_missing_rate_is_a_validation_error_at_the_currency() -> None:
    with pytest.raises(RateMissing) as missing:
        convert(D(10), "EUR", "AED", _ecb())
    assert missing.value.code == "rate_missing"
    assert [(i.path, i.code, i.value) for i in missing.value.issues] == [("currency", "rate_missing", "AED")]
    assert isinstance(missing.value, ValidationFailed)


def test_conversion_refuses_floats_and_a_margin_that_would_erase_the_price() -> None:
    with pytest.raises(TypeError):
        convert(10.0, "EUR", "USD", _ecb())  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        convert(D(10), "EUR", "USD", _ecb(), margin_percent=2.5)  # type: ignore[arg-type]
    with pytest.raises(ValidationFailed, match="zero or negative"):
        convert(D(10), "EUR", "USD", _ecb(), margin_percent=D(-100))


@pytest.mark.parametrize("row", _doc_table("base price"), ids=lambda r: f"{r['from']}-{r['to']}-{r['rule']}")
def test_the_worked_examples_of_the_currency_page_hold(row: dict[str, str]) -> None:
    done = convert(D(row["base price"]), row["from"], row["to"], _ecb(), margin_percent=D(row["margin %"]))
    shown = row["converted"]  # "56.017561…": the first digits of a long one
    assert str(done.amount).startswith(shown[:-1]) if shown.endswith("…") else done.amount == D(shown)
    assert apply_price_rule(done.amount, row["to"], row["rule"]) == D(row["price"])
    assert str(apply_price_rule(done.amount, row["to"], row["rule"])) == row["price"]  # the currency's scale


# --- price rules ---------------------------------------------------------------------------


@pytest.mark.parametrize("row", _doc_table("rule"), ids=lambda r: f"{r['rule']}-{r['amount']}")
def test_each_price_rule_of_the_currency_page_gives_its_documented_result(row: dict[str, str]) -> None:
    assert str(apply_price_rule(D(row["amount"]), row["currency"], row["rule"])) == row["result"]


def test_ties_follow_the_rounding_mode() -> None:
    assert apply_price_rule(D("12.025"), "EUR", "minor", "half_up") == D("12.03")
    assert apply_price_rule(D("12.025"), "EUR", "minor", "half_even") == D("12.02")
    assert apply_price_rule(D("12.5"), "EUR", "whole", "half_even") == D("12.00")


@pytest.mark.parametrize(
    ("rule", "words"),
    [
        ("round", "unknown price rule 'round'"),
        ("charm:1.50", "below one unit"),
        ("charm:", "unknown price rule"),
        ("step:0", "must be positive"),
        ("step:-5", "unknown price rule"),
        ("charm:0.99, whole", "two default rules"),
        ("minor, XQZ=whole", "'XQZ' is not a currency"),
        ("minor, JPY=whole, JPY=step:10", "given twice"),
    ],
)
def test_an_unknown_or_malformed_price_rule_is_refused_with_what_is_wrong(rule: str, words: str) -> None:
    with pytest.raises(PriceRuleInvalid, match=words) as bad:
        check_price_rule(rule)
    assert bad.value.issues[0].path == "rule" and bad.value.code == "price_rule_invalid"


def test_a_rule_needing_decimals_the_currency_lacks_is_refused_with_a_way_out() -> None:
    with pytest.raises(PriceRuleInvalid, match=r"add an override for it, e.g. 'charm:0.99, JPY=whole'"):
        apply_price_rule(D("1234.5"), "JPY", "charm:0.99")
    assert apply_price_rule(D("1234.4"), "JPY", "charm:0.99, JPY=whole") == D(1234)
    assert (
        check_price_rule("charm:0.99, JPY=step:10, CHF=step:0.05") == "charm:0.99, JPY=step:10, CHF=step:0.05"
    )


amounts = st.decimals(min_value=D("0.01"), max_value=D("100000"), places=4)


@given(amount=amounts, ending=st.sampled_from(["0.99", "0.95", "0.9", "0.49"]))
def test_a_charm_price_is_never_below_the_amount_less_than_one_unit_above_and_has_the_ending(
    amount: Decimal, ending: str
) -> None:
    price = apply_price_rule(amount, "EUR", f"charm:{ending}")
    assert amount <= price < amount + 1
    assert price % 1 == D(ending)


@given(amount=amounts, step=st.sampled_from(["0.05", "0.10", "0.25", "5"]))
def test_a_step_price_is_a_multiple_of_the_step_within_half_a_step(amount: Decimal, step: str) -> None:
    price = apply_price_rule(amount, "CHF", f"step:{step}")
    assert price % D(step) == 0 and abs(price - amount) <= D(step) / 2


# --- properties of rates -------------------------------------------------------------------

ECB_RATES = parse_ecb(ECB_DAILY.read_bytes())
CURRENCIES = ["EUR", *(r.quote for r in ECB_RATES)]


def _one_unit(currency: str) -> Decimal:
    return D(1).scaleb(-minor_units(currency))


@given(
    cents=st.integers(min_value=0, max_value=10**9),
    pair=st.tuples(st.sampled_from(CURRENCIES), st.sampled_from(CURRENCIES)),
)
def test_converting_there_and_back_rounded_stays_within_one_minor_unit(
    cents: int, pair: tuple[str, str]
) -> None:
    """Holds whenever the intermediate currency's minor unit is worth no more than the
    source's (otherwise its own rounding, larger than a source unit, is the bound)."""
    source, target = pair
    table = RateTable(ECB_RATES)
    amount = D(cents).scaleb(-minor_units(source))
    there = round_amount(convert(amount, source, target, table).amount, target)
    back = round_amount(convert(there, target, source, table).amount, source)
    target_unit_in_source = convert(_one_unit(target), target, source, table).amount
    bound = max(_one_unit(source), target_unit_in_source)
    assert abs(back - amount) <= bound


@given(a=st.sampled_from(CURRENCIES), b=st.sampled_from(CURRENCIES), c=st.sampled_from(CURRENCIES))
def test_cross_rates_are_consistent_with_each_other(a: str, b: str, c: str) -> None:
    table = RateTable(ECB_RATES)
    ab, bc, ac, ba = table.rate(a, b), table.rate(b, c), table.rate(a, c), table.rate(b, a)
    assert ab and bc and ac and ba
    assert abs(ab.rate * bc.rate / ac.rate - 1) < D("1e-20")
    assert abs(ab.rate * ba.rate - 1) < D("1e-20")


# --- staleness and manual rates ------------------------------------------------------------


def test_a_friday_rate_is_fresh_over_the_weekend_and_stale_after_the_allowed_age() -> None:
    friday = Rate("EUR", "USD", D("1.08"), FRI, "ecb")
    monday, tuesday, wednesday = FRI + timedelta(3), FRI + timedelta(4), FRI + timedelta(5)
    assert DEFAULT_MAX_AGE_DAYS == 4
    assert not is_stale(friday, monday, DEFAULT_MAX_AGE_DAYS)
    assert not is_stale(friday, tuesday, DEFAULT_MAX_AGE_DAYS)  # a Monday holiday
    assert is_stale(friday, wednesday, DEFAULT_MAX_AGE_DAYS)
    assert not is_stale(friday, FRI - timedelta(1), 1)  # a rate for a later day is not stale


def test_the_wait_policy_refuses_a_stale_rate_and_use_last_reports_it() -> None:
    old = Rate("EUR", "USD", D("1.08"), FRI, "ecb")
    later = FRI + timedelta(10)
    assert check_fresh(old, later, 4, "use_last") is True
    assert check_fresh(old, FRI, 4, "wait") is False
    with pytest.raises(RateStale, match="older than 4 days") as stale:
        check_fresh(old, later, 4, "wait")
    assert stale.value.code == "rate_stale" and stale.value.issues[0].path == "currency"
    with pytest.raises(ValueError, match="unknown stale policy"):
        check_fresh(old, later, 4, "hope")


def test_a_manual_rate_names_each_bad_field() -> None:
    assert manual_rate("EUR", "AED", "3.9821", FRI) == Rate("EUR", "AED", D("3.9821"), FRI, "manual")
    with pytest.raises(ValidationFailed) as bad:
        manual_rate("EURO", "EURO", "1e5", FRI + timedelta(400), latest=FRI + timedelta(366))
    assert [(i.path, i.code) for i in bad.value.issues] == [
        ("base", "unknown_currency"),
        ("quote", "unknown_currency"),
        ("quote", "same_currency"),
        ("rate", "invalid_rate"),
        ("as_of", "too_late"),
    ]
    for text in ("0", "-1", "1.0000000000001", "abc", "", "1234567890123.5"):
        with pytest.raises(ValidationFailed, match="positive decimal"):
            manual_rate("EUR", "USD", text, FRI)
    with pytest.raises(TypeError, match="never a float"):
        manual_rate("EUR", "USD", 1.08, FRI)  # type: ignore[arg-type]


# --- settings ------------------------------------------------------------------------------


@pytest.mark.parametrize("row", _doc_table("variable"), ids=lambda r: r["variable"])
def test_each_documented_setting_exists_with_its_documented_default(row: dict[str, str]) -> None:
    field = Settings.model_fields[row["variable"].removeprefix("LEGATO_").lower()]
    assert str(field.default) == row["default"]


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"fx_margin_percent": 2.5}, "never a float"),
        ({"fx_margin_percent": "150"}, "less than or equal to 100"),
        ({"fx_price_rule": "round"}, "unknown price rule 'round'"),
        ({"base_currency": "EURO"}, "not an ISO 4217 currency"),
        ({"fx_provider": "oanda"}, "'ecb' or 'manual'"),
        ({"fx_stale_policy": "hope"}, "'use_last' or 'wait'"),
        ({"fx_url": "file:///etc/passwd"}, "not an http(s) URL"),
        ({"fx_refresh_minutes": -1}, "greater than or equal to 0"),
    ],
)
def test_currency_settings_refuse_what_pricing_could_not_use(changes: dict[str, object], words: str) -> None:
    with pytest.raises(PydanticValidationError, match=re.escape(words)):
        Settings(**changes)  # type: ignore[arg-type]


def test_currency_settings_read_from_the_environment_keep_decimals_exact(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LEGATO_FX_MARGIN_PERCENT", "2.35")
    monkeypatch.setenv("LEGATO_FX_PRICE_RULE", "charm:0.99, JPY=step:10")
    settings = Settings()
    assert settings.fx_margin_percent == D("2.35") and isinstance(settings.fx_margin_percent, Decimal)
    assert settings.fx_price_rule == "charm:0.99, JPY=step:10"
