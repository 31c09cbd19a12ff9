"""Pricing mechanisms: how a product's charge follows quantity, time, distance, weight, usage.

A mechanism is built from its configuration (a JSON object kept on the product, or on a
contracted pricelist's item) and prices one line from its inputs. It knows no currency:
its amounts are in the currency the configuration was written for, and the caller converts
and rounds. Every charge says which rule produced it and carries its breakdown, so the
order can show how each line was priced.

Adding a mechanism: one module here defining ``MECHANISM`` (a class with ``kind`` and
``from_config``), and one line in ``REGISTRY`` below.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from functools import cache
from typing import Any, ClassVar, Protocol

from legato.domain.catalog import Dimensions
from legato.domain.errors import FieldIssue, ValidationFailed

ZERO = Decimal(0)

#: mechanism kind -> module defining MECHANISM
REGISTRY: dict[str, str] = {
    "simple": "legato.domain.pricing.mechanisms.simple",  # a unit price
    "slabs": "legato.domain.pricing.mechanisms.slabs",  # quantity slabs, graduated or volume
    "rental": "legato.domain.pricing.mechanisms.rental",  # per hour/day/week/month of hire
    "distance": "legato.domain.pricing.mechanisms.distance",  # base + per km, or km bands
    "zone_weight": "legato.domain.pricing.mechanisms.zone_weight",  # courier zones x weight bands
    "usage": "legato.domain.pricing.mechanisms.usage",  # metered: allowance, bands or overage
    "rate_card": "legato.domain.pricing.mechanisms.rate_card",  # a table over any variables
}


@dataclass(frozen=True)
class PriceInputs:
    """What a line brings to its pricing. Only ``quantity`` is always there."""

    quantity: Decimal
    start: datetime | None = None  # a rental's start (aware datetime)
    end: datetime | None = None  # a rental's end
    distance_km: Decimal | None = None
    origin: str | None = None  # a postcode or region code, for zone lookups
    destination: str | None = None
    weight_kg: Decimal | None = None  # actual weight of one unit (else the product's)
    dimensions: Dimensions | None = None  # of one unit (else the product's), for volumetric weight
    usage: Mapping[str, Decimal] = field(default_factory=dict)  # metric -> metered quantity
    attributes: Mapping[str, str] = field(default_factory=dict)  # further rate-card variables
    at: datetime | None = None  # when the charge resolves (dispatch time): weekend surcharges


@dataclass(frozen=True)
class ChargePart:
    """One line of a charge's breakdown: ``3 day x 25.00 = 75.00``."""

    label: str
    quantity: Decimal
    rate: Decimal
    amount: Decimal

    def as_dict(self) -> dict[str, str]:
        return {"label": self.label, "quantity": str(self.quantity), "rate": str(self.rate),
                "amount": str(self.amount)}  # fmt: skip


@dataclass(frozen=True)
class Charge:
    """A line's charge before discounts and tax, unrounded, in the configuration's currency."""

    amount: Decimal  # the whole line (all units)
    rule: str  # what produced it, e.g. "slabs:graduated", "rental:cheapest"
    parts: tuple[ChargePart, ...] = ()
    inputs: Mapping[str, str] = field(default_factory=dict)  # the inputs that mattered, as text

    def unit_price(self, quantity: Decimal) -> Decimal:
        """The amount per unit, for display (the amount stays the authority)."""
        return self.amount / quantity if quantity else self.amount


class Mechanism(Protocol):
    kind: ClassVar[str]

    def price(self, inputs: PriceInputs, weight_kg: Decimal | None, dimensions: Dimensions | None) -> Charge:
        """The charge for one line; ``weight_kg``/``dimensions`` are the product's (per unit).
        Raises ValidationFailed (field paths under ``inputs``) when an input it needs is missing."""
        ...


class MechanismClass(Protocol):
    kind: ClassVar[str]

    def from_config(self, config: Mapping[str, Any], path: str) -> Mechanism:
        """Build from a configuration; raise ValidationFailed naming ``path.<field>`` when wrong."""
        ...


class UnknownMechanism(ValidationFailed):
    code = "unknown_mechanism"
    title = "No such pricing mechanism"


@cache
def mechanism_class(kind: str) -> MechanismClass:
    module = REGISTRY.get(kind)
    if module is None:
        known = ", ".join(sorted(REGISTRY))
        msg = f"no pricing mechanism {kind!r}; known: {known}"
        raise UnknownMechanism(msg, issues=[FieldIssue("pricing.mechanism", msg, "unknown_mechanism", kind)])
    cls: MechanismClass = importlib.import_module(module).MECHANISM
    return cls


def build(kind: str, config: Mapping[str, Any], path: str = "pricing") -> Mechanism:
    """A mechanism of ``kind`` from ``config``; errors name ``path``'s fields."""
    return mechanism_class(kind).from_config(config, path)


# --- helpers mechanisms share ------------------------------------------------------------


def bad(path: str, message: str, value: Any = None, code: str = "invalid") -> ValidationFailed:
    return ValidationFailed(message, issues=[FieldIssue(path, message, code, value)])


def dec(config: Mapping[str, Any], key: str, path: str, *, default: Decimal | None = None,
        minimum: Decimal | None = ZERO) -> Decimal:  # fmt: skip
    """A decimal from a configuration (a string or an int; a float is refused: it is not exact)."""
    raw = config.get(key)
    if raw is None:
        if default is not None:
            return default
        raise bad(f"{path}.{key}", f"{key} is required", None, "required")
    if isinstance(raw, bool | float) or not isinstance(raw, str | int | Decimal):
        raise bad(f"{path}.{key}", f'{key} must be a decimal string such as "12.50", not {raw!r}', raw)
    try:
        value = Decimal(raw) if not isinstance(raw, Decimal) else raw
    except InvalidOperation:
        raise bad(f"{path}.{key}", f"{key} is not a number: {raw!r}", raw) from None
    if not value.is_finite():
        raise bad(f"{path}.{key}", f"{key} must be finite", raw)
    if minimum is not None and value < minimum:
        raise bad(f"{path}.{key}", f"{key} must be at least {minimum}", raw, "out_of_range")
    return value


def missing_input(name: str, why: str) -> ValidationFailed:
    return bad(f"inputs.{name}", f"{name} is needed to price this line: {why}", None, "required")


__all__ = [
    "REGISTRY",
    "Charge",
    "ChargePart",
    "Mechanism",
    "MechanismClass",
    "PriceInputs",
    "UnknownMechanism",
    "bad",
    "build",
    "dec",
    "mechanism_class",
    "missing_input",
]
