"""Promotions, vouchers, points and tax rates stored on both databases, and the two operations that
must hold under concurrency: redeeming a limited voucher and spending points."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from api_helpers import count
from sqlalchemy import insert, select

from legato.bootstrap import Runtime
from legato.domain.errors import DuplicateKey, LegatoError, NotFound, ValidationFailed
from legato.domain.promotions import (
    DiscountLine,
    LoyaltyPolicy,
    PointsExceeded,
    Promotion,
    Voucher,
    VoucherExhausted,
    VoucherInvalid,
    discount_order,
)
from legato.domain.tax import TaxRate
from legato.store import tables
from legato.store.promotions import SqlPromotions, looking, writing

D = Decimal
ON = date(2026, 6, 1)
NOW = datetime(2026, 6, 1, 9, tzinfo=UTC)


def promo(code: str, **kw: Any) -> Promotion:
    return Promotion(
        code, code.title(), kw.pop("kind", "percent"), kw.pop("level", "line"), D(kw.pop("value", 10)), **kw
    )


def accounts(rt: Runtime, *codes: str) -> list[int]:
    with rt.engine.begin() as conn:
        return [
            conn.execute(
                insert(tables.accounts)
                .values(code=c, name=c, properties={}, created_at=NOW, updated_at=NOW)
                .returning(tables.accounts.c.id)
            ).scalar_one()
            for c in codes
        ]


def in_threads(n: int, work: Callable[[int], None]) -> Counter[str]:
    """Run ``work(i)`` in ``n`` threads released together; count how each ended."""
    start, outcomes, lock = threading.Barrier(n), Counter[str](), threading.Lock()

    def run(i: int) -> None:
        start.wait()
        try:
            work(i)
            result = "ok"
        except LegatoError as exc:
            result = exc.code
        except Exception as exc:  # anything else fails the test by name
            result = type(exc).__name__
        with lock:
            outcomes[result] += 1

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(60)
    return outcomes


def test_promotions_are_stored_whole_updated_listed_and_their_codes_are_unique(runtime: Runtime) -> None:
    full = promo(
        "SPRING",
        kind="fixed",
        level="order",
        value="5.50",
        currency="EUR",
        skus=("TEA-100",),
        categories=("tea",),
        tags=("organic",),
        min_subtotal=D("30.00"),
        channels=("WEB", "B2B"),
        valid_from=date(2026, 3, 1),
        valid_to=date(2026, 5, 31),
        priority=3,
        exclusive=True,
    )
    with writing(runtime.engine) as s:
        s.add_promotion(full)
        s.add_promotion(promo("B3G1", kind="buy_x_get_y", value=0, buy_qty=3, get_qty=1))
    with looking(runtime.engine) as s:
        assert s.promotion("SPRING") == full
        assert s.promotion("NOPE") is None
    with pytest.raises(DuplicateKey) as err, writing(runtime.engine) as s:
        s.add_promotion(replace(full, name="again"))
    assert err.value.issues[0].path == "code"
    with writing(runtime.engine) as s:
        s.update_promotion(replace(full, value=D("7.25"), active=False))
        with pytest.raises(NotFound):
            s.update_promotion(promo("NOPE"))
    with looking(runtime.engine) as s:
        assert s.promotion("SPRING") == replace(full, value=D("7.25"), active=False)
        first, cursor = s.list_promotions(1)
        rest, end = s.list_promotions(10, cursor)
    assert [p.code for p in first + rest] == ["SPRING", "B3G1"] and end is None


def test_only_automatic_promotions_in_force_on_the_day_and_channel_are_active(runtime: Runtime) -> None:
    with writing(runtime.engine) as s:
        for p in (
            promo("ALWAYS", priority=1),
            promo("TOP", priority=9),
            promo("WEB-ONLY", channels=("WEB",)),
            promo("JUNE", valid_from=date(2026, 6, 1), valid_to=date(2026, 6, 30)),
            promo("MAY", valid_to=date(2026, 5, 31)),
            promo("OFF", active=False),
            promo("CODE-ONLY"),
        ):
            s.add_promotion(p)
        s.add_voucher(Voucher("hello", promo("CODE-ONLY")))
    with looking(runtime.engine) as s:
        assert [p.code for p in s.active(ON, "WEB")] == ["TOP", "ALWAYS", "JUNE", "WEB-ONLY"]
        assert [p.code for p in s.active(date(2026, 7, 1), "POS")] == ["TOP", "ALWAYS"]


def test_a_voucher_is_stored_upper_case_for_an_existing_promotion_only(runtime: Runtime) -> None:
    with writing(runtime.engine) as s:
        s.add_promotion(promo("WELCOME", level="order"))
        stored = s.add_voucher(
            Voucher(" welcome10 ", promo("WELCOME", level="order"), 100, 0, 1, valid_to=date(2026, 12, 31))
        )
        assert stored.code == "WELCOME10" and stored.promotion.level == "order" and stored.used == 0
        with pytest.raises(DuplicateKey):
            s.add_voucher(Voucher("Welcome10", promo("WELCOME")))
        with pytest.raises(ValidationFailed) as err:
            s.add_voucher(Voucher("OTHER", promo("MISSING")))
        assert (err.value.issues[0].path, err.value.issues[0].code) == ("promotion", "unknown_promotion")
    with looking(runtime.engine) as s:
        assert s.voucher("welcome10") == stored
        assert s.voucher("nope") is None


def test_redeeming_counts_one_use_per_order_and_refuses_past_the_limits(runtime: Runtime) -> None:
    alice, bob = accounts(runtime, "ALICE", "BOB")
    with writing(runtime.engine) as s:
        s.add_promotion(promo("P"))
        s.add_voucher(Voucher("TWICE", promo("P"), usage_limit=2, per_account_limit=1))
    with writing(runtime.engine) as s:
        s.redeem("twice", 1, alice)
        s.redeem("TWICE", 1, alice)  # a retry of the same order: no second use
    with pytest.raises(VoucherExhausted, match="1 time"), writing(runtime.engine) as s:
        s.redeem("TWICE", 2, alice)
    with writing(runtime.engine) as s:
        assert s.voucher_uses("TWICE", alice) == 1
        s.redeem("TWICE", 3, bob)
        with pytest.raises(VoucherExhausted, match="used up") as err:
            s.redeem("TWICE", 4, None)
        assert err.value.issues[0].path == "voucher"
        s.redeem("TWICE", 3, bob)  # still a retry, even now the voucher is used up
        with pytest.raises(VoucherInvalid):
            s.redeem("NOPE", 5, bob)
    with looking(runtime.engine) as s:
        assert s.voucher("TWICE").used == 2  # type: ignore[union-attr]
    assert count(runtime, "voucher_redemptions") == 2


def test_twenty_orders_racing_for_a_voucher_limited_to_five_uses_get_exactly_five(runtime: Runtime) -> None:
    with writing(runtime.engine) as s:
        s.add_promotion(promo("P"))
        s.add_voucher(Voucher("FIVE", promo("P"), usage_limit=5))

    def order(i: int) -> None:
        with runtime.engine.begin() as conn:  # a transaction of its own, as an order's would be
            SqlPromotions(conn).redeem("FIVE", 100 + i, None)

    assert in_threads(20, order) == {"ok": 5, "voucher_exhausted": 15}
    assert count(runtime, "voucher_redemptions") == 5
    with looking(runtime.engine) as s:
        assert s.voucher("FIVE").used == 5  # type: ignore[union-attr]


def test_points_are_credited_and_spent_through_a_ledger_that_never_goes_negative(runtime: Runtime) -> None:
    (alice,) = accounts(runtime, "ALICE")
    with writing(runtime.engine) as s:
        s.credit_points(alice, 120, "welcome bonus")
        s.spend_points(alice, 20, 42)
        with pytest.raises(PointsExceeded, match="101 points asked, the balance is 100") as err:
            s.spend_points(alice, 101, 43)
        assert (err.value.issues[0].path, err.value.issues[0].code) == ("points", "points_exceeded")
        for bad in (0, -5, 10**10):
            with pytest.raises(ValidationFailed):
                s.credit_points(alice, bad, "oops")
        with pytest.raises(NotFound):
            s.credit_points(alice + 999, 5, "nobody")
    with looking(runtime.engine) as s:
        assert s.points_balance(alice) == 100
        newest, cursor = s.ledger(alice, 1)
        older, end = s.ledger(alice, 5, cursor)
    assert [(e.points, e.reason, e.order_id) for e in newest + older] == [
        (-20, "redeemed", 42),
        (120, "welcome bonus", None),
    ]
    assert end is None


def test_concurrent_spends_never_take_more_points_than_the_balance(runtime: Runtime) -> None:
    (alice,) = accounts(runtime, "ALICE")
    with writing(runtime.engine) as s:
        s.credit_points(alice, 100, "start")

    def spend(i: int) -> None:
        with runtime.engine.begin() as conn:
            SqlPromotions(conn).spend_points(alice, 30, 200 + i)

    assert in_threads(10, spend) == {"ok": 3, "points_exceeded": 7}
    with looking(runtime.engine) as s:
        assert s.points_balance(alice) == 10


def test_tax_rates_are_upserted_by_region_and_class_and_products_carry_a_tax_class(runtime: Runtime) -> None:
    with writing(runtime.engine) as s:
        assert s.put_tax_rate(TaxRate("GB", "standard", D("0.175"), "VAT 17.5%")) is True
        assert s.put_tax_rate(TaxRate("GB", "standard", D("0.20"), "VAT 20%")) is False
        assert s.put_tax_rate(TaxRate("US-CA", "standard", D("0.0725"), "CA sales tax")) is True
        assert s.put_tax_rate(TaxRate("GB", "zero", D(0), "VAT 0%")) is True
        assert s.delete_tax_rate("GB", "zero") is True
        assert s.delete_tax_rate("GB", "zero") is False
    with looking(runtime.engine) as s:
        rules = s.tax_rules()
    assert [(r.region, r.tax_class, r.rate, r.name) for r in rules.rates] == [
        ("GB", "standard", D("0.2"), "VAT 20%"),
        ("US-CA", "standard", D("0.0725"), "CA sales tax"),
    ]
    assert rules.rate_for("US", "CA", "standard").rate == D("0.0725")  # type: ignore[union-attr]

    with runtime.engine.begin() as conn:
        conn.execute(
            insert(tables.products).values(
                sku="BOOK-1",
                name="Book",
                tags=[],
                prices={"GBP": "9.99"},
                active=True,
                created_at=NOW,
                updated_at=NOW,
            )
        )
    with writing(runtime.engine) as s:
        assert s.tax_classes(["BOOK-1", "NOPE"]) == {"BOOK-1": None}
        s.set_tax_class("BOOK-1", "zero")
        assert s.tax_classes(["BOOK-1"]) == {"BOOK-1": "zero"}
        with pytest.raises(NotFound):
            s.set_tax_class("NOPE", "zero")


def test_an_order_discounted_with_stored_rules_redeems_and_spends_in_its_own_transaction(
    runtime: Runtime,
) -> None:
    """What the pricing engine does while placing an order: read, decide, then record the voucher's
    use and the points spent in the order's transaction, so a failure leaves no trace."""
    (alice,) = accounts(runtime, "ALICE")
    with writing(runtime.engine) as s:
        s.add_promotion(promo("TEA10", categories=("tea",)))
        s.add_promotion(promo("WELCOME", kind="fixed", level="order", value="5", currency="GBP"))
        s.add_voucher(Voucher("WELCOME5", promo("WELCOME"), usage_limit=1))
        s.credit_points(alice, 1000, "sign-up")
    lines = [
        DiscountLine(1, "TEA-100", "tea", (), D(3), D("4.50"), D("13.50")),
        DiscountLine(2, "MUG-200", "kitchen", (), D(2), D("12.00"), D("24.00")),
    ]
    loyalty = LoyaltyPolicy({"GBP": D("0.01")}, D(50))

    def place(order_id: int, fail: bool = False) -> Any:
        with writing(runtime.engine) as s:
            voucher = s.voucher("welcome5")
            d = discount_order(
                lines,
                "GBP",
                channel_code="WEB",
                on=ON,
                promotions=s.active(ON, "WEB"),
                voucher=voucher,
                points=500,
                points_balance=s.points_balance(alice),
                loyalty=loyalty,
            )
            s.redeem("welcome5", order_id, alice)
            s.spend_points(alice, 500, order_id)
            if fail:
                raise RuntimeError("the order could not be saved")
            return d

    with pytest.raises(RuntimeError):
        place(1, fail=True)
    assert count(runtime, "voucher_redemptions") == count(runtime, "loyalty_ledger", order_id=1) == 0
    d = place(2)
    assert [(a.kind, a.code, a.amount) for a in d.adjustments] == [
        ("promotion", "TEA10", D("1.35")),
        ("voucher", "WELCOME5", D("5.00")),
        ("points", "points", D("5.00")),
    ]
    with pytest.raises(VoucherExhausted):
        place(3)
    with runtime.engine.connect() as conn:
        assert conn.execute(select(tables.vouchers.c.used)).scalar_one() == 1
    with looking(runtime.engine) as s:
        assert s.points_balance(alice) == 500
