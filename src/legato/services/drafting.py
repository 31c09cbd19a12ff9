"""Turning an OrderDraft into priced lines for a customer: shared by orders and quotes.

Steps: find the channel, match the customer, choose the currency, price each line.
Every problem is collected with the path of the field it concerns, so one response
names all of them.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from legato.domain.catalog import Account, Channel, OnNoMatch
from legato.domain.commands import OrderDraft
from legato.domain.errors import (
    CustomerNotMatched,
    FieldIssue,
    IssueCollector,
    NotFound,
    PriceNotFound,
    UnknownProduct,
    ValidationFailed,
)
from legato.domain.matching import CustomerRef, match_account, normalise_email, normalise_phone
from legato.domain.money import is_currency
from legato.domain.order import OrderLine, Totals, compute_totals
from legato.domain.pricing import Conversion, PricingFailed, resolve_price
from legato.services.pricing import apply_discounts, apply_tax, points_money, price_book, round_lines
from legato.services.uow import UnitOfWork

MAX_QUANTITY = Decimal(1_000_000)


@dataclass
class Drafted:
    channel: Channel
    account: Account | None
    customer: CustomerRef
    currency: str
    lines: list[OrderLine]
    totals: Totals
    new_account: bool = False
    review: list[str] = field(default_factory=list)  # channel SKUs kept as lines awaiting review
    pricing: dict[str, Any] = field(default_factory=dict)  # the order's pricing record
    stale_rates: list[Conversion] = field(default_factory=list)  # conversions on a stale rate


def load_channel(uow: UnitOfWork, code: str) -> Channel:
    return check_channel(uow.channels.get_by_code(code, secrets=False), code)  # orders need no secret


def check_channel(channel: Channel | None, code: str) -> Channel:
    """The channel if it exists and is active, else the precise validation error."""
    if channel is None:
        raise ValidationFailed(
            f"no channel with code {code!r}",
            issues=[FieldIssue("channel", f"no channel with code {code!r}", "unknown_channel", code)],
        )
    if not channel.active:
        raise ValidationFailed(
            f"channel {code} is inactive",
            issues=[FieldIssue("channel", f"channel {code} is inactive", "inactive_channel", code)],
        )
    return channel


def match_customer(uow: UnitOfWork, channel: Channel, ref: CustomerRef | None) -> tuple[Account | None, bool]:
    """The account for this customer, per the channel's keys and no-match rule."""
    if ref is None:
        ref = CustomerRef()
    keys = channel.settings.match_keys
    account = match_account(ref, keys, uow.accounts.candidates(ref, keys)) if _has_any(ref, keys) else None
    if account is not None:
        return account, False
    rule = channel.settings.on_no_match
    if rule is OnNoMatch.REJECT:
        tried = ", ".join(keys)
        raise CustomerNotMatched(
            f"no account matches the customer by {tried}",
            issues=[FieldIssue("customer", f"no account matches by {tried}", "customer_not_matched")],
        )
    if rule is OnNoMatch.CREATE and (ref.email or ref.phone or ref.code):
        account = Account(
            code=ref.code or _account_code(ref),
            name=ref.name or ref.email or ref.phone or "Customer",
            email=normalise_email(ref.email),
            phone=normalise_phone(ref.phone),
            erp_ref=ref.erp_ref,
            properties=dict(ref.properties),
            currency=channel.currency,
        )
        uow.accounts.add(account)
        return account, True
    return None, False


def _has_any(ref: CustomerRef, keys: tuple[str, ...]) -> bool:
    return any(ref.value_for(k) is not None for k in keys)


def _account_code(ref: CustomerRef) -> str:
    basis = normalise_email(ref.email) or normalise_phone(ref.phone) or "guest"
    return "C-" + hashlib.sha256(basis.encode()).hexdigest()[:10].upper()


def draft_lines(
    uow: UnitOfWork, draft: OrderDraft, *, account_code: str | None = None, channel: Channel | None = None
) -> Drafted:
    """Channel, customer, currency and priced lines for ``draft``; raises with every issue.

    ``channel``: the draft's channel when the caller has already loaded (and checked) it.
    """
    channel = channel or load_channel(uow, draft.channel_code)
    if account_code is not None:
        account = uow.accounts.get_by_code(account_code)
        if account is None:
            raise NotFound(f"no account {account_code}")
        new_account = False
    else:
        account, new_account = match_customer(uow, channel, draft.customer)
    currency = (
        draft.currency or (account.currency if account and account.currency else None) or channel.currency
    )
    problems = IssueCollector()
    conversions: list[Conversion] = []
    if not is_currency(currency):
        problems.add(
            "currency", f"{currency!r} is not an ISO 4217 currency code", "unknown_currency", currency
        )
        problems.raise_if_any()
    if not draft.lines:
        problems.add("lines", "an order needs at least one line", "empty")
        problems.raise_if_any()

    skus = sorted({ln.sku for ln in draft.lines})
    products = uow.products.get_many(skus)
    book = price_book(uow, channel, account, currency, skus)
    today = uow.now().date()
    inclusive = bool(channel.settings.extra.get("prices_include_tax"))
    lines: list[OrderLine] = []
    review: list[str] = []
    review_unknown = channel.settings.extra.get("unknown_sku") == "review"
    error_kind: type[ValidationFailed] = ValidationFailed
    for i, ln in enumerate(draft.lines):
        path = f"lines[{i}]"
        if not (Decimal(0) < ln.quantity <= MAX_QUANTITY):
            problems.add(
                f"{path}.quantity",
                f"quantity must be above 0 and at most {MAX_QUANTITY}",
                "out_of_range",
                str(ln.quantity),
            )
            continue
        product = products.get(ln.sku)
        if (product is None or not product.active) and review_unknown:
            review.append(ln.sku)
            lines.append(OrderLine(
                line_no=i + 1, sku=ln.sku, name=ln.name or ln.sku, quantity=ln.quantity,
                unit_price=ln.unit_price or Decimal(0), price_source="unmapped", discount=ln.discount,
                tax_rate=ln.tax_rate or Decimal(0), status="review"))  # fmt: skip
            continue
        if product is None or not product.active:
            problems.add(f"{path}.sku", f"no active product with SKU {ln.sku!r}", "unknown_sku", ln.sku)
            error_kind = UnknownProduct
            continue
        try:
            priced = resolve_price(
                book, product, ln.quantity, inputs=ln.inputs, sent_price=ln.unit_price,
                policy=channel.settings.price_policy, on=today, path=path,
            )  # fmt: skip
        except PricingFailed as exc:
            for issue in exc.issues:
                problems.add(issue.path, issue.message, issue.code, issue.value)
            if any(i.code in ("price_not_found", "rate_missing") for i in exc.issues):
                error_kind = PriceNotFound if error_kind is ValidationFailed else error_kind
            continue
        if priced.conversion is not None:
            conversions.append(priced.conversion)
        lines.append(
            OrderLine(
                line_no=i + 1,
                sku=product.sku,
                name=ln.name or product.name,
                quantity=ln.quantity,
                unit_price=priced.unit_price,
                price_source=priced.source,
                discount=ln.discount,
                tax_rate=ln.tax_rate or Decimal(0),
                detail=priced.detail,
                charge=priced.charge,
            )
        )
    problems.raise_if_any(error_kind)
    sent = {i + 1: ln.tax_rate for i, ln in enumerate(draft.lines)}
    lines = apply_tax(uow, lines, sent, products, draft)
    lines = round_lines(lines, currency, uow.rounding, inclusive)
    lines, adjustments = apply_discounts(uow, lines, products, draft, channel, account, currency, today)
    if adjustments:
        lines = round_lines(lines, currency, uow.rounding, inclusive)
    totals = compute_totals(
        lines, currency, draft.shipping, draft.shipping_tax_rate, uow.rounding,
        inclusive=inclusive, points=points_money(adjustments),
    )  # fmt: skip
    pricing: dict[str, Any] = {"prices_include_tax": inclusive} if inclusive else {}
    if adjustments:
        pricing["adjustments"] = adjustments
    if conversions:
        pricing["fx"] = _rates_used(conversions)
    customer = _snapshot(draft.customer, account)
    drafted = Drafted(channel, account, customer, currency, lines, totals, new_account, review, pricing)
    drafted.stale_rates = [c for c in conversions if c.stale]
    return drafted


def _rates_used(conversions: list[Conversion]) -> list[dict[str, Any]]:
    seen: dict[str, dict[str, Any]] = {}
    for c in conversions:
        seen.setdefault(c.from_currency, c.as_dict())
    return list(seen.values())


def _snapshot(ref: CustomerRef | None, account: Account | None) -> CustomerRef:
    """The customer as recorded on the order: the account's details, else what was sent."""
    ref = ref or CustomerRef()
    if account is None:
        return CustomerRef(
            name=ref.name,
            email=normalise_email(ref.email),
            phone=normalise_phone(ref.phone),
            code=None,
            erp_ref=ref.erp_ref,
            properties=dict(ref.properties),
        )
    return CustomerRef(
        name=account.name,
        email=account.email or normalise_email(ref.email),
        phone=account.phone or normalise_phone(ref.phone),
        code=account.code,
        erp_ref=account.erp_ref,
    )


__all__ = ["Drafted", "check_channel", "draft_lines", "load_channel", "match_customer"]
