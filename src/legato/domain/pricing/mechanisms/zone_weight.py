"""Courier rate card: zones by postcode prefix, weight bands per zone pair, then surcharges.

For billing parcels the way carriers bill them. Each parcel is charged at its chargeable weight
(the greater of its actual and volumetric weight) from the band table of its origin and
destination zones; the surcharges then apply in the order listed. The line's quantity is the
number of identical parcels.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_CEILING, Decimal
from typing import Any, ClassVar

from legato.domain.catalog import Dimensions
from legato.domain.pricing.mechanisms import Charge, ChargePart, PriceInputs, bad, dec, missing_input
from legato.domain.pricing.mechanisms._bands import (
    check_keys,
    choice,
    exclusive,
    identifier,
    mapping,
    non_negative_input,
    positive,
    quantity,
    scaled,
    sequence,
    text,
)

ZERO = Decimal(0)
ONE = Decimal(1)
HUNDRED = Decimal(100)
ANY = "*"
SURCHARGE_LABELS = {"fuel": "fuel", "remote": "remote area", "oversize": "oversize", "weekend": "weekend"}
SURCHARGE_KINDS = tuple(SURCHARGE_LABELS)
_SPACE = re.compile(r"\s+")


def normalise(code: str) -> str:
    """``"sw1a 1aa"`` -> ``"SW1A1AA"``: prefixes compare without case or spaces."""
    return _SPACE.sub("", code).upper()


@dataclass(frozen=True)
class WeightBand:
    up_to_kg: Decimal | None
    price: Decimal
    per_kg_over: Decimal = ZERO  # the open band: per started kg over the previous band's limit


@dataclass(frozen=True)
class Surcharge:
    kind: str
    amount: Decimal | None  # a fixed amount per parcel ...
    percent: Decimal | None  # ... or a percentage of the parcel's charge so far
    zones: frozenset[str] = frozenset()  # remote: destination zones it applies to
    max_side_cm: Decimal | None = None  # oversize: the longest side allowed without it

    def label(self) -> str:
        what = SURCHARGE_LABELS[self.kind]
        if self.kind == "oversize":
            what += f" (side over {text(self.max_side_cm)} cm)"
        return f"{what} {text(self.percent)}%" if self.percent is not None else what


@dataclass(frozen=True)
class ZoneWeight:
    kind: ClassVar[str] = "zone_weight"
    prefixes: Mapping[str, str]  # normalised prefix (or "*") -> zone
    rates: Mapping[tuple[str, str], tuple[WeightBand, ...]]  # (origin zone, destination zone)
    volumetric_divisor: Decimal | None
    surcharges: tuple[Surcharge, ...]

    @classmethod
    def from_config(cls, config: Mapping[str, Any], path: str) -> ZoneWeight:
        config = mapping(config, path)
        check_keys(config, {"zones", "rates", "volumetric_divisor", "surcharges"}, path, top=True)
        prefixes = _zones(config.get("zones"), f"{path}.zones")
        zones = set(prefixes.values())
        rates: dict[tuple[str, str], tuple[WeightBand, ...]] = {}
        by_origin = mapping(config.get("rates"), f"{path}.rates")
        for origin, by_destination in by_origin.items():
            _known(origin, zones, f"{path}.rates.{origin}")
            for destination, bands in mapping(by_destination, f"{path}.rates.{origin}").items():
                where = f"{path}.rates.{origin}.{destination}"
                _known(destination, zones, where)
                rates[(origin, destination)] = _bands(bands, where)
        if not rates:
            raise bad(
                f"{path}.rates", "give at least one origin and destination zone with bands", None, "required"
            )
        divisor = None
        if config.get("volumetric_divisor") is not None:
            divisor = positive(config, "volumetric_divisor", path)
        raw = config.get("surcharges")
        surcharges = () if raw is None else _surcharges(raw, f"{path}.surcharges", zones)
        return cls(prefixes, rates, divisor, surcharges)

    def zone(self, code: str | None, name: str) -> str:
        """The zone of a postcode or region code: the longest listed prefix wins."""
        if code is None:
            if name == "origin" and all(origin == ANY for origin, _ in self.rates):
                return ANY  # the card prices from anywhere: no origin needed
            raise missing_input(name, "a courier rate card is priced from zone to zone")
        key = normalise(code)
        for end in range(len(key), 0, -1):
            zone = self.prefixes.get(key[:end])
            if zone is not None:
                return zone
        if ANY in self.prefixes:
            return self.prefixes[ANY]
        raise bad(f"inputs.{name}", f"no zone of this rate card covers {name} {code!r}", code, "unknown_zone")

    def price(self, inputs: PriceInputs, weight_kg: Decimal | None, dimensions: Dimensions | None) -> Charge:
        parcels = quantity(inputs, whole=True, what="parcels")
        origin, destination = self.zone(inputs.origin, "origin"), self.zone(inputs.destination, "destination")
        bands = self._bands_for(origin, destination)
        actual = inputs.weight_kg if inputs.weight_kg is not None else weight_kg
        if actual is None:
            raise missing_input("weight_kg", "a courier charges each parcel by its weight")
        actual = non_negative_input(actual, "weight_kg")
        size = inputs.dimensions or dimensions
        recorded = {"origin_zone": origin, "destination_zone": destination, "actual_kg": text(actual)}
        chargeable = actual
        if size is not None:
            recorded["longest_side_cm"] = text(max(size.length, size.width, size.height))
            if self.volumetric_divisor is not None:
                volumetric = size.length * size.width * size.height / self.volumetric_divisor
                recorded["volumetric_kg"] = text(volumetric)
                chargeable = max(actual, volumetric)
        elif self.volumetric_divisor is not None or any(s.kind == "oversize" for s in self.surcharges):
            recorded["dimensions"] = "unknown"
        recorded["chargeable_kg"] = text(chargeable)
        recorded["parcels"] = text(parcels)
        parts = list(self._base(bands, chargeable, origin, destination))
        parts.extend(self._surcharged(parts, destination, size, inputs.at, recorded))
        parts_all = scaled(parts, parcels)
        return Charge(sum((p.amount for p in parts_all), ZERO), "zone_weight", parts_all, recorded)

    def _bands_for(self, origin: str, destination: str) -> tuple[WeightBand, ...]:
        for pair in ((origin, destination), (origin, ANY), (ANY, destination), (ANY, ANY)):
            if pair in self.rates:
                return self.rates[pair]
        msg = f"this rate card has no rates from zone {origin} to zone {destination}"
        raise bad("inputs.destination", msg, destination, "no_rate")

    def _base(
        self, bands: tuple[WeightBand, ...], kg: Decimal, origin: str, destination: str
    ) -> list[ChargePart]:
        low = ZERO
        for band in bands:
            if band.up_to_kg is None or kg <= band.up_to_kg:
                break
            low = band.up_to_kg
        else:
            msg = f"a parcel of {text(kg)} kg is over this card's limit of {text(low)} kg"
            raise bad("inputs.weight_kg", msg, text(kg), "out_of_range")
        reach = f"up to {text(band.up_to_kg)} kg" if band.up_to_kg is not None else f"over {text(low)} kg"
        parts = [ChargePart(f"{origin} to {destination}, {reach}", ONE, band.price, band.price)]
        started = (kg - low).to_integral_value(ROUND_CEILING)
        if band.up_to_kg is None and band.per_kg_over and started > 0:
            extra = started * band.per_kg_over
            parts.append(ChargePart(f"per started kg over {text(low)} kg", started, band.per_kg_over, extra))
        return parts

    def _surcharged(self, parts: list[ChargePart], destination: str, size: Dimensions | None,
                    at: datetime | None, recorded: dict[str, str]) -> list[ChargePart]:  # fmt: skip
        """The surcharges that apply, in order; a percentage is of the parcel's charge so far."""
        so_far = sum((p.amount for p in parts), ZERO)
        added: list[ChargePart] = []
        for surcharge in self.surcharges:
            if not self._applies(surcharge, destination, size, at, recorded):
                continue
            if surcharge.percent is not None:
                rate = surcharge.percent / HUNDRED
                added.append(ChargePart(surcharge.label(), so_far, rate, so_far * rate))
            else:
                assert surcharge.amount is not None
                added.append(ChargePart(surcharge.label(), ONE, surcharge.amount, surcharge.amount))
            so_far += added[-1].amount
        return added

    @staticmethod
    def _applies(surcharge: Surcharge, destination: str, size: Dimensions | None, at: datetime | None,
                 recorded: dict[str, str]) -> bool:  # fmt: skip
        if surcharge.kind == "remote":
            return destination in surcharge.zones
        if surcharge.kind == "oversize":
            assert surcharge.max_side_cm is not None
            return size is not None and max(size.length, size.width, size.height) > surcharge.max_side_cm
        if surcharge.kind == "weekend":
            if at is None:
                raise missing_input("at", "this rate card adds a weekend surcharge")
            if at.tzinfo is None or at.utcoffset() is None:
                raise bad("inputs.at", f"at must carry its time zone, not {at.isoformat()}", at.isoformat())
            recorded["at"] = at.isoformat()
            return at.weekday() >= 5  # Saturday or Sunday where the parcel is dispatched
        return True  # fuel: always


def _zones(raw: Any, path: str) -> dict[str, str]:
    prefixes: dict[str, str] = {}
    zones = mapping(raw, path)
    if not zones:
        raise bad(path, "give at least one zone with its postcode prefixes", None, "required")
    for zone, codes in zones.items():
        identifier(zone, f"{path}.{zone}")
        if zone == ANY:
            raise bad(f"{path}.{zone}", '"*" is kept for "any zone" in rates; name the zone', zone)
        for i, code in enumerate(sequence(codes, f"{path}.{zone}", non_empty=True)):
            key = normalise(identifier(code, f"{path}.{zone}[{i}]"))
            if key in prefixes:
                msg = f"prefix {code!r} is already in zone {prefixes[key]}: a prefix belongs to one zone"
                raise bad(f"{path}.{zone}[{i}]", msg, code)
            prefixes[key] = zone
    return prefixes


def _known(zone: str, zones: set[str], path: str) -> None:
    if zone != ANY and zone not in zones:
        raise bad(path, f"unknown zone {zone!r}; zones are {', '.join(sorted(zones))} (or * for any)", zone)


def _bands(raw: Any, path: str) -> tuple[WeightBand, ...]:
    bands: list[WeightBand] = []
    items = sequence(raw, path, non_empty=True)
    for i, item in enumerate(items):
        where = f"{path}[{i}]"
        entry = mapping(item, where)
        check_keys(entry, {"up_to_kg", "price", "per_kg_over"}, where)
        if "up_to_kg" not in entry:
            raise bad(
                f"{where}.up_to_kg", "up_to_kg is required (null for an open last band)", None, "required"
            )
        up_to = None if entry["up_to_kg"] is None else positive(entry, "up_to_kg", where)
        price = dec(entry, "price", where)
        if bands:
            previous = bands[-1]
            if previous.up_to_kg is None:
                raise bad(f"{path}[{i - 1}].up_to_kg", "only the last band may be open-ended (null)", None)
            if up_to is not None and up_to <= previous.up_to_kg:
                msg = f"bands must ascend: {text(up_to)} kg is not above {text(previous.up_to_kg)} kg"
                raise bad(f"{where}.up_to_kg", msg, entry["up_to_kg"])
            if price < previous.price:
                msg = f"a heavier band cannot cost less: {text(price)} is below {text(previous.price)}"
                raise bad(f"{where}.price", msg, entry["price"])
        per_kg = dec(entry, "per_kg_over", where, default=ZERO)
        if per_kg and up_to is not None:
            raise bad(
                f"{where}.per_kg_over", "per_kg_over applies to the open last band (up_to_kg null)", None
            )
        bands.append(WeightBand(up_to, price, per_kg))
    return tuple(bands)


def _surcharges(raw: Any, path: str, zones: set[str]) -> tuple[Surcharge, ...]:
    found: list[Surcharge] = []
    for i, item in enumerate(sequence(raw, path)):
        where = f"{path}[{i}]"
        entry = mapping(item, where)
        kind = choice(entry, "kind", where, SURCHARGE_KINDS)
        extra = {"remote": {"zones"}, "oversize": {"max_side_cm"}}.get(kind, set())
        check_keys(entry, {"kind", "amount", "percent", *extra}, where)
        given = exclusive(entry, ("amount", "percent"), where)
        amount = dec(entry, "amount", where) if given == "amount" else None
        percent = dec(entry, "percent", where) if given == "percent" else None
        covered: set[str] = set()
        if kind == "remote":
            for j, zone in enumerate(sequence(entry.get("zones"), f"{where}.zones", non_empty=True)):
                if identifier(zone, f"{where}.zones[{j}]") not in zones:
                    msg = f"unknown zone {zone!r}; zones are {', '.join(sorted(zones))}"
                    raise bad(f"{where}.zones[{j}]", msg, zone)
                covered.add(zone)
        max_side = positive(entry, "max_side_cm", where) if kind == "oversize" else None
        found.append(Surcharge(kind, amount, percent, frozenset(covered), max_side))
    return tuple(found)


MECHANISM = ZoneWeight

__all__ = ["MECHANISM", "Surcharge", "WeightBand", "ZoneWeight", "normalise"]
