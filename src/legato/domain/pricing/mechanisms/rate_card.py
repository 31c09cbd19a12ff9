"""A custom rate card: a table of unit prices over any variables, the most specific row winning.

For price lists that do not fit another mechanism: a service level by zone by weight band, a
treatment by material by size. A variable's value is the line's attribute of that name, or a
band label computed from a numeric input (``weight_kg``, ``distance_km``, ``quantity``). A row may
use ``"*"`` for any value; among matching rows the one with the most exact values wins, and on a
tie the one exact in the earlier variable. The unit price is the row's plus ``base``, then the
surcharges whose ``when`` holds apply in order (a percentage of the unit price so far); the
line's quantity multiplies the unit price.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
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
NUMERIC_INPUTS = ("weight_kg", "distance_km", "quantity")


@dataclass(frozen=True)
class LabelBands:
    """Turns a numeric input into a band label: ``2.5`` kg -> ``"1+"``."""

    input: str
    limits: tuple[tuple[Decimal | None, str], ...]  # (up_to, label), ascending

    def label(self, value: Decimal, variable: str) -> str:
        for up_to, label in self.limits:
            if up_to is None or value <= up_to:
                return label
        msg = f"{self.input} {text(value)} is above every band of {variable} (the last ends at {text(up_to)})"
        raise bad(f"inputs.{self.input}", msg, text(value), "out_of_range")


@dataclass(frozen=True)
class Surcharge:
    when: Mapping[str, str]
    amount: Decimal | None
    percent: Decimal | None

    def label(self) -> str:
        condition = ", ".join(f"{k}={v}" for k, v in self.when.items()) or "always"
        rate = f" {text(self.percent)}%" if self.percent is not None else ""
        return f"surcharge ({condition}){rate}"


@dataclass(frozen=True)
class RateCard:
    kind: ClassVar[str] = "rate_card"
    variables: tuple[str, ...]
    bands: Mapping[str, LabelBands]
    #: exactness pattern (True = exact) -> row values with "*" where inexact -> unit price;
    #: patterns in the order they are tried (most exact first)
    rows: Mapping[tuple[bool, ...], Mapping[tuple[str, ...], Decimal]]
    base: Decimal
    surcharges: tuple[Surcharge, ...]

    @classmethod
    def from_config(cls, config: Mapping[str, Any], path: str) -> RateCard:
        config = mapping(config, path)
        check_keys(config, {"variables", "bands", "rows", "base", "surcharges"}, path, top=True)
        variables: list[str] = []
        for i, raw in enumerate(sequence(config.get("variables"), f"{path}.variables", non_empty=True)):
            variable = identifier(raw, f"{path}.variables[{i}]")
            if variable in variables or variable in ("price", "when"):
                raise bad(f"{path}.variables[{i}]", f"variable {variable!r} is repeated or reserved", raw)
            variables.append(variable)
        bands = _label_bands(config.get("bands"), f"{path}.bands", variables)
        rows = _rows(config.get("rows"), f"{path}.rows", variables, bands)
        surcharges = tuple(
            _surcharge(item, f"{path}.surcharges[{i}]", variables, bands)
            for i, item in enumerate(sequence(config.get("surcharges", []), f"{path}.surcharges"))
        )
        return cls(tuple(variables), bands, rows, dec(config, "base", path, default=ZERO), surcharges)

    def values(self, inputs: PriceInputs, weight_kg: Decimal | None) -> tuple[dict[str, str], dict[str, str]]:
        """Each variable's value for this line, and the numeric inputs that were banded."""
        numbers = {"weight_kg": inputs.weight_kg if inputs.weight_kg is not None else weight_kg,
                   "distance_km": inputs.distance_km, "quantity": inputs.quantity}  # fmt: skip
        found: dict[str, str] = {}
        used: dict[str, str] = {}
        for variable in self.variables:
            banded = self.bands.get(variable)
            if banded is not None:
                number = numbers[banded.input]
                if number is None:
                    raise missing_input(banded.input, f"the rate card's {variable} comes from it")
                number = non_negative_input(number, banded.input)
                found[variable] = banded.label(number, variable)
                used[banded.input] = text(number)
            elif variable in inputs.attributes:
                found[variable] = inputs.attributes[variable]
            else:
                raise missing_input(f"attributes.{variable}", f"the rate card is priced by {variable}")
        return found, used

    def lookup(self, values: Mapping[str, str]) -> tuple[tuple[str, ...], Decimal]:
        """The most specific row matching ``values`` and its unit price."""
        exact = tuple(values[v] for v in self.variables)
        for pattern, table in self.rows.items():
            key = tuple(value if keep else ANY for value, keep in zip(exact, pattern, strict=True))
            if key in table:
                return key, table[key]
        looked_up = ", ".join(f"{k}={v!r}" for k, v in values.items())
        raise bad(
            "inputs.attributes", f"no row of this rate card matches {looked_up}", dict(values), "no_rate"
        )

    def price(self, inputs: PriceInputs, weight_kg: Decimal | None, dimensions: Dimensions | None) -> Charge:
        units = quantity(inputs)
        values, numbers = self.values(inputs, weight_kg)
        key, row_price = self.lookup(values)
        row = ", ".join(f"{v}={k}" for v, k in zip(self.variables, key, strict=True))
        parts = [ChargePart(row, ONE, row_price, row_price)]
        if self.base:
            parts.append(ChargePart("base", ONE, self.base, self.base))
        so_far = row_price + self.base
        for surcharge in self.surcharges:
            if any(values[k] != v for k, v in surcharge.when.items()):
                continue
            if surcharge.percent is not None:
                rate = surcharge.percent / HUNDRED
                parts.append(ChargePart(surcharge.label(), so_far, rate, so_far * rate))
            else:
                assert surcharge.amount is not None
                parts.append(ChargePart(surcharge.label(), ONE, surcharge.amount, surcharge.amount))
            so_far += parts[-1].amount
        recorded = values | numbers | {"quantity": text(units)}
        scaled_parts = scaled(parts, units)
        return Charge(sum((p.amount for p in scaled_parts), ZERO), "rate_card", scaled_parts, recorded)


def _label_bands(raw: Any, path: str, variables: list[str]) -> dict[str, LabelBands]:
    found: dict[str, LabelBands] = {}
    for variable, spec in mapping(raw if raw is not None else {}, path).items():
        where = f"{path}.{variable}"
        if variable not in variables:
            raise bad(where, f"{variable!r} is not one of the variables ({', '.join(variables)})", variable)
        spec = mapping(spec, where)
        check_keys(spec, {"input", "bands"}, where)
        source = choice(spec, "input", where, NUMERIC_INPUTS)
        limits: list[tuple[Decimal | None, str]] = []
        items = sequence(spec.get("bands"), f"{where}.bands", non_empty=True)
        for i, item in enumerate(items):
            at = f"{where}.bands[{i}]"
            entry = mapping(item, at)
            check_keys(entry, {"up_to", "label"}, at)
            if "up_to" not in entry:
                raise bad(f"{at}.up_to", "up_to is required (null for an open last band)", None, "required")
            up_to = None if entry["up_to"] is None else positive(entry, "up_to", at)
            label = identifier(entry.get("label"), f"{at}.label")
            if limits and (limits[-1][0] is None or (up_to is not None and up_to <= limits[-1][0])):
                raise bad(
                    f"{at}.up_to", "bands must ascend, and only the last may be open-ended", entry["up_to"]
                )
            if label in (known for _, known in limits) or label == ANY:
                raise bad(f"{at}.label", f"label {label!r} is repeated or reserved", label)
            limits.append((up_to, label))
        found[variable] = LabelBands(source, tuple(limits))
    return found


def _value(raw: Any, path: str, variable: str, bands: Mapping[str, LabelBands], *, wildcard: bool) -> str:
    value = identifier(raw, path)
    banded = bands.get(variable)
    if banded is not None and value not in {label for _, label in banded.limits} | (
        {ANY} if wildcard else set()
    ):
        labels = ", ".join(label for _, label in banded.limits)
        raise bad(path, f"{value!r} is not a band of {variable} ({labels})", raw)
    return value


def _rows(raw: Any, path: str, variables: list[str], bands: Mapping[str, LabelBands]) -> dict[
    tuple[bool, ...], dict[tuple[str, ...], Decimal]
]:  # fmt: skip
    rows: dict[tuple[bool, ...], dict[tuple[str, ...], Decimal]] = {}
    seen: dict[tuple[str, ...], int] = {}
    for i, item in enumerate(sequence(raw, path, non_empty=True)):
        where = f"{path}[{i}]"
        entry = mapping(item, where)
        check_keys(entry, {*variables, "price"}, where)
        key: list[str] = []
        for variable in variables:
            if variable not in entry:
                raise bad(
                    f"{where}.{variable}", f'{variable} is required (use "*" for any)', None, "required"
                )
            key.append(_value(entry[variable], f"{where}.{variable}", variable, bands, wildcard=True))
        row = tuple(key)
        if row in seen:
            raise bad(
                where, f"the same values as rows[{seen[row]}]: a row must be unique", dict(entry), "duplicate"
            )
        seen[row] = i
        pattern = tuple(value != ANY for value in row)
        rows.setdefault(pattern, {})[row] = dec(entry, "price", where)
    order = sorted(rows, key=lambda p: (-sum(p), tuple(not exact for exact in p)))
    return {pattern: rows[pattern] for pattern in order}


def _surcharge(raw: Any, path: str, variables: list[str], bands: Mapping[str, LabelBands]) -> Surcharge:
    entry = mapping(raw, path)
    check_keys(entry, {"when", "amount", "percent"}, path)
    given = exclusive(entry, ("amount", "percent"), path)
    when: dict[str, str] = {}
    for variable, value in mapping(entry.get("when", {}), f"{path}.when").items():
        if variable not in variables:
            raise bad(f"{path}.when.{variable}", f"{variable!r} is not one of the variables", variable)
        when[variable] = _value(value, f"{path}.when.{variable}", variable, bands, wildcard=False)
    amount = dec(entry, "amount", path) if given == "amount" else None
    percent = dec(entry, "percent", path) if given == "percent" else None
    return Surcharge(when, amount, percent)


MECHANISM = RateCard

__all__ = ["MECHANISM", "LabelBands", "RateCard", "Surcharge"]
