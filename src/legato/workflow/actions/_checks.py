"""The checks of ``validate_before_erp``: each one decides passed, failed, or not checked
(it cannot be decided from what Legato records), and says why in one line.

Pure functions over the order, its account and what was read for them, so each rule is
tested on its own; the reads (open orders, stock held and available) are the functions at the end.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import Connection, select

from legato.domain.catalog import Account
from legato.domain.fx import RateTable
from legato.domain.lifecycle import FINAL_STATUSES, PaymentStatus
from legato.domain.money import round_amount
from legato.domain.order import SalesOrder
from legato.store import inventory_tables
from legato.store import tables as t
from legato.store.inventory import available

PASSED, FAILED, NOT_CHECKED = "passed", "failed", "not_checked"

#: the checks, and what each one decides
CHECKS: dict[str, str] = {
    "customer_exists": "the order belongs to a customer account that exists (a guest order fails)",
    "within_credit": "the account's open balance, this order included, stays within its credit limit",
    "stock_available": "every line's quantity is held for the order (reserved, shipped, dropshipped) or "
    "available to promise",
    "payment_method_valid": "the order is paid, or the account buys on payment terms",
}

_OPEN_PAYMENT = (PaymentStatus.UNPAID.value, PaymentStatus.PARTIALLY_PAID.value)


@dataclass(frozen=True)
class Verdict:
    check: str
    outcome: str  # passed | failed | not_checked
    detail: str

    def line(self) -> str:
        prefix = "not checked: " if self.outcome == NOT_CHECKED else ""
        return f"{self.check}: {prefix}{self.detail}"


def customer_exists(order: SalesOrder, account: Account | None) -> Verdict:
    name = "customer_exists"
    if order.account_code is None:
        return Verdict(name, FAILED, "the order has no customer account (a guest order)")
    if account is None:
        return Verdict(name, FAILED, f"account {order.account_code} does not exist")
    erp = f", ERP reference {account.erp_ref}" if account.erp_ref else ", no ERP reference yet"
    return Verdict(name, PASSED, f"account {account.code}{erp}")


def _money(amount: Decimal, currency: str) -> str:
    return f"{round_amount(amount, currency):,} {currency}"


def within_credit(
    order: SalesOrder,
    account: Account | None,
    open_orders: Sequence[tuple[int, str, Decimal]],
    rates: RateTable,
    base_currency: str,
) -> Verdict:
    """``open_orders``: (id, currency, grand total) of the account's orders that are not final
    and not paid (this order among them while it is unpaid)."""
    name = "within_credit"
    if account is None:
        return Verdict(name, NOT_CHECKED, "the order has no customer account to hold a credit limit")
    if account.credit_limit is None:
        return Verdict(name, PASSED, f"account {account.code} has no credit limit")
    currency = account.currency or base_currency
    balance = Decimal(0)
    for _, ccy, total in open_orders:
        if ccy == currency:
            balance += total
            continue
        rate = rates.rate(ccy, currency)
        if rate is None:
            return Verdict(
                name, NOT_CHECKED, f"no exchange rate {ccy}->{currency} to add up the open balance"
            )
        balance += total * rate.rate
    limit = _money(account.credit_limit, currency)
    if balance > account.credit_limit:
        detail = (
            f"open balance {_money(balance, currency)} exceeds the credit limit {limit} of {account.code}"
        )
        return Verdict(name, FAILED, detail)
    return Verdict(name, PASSED, f"open balance {_money(balance, currency)} within the credit limit {limit}")


def payment_method_valid(order: SalesOrder, account: Account | None) -> Verdict:
    """Legato records no tender on an order yet: decided from the payment track and the
    account's payment terms."""
    name = "payment_method_valid"
    status = order.payment_status
    if status is PaymentStatus.PAID:
        return Verdict(name, PASSED, "paid")
    if status in (PaymentStatus.REFUNDED, PaymentStatus.PARTIALLY_REFUNDED):
        return Verdict(name, FAILED, f"the payment was {status.value.replace('_', ' ')}")
    if account is not None and account.payment_terms:
        return Verdict(
            name, PASSED, f"{status.value.replace('_', ' ')}, on payment terms {account.payment_terms}"
        )
    who = f"account {account.code} has" if account is not None else "a guest has"
    return Verdict(name, FAILED, f"{status.value.replace('_', ' ')} and {who} no payment terms")


def stock_shortfalls(
    order: SalesOrder, available: Mapping[str, Decimal], held: Mapping[str, Decimal] | None = None
) -> list[str]:
    """One line per SKU the order needs more of than it holds and is available (lines of one SKU
    add up). ``held``: units already reserved for, shipped to or dropshipped for this order."""
    need: dict[str, Decimal] = {}
    for ln in order.lines:
        if ln.status != "cancelled":
            need[ln.sku] = need.get(ln.sku, Decimal(0)) + ln.quantity
    held = held or {}
    short = []
    for sku, qty in need.items():
        mine = held.get(sku, Decimal(0))
        if mine >= qty:
            continue
        have = available.get(sku)
        if have is None and not mine:
            short.append(f"{sku}: no stock record")
        elif (have or Decimal(0)) + mine < qty:
            got = f"{mine.normalize():f} held for this order, " if mine else ""
            short.append(
                f"{sku}: {qty.normalize():f} needed, {got}{(have or Decimal(0)).normalize():f} available"
            )
    return short


def held_for(conn: Connection, order_id: int) -> dict[str, Decimal]:
    """Units per SKU already promised to this order: reserved, shipped, or sent to a dropship
    supplier (its allocations); what is backordered is not held."""
    a = inventory_tables.allocations
    rows = conn.execute(select(a.c.sku, a.c.quantity, a.c.shipped).where(a.c.order_id == order_id))
    out: dict[str, Decimal] = {}
    for r in rows:
        out[r.sku] = out.get(r.sku, Decimal(0)) + r.quantity + r.shipped
    return out


def stock_available(order: SalesOrder, conn: Connection) -> Verdict:
    name = "stock_available"
    skus = sorted({ln.sku for ln in order.lines})
    supplied = set(
        conn.execute(
            select(inventory_tables.supplier_items.c.sku).where(
                inventory_tables.supplier_items.c.sku.in_(skus)
            )
        ).scalars()
    )
    stocked = [sku for sku in skus if sku not in supplied]  # a dropship supplier has no stock to count
    held = held_for(conn, order.id) if order.id is not None else {}
    short = stock_shortfalls(order, available(conn, stocked), held) if stocked else []
    short = [s for s in short if s.split(":", 1)[0] not in supplied]
    if short:
        return Verdict(name, FAILED, "; ".join(short))
    via = f" ({', '.join(sorted(supplied))} from dropship suppliers)" if supplied else ""
    return Verdict(name, PASSED, f"every line is held for the order or available{via}")


def open_orders(conn: Connection, account_code: str) -> list[tuple[int, str, Decimal]]:
    """The account's orders that are neither final nor paid: what its open balance adds up."""
    o, a = t.orders, t.accounts
    rows = conn.execute(
        select(o.c.id, o.c.currency, o.c.grand_total)
        .select_from(o.join(a, a.c.id == o.c.account_id))
        .where(
            a.c.code == account_code,
            o.c.status.not_in([s.value for s in FINAL_STATUSES]),
            o.c.payment_status.in_(_OPEN_PAYMENT),
        )
    )
    return [(r.id, r.currency, r.grand_total) for r in rows]


__all__ = [
    "CHECKS",
    "FAILED",
    "NOT_CHECKED",
    "PASSED",
    "Verdict",
    "customer_exists",
    "held_for",
    "open_orders",
    "payment_method_valid",
    "stock_available",
    "stock_shortfalls",
    "within_credit",
]
