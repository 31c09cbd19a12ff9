"""The pure rules inside the order actions: the wait's clock, and the checks of
validate_before_erp, decided from plain values (properties with hypothesis)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from legato.domain.catalog import Account
from legato.domain.errors import ValidationFailed
from legato.domain.fx import Rate, RateTable
from legato.domain.lifecycle import PaymentStatus
from legato.domain.order import OrderLine, SalesOrder
from legato.workflow.actions import check_action
from legato.workflow.actions._checks import (
    FAILED,
    NOT_CHECKED,
    PASSED,
    payment_method_valid,
    stock_shortfalls,
    within_credit,
)
from legato.workflow.actions.wait import parse_duration, wake_time

moments = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC))
clocks = st.tuples(st.integers(0, 23), st.integers(0, 59))
money = st.decimals(min_value=0, max_value=100_000, places=2)


@given(st.lists(st.tuples(st.integers(0, 999), st.sampled_from("smhd")), min_size=1, max_size=4))
def test_a_duration_is_the_sum_of_its_parts(parts: list[tuple[int, str]]) -> None:
    seconds = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    text = "".join(f"{n}{u}" for n, u in parts)
    assert parse_duration(text) == timedelta(seconds=sum(n * seconds[u] for n, u in parts))


@pytest.mark.parametrize("text", ["", "2", "h", "2 h", "2hours", "-1h", "1.5h", "1h 30m", 7200, None])
def test_anything_else_is_not_a_duration(text: Any) -> None:
    assert parse_duration(text) is None


@given(moments, clocks, st.sampled_from(["UTC", "Asia/Tokyo", "Asia/Kolkata"]))  # no summer time
def test_until_wakes_at_the_first_such_time_of_day_after_the_step_was_reached(
    reached: datetime, clock: tuple[int, int], zone: str
) -> None:
    params = {"until": f"{clock[0]:02d}:{clock[1]:02d}", "timezone": zone}
    wake = wake_time(params, reached)
    assert reached < wake <= reached + timedelta(days=1)
    local = wake.astimezone(ZoneInfo(zone))
    assert (local.hour, local.minute) == clock


def test_until_follows_summer_time() -> None:
    params = {"until": "18:00", "timezone": "Europe/London"}
    assert wake_time(params, datetime(2026, 1, 10, 12, tzinfo=UTC)) == datetime(2026, 1, 10, 18, tzinfo=UTC)
    assert wake_time(params, datetime(2026, 7, 10, 12, tzinfo=UTC)) == datetime(2026, 7, 10, 17, tzinfo=UTC)


@pytest.mark.parametrize(
    ("params", "path"),
    [
        ({}, "actions[0].params"),
        ({"for": "2h", "until": "18:00"}, "actions[0].params"),
        ({"for": "0s"}, "actions[0].params.for"),
        ({"for": "367d"}, "actions[0].params.for"),
        ({"until": "24:00"}, "actions[0].params.until"),
        ({"until": "18:00", "timezone": "Mars/Olympus"}, "actions[0].params.timezone"),
        ({"for": "1h", "timezone": "UTC"}, "actions[0].params.timezone"),
    ],
)
def test_wait_parameters_are_checked_at_save_time(params: dict[str, Any], path: str) -> None:
    with pytest.raises(ValidationFailed) as bad:
        check_action("wait", params, "actions[0]")
    assert [i.path for i in bad.value.issues] == [path]


@pytest.mark.parametrize("role", ["Approver", "", "a" * 41, 7])
def test_an_approval_role_is_a_plain_name(role: Any) -> None:
    with pytest.raises(ValidationFailed) as bad:
        check_action("require_approval", {"role": role}, "actions[0]")
    assert [i.path for i in bad.value.issues] == ["actions[0].params.role"]


def _order(*lines: tuple[str, str], payment: PaymentStatus = PaymentStatus.UNPAID) -> SalesOrder:
    rows = [OrderLine(i + 1, sku, sku, Decimal(q), Decimal(1), "product") for i, (sku, q) in enumerate(lines)]
    return SalesOrder("B2B", "EUR", rows, account_code="BIGCO", payment_status=payment)


def _account(limit: str | None = "1000", terms: str | None = None) -> Account:
    return Account("BIGCO", "Big Co", currency="EUR", payment_terms=terms,
                   credit_limit=Decimal(limit) if limit is not None else None)  # fmt: skip


@given(st.lists(money, max_size=6), money)
def test_within_credit_passes_exactly_when_the_open_balance_is_at_most_the_limit(
    totals: list[Decimal], limit: Decimal
) -> None:
    owed = [(i, "EUR", t) for i, t in enumerate(totals)]
    verdict = within_credit(_order(), _account(str(limit)), owed, RateTable([]), "EUR")
    assert verdict.outcome == (PASSED if sum(totals, Decimal(0)) <= limit else FAILED)


def test_within_credit_converts_other_currencies_at_the_stored_rate_or_does_not_decide() -> None:
    owed = [(1, "EUR", Decimal("600")), (2, "GBP", Decimal("400"))]
    rates = RateTable([Rate("EUR", "GBP", Decimal("0.8"), datetime(2026, 3, 2).date(), "ecb")])
    over = within_credit(_order(), _account("1000"), owed, rates, "EUR")  # 600 + 400 / 0.8 = 1,100
    assert (over.outcome, over.detail) == (
        FAILED, "open balance 1,100.00 EUR exceeds the credit limit 1,000.00 EUR of BIGCO",
    )  # fmt: skip
    assert within_credit(_order(), _account(), owed, RateTable([]), "EUR").outcome == NOT_CHECKED
    assert within_credit(_order(), _account(None), owed, RateTable([]), "EUR").outcome == PASSED
    assert within_credit(_order(), None, owed, RateTable([]), "EUR").outcome == NOT_CHECKED


@pytest.mark.parametrize(
    ("payment", "terms", "outcome", "detail"),
    [
        (PaymentStatus.PAID, None, PASSED, "paid"),
        (PaymentStatus.UNPAID, "NET30", PASSED, "unpaid, on payment terms NET30"),
        (PaymentStatus.UNPAID, None, FAILED, "unpaid and account BIGCO has no payment terms"),
        (PaymentStatus.PARTIALLY_PAID, None, FAILED, "partially paid and account BIGCO has no payment terms"),
        (PaymentStatus.REFUNDED, "NET30", FAILED, "the payment was refunded"),
    ],
)
def test_payment_method_valid_reads_the_payment_track_and_the_terms(
    payment: PaymentStatus, terms: str | None, outcome: str, detail: str
) -> None:
    verdict = payment_method_valid(_order(payment=payment), _account(terms=terms))
    assert (verdict.outcome, verdict.detail) == (outcome, detail)


@given(
    st.lists(st.tuples(st.sampled_from(["A", "B", "C"]), st.integers(1, 20)), min_size=1, max_size=6),
    st.dictionaries(st.sampled_from(["A", "B", "C"]), st.integers(0, 40)),
)
def test_stock_is_short_exactly_for_the_skus_whose_lines_add_up_to_more_than_is_available(
    lines: list[tuple[str, int]], available: dict[str, int]
) -> None:
    order = _order(*((sku, str(q)) for sku, q in lines))
    short = stock_shortfalls(order, {k: Decimal(v) for k, v in available.items()})
    need: dict[str, int] = {}
    for sku, q in lines:
        need[sku] = need.get(sku, 0) + q
    expected = {sku for sku, q in need.items() if sku not in available or available[sku] < q}
    assert {s.split(":")[0] for s in short} == expected
