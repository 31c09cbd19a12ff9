"""The rules: promotions, vouchers and the loyalty policy, each checked when it is made, so a
bad setting is refused with every bad field named (a float is never taken for money)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal
from typing import Any

from legato.domain.errors import FieldIssue, IssueCollector, ValidationFailed
from legato.domain.money import is_currency
from legato.domain.pricing.mechanisms import dec

ZERO = Decimal(0)
HUNDRED = Decimal(100)
KINDS = ("percent", "fixed", "buy_x_get_y")  # value % off; value off each unit or the order; Y units free
LEVELS = ("line", "order")  # per eligible line; or once on the eligible lines together
ADJUSTMENT_KINDS = ("promotion", "voucher", "points")


class VoucherInvalid(ValidationFailed):
    code = "voucher_invalid"
    title = "This voucher cannot be used"


class VoucherExhausted(ValidationFailed):
    code = "voucher_exhausted"
    title = "This voucher has been used up"


class PointsExceeded(ValidationFailed):
    code = "points_exceeded"
    title = "Too many points"


def refusal(kind: type[ValidationFailed], path: str, message: str, value: Any = None) -> ValidationFailed:
    return kind(message, issues=[FieldIssue(path, message, kind.code, value)])


def _check_decimal(problems: IssueCollector, path: str, value: Any) -> bool:
    if isinstance(value, Decimal) and value.is_finite():
        return True
    problems.add(path, f'{path} must be a decimal such as "12.50", not {value!r}', "invalid", repr(value))
    return False


def _check_dates(problems: IssueCollector, valid_from: date | None, valid_to: date | None) -> None:
    if valid_from and valid_to and valid_to < valid_from:
        problems.add("valid_to", "valid_to is before valid_from", "out_of_range", str(valid_to))


def _in_force(valid_from: date | None, valid_to: date | None, on: date) -> bool:
    return (valid_from is None or valid_from <= on) and (valid_to is None or on <= valid_to)


@dataclass(frozen=True)
class Promotion:
    """A discount rule. Filters left empty match everything (skus, categories, tags each match
    any listed value; filters of different kinds must all match); ``channels`` empty = all."""

    code: str
    name: str
    kind: str
    level: str
    value: Decimal = ZERO  # percent (0-100], or an amount in ``currency``; 0 for buy_x_get_y
    currency: str | None = None  # required for fixed amounts and a minimum subtotal
    skus: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    min_subtotal: Decimal | None = None  # of the eligible lines, before any discount
    buy_qty: int | None = None  # buy_x_get_y: in every buy_qty + get_qty units of one SKU ...
    get_qty: int | None = None  # ... get_qty (the cheapest) are free
    channels: tuple[str, ...] = ()
    valid_from: date | None = None
    valid_to: date | None = None
    active: bool = True
    priority: int = 0  # higher first
    exclusive: bool = False  # when it applies, promotions of lower priority do not

    def __post_init__(self) -> None:
        problems = IssueCollector()
        if not self.code.strip():
            problems.add("code", "code must not be empty", "required")
        if self.kind not in KINDS:
            problems.add("kind", f"kind must be one of {', '.join(KINDS)}", "invalid", self.kind)
        if self.level not in LEVELS:
            problems.add("level", f"level must be one of {', '.join(LEVELS)}", "invalid", self.level)
        if _check_decimal(problems, "value", self.value):
            self._check_value(problems)
        if self.currency is not None and not is_currency(self.currency):
            problems.add("currency", f"{self.currency!r} is not an ISO 4217 currency code",
                         "unknown_currency", self.currency)  # fmt: skip
        if self.currency is None and (self.kind == "fixed" or self.min_subtotal is not None):
            what = "a fixed amount" if self.kind == "fixed" else "a minimum subtotal"
            problems.add("currency", f"{what} needs its currency", "required")
        low = self.min_subtotal
        if low is not None and _check_decimal(problems, "min_subtotal", low) and low < 0:
            problems.add("min_subtotal", "min_subtotal must not be negative", "out_of_range", str(low))
        self._check_quantities(problems)
        _check_dates(problems, self.valid_from, self.valid_to)
        problems.raise_if_any()

    def _check_value(self, problems: IssueCollector) -> None:
        if self.kind == "percent" and not ZERO < self.value <= HUNDRED:
            problems.add("value", "a percentage must be above 0 and at most 100", "out_of_range",
                         str(self.value))  # fmt: skip
        elif self.kind == "fixed" and self.value <= 0:
            problems.add("value", "a fixed amount must be above 0", "out_of_range", str(self.value))
        elif self.kind == "buy_x_get_y" and self.value != 0:
            problems.add("value", "buy_x_get_y makes get_qty units free: value must be 0", "invalid",
                         str(self.value))  # fmt: skip

    def _check_quantities(self, problems: IssueCollector) -> None:
        if self.kind != "buy_x_get_y":
            for name in ("buy_qty", "get_qty"):
                if getattr(self, name) is not None:
                    problems.add(name, f"{name} is only for buy_x_get_y", "invalid", getattr(self, name))
            return
        for name in ("buy_qty", "get_qty"):
            qty = getattr(self, name)
            if isinstance(qty, bool) or not isinstance(qty, int) or qty < 1:
                problems.add(name, f"buy_x_get_y needs a whole {name} of at least 1", "required", qty)
        if self.level != "line":
            problems.add("level", "buy_x_get_y is a line promotion", "invalid", self.level)

    def in_force(self, on: date, channel_code: str) -> bool:
        """Active, within its dates, and for this channel."""
        return (
            self.active
            and _in_force(self.valid_from, self.valid_to, on)
            and (not self.channels or channel_code in self.channels)
        )

    def matches(self, line: DiscountLine) -> bool:
        return (
            (not self.skus or line.sku in self.skus)
            and (not self.categories or line.category in self.categories)
            and (not self.tags or any(t in self.tags for t in line.tags))
        )


@dataclass(frozen=True)
class Voucher:
    """A code a customer enters, giving its promotion; limited in uses overall and per account."""

    code: str
    promotion: Promotion
    usage_limit: int | None = None  # None: unlimited
    used: int = 0
    per_account_limit: int | None = None
    valid_from: date | None = None
    valid_to: date | None = None

    def __post_init__(self) -> None:
        problems = IssueCollector()
        if not self.code.strip():
            problems.add("code", "code must not be empty", "required")
        for name in ("usage_limit", "per_account_limit"):
            limit = getattr(self, name)
            if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
                problems.add(name, f"{name} must be a whole number of at least 1", "out_of_range", limit)
        _check_dates(problems, self.valid_from, self.valid_to)
        problems.raise_if_any()


@dataclass(frozen=True)
class LoyaltyPolicy:
    """What a point is worth in each currency, and the largest share of an order (after
    discounts) points may pay."""

    point_value: Mapping[str, Decimal] = field(default_factory=dict)  # {"EUR": Decimal("0.01")}
    max_share_percent: Decimal = HUNDRED

    def __post_init__(self) -> None:
        problems = IssueCollector()
        for cur, value in self.point_value.items():
            path = f"point_value.{cur}"
            if not is_currency(cur):
                problems.add(path, f"{cur!r} is not an ISO 4217 currency code", "unknown_currency", cur)
            if _check_decimal(problems, path, value) and value <= 0:
                problems.add(path, "a point must be worth more than 0", "out_of_range", str(value))
        if _check_decimal(problems, "max_share_percent", self.max_share_percent) and not (
            ZERO <= self.max_share_percent <= HUNDRED
        ):
            problems.add("max_share_percent", "max_share_percent must be between 0 and 100",
                         "out_of_range", str(self.max_share_percent))  # fmt: skip
        problems.raise_if_any()


def loyalty_policy(config: Mapping[str, Any], path: str = "loyalty") -> LoyaltyPolicy:
    """A policy from JSON configuration (``{"point_value": {"EUR": "0.01"}, "max_share_percent":
    "50"}``); a float is refused, naming its field, because it is not exact."""
    values = config.get("point_value")
    if not isinstance(values, Mapping) or not values:
        msg = 'point_value must map currencies to decimals, e.g. {"EUR": "0.01"}'
        raise ValidationFailed(msg, issues=[FieldIssue(f"{path}.point_value", msg, "required")])
    point_value = {str(cur): dec(values, cur, f"{path}.point_value") for cur in values}
    share = dec(config, "max_share_percent", path, default=HUNDRED)
    try:
        return LoyaltyPolicy(point_value, share)
    except ValidationFailed as exc:
        issues = [replace(i, path=f"{path}.{i.path}") for i in exc.issues]
        raise ValidationFailed(exc.detail, issues=issues) from None


@dataclass(frozen=True)
class DiscountLine:
    """What discounting needs of an order line; ``amount`` is its rounded amount."""

    line_no: int
    sku: str
    category: str | None
    tags: tuple[str, ...]
    quantity: Decimal
    unit_price: Decimal
    amount: Decimal


def check_voucher(
    code: str, voucher: Voucher | None, *, on: date, channel_code: str, account_uses: int = 0
) -> Voucher:
    """The voucher if it can be used today on this channel by an account that used it
    ``account_uses`` times; else VoucherInvalid or VoucherExhausted at path ``voucher``."""
    if voucher is None:
        raise refusal(VoucherInvalid, "voucher", f"there is no voucher {code!r}", code)
    p = voucher.promotion
    if not p.active:
        raise refusal(VoucherInvalid, "voucher", f"voucher {code} is no longer active", code)
    for start, end in ((voucher.valid_from, voucher.valid_to), (p.valid_from, p.valid_to)):
        if start is not None and on < start:
            raise refusal(VoucherInvalid, "voucher", f"voucher {code} is valid from {start}", code)
        if end is not None and on > end:
            raise refusal(VoucherInvalid, "voucher", f"voucher {code} expired on {end}", code)
    if p.channels and channel_code not in p.channels:
        raise refusal(
            VoucherInvalid, "voucher", f"voucher {code} is not valid on channel {channel_code}", code
        )
    if voucher.usage_limit is not None and voucher.used >= voucher.usage_limit:
        msg = f"voucher {code} has been used up ({voucher.used} of {voucher.usage_limit} uses)"
        raise refusal(VoucherExhausted, "voucher", msg, code)
    if voucher.per_account_limit is not None and account_uses >= voucher.per_account_limit:
        msg = (
            f"voucher {code} can be used {voucher.per_account_limit} time(s) per customer; "
            f"this customer has used it {account_uses} time(s)"
        )
        raise refusal(VoucherExhausted, "voucher", msg, code)
    return voucher


__all__ = [
    "ADJUSTMENT_KINDS",
    "KINDS",
    "LEVELS",
    "DiscountLine",
    "LoyaltyPolicy",
    "PointsExceeded",
    "Promotion",
    "Voucher",
    "VoucherExhausted",
    "VoucherInvalid",
    "check_voucher",
    "loyalty_policy",
    "refusal",
]
