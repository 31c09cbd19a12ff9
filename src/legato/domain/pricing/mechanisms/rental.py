"""Time-based hire: rates per hour, day, week or month, for the time between ``start`` and ``end``.

For scaffold, plant, equipment or vehicle hire. The hire is priced per rented unit and the
line's quantity multiplies it. How the time is split into periods is the ``rule``:

- ``cheapest``: the cheapest combination of whole periods covering the time (9 days = 1 week +
  2 days, unless 2 weeks cost less);
- ``largest_first``: as many of the longest period as fit, then the next; a remainder never
  costs more than one more of the longer period;
- ``exact``: the time used in the shortest priced period only (longer rates are not used).

``proration`` ``round_up`` counts a started period as a whole one; ``prorate`` charges the last
partial period pro rata of the shortest rate. Months are ``month_days`` long (30 by default).
Time is measured in UTC, so a daylight-saving change is neither charged nor given away.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_CEILING, Decimal
from fractions import Fraction
from typing import Any, ClassVar

from legato.domain.catalog import Dimensions
from legato.domain.pricing.mechanisms import Charge, ChargePart, PriceInputs, bad, dec, missing_input
from legato.domain.pricing.mechanisms._bands import (
    check_keys,
    choice,
    mapping,
    positive,
    quantity,
    scaled,
    text,
)

ZERO = Decimal(0)
MICRO = 1_000_000
HOUR = 3600 * MICRO
#: period lengths in microseconds (a month depends on month_days)
LENGTHS = {"hour": HOUR, "day": 24 * HOUR, "week": 7 * 24 * HOUR}
UNITS = ("hour", "day", "week", "month")
RULES = ("cheapest", "largest_first", "exact")
PRORATIONS = ("round_up", "prorate")


@dataclass(frozen=True)
class Period:
    unit: str
    length: int  # microseconds
    rate: Decimal


@dataclass(frozen=True)
class Plan:
    """Whole periods per unit, plus a fraction of the shortest one (``prorate`` only)."""

    counts: Mapping[str, int]
    fraction: Decimal = ZERO


@dataclass(frozen=True)
class Rental:
    kind: ClassVar[str] = "rental"
    periods: tuple[Period, ...]  # shortest first
    rule: str
    proration: str
    minimum: int  # microseconds; 0 when none
    minimum_text: str

    @classmethod
    def from_config(cls, config: Mapping[str, Any], path: str) -> Rental:
        config = mapping(config, path)
        check_keys(config, {"rates", "rule", "minimum", "proration", "month_days"}, path, top=True)
        lengths = {**LENGTHS, "month": _month_days(config, path) * LENGTHS["day"]}
        rates = mapping(config.get("rates"), f"{path}.rates")
        if not rates:
            raise bad(f"{path}.rates", "give at least one rate: hour, day, week or month", rates, "required")
        for unit in rates:
            if unit not in UNITS:
                raise bad(f"{path}.rates.{unit}", f"unknown period {unit!r}; use {', '.join(UNITS)}", unit)
        periods = tuple(
            Period(u, lengths[u], positive(rates, u, f"{path}.rates")) for u in UNITS if u in rates
        )
        minimum, minimum_text = 0, ""
        if config.get("minimum") is not None:
            where = f"{path}.minimum"
            spec = mapping(config["minimum"], where)
            check_keys(spec, {"unit", "count"}, where)
            unit = choice(spec, "unit", where, UNITS)
            count = positive(spec, "count", where)
            minimum = int((count * lengths[unit]).to_integral_value(ROUND_CEILING))
            minimum_text = f"{text(count)} {unit}"
        rule = choice(config, "rule", path, RULES, default="cheapest")
        proration = choice(config, "proration", path, PRORATIONS, default="round_up")
        return cls(periods, rule, proration, minimum, minimum_text)

    def price(self, inputs: PriceInputs, weight_kg: Decimal | None, dimensions: Dimensions | None) -> Charge:
        units = quantity(inputs)
        start, end = _moment(inputs.start, "start"), _moment(inputs.end, "end")
        if end <= start:
            msg = f"the hire must end after it starts ({end.isoformat()} is not after {start.isoformat()})"
            raise bad("inputs.end", msg, end.isoformat(), "out_of_range")
        elapsed = (end.astimezone(UTC) - start.astimezone(UTC)) // timedelta(microseconds=1)
        charged = max(elapsed, self.minimum)
        plan = self.plan(charged)
        parts = scaled(self._parts(plan), units)
        recorded = {
            "start": start.isoformat(),
            "end": end.isoformat(),
            "hours": text(Decimal(elapsed) / HOUR),
            "periods": self._describe(plan),
            "units": text(units),
        }
        if charged > elapsed:
            recorded["minimum"] = self.minimum_text
        return Charge(sum((p.amount for p in parts), ZERO), f"rental:{self.rule}", parts, recorded)

    # --- how time becomes periods ----------------------------------------------------------------

    def plan(self, elapsed: int) -> Plan:
        """The periods charged for ``elapsed`` microseconds under this rule and proration."""
        if self.rule == "exact":
            return self._shortest_only(elapsed)
        if self.rule == "largest_first":
            return self._largest_first(elapsed, len(self.periods) - 1)
        return self._cheapest(elapsed)

    def cost(self, plan: Plan) -> Decimal:
        whole = sum((p.rate * plan.counts.get(p.unit, 0) for p in self.periods), ZERO)
        return whole + plan.fraction * self.periods[0].rate

    def _shortest_only(self, elapsed: int) -> Plan:
        shortest = self.periods[0]
        whole, rest = divmod(elapsed, shortest.length)
        if rest and self.proration == "round_up":
            return Plan({shortest.unit: whole + 1})
        return Plan({shortest.unit: whole}, Decimal(rest) / shortest.length)

    def _largest_first(self, elapsed: int, index: int) -> Plan:
        if index == 0:
            return self._shortest_only(elapsed)
        period = self.periods[index]
        whole, rest = divmod(elapsed, period.length)
        below = self._largest_first(rest, index - 1) if rest else Plan({})
        if rest and self.cost(below) >= period.rate:  # cheaper (or no dearer) to take one more period
            below = Plan({period.unit: 1})
        counts = dict(below.counts)
        counts[period.unit] = counts.get(period.unit, 0) + whole
        return Plan(counts, below.fraction)

    def _cheapest(self, elapsed: int) -> Plan:
        """The cheapest periods for ``elapsed``: whole periods covering it, or (``prorate``) whole
        periods and the rest pro rata of the shortest rate.

        Periods are ordered by price per microsecond. Where a less efficient period is used a
        whole common multiple of a more efficient one's length, swapping them covers the same
        time for no more money; so some cheapest plan uses each less efficient period fewer than
        lcm/length times, and the most efficient period covers what is left. That bounds the search
        however long the hire, and a branch that cannot beat the best plan so far is cut."""
        order = sorted(self.periods, key=lambda p: (Fraction(p.rate) / p.length, -p.length))  # exact
        best, others = order[0], order[1:]
        if self.proration == "prorate":  # whole shortest periods cost what their time pro rata does
            others = [p for p in others if p is not self.periods[0]]
        limits = [
            min(
                min(math.lcm(a.length, period.length) // period.length for a in order[: order.index(period)])
                - 1,
                -(-elapsed // period.length),
            )
            for period in others
        ]
        chosen = self._fill(best, elapsed, {}, ZERO)
        counts: dict[str, int] = {}

        def walk(index: int, covered: int, cost: Decimal) -> None:
            nonlocal chosen
            if index == len(others):
                found = self._fill(best, elapsed - covered, counts, cost)
                if found[:2] < chosen[:2]:
                    chosen = found
                return
            period = others[index]
            for count in range(limits[index] + 1):
                spent, now = cost + count * period.rate, covered + count * period.length
                if spent > chosen[0]:
                    break  # more of this period only costs more
                # no time is covered for less than the best period's price per microsecond, so a
                # branch whose spend plus that floor for the rest exceeds the best plan cannot win
                if spent * best.length + max(0, elapsed - now) * best.rate <= chosen[0] * best.length:
                    counts[period.unit] = count
                    walk(index + 1, now, spent)
                if now >= elapsed:
                    break  # covered already: another one would be wasted
            counts.pop(period.unit, None)

        walk(0, 0, ZERO)
        return chosen[2]

    def _fill(
        self, best: Period, rest: int, counts: Mapping[str, int], cost: Decimal
    ) -> tuple[Decimal, int, Plan]:
        """(cost, periods, plan): ``counts`` plus the most efficient period for the ``rest``, whole
        (a started one counts), or with ``prorate`` also whole ones and the rest pro rata."""
        periods = sum(counts.values())
        rest = max(0, rest)
        whole = -(-rest // best.length)
        plan = (cost + whole * best.rate, periods + whole, Plan({**counts, best.unit: whole}))
        if self.proration == "prorate" and rest % best.length:
            shortest, whole = self.periods[0], rest // best.length
            left = rest - whole * best.length
            units, fraction = divmod(left, shortest.length)
            mixed = {**counts, best.unit: whole}
            mixed[shortest.unit] = mixed.get(shortest.unit, 0) + units
            prorated = Plan(mixed, Decimal(fraction) / shortest.length)
            total = cost + whole * best.rate + left * shortest.rate / shortest.length
            if (total, periods + whole + units) < plan[:2]:
                return total, periods + whole + units, prorated
        return plan

    def _parts(self, plan: Plan) -> list[ChargePart]:
        parts = [
            ChargePart(p.unit, Decimal(plan.counts[p.unit]), p.rate, plan.counts[p.unit] * p.rate)
            for p in reversed(self.periods)
            if plan.counts.get(p.unit)
        ]
        if plan.fraction:
            shortest = self.periods[0]
            amount = plan.fraction * shortest.rate
            parts.append(ChargePart(f"{shortest.unit} pro rata", plan.fraction, shortest.rate, amount))
        return parts

    def _describe(self, plan: Plan) -> str:
        words = [f"{plan.counts[p.unit]} {p.unit}" for p in reversed(self.periods) if plan.counts.get(p.unit)]
        if plan.fraction:
            words.append(f"{text(plan.fraction)} {self.periods[0].unit}")
        return " + ".join(words) or "nothing"


def _month_days(config: Mapping[str, Any], path: str) -> int:
    days = dec(config, "month_days", path, default=Decimal(30))
    if days != days.to_integral_value() or not 28 <= days <= 31:
        raise bad(
            f"{path}.month_days", "month_days must be a whole number from 28 to 31", config["month_days"]
        )
    return int(days)


def _moment(value: datetime | None, name: str) -> datetime:
    if value is None:
        raise missing_input(name, "a hire is priced by its start and end")
    if value.tzinfo is None or value.utcoffset() is None:
        msg = f"{name} must carry its time zone (e.g. 2026-03-02T08:00:00+00:00), not {value.isoformat()}"
        raise bad(f"inputs.{name}", msg, value.isoformat())
    return value


MECHANISM = Rental

__all__ = ["MECHANISM", "Period", "Plan", "Rental"]
