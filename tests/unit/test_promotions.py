"""Promotions, vouchers and points on examples: what each rule takes off which line, and the
precise refusals."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from legato.domain.errors import ValidationFailed
from legato.domain.promotions import (
    DiscountLine,
    Discounts,
    LoyaltyPolicy,
    PointsExceeded,
    Promotion,
    Voucher,
    VoucherExhausted,
    VoucherInvalid,
    check_voucher,
    discount_order,
    loyalty_policy,
)

D = Decimal
ON = date(2026, 6, 1)
LOYALTY = LoyaltyPolicy({"GBP": D("0.01"), "JPY": D(1)}, D(50))


def line(no: int, sku: str, qty: Any, price: str, category: str | None = None, *tags: str) -> DiscountLine:
    amount = (D(qty) * D(price)).quantize(D("0.01"))
    return DiscountLine(no, sku, category, tags, D(qty), D(price), amount)


def promo(code: str, kind: str = "percent", level: str = "line", value: Any = 10, **kw: Any) -> Promotion:
    return Promotion(code, code.title(), kind, level, D(value), **kw)


def run(lines: list[DiscountLine], *promotions: Promotion, **kw: Any) -> Discounts:
    return discount_order(
        lines,
        kw.pop("currency", "GBP"),
        channel_code=kw.pop("channel", "WEB"),
        on=kw.pop("on", ON),
        promotions=promotions,
        **kw,
    )


def taken(d: Discounts, kind: str = "promotion") -> dict[int, str]:
    return {n: str(getattr(x, kind)) for n, x in d.per_line.items()}


def codes(d: Discounts) -> list[tuple[str, str, str]]:
    return [(a.kind, a.code, str(a.amount)) for a in d.adjustments]


def refused(err: pytest.ExceptionInfo[ValidationFailed]) -> tuple[str, str]:
    (issue,) = err.value.issues
    return issue.path, issue.code


TEA = line(1, "TEA-100", 3, "4.50", "tea", "organic")  # 13.50
MUG = line(2, "MUG-200", 2, "12.00", "kitchen")  # 24.00
POT = line(3, "POT-300", 1, "39.99", "kitchen", "organic")  # 39.99


def test_a_line_percentage_discounts_only_the_lines_every_filter_matches() -> None:
    d = run([TEA, MUG, POT], promo("ORGANIC", tags=("organic",), categories=("kitchen",)))
    assert taken(d) == {1: "0.00", 2: "0.00", 3: "4.00"}  # 10 % of 39.99 = 3.999
    assert codes(d) == [("promotion", "ORGANIC", "4.00")]


def test_a_fixed_line_promotion_takes_its_value_off_each_unit_and_never_more_than_the_line() -> None:
    d = run([TEA, MUG], promo("TWO-OFF", "fixed", value="2", currency="GBP"))
    assert taken(d) == {1: "6.00", 2: "4.00"}
    d = run([TEA], promo("BIG", "fixed", value="50", currency="GBP"))
    assert taken(d) == {1: "13.50"}


def test_buy_two_get_one_frees_the_cheapest_units_of_the_same_sku() -> None:
    lines = [line(1, "TEA-100", 2, "4.50"), line(2, "TEA-100", 2, "3.90"), line(3, "MUG-200", 3, "12.00")]
    d = run(lines, promo("3FOR2", "buy_x_get_y", value=0, buy_qty=2, get_qty=1, skus=("TEA-100",)))
    assert taken(d) == {1: "0.00", 2: "3.90", 3: "0.00"}  # 4 teas: one group of 3, the 3.90 one free
    d = run(lines, promo("3FOR2", "buy_x_get_y", value=0, buy_qty=2, get_qty=1))
    assert taken(d) == {1: "0.00", 2: "3.90", 3: "12.00"}  # each SKU counts its own units
    six = [line(1, "TEA-100", 1, "4.50"), line(2, "TEA-100", 5, "3.90")]
    d = run(six, promo("3FOR2", "buy_x_get_y", value=0, buy_qty=2, get_qty=1))
    assert taken(d) == {1: "0.00", 2: "7.80"}


def test_an_order_amount_is_shared_by_largest_remainder_so_the_lines_add_up_exactly() -> None:
    thirds = [line(n, f"S-{n}", 1, "10.00") for n in (1, 2, 3)]
    d = run(thirds, promo("TEN", "fixed", "order", "10", currency="GBP"))
    assert taken(d) == {1: "3.34", 2: "3.33", 3: "3.33"}
    assert codes(d) == [("promotion", "TEN", "10.00")]
    d = run(thirds, promo("PCT", "percent", "order", "12.5"))  # 3.75, not 3 x 1.25 rounded
    assert codes(d) == [("promotion", "PCT", "3.75")] and sum(x.promotion for x in d.per_line.values()) == D(
        "3.75"
    )


def test_a_minimum_subtotal_counts_the_eligible_lines_before_any_discount() -> None:
    p = promo("SPEND50", "fixed", "order", "5", currency="GBP", min_subtotal=D(50), categories=("kitchen",))
    assert run([TEA, MUG], p).adjustments == []  # kitchen 24.00 < 50
    assert codes(run([TEA, MUG, POT], p)) == [("promotion", "SPEND50", "5.00")]
    assert run([TEA, MUG, POT], p, currency="EUR").adjustments == []  # a GBP rule on a EUR order


def test_promotions_out_of_their_dates_channels_or_inactive_give_nothing() -> None:
    for p in (
        promo("OLD", valid_to=date(2026, 5, 31)),
        promo("SOON", valid_from=date(2026, 6, 2)),
        promo("SHOP", channels=("SHOP-UK",)),
        promo("OFF", active=False),
    ):
        assert run([TEA], p).adjustments == [], p.code
    assert codes(run([TEA], promo("TODAY", valid_from=ON, valid_to=ON, channels=("WEB",)))) == [
        ("promotion", "TODAY", "1.35")
    ]


def test_an_exclusive_promotion_that_applies_stops_those_of_lower_priority_only() -> None:
    best = promo("BEST", value=20, priority=10, exclusive=True)
    same = promo("SAME", value=5, priority=10)
    low = promo("LOW", "fixed", "order", "1", currency="GBP", priority=1)
    assert [a.code for a in run([TEA], best, same, low).adjustments] == ["BEST", "SAME"]
    elsewhere = replace(best, categories=("garden",))  # exclusive, but it applies to no line
    assert [a.code for a in run([TEA], elsewhere, same, low).adjustments] == ["SAME", "LOW"]


def test_line_promotions_come_before_order_promotions_whatever_their_priority() -> None:
    order = promo("ORDER", "percent", "order", 50, priority=9)
    lines_first = promo("LINE", "fixed", value="1", currency="GBP", priority=0)
    d = run([TEA], order, lines_first)
    assert codes(d) == [("promotion", "LINE", "3.00"), ("promotion", "ORDER", "5.25")]


WELCOME = Voucher("WELCOME", promo("WELCOME-10", "percent", "order", 10), usage_limit=3, per_account_limit=1)


def test_a_voucher_applies_after_the_promotions_and_is_reported_as_its_own_kind() -> None:
    d = run([TEA, MUG], promo("TEA10", categories=("tea",)), voucher=WELCOME)
    assert codes(d) == [("promotion", "TEA10", "1.35"), ("voucher", "WELCOME", "3.62")]
    assert taken(d, "voucher") == {1: "1.22", 2: "2.40"}  # 10 % of 12.15 and of 24.00


@pytest.mark.parametrize(
    ("voucher", "kw", "code", "message"),
    [
        (None, {}, "voucher_invalid", "there is no voucher 'NOPE'"),
        (replace(WELCOME, valid_to=date(2026, 5, 1)), {}, "voucher_invalid", "expired on 2026-05-01"),
        (replace(WELCOME, valid_from=date(2026, 7, 1)), {}, "voucher_invalid", "valid from 2026-07-01"),
        (replace(WELCOME, used=3), {}, "voucher_exhausted", "used up (3 of 3 uses)"),
        (WELCOME, {"account_uses": 1}, "voucher_exhausted", "1 time(s) per customer"),
        (replace(WELCOME, promotion=promo("X", channels=("POS",))), {}, "voucher_invalid", "channel WEB"),
        (replace(WELCOME, promotion=promo("X", active=False)), {}, "voucher_invalid", "no longer active"),
    ],
)
def test_an_unknown_expired_or_exhausted_voucher_is_refused_at_the_voucher_path(
    voucher: Voucher | None, kw: dict[str, Any], code: str, message: str
) -> None:
    with pytest.raises(ValidationFailed) as err:
        check_voucher("NOPE" if voucher is None else voucher.code, voucher, on=ON, channel_code="WEB", **kw)
    assert refused(err) == ("voucher", code) and err.value.code == code
    assert message in err.value.detail
    if voucher is not None:
        with pytest.raises((VoucherInvalid, VoucherExhausted)):
            run([TEA], voucher=voucher, voucher_account_uses=kw.get("account_uses", 0))


def test_a_voucher_that_gives_nothing_or_meets_an_exclusive_promotion_is_refused() -> None:
    kitchen = replace(WELCOME, promotion=promo("K", categories=("kitchen",)))
    with pytest.raises(VoucherInvalid, match="applies to no line"):
        run([TEA], voucher=kitchen)
    euros = replace(WELCOME, promotion=promo("E", "fixed", "order", 5, currency="EUR"))
    with pytest.raises(VoucherInvalid, match="in EUR and the order in GBP"):
        run([TEA], voucher=euros)
    exclusive = promo("SALE", priority=5, exclusive=True)
    with pytest.raises(VoucherInvalid, match="cannot be combined with promotion SALE"):
        run([TEA], exclusive, voucher=WELCOME)
    only_me = replace(WELCOME, promotion=promo("ONLY", "percent", "order", 10, priority=9, exclusive=True))
    assert [a.code for a in run([TEA], promo("LOW", priority=1), voucher=only_me).adjustments] == ["WELCOME"]


def test_points_pay_last_within_the_balance_and_the_allowed_share() -> None:
    d = run([TEA, MUG], points=500, points_balance=600, loyalty=LOYALTY)
    assert codes(d) == [("points", "points", "5.00")] and d.adjustments[0].points == 500
    assert taken(d, "points") == {1: "1.80", 2: "3.20"}
    with pytest.raises(PointsExceeded) as err:
        run([TEA, MUG], points=700, points_balance=600, loyalty=LOYALTY)
    assert refused(err) == ("points", "points_exceeded")
    assert err.value.detail == "700 points asked, the balance is 600"
    with pytest.raises(PointsExceeded) as err:
        run([TEA, MUG], promo("HALF", value=50), points=1000, points_balance=5000, loyalty=LOYALTY)
    assert err.value.detail == (
        "points may pay at most 9.37 GBP (50 % of 18.75 after discounts): at most 937 points"
    )
    assert run(
        [TEA, MUG], promo("HALF", value=50), points=937, points_balance=937, loyalty=LOYALTY
    ).total == D("28.12")


def test_points_need_a_value_in_the_order_currency_and_round_to_its_minor_unit() -> None:
    with pytest.raises(ValidationFailed) as err:
        run([TEA], points=10, points_balance=10, loyalty=None)
    assert refused(err) == ("points", "points_unavailable")
    with pytest.raises(ValidationFailed, match="orders in EUR"):
        run([TEA], currency="EUR", points=10, points_balance=10, loyalty=LOYALTY)
    yen = [DiscountLine(1, "TEA-100", (), (), D(3), D(800), D(2400))]
    d = run(yen, currency="JPY", points=1000, points_balance=1000, loyalty=LOYALTY)
    assert taken(d, "points") == {1: "1000"}


def test_a_promotion_with_bad_settings_names_every_bad_field_at_once() -> None:
    with pytest.raises(ValidationFailed) as err:
        Promotion("P", "P", "fixed", "basket", 1.5)  # type: ignore[arg-type]
    assert {(i.path, i.code) for i in err.value.issues} == {
        ("level", "invalid"),
        ("value", "invalid"),
        ("currency", "required"),
    }
    with pytest.raises(ValidationFailed) as err:
        Promotion("P", "P", "buy_x_get_y", "order", D(0), buy_qty=0)
    assert {i.path for i in err.value.issues} == {"buy_qty", "get_qty", "level"}
    with pytest.raises(ValidationFailed) as err:
        promo("P", value=120, valid_from=date(2026, 2, 1), valid_to=date(2026, 1, 1))
    assert {i.path for i in err.value.issues} == {"value", "valid_to"}
    with pytest.raises(ValidationFailed, match="usage_limit"):
        Voucher("V", promo("P"), usage_limit=0)


def test_a_loyalty_configuration_refuses_floats_and_names_the_field() -> None:
    policy = loyalty_policy({"point_value": {"EUR": "0.01"}, "max_share_percent": "50"})
    assert policy.point_value == {"EUR": D("0.01")} and policy.max_share_percent == D(50)
    with pytest.raises(ValidationFailed) as err:
        loyalty_policy({"point_value": {"EUR": 0.01}})
    assert err.value.issues[0].path == "loyalty.point_value.EUR"
    with pytest.raises(ValidationFailed) as err:
        loyalty_policy({"point_value": {"ABC": "1"}, "max_share_percent": "150"})
    assert {i.path for i in err.value.issues} == {"loyalty.point_value.ABC", "loyalty.max_share_percent"}
