"""Promotions, vouchers and loyalty points: how much each line of an order is discounted, and why.

Applied in a fixed order, each step on what the previous ones left: line promotions, order
promotions, the voucher, then points. Every amount is in whole minor units of the order's
currency; an order-level amount is shared over its lines pro rata by largest remainder, so the
lines of each kind add up exactly to that kind's adjustments (what finance reconciles:
marketing discount, vouchers and points separately). A line's discounts never exceed its amount.

Promotions are tried by priority (highest first, then code); an exclusive one that applies stops
every promotion of lower priority, a voucher's included.

``rules`` holds the settings (checked when made), ``discounts`` the arithmetic.
"""

from legato.domain.promotions.discounts import (
    Adjustment,
    Discounts,
    LineDiscount,
    allocate,
    discount_order,
)
from legato.domain.promotions.rules import (
    ADJUSTMENT_KINDS,
    KINDS,
    LEVELS,
    DiscountLine,
    LoyaltyPolicy,
    PointsExceeded,
    Promotion,
    Voucher,
    VoucherExhausted,
    VoucherInvalid,
    check_voucher,
    loyalty_policy,
)

__all__ = [
    "ADJUSTMENT_KINDS",
    "KINDS",
    "LEVELS",
    "Adjustment",
    "DiscountLine",
    "Discounts",
    "LineDiscount",
    "LoyaltyPolicy",
    "PointsExceeded",
    "Promotion",
    "Voucher",
    "VoucherExhausted",
    "VoucherInvalid",
    "allocate",
    "check_voucher",
    "discount_order",
    "loyalty_policy",
]
