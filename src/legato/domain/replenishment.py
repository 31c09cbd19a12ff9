"""IoT-triggered replenishment: a rule watches one device's metric and orders once per breach.

A rule is a small state machine with hysteresis. While it is **armed**, a reading past
the threshold (``below``: value < threshold; ``above``: value > threshold) is a
**breach**: it asks for one order and **disarms** the rule. The rule re-arms only when a
reading recovers past the ``rearm`` level (``below``: value >= rearm; ``above``: value <=
rearm), so a level that hovers around the threshold never orders twice.

Two more guards make "one order per breach" hold in the real world:

* a reading not newer than the last one the rule saw (sensors and brokers deliver out of
  order, and re-deliver) moves nothing;
* while the rule's last order is still open (not completed, cancelled or voided), a breach
  orders nothing, even after a re-arm: the stock is already on its way.

Everything here is pure; the store applies a ``Decision`` under a row lock.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import ROUND_CEILING, Decimal
from enum import StrEnum
from typing import Any

from legato.domain.errors import IssueCollector
from legato.domain.order import Address

ONE = Decimal(1)
#: readings, thresholds and par levels: up to 15 digits before the point, 6 after
MAX_MAGNITUDE = Decimal(10) ** 15
MAX_PLACES = 6
#: the most one replenishment line may order (the order services' limit), 4 decimals
MAX_ORDER_QUANTITY = Decimal(1_000_000)


class Comparison(StrEnum):
    BELOW = "below"  # breach when the value drops under the threshold (a tank level)
    ABOVE = "above"  # breach when the value climbs over it (a waste bin's fill level)


class QuantityMode(StrEnum):
    FIXED = "fixed"  # always order ``quantity``
    UP_TO_PAR = "up_to_par"  # order par level minus the reading, rounded up to whole units


class Action(StrEnum):
    ORDER = "order"  # a breach of an armed rule: place one order, disarm
    REARM = "rearm"  # the value recovered past the re-arm level
    SUPPRESSED = "suppressed"  # a breach while the rule's last order is still open: nothing
    NONE = "none"  # nothing to do (in the band, still breached while disarmed ...)
    STALE = "stale"  # not newer than the last reading the rule saw: the state does not move
    INACTIVE = "inactive"  # the rule is switched off


@dataclass(frozen=True)
class Reading:
    """One sensor reading: what a device measured, and when (its own clock)."""

    device_id: str
    metric: str
    value: Decimal
    at: datetime
    unit: str | None = None


@dataclass(frozen=True)
class Rule:
    """A replenishment rule's settings (its state is a ``RuleState``)."""

    code: str
    device_id: str
    metric: str
    comparison: Comparison
    threshold: Decimal
    rearm: Decimal
    account_code: str
    sku: str
    quantity_mode: QuantityMode = QuantityMode.FIXED
    quantity: Decimal | None = None
    par_level: Decimal | None = None
    shipping_address: Address | None = None
    active: bool = True


@dataclass(frozen=True)
class RuleState:
    armed: bool = True
    last_reading_at: datetime | None = None
    order_open: bool = False  # the last order this rule placed is not final yet
    breaches: int = 0  # orders placed so far; the next one is number breaches + 1


@dataclass(frozen=True)
class Decision:
    """What one reading does to a rule: the action, the state after it, and for an order
    its quantity (the order's reference is ``iot:<rule>:<state.breaches>``)."""

    action: Action
    state: RuleState
    reason: str
    quantity: Decimal | None = None


def breached(rule: Rule, value: Decimal) -> bool:
    if rule.comparison is Comparison.BELOW:
        return value < rule.threshold
    return value > rule.threshold


def recovered(rule: Rule, value: Decimal) -> bool:
    if rule.comparison is Comparison.BELOW:
        return value >= rule.rearm
    return value <= rule.rearm


def order_quantity(rule: Rule, value: Decimal) -> Decimal:
    """``fixed``: the rule's quantity; ``up_to_par``: par minus the reading, rounded up to a
    whole unit, at least 1."""
    if rule.quantity_mode is QuantityMode.FIXED:
        assert rule.quantity is not None  # check_rule makes sure
        return rule.quantity
    assert rule.par_level is not None
    return max(ONE, (rule.par_level - value).to_integral_value(rounding=ROUND_CEILING))


def evaluate(rule: Rule, state: RuleState, reading: Reading) -> Decision:
    """The rule's answer to one reading of its device and metric (see the module's text)."""
    if not rule.active:
        return Decision(Action.INACTIVE, state, f"rule {rule.code} is inactive")
    if state.last_reading_at is not None and reading.at <= state.last_reading_at:
        return Decision(
            Action.STALE, state, f"reading of {reading.at.isoformat()} is not newer than the last one seen"
        )
    moved = replace(state, last_reading_at=reading.at)
    value, past = reading.value, f"{rule.comparison.value} {rule.threshold}"
    if state.armed and breached(rule, value):
        if state.order_open:
            return Decision(Action.SUPPRESSED, moved, f"{value} is {past}, but the last order is still open")
        after = replace(moved, armed=False, order_open=True, breaches=state.breaches + 1)
        return Decision(Action.ORDER, after, f"{value} is {past}", order_quantity(rule, value))
    if not state.armed and recovered(rule, value):
        return Decision(Action.REARM, replace(moved, armed=True), f"{value} recovered past {rule.rearm}")
    return Decision(Action.NONE, moved, "nothing to do")


def check_rule(rule: Rule) -> Rule:
    """The rule if its settings make sense together, else ValidationFailed naming each field."""
    found = IssueCollector()
    for name in ("threshold", "rearm", "quantity", "par_level"):
        _check_number(found, name, getattr(rule, name))
    if not found.issues:
        _check_levels(found, rule)
    found.raise_if_any()
    return rule


def _check_number(found: IssueCollector, name: str, value: Any) -> None:
    if value is None:
        return
    if not isinstance(value, Decimal):  # a float would carry binary noise into every comparison
        found.add(name, f"{name} must be a decimal number (a string like \"20.5\"), not {value!r}",
                  "not_decimal", value)  # fmt: skip
    elif not value.is_finite() or abs(value) >= MAX_MAGNITUDE:
        found.add(name, f"{name} must be a finite number below 10^15", "out_of_range", str(value))
    elif places(value) > MAX_PLACES:
        found.add(name, f"{name} has more than {MAX_PLACES} decimal places", "too_precise", str(value))


def _check_levels(found: IssueCollector, rule: Rule) -> None:
    below = rule.comparison is Comparison.BELOW
    if below and rule.rearm < rule.threshold:
        found.add("rearm", f"a 'below' rule re-arms at or above its threshold ({rule.threshold})",
                  "rearm_inside_breach", str(rule.rearm))  # fmt: skip
    if not below and rule.rearm > rule.threshold:
        found.add("rearm", f"an 'above' rule re-arms at or below its threshold ({rule.threshold})",
                  "rearm_inside_breach", str(rule.rearm))  # fmt: skip
    if rule.quantity_mode is QuantityMode.FIXED:
        if rule.quantity is None:
            found.add("quantity", "a fixed rule needs a quantity", "required")
        elif not 0 < rule.quantity <= MAX_ORDER_QUANTITY or places(rule.quantity) > 4:
            found.add("quantity", "quantity must be above 0, at most 1000000, with at most 4 decimals",
                      "out_of_range", str(rule.quantity))  # fmt: skip
        if rule.par_level is not None:
            found.add(
                "par_level", "par_level is for up_to_par rules only", "not_applicable", str(rule.par_level)
            )
        return
    if rule.quantity is not None:
        found.add("quantity", "an up_to_par rule computes its quantity; leave quantity out",
                  "not_applicable", str(rule.quantity))  # fmt: skip
    if not below:
        found.add("quantity_mode", "up_to_par fills a level back up: it needs a 'below' rule",
                  "not_applicable", rule.quantity_mode.value)  # fmt: skip
    if rule.par_level is None:
        found.add("par_level", "an up_to_par rule needs a par_level", "required")
    elif rule.par_level <= rule.threshold:
        found.add("par_level", f"par_level must be above the threshold ({rule.threshold})",
                  "out_of_range", str(rule.par_level))  # fmt: skip


def places(value: Decimal) -> int:
    """Decimal places as written: ``Decimal("2.50")`` has 2."""
    exponent = value.as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


def counter_increase(values: Iterable[Decimal]) -> Decimal:
    """How much a cumulative counter (operating hours, km, kWh ...) went up over readings in
    time order: the sum of the positive steps between consecutive readings.

    A step down is a counter reset (a replaced meter, a controller restart) and adds nothing:
    the usage between the last reading before the reset and the reset is unknown, and
    billing never guesses it. Without a reset this is simply last minus first, and the sum
    over consecutive windows equals the increase over their union.
    """
    total, previous = Decimal(0), None
    for value in values:
        if previous is not None and value > previous:
            total += value - previous
        previous = value
    return total


__all__ = [
    "Action",
    "Comparison",
    "Decision",
    "QuantityMode",
    "Reading",
    "Rule",
    "RuleState",
    "breached",
    "check_rule",
    "counter_increase",
    "evaluate",
    "order_quantity",
    "places",
    "recovered",
]
