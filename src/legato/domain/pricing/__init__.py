"""Basic pricing at order creation: contract, then the product's list price, or the channel's.

Resolution, per line, in this order:

1. the channel trusts its prices (``price_policy = trust``) and the line carries one:
   keep it (source ``channel``);
2. the account's contracted pricelist is in force, in the order's currency, and
   prices the SKU (a fixed price, or a percentage off the list price):
   source ``contract:<CODE>``;
3. the product's list price in the order's currency: source ``product``;
4. otherwise the line cannot be priced: PriceNotFound names the line.

The full pricing engine (slabs, rentals, distance, usage, conversion) extends this.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from legato.domain.catalog import Pricelist, PricelistKind, PricePolicy, Product
from legato.domain.money import DEFAULT_ROUNDING, round_amount

HUNDRED = Decimal(100)


@dataclass(frozen=True)
class PricedUnit:
    unit_price: Decimal
    source: str


def resolve_unit_price(
    product: Product,
    currency: str,
    *,
    sent_price: Decimal | None,
    policy: PricePolicy,
    contract: Pricelist | None,
    on: date,
    rounding: str = DEFAULT_ROUNDING,
) -> PricedUnit | None:
    """The unit price of ``product`` for one line, and where it came from; None if unpriced."""
    if policy is PricePolicy.TRUST and sent_price is not None:
        return PricedUnit(sent_price, "channel")
    if contract is not None and contract.currency == currency and contract.in_force(on):
        fixed = contract.items.get(product.sku)
        if fixed is not None:
            return PricedUnit(fixed, f"contract:{contract.code}")
        base = product.prices.get(currency)
        if contract.kind is PricelistKind.PERCENT_OFF and base is not None:
            # a discounted unit price is a price like any other: in whole minor units
            price = round_amount(base * (HUNDRED - contract.percent_off) / HUNDRED, currency, rounding)
            return PricedUnit(price, f"contract:{contract.code}:-{contract.percent_off.normalize():f}%")
    list_price = product.prices.get(currency)
    if list_price is not None:
        return PricedUnit(list_price, "product")
    return None


__all__ = ["PricedUnit", "resolve_unit_price"]
