"""Pricing an order's lines beyond the unit price: the price book (contract, channel list,
conversion), tax from the tax rules, and discounts (promotions, voucher, loyalty points).

``draft_lines`` calls these in order: price each line (``price_book`` + the domain engine),
``apply_tax``, ``apply_discounts``; then the lines are rounded and totalled. Redeeming the
voucher and spending the points happen once the order has its id (``redeem``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import date
from decimal import Decimal
from typing import Any

from legato.domain.catalog import Account, Channel, Product
from legato.domain.commands import OrderDraft
from legato.domain.errors import FieldIssue
from legato.domain.fx import RateMissing, RateTable, apply_price_rule, convert, is_stale
from legato.domain.order import Address, OrderLine, price_line
from legato.domain.pricing import Conversion, PriceBook
from legato.domain.promotions import (
    DiscountLine,
    PointsExceeded,
    check_voucher,
    discount_order,
    loyalty_policy,
)
from legato.services.uow import UnitOfWork

ZERO = Decimal(0)


def price_book(
    uow: UnitOfWork, channel: Channel, account: Account | None, currency: str, skus: Sequence[str]
) -> PriceBook:
    """What this order's pricing reads: the contract, the channel's list, the conversion rules."""
    code = account.pricelist_code if account is not None else None
    contract, lists = uow.pricelists.for_order(code, channel.code, currency, skus)
    today = uow.now().date()
    lists = [p for p in lists if p.in_force(today)]
    policy = uow.pricing
    extra = channel.settings.extra
    margin = Decimal(str(extra.get("fx_margin_percent", policy.margin_percent)))
    rule = str(extra.get("price_rule", policy.price_rule))
    table: list[RateTable] = []  # loaded on the first conversion: most orders need none

    def converter(amount: Decimal, src: str, dst: str) -> tuple[Decimal, Conversion] | None:
        if not table:
            table.append(uow.pricing_data.rates(today))
        try:
            done = convert(amount, src, dst, table[0], margin_percent=margin)
        except RateMissing:
            return None
        stale = is_stale(done.rate, today, policy.max_age_days)
        how = Conversion(src, done.rate.rate, done.rate.as_of, done.rate.provider, margin, stale)
        return done.amount, how

    def shape(amount: Decimal, cur: str) -> Decimal:
        return apply_price_rule(amount, cur, rule, uow.rounding)

    return PriceBook(
        currency=currency,
        base_currency=policy.base_currency,
        contract=contract,
        channel_list=lists[0] if lists else None,
        convert=converter,
        price_rule=shape,
        rounding=uow.rounding,
    )


def _tax_address(draft: OrderDraft) -> Address | None:
    for a in (draft.shipping_address, draft.billing_address):
        if a is not None and a.country:
            return a
    return None


def apply_tax(
    uow: UnitOfWork,
    lines: list[OrderLine],
    sent: Mapping[int, Decimal | None],
    products: Mapping[str, Product],
    draft: OrderDraft,
) -> list[OrderLine]:
    """Each line's tax rate: the one the channel sent, else the tax rules' rate for the ship-to
    region (else the bill-to) and the product's tax class; recorded in the line's detail."""
    if all(sent.get(ln.line_no) is not None for ln in lines):
        return [replace(ln, detail={**ln.detail, "tax": {"source": "channel"}}) for ln in lines]
    where = _tax_address(draft)
    rules = uow.pricing_data.tax_rules() if where is not None else None
    out = []
    for ln in lines:
        rate = sent.get(ln.line_no)
        if rate is not None:
            out.append(replace(ln, tax_rate=rate, detail={**ln.detail, "tax": {"source": "channel"}}))
            continue
        product = products.get(ln.sku)
        tax_class = product.tax_class if product is not None else None
        if where is None or rules is None:
            tax = {"source": "rules", "rate": "0", "name": "no address to tax by"}
            out.append(replace(ln, tax_rate=ZERO, detail={**ln.detail, "tax": tax}))
            continue
        found = rules.resolve(where.country or "", where.region, tax_class)
        tax = {"source": "rules", "rate": str(found.rate), "name": found.name, "region": found.region,
               "class": found.tax_class}  # fmt: skip
        out.append(replace(ln, tax_rate=found.rate, detail={**ln.detail, "tax": tax}))
    return out


def apply_discounts(
    uow: UnitOfWork,
    lines: list[OrderLine],
    products: Mapping[str, Product],
    draft: OrderDraft,
    channel: Channel,
    account: Account | None,
    currency: str,
    on: date,
) -> tuple[list[OrderLine], list[dict[str, Any]]]:
    """Promotions in force, the voucher, then the points: each line's discount grows by what
    each took off it, and the order keeps one adjustment per rule for finance."""
    data = uow.pricing_data
    promotions = data.promotions(on, channel.code)
    if not promotions and draft.voucher is None and not draft.points:
        return lines, []
    subject = [_discount_line(ln, products) for ln in lines if ln.status == "open"]
    voucher = None
    uses = 0
    if draft.voucher is not None:
        voucher = data.voucher(draft.voucher)
        if voucher is None:
            check_voucher(draft.voucher, None, on=on, channel_code=channel.code)  # raises: unknown code
        if account is not None and account.id is not None:
            uses = data.voucher_uses(draft.voucher, account.id)
    balance = 0
    if draft.points:
        if account is None or account.id is None:
            msg = "loyalty points need a customer account; this order has none"
            raise PointsExceeded(msg, issues=[FieldIssue("points", msg, "points_exceeded", draft.points)])
        balance = data.points_balance(account.id)
    loyalty = loyalty_policy(uow.pricing.loyalty) if uow.pricing.loyalty else None
    result = discount_order(
        subject, currency, channel_code=channel.code, on=on, promotions=promotions, voucher=voucher,
        points=draft.points, points_balance=balance, loyalty=loyalty, rounding=uow.rounding,
        voucher_account_uses=uses,
    )  # fmt: skip
    out = []
    for ln in lines:
        taken = result.per_line.get(ln.line_no)
        if taken is None or taken.total == ZERO:
            out.append(ln)
            continue
        parts = {k: str(v) for k, v in (("promotion", taken.promotion), ("voucher", taken.voucher),
                                         ("points", taken.points)) if v}  # fmt: skip
        out.append(replace(ln, discount=ln.discount + taken.total, detail={**ln.detail, "discounts": parts}))
    adjustments = [
        {
            "kind": a.kind,
            "code": a.code,
            "amount": str(a.amount),
            **({"points": a.points} if a.points else {}),
        }
        for a in result.adjustments
    ]
    return out, adjustments


def _discount_line(ln: OrderLine, products: Mapping[str, Product]) -> DiscountLine:
    """What promotions look at: the line, and its product's category and tags."""
    product = products.get(ln.sku)
    category, tags = (product.category, product.tags) if product is not None else (None, ())
    net = ln.amount - ln.discount
    return DiscountLine(ln.line_no, ln.sku, category, tags, ln.quantity, ln.unit_price, net)


def points_money(adjustments: list[dict[str, Any]]) -> Decimal:
    return sum((Decimal(a["amount"]) for a in adjustments if a["kind"] == "points"), ZERO)


def redeem(
    uow: UnitOfWork, order_id: int, account: Account | None, adjustments: Sequence[Mapping[str, Any]]
) -> None:
    """Use the order's voucher and spend its points, in the order's transaction: a voucher used
    up meanwhile, or points spent meanwhile, refuse the order (nothing is promised twice)."""
    account_id = account.id if account is not None else None
    for a in adjustments:
        if a["kind"] == "voucher":
            uow.pricing_data.redeem(str(a["code"]), order_id, account_id)
        elif a["kind"] == "points" and account_id is not None:
            uow.pricing_data.spend_points(account_id, int(a["points"]), order_id)


def round_lines(lines: list[OrderLine], currency: str, rounding: str, inclusive: bool) -> list[OrderLine]:
    return [price_line(ln, currency, rounding, inclusive=inclusive) for ln in lines]


__all__ = ["apply_discounts", "apply_tax", "points_money", "price_book", "redeem", "round_lines"]
