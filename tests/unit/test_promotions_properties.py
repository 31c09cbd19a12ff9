"""Properties of discounting any order with any mix of promotions, a voucher and points: the
lines add up to the adjustments exactly, nothing goes negative or beyond the subtotal, and the
order of the lines changes nothing."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from legato.domain.errors import ValidationFailed
from legato.domain.money import round_amount
from legato.domain.promotions import (
    ADJUSTMENT_KINDS,
    DiscountLine,
    Discounts,
    LoyaltyPolicy,
    Promotion,
    Voucher,
    allocate,
    discount_order,
)

ON = date(2026, 6, 1)
SKUS = ["A", "B", "C"]
CATEGORIES = ["tea", "kitchen", None]


@st.composite
def lines(draw: Any, currency: str) -> list[DiscountLine]:
    out = []
    for n in range(1, draw(st.integers(1, 6)) + 1):
        qty = Decimal(draw(st.integers(1, 12)))
        price = round_amount(Decimal(draw(st.integers(0, 50_000))) / 100, currency)
        tags = tuple(draw(st.lists(st.sampled_from(["organic", "new"]), max_size=2, unique=True)))
        out.append(
            DiscountLine(
                n,
                draw(st.sampled_from(SKUS)),
                draw(st.sampled_from(CATEGORIES)),
                tags,
                qty,
                price,
                round_amount(qty * price, currency),
            )
        )
    return out


@st.composite
def promotions(draw: Any, currency: str, code: str) -> Promotion:
    kind = draw(st.sampled_from(["percent", "fixed", "buy_x_get_y"]))
    level = "line" if kind == "buy_x_get_y" else draw(st.sampled_from(["line", "order"]))
    value = {
        "percent": Decimal(draw(st.integers(1, 10_000))) / 100,
        "fixed": Decimal(draw(st.integers(1, 20_000))) / 100,
        "buy_x_get_y": Decimal(0),
    }[kind]
    bxgy = kind == "buy_x_get_y"
    return Promotion(
        code,
        code,
        kind,
        level,
        value,
        currency=currency if kind == "fixed" or draw(st.booleans()) else None,
        skus=tuple(draw(st.lists(st.sampled_from(SKUS), max_size=2, unique=True))),
        categories=tuple(draw(st.lists(st.sampled_from(["tea", "kitchen"]), max_size=1))),
        tags=tuple(draw(st.lists(st.just("organic"), max_size=1))),
        buy_qty=draw(st.integers(1, 3)) if bxgy else None,
        get_qty=draw(st.integers(1, 2)) if bxgy else None,
        priority=draw(st.integers(0, 3)),
        exclusive=draw(st.booleans()),
    )


@st.composite
def orders(draw: Any) -> dict[str, Any]:
    currency = draw(st.sampled_from(["GBP", "JPY", "KWD"]))
    n = draw(st.integers(0, 4))
    voucher = None
    if draw(st.booleans()):
        voucher = Voucher("V", draw(promotions(currency, "VOUCHER")))
    return {
        "lines": draw(lines(currency)),
        "currency": currency,
        "promotions": [draw(promotions(currency, f"P{i}")) for i in range(n)],
        "voucher": voucher,
        "points": draw(st.integers(0, 3000)),
        "points_balance": 3000,
        "loyalty": LoyaltyPolicy(
            {currency: Decimal("0.01") if currency != "JPY" else Decimal(1)},
            Decimal(draw(st.integers(0, 100))),
        ),
        "rounding": draw(st.sampled_from(["half_up", "half_even"])),
    }


def outcome(order: dict[str, Any], lines: list[DiscountLine]) -> Discounts | tuple[str, str]:
    kw = {k: v for k, v in order.items() if k not in ("lines", "currency")}
    try:
        return discount_order(lines, order["currency"], channel_code="WEB", on=ON, **kw)
    except ValidationFailed as exc:  # a voucher that cannot apply, too many points
        return exc.code, exc.detail


@settings(max_examples=100, deadline=None)
@given(orders())
def test_each_kind_on_the_lines_adds_up_exactly_to_its_adjustments(order: dict[str, Any]) -> None:
    d = outcome(order, order["lines"])
    if not isinstance(d, Discounts):
        return
    for kind in ADJUSTMENT_KINDS:
        on_lines = sum((getattr(x, kind) for x in d.per_line.values()), Decimal(0))
        assert on_lines == sum((a.amount for a in d.adjustments if a.kind == kind), Decimal(0)), kind
    assert {a.kind for a in d.adjustments} <= set(ADJUSTMENT_KINDS)


@settings(max_examples=100, deadline=None)
@given(orders())
def test_no_line_is_negative_or_discounted_beyond_its_amount_nor_the_order_beyond_its_subtotal(
    order: dict[str, Any],
) -> None:
    d = outcome(order, order["lines"])
    if not isinstance(d, Discounts):
        return
    for ln in order["lines"]:
        x = d.per_line[ln.line_no]
        assert min(x.promotion, x.voucher, x.points) >= 0
        assert x.total <= ln.amount
        assert x.total == round_amount(x.total, order["currency"])  # whole minor units
    assert d.total <= sum((ln.amount for ln in order["lines"]), Decimal(0))


@settings(max_examples=100, deadline=None)
@given(orders(), st.randoms(use_true_random=False))
def test_the_order_of_the_lines_changes_nothing(order: dict[str, Any], rnd: Any) -> None:
    shuffled = list(order["lines"])
    rnd.shuffle(shuffled)
    assert outcome(order, shuffled) == outcome(order, order["lines"])


@given(st.integers(0, 10**6), st.dictionaries(st.integers(1, 50), st.integers(0, 10**6), max_size=12))
def test_allocation_shares_add_up_and_none_exceeds_its_weight(total: int, weights: dict[int, int]) -> None:
    total = min(total, sum(weights.values()))
    shares = allocate(total, weights)
    assert shares.keys() == weights.keys()
    assert sum(shares.values()) == total
    assert all(0 <= shares[k] <= weights[k] for k in weights)
