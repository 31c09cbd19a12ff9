"""Quantity slabs: the unit price falls as the quantity grows (trade price breaks).

``graduated`` prices each slab's share on its own (25 units = 10 x 5.00 + 15 x 4.50);
``volume`` prices the whole quantity at the slab it reaches (25 units = 25 x 4.50). A slab may add
a ``flat`` fee once when it is reached. The charge is for the whole line, not per unit.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, ClassVar

from legato.domain.catalog import Dimensions
from legato.domain.pricing.mechanisms import Charge, PriceInputs
from legato.domain.pricing.mechanisms._bands import BandTable, check_keys, mapping, quantity, read_table


@dataclass(frozen=True)
class Slabs:
    kind: ClassVar[str] = "slabs"
    table: BandTable

    @classmethod
    def from_config(cls, config: Mapping[str, Any], path: str) -> Slabs:
        config = mapping(config, path)
        check_keys(config, {"mode", "bands"}, path, top=True)
        return cls(read_table(config, path, "", default_mode=None))

    def price(self, inputs: PriceInputs, weight_kg: Decimal | None, dimensions: Dimensions | None) -> Charge:
        q = quantity(inputs)
        amount, parts = self.table.apply(q)
        return Charge(amount, f"slabs:{self.table.mode}", parts, {"quantity": str(q)})


MECHANISM = Slabs

__all__ = ["MECHANISM", "Slabs"]
