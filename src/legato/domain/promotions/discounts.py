"""The discounting of one order: each step on what the previous ones left, in whole minor units.

Order-level amounts (and points) are shared over their lines pro rata by largest remainder, so
the lines of each kind add up exactly to that kind's adjustments.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_FLOOR, Decimal

from legato.domain.errors import FieldIssue, ValidationFailed
from legato.domain.money import DEFAULT_ROUNDING, ROUNDING_MODES, minor_units, round_amount
from legato.domain.promotions.rules import (
    ADJUSTMENT_KINDS,
    HUNDRED,
    LEVELS,
    ZERO,
    DiscountLine,
    LoyaltyPolicy,
    PointsExceeded,
    Promotion,
    Voucher,
    VoucherInvalid,
    check_voucher,
    refusal,
)


@dataclass(frozen=True)
class LineDiscount:
    """What each kind took off one line, each in whole minor units; together at most its amount."""

    promotion: Decimal = ZERO
    voucher: Decimal = ZERO
    points: Decimal = ZERO

    @property
    def total(self) -> Decimal:
        return self.promotion + self.voucher + self.points


@dataclass(frozen=True)
class Adjustment:
    """One applied discount on the order, for the record: a promotion's code, the voucher's code,
    or "points" with the number of points spent."""

    kind: str  # promotion | voucher | points
    code: str
    amount: Decimal
    points: int | None = None


@dataclass(frozen=True)
class Discounts:
    """Per line (by line number, every line) and per applied rule, in the order applied."""

    per_line: dict[int, LineDiscount]
    adjustments: list[Adjustment]

    @property
    def total(self) -> Decimal:
        return sum((a.amount for a in self.adjustments), ZERO)


class _Book:
    """Remaining amounts and what each kind took, per line, in whole minor units."""

    def __init__(self, lines: Sequence[DiscountLine], currency: str, rounding: str) -> None:
        self.lines = sorted(lines, key=lambda ln: ln.line_no)
        if len({ln.line_no for ln in self.lines}) != len(self.lines):
            raise ValueError("line numbers must be unique")
        self.currency, self.rounding, self.digits = currency, rounding, minor_units(currency)
        self.base = {ln.line_no: max(self.units(ln.amount), 0) for ln in self.lines}
        self.left = dict(self.base)
        self.taken: dict[str, dict[int, int]] = {k: dict.fromkeys(self.base, 0) for k in ADJUSTMENT_KINDS}
        self.adjustments: list[Adjustment] = []

    def units(self, amount: Decimal) -> int:
        """``amount`` rounded to the minor unit, as a whole number of minor units."""
        return int(round_amount(amount, self.currency, self.rounding).scaleb(self.digits))

    def whole(self, minor: Decimal) -> int:
        """A fraction of minor units rounded to a whole one."""
        return int(minor.quantize(Decimal(1), rounding=ROUNDING_MODES[self.rounding]))

    def money(self, units: int) -> Decimal:
        return round_amount(Decimal(units).scaleb(-self.digits), self.currency)

    def take(self, kind: str, code: str, amounts: Mapping[int, int], points: int | None = None) -> None:
        total = 0
        for line_no, units in amounts.items():
            units = min(units, self.left[line_no])
            self.left[line_no] -= units
            self.taken[kind][line_no] += units
            total += units
        if total or points:
            self.adjustments.append(Adjustment(kind, code, self.money(total), points))

    def result(self) -> Discounts:
        per_line = {
            n: LineDiscount(*(self.money(self.taken[k][n]) for k in ADJUSTMENT_KINDS)) for n in self.base
        }
        return Discounts(per_line, self.adjustments)


def allocate(total: int, weights: Mapping[int, int]) -> dict[int, int]:
    """Share ``total`` minor units over keys pro rata to ``weights`` by largest remainder (ties to
    the lower key): the shares add up to ``total`` exactly and none exceeds its weight."""
    whole = sum(weights.values())
    if total <= 0 or whole <= 0:
        return dict.fromkeys(weights, 0)
    shares: dict[int, int] = {}
    remainders: list[tuple[int, int]] = []
    for key in sorted(weights):
        shares[key], rest = divmod(total * weights[key], whole)
        remainders.append((-rest, key))
    for _, key in sorted(remainders)[: total - sum(shares.values())]:
        shares[key] += 1
    return shares


def _why_not(p: Promotion, book: _Book) -> str | None:
    """Why ``p`` gives nothing on this order, or None if it applies."""
    if p.currency is not None and p.currency != book.currency:
        return f"it is in {p.currency} and the order in {book.currency}"
    eligible = [ln for ln in book.lines if p.matches(ln) and book.base[ln.line_no] > 0]
    if not eligible:
        return "it applies to no line of this order"
    if p.min_subtotal is not None and sum(book.base[ln.line_no] for ln in eligible) < book.units(
        p.min_subtotal
    ):
        return f"it needs a subtotal of at least {p.min_subtotal} {p.currency}"
    if p.kind == "buy_x_get_y" and not _free_units(p, eligible):
        return f"it needs {p.buy_qty} + {p.get_qty} units of one product"
    return None


def _free_units(p: Promotion, eligible: list[DiscountLine]) -> dict[int, Decimal]:
    """buy_x_get_y: free units per line, the cheapest units of each SKU first."""
    assert p.buy_qty is not None and p.get_qty is not None
    free: dict[int, Decimal] = {}
    for sku in sorted({ln.sku for ln in eligible}):
        same = sorted((ln for ln in eligible if ln.sku == sku), key=lambda ln: (ln.unit_price, ln.line_no))
        groups = (sum((ln.quantity for ln in same), ZERO) / (p.buy_qty + p.get_qty)).to_integral_value(
            ROUND_FLOOR
        )
        left = groups * p.get_qty
        for ln in same:
            units = min(left, ln.quantity)
            if units > 0:
                free[ln.line_no] = units
                left -= units
    return free


def _amounts(p: Promotion, book: _Book) -> dict[int, int]:
    """What ``p`` takes off each eligible line, on what is left of it."""
    eligible = [ln for ln in book.lines if p.matches(ln) and book.left[ln.line_no] > 0]
    left = {ln.line_no: book.left[ln.line_no] for ln in eligible}
    if p.kind == "buy_x_get_y":
        q = {ln.line_no: ln.quantity for ln in eligible}
        return {n: book.whole(left[n] * units / q[n]) for n, units in _free_units(p, eligible).items()}
    if p.level == "line" and p.kind == "percent":
        return {n: book.whole(units * p.value / HUNDRED) for n, units in left.items()}
    if p.level == "line":  # fixed: value off each unit
        return {ln.line_no: book.units(p.value * ln.quantity) for ln in eligible}
    whole = sum(left.values())
    total = book.whole(whole * p.value / HUNDRED) if p.kind == "percent" else min(book.units(p.value), whole)
    return allocate(total, left)


def _select(promotions: Sequence[Promotion], voucher: Promotion | None, book: _Book) -> list[Promotion]:
    """The promotions that apply, by priority, cut off below the first exclusive one that applies."""
    candidates = [p for p in promotions if _why_not(p, book) is None]
    if voucher is not None:
        candidates.append(voucher)
    candidates.sort(key=lambda p: (-p.priority, p is not voucher, p.code))
    kept: list[Promotion] = []
    stop: Promotion | None = None
    for p in candidates:
        if stop is not None and p.priority < stop.priority:
            if p is voucher:
                msg = f"voucher cannot be combined with promotion {stop.code} ({stop.name})"
                raise refusal(VoucherInvalid, "voucher", msg, stop.code)
            continue
        kept.append(p)
        if p.exclusive and stop is None:
            stop = p
    return kept


def _points(book: _Book, points: int, balance: int, loyalty: LoyaltyPolicy | None) -> None:
    if isinstance(points, bool) or not isinstance(points, int) or points < 0:
        msg = "points must be a whole number, 0 or more"
        raise ValidationFailed(msg, issues=[FieldIssue("points", msg, "out_of_range", points)])
    if points == 0:
        return
    if points > balance:
        raise refusal(PointsExceeded, "points", f"{points} points asked, the balance is {balance}", points)
    value = loyalty.point_value.get(book.currency) if loyalty is not None else None
    if loyalty is None or value is None:
        msg = f"points cannot pay for orders in {book.currency}"
        raise ValidationFailed(msg, issues=[FieldIssue("points", msg, "points_unavailable", points)])
    rest = sum(book.left.values())
    allowed = int(rest * loyalty.max_share_percent // HUNDRED)  # whole minor units, rounded down
    units = book.units(value * points)
    if units > allowed:
        most = int(((book.money(allowed) + book.money(1) / 2) / value).to_integral_value(ROUND_FLOOR))
        while most > 0 and book.units(value * most) > allowed:
            most -= 1
        msg = (
            f"points may pay at most {book.money(allowed)} {book.currency} "
            f"({loyalty.max_share_percent.normalize():f} % of {book.money(rest)} after discounts): "
            f"at most {most} points"
        )
        raise refusal(PointsExceeded, "points", msg, points)
    book.take("points", "points", allocate(units, book.left), points)


def discount_order(
    lines: Sequence[DiscountLine],
    currency: str,
    *,
    channel_code: str,
    on: date,
    promotions: Sequence[Promotion] = (),
    voucher: Voucher | None = None,
    points: int = 0,
    points_balance: int = 0,
    loyalty: LoyaltyPolicy | None = None,
    rounding: str = DEFAULT_ROUNDING,
    voucher_account_uses: int = 0,
) -> Discounts:
    """Discount ``lines``: automatic ``promotions`` in force, then ``voucher``, then ``points``.

    ``voucher_account_uses``: how often the order's account already used the voucher. Raises
    VoucherInvalid / VoucherExhausted (path ``voucher``) or PointsExceeded (path ``points``)."""
    book = _Book(lines, currency, rounding)
    vp = None
    if voucher is not None:
        check_voucher(voucher.code, voucher, on=on, channel_code=channel_code,
                      account_uses=voucher_account_uses)  # fmt: skip
        vp = voucher.promotion
        reason = _why_not(vp, book)
        if reason is not None:
            raise refusal(VoucherInvalid, "voucher", f"voucher {voucher.code} cannot be used: {reason}",
                          voucher.code)  # fmt: skip
    automatic = [p for p in promotions if p.in_force(on, channel_code) and (vp is None or p.code != vp.code)]
    kept = _select(automatic, vp, book)
    for level in LEVELS:
        for p in kept:
            if p.level == level and p is not vp:
                book.take("promotion", p.code, _amounts(p, book))
    if voucher is not None and vp is not None:
        book.take("voucher", voucher.code, _amounts(vp, book))
    _points(book, points, points_balance, loyalty)
    return book.result()


__all__ = ["Adjustment", "Discounts", "LineDiscount", "allocate", "discount_order"]
