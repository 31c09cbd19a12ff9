"""Usage (metered) billing: a fixed fee per period, an included allowance, then bands or overage.

For billing what a machine or a service reports: hours run, km driven, lifts made, kWh, GB,
cores. The metered amount comes from ``inputs.usage[metric]`` and is one unit's reading; the
line's quantity is the number of units on the same plan with that reading and multiplies the
whole charge (bill units with different readings on separate lines).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, ClassVar

from legato.domain.catalog import Dimensions
from legato.domain.pricing.mechanisms import Charge, ChargePart, PriceInputs, bad, dec, missing_input
from legato.domain.pricing.mechanisms._bands import (
    GRADUATED,
    BandTable,
    check_keys,
    exclusive,
    identifier,
    mapping,
    non_negative_input,
    quantity,
    read_table,
    scaled,
    text,
)

ZERO = Decimal(0)
ONE = Decimal(1)


@dataclass(frozen=True)
class Usage:
    kind: ClassVar[str] = "usage"
    metric: str
    base: Decimal
    included: Decimal
    overage: Decimal | None  # one rate above the allowance ...
    table: BandTable | None  # ... or bands over the usage above the allowance

    @classmethod
    def from_config(cls, config: Mapping[str, Any], path: str) -> Usage:
        config = mapping(config, path)
        check_keys(config, {"metric", "base", "included", "overage", "bands", "mode"}, path, top=True)
        if config.get("metric") is None:
            raise bad(f"{path}.metric", 'metric is required, e.g. "kWh" or "hours"', None, "required")
        metric = identifier(config["metric"], f"{path}.metric")
        overage = table = None
        if exclusive(config, ("overage", "bands"), path) == "overage":
            overage = dec(config, "overage", path)
            if "mode" in config:
                raise bad(f"{path}.mode", "mode applies to bands; overage is one rate", config["mode"])
        else:
            table = read_table(config, path, metric, default_mode=GRADUATED)
        base, included = dec(config, "base", path, default=ZERO), dec(config, "included", path, default=ZERO)
        return cls(metric, base, included, overage, table)

    def price(self, inputs: PriceInputs, weight_kg: Decimal | None, dimensions: Dimensions | None) -> Charge:
        units = quantity(inputs)
        reading = inputs.usage.get(self.metric)
        if reading is None:
            raise missing_input(f"usage.{self.metric}", f"this plan is billed on metered {self.metric}")
        used = non_negative_input(reading, f"usage.{self.metric}")
        over = max(used - self.included, ZERO)
        parts = scaled(self.period(used, over), units)
        recorded = {"metric": self.metric, "usage": text(used), "included": text(self.included),
                    "billable": text(over), "units": text(units)}  # fmt: skip
        rule = "usage:overage" if self.table is None else f"usage:{self.table.mode}"
        return Charge(sum((p.amount for p in parts), ZERO), rule, parts, recorded)

    def period(self, used: Decimal, over: Decimal) -> list[ChargePart]:
        """One unit's parts: the fee, the allowance used (free), what is billed above it."""
        parts: list[ChargePart] = []
        if self.base:
            parts.append(ChargePart("base", ONE, self.base, self.base))
        if self.included:
            inside = min(used, self.included)
            parts.append(ChargePart(f"included {self.metric}", inside, ZERO, ZERO))
        if self.overage is not None:
            if over:
                parts.append(
                    ChargePart(f"{self.metric} over allowance", over, self.overage, over * self.overage)
                )
        elif self.table is not None:
            parts.extend(self.table.apply(over)[1])
        return parts


MECHANISM = Usage

__all__ = ["MECHANISM", "Usage"]
