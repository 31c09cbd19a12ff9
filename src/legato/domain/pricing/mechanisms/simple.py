"""Simple: one price per unit. ``{"price": "12.50"}`` -> 3 units cost 37.50."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, ClassVar

from legato.domain.catalog import Dimensions
from legato.domain.pricing.mechanisms import Charge, ChargePart, PriceInputs, dec


@dataclass(frozen=True)
class Simple:
    kind: ClassVar[str] = "simple"
    unit: Decimal  # the unit price

    @classmethod
    def from_config(cls, config: Mapping[str, Any], path: str) -> Simple:
        return cls(dec(config, "price", path))

    def price_line(self, quantity: Decimal) -> Charge:
        amount = quantity * self.unit
        return Charge(amount, "simple", (ChargePart("unit", quantity, self.unit, amount),))

    def price(self, inputs: PriceInputs, weight_kg: Decimal | None, dimensions: Dimensions | None) -> Charge:
        return self.price_line(inputs.quantity)


MECHANISM = Simple

__all__ = ["MECHANISM", "Simple"]
