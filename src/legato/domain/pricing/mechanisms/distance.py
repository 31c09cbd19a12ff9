"""Distance: a base charge plus a rate per kilometre, or kilometre bands, for one trip.

For delivery runs, transfers, call-outs and haulage. The charge is per trip (or vehicle): the
line's quantity is the number of trips over the same distance and multiplies the whole charge,
``minimum`` included. ``round_km: "up"`` charges every started kilometre; ``"none"`` (the default)
charges the distance as given.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal
from typing import Any, ClassVar

from legato.domain.catalog import Dimensions
from legato.domain.pricing.mechanisms import Charge, ChargePart, PriceInputs, bad, dec, missing_input
from legato.domain.pricing.mechanisms._bands import (
    BandTable,
    check_keys,
    choice,
    exclusive,
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
class Distance:
    kind: ClassVar[str] = "distance"
    base: Decimal
    per_km: Decimal | None  # one rate for every kilometre ...
    table: BandTable | None  # ... or kilometre bands
    minimum: Decimal | None
    round_km: str  # "up" or "none"

    @classmethod
    def from_config(cls, config: Mapping[str, Any], path: str) -> Distance:
        config = mapping(config, path)
        check_keys(config, {"base", "per_km", "bands", "mode", "minimum", "round_km"}, path, top=True)
        per_km = table = None
        if exclusive(config, ("per_km", "bands"), path) == "per_km":
            per_km = dec(config, "per_km", path)
            if "mode" in config:
                raise bad(f"{path}.mode", "mode applies to bands; per_km is one rate", config["mode"])
        else:
            table = read_table(config, path, "km", default_mode=None)
        minimum = dec(config, "minimum", path) if config.get("minimum") is not None else None
        round_km = choice(config, "round_km", path, ("up", "none"), default="none")
        return cls(dec(config, "base", path, default=ZERO), per_km, table, minimum, round_km)

    def price(self, inputs: PriceInputs, weight_kg: Decimal | None, dimensions: Dimensions | None) -> Charge:
        trips = quantity(inputs)
        if inputs.distance_km is None:
            raise missing_input("distance_km", "this product is priced by distance")
        km = non_negative_input(inputs.distance_km, "distance_km")
        charged = km.to_integral_value(ROUND_CEILING) if self.round_km == "up" else km
        one = self.trip(charged)
        parts = scaled(one, trips)
        recorded = {"distance_km": text(km), "charged_km": text(charged), "trips": text(trips)}
        rule = "distance:per_km" if self.table is None else f"distance:{self.table.mode}"
        return Charge(sum((p.amount for p in parts), ZERO), rule, parts, recorded)

    def trip(self, km: Decimal) -> tuple[ChargePart, ...]:
        """The parts of one trip over ``km`` charged kilometres."""
        parts: list[ChargePart] = []
        if self.base:
            parts.append(ChargePart("base", ONE, self.base, self.base))
        if self.per_km is not None:
            if km:
                parts.append(ChargePart("km", km, self.per_km, km * self.per_km))
        elif self.table is not None:
            parts.extend(self.table.apply(km)[1])
        subtotal = sum((p.amount for p in parts), ZERO)
        if self.minimum is not None and subtotal < self.minimum:
            top_up = self.minimum - subtotal
            parts.append(ChargePart(f"minimum charge {text(self.minimum)}", ONE, top_up, top_up))
        return tuple(parts)


MECHANISM = Distance

__all__ = ["MECHANISM", "Distance"]
