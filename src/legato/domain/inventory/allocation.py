"""Allocation in the pure domain: which location(s) fulfil which order lines.

A ``Strategy`` is given the lines still to supply (``Need``), the locations that may supply them
with what each has available to promise (``Candidate``), the ship-to address and its own params,
and answers ``Pick``s: (line, location, quantity). Before any strategy runs, the restriction
filter (``serves``) removes the locations that may not serve the order at all: inactive ones,
ones whose channel or region lists leave the order out, ones that do not ship (for a shipped
order), ones excluded from the channel's ATP, and, for click & collect, every location but the
pickup point.

Every strategy keeps two promises, property-tested for each registered one: it never picks more
of a SKU at a location than the candidate has available (over all the lines of that SKU), and
never more for a line than the line needs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar, Protocol

from legato.domain.errors import IssueCollector

ZERO = Decimal(0)


@dataclass(frozen=True)
class Need:
    """One order line's units still to supply."""

    line_no: int
    sku: str
    quantity: Decimal
    category: str | None = None
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class Candidate:
    """A location that may supply the order, with its ATP and oldest receipt per SKU."""

    location_id: int
    code: str
    priority: int  # higher is preferred
    latitude: Decimal | None = None
    longitude: Decimal | None = None
    available: Mapping[str, Decimal] = field(default_factory=dict)
    oldest: Mapping[str, datetime] = field(default_factory=dict)  # the oldest layer with stock left


@dataclass(frozen=True)
class Pick:
    """Units of one line to reserve at one location; ``strategy`` is what decided it (recorded on
    the allocation), e.g. ``nearest>priority`` when nearest fell back to location priority."""

    line_no: int
    location_id: int
    quantity: Decimal
    strategy: str = ""


class Strategy(Protocol):
    name: ClassVar[str]

    def check(self, params: Mapping[str, Any], path: str) -> None:
        """Refuse bad params (ValidationFailed with FieldIssues under ``path``)."""
        ...

    def plan(
        self,
        needs: Sequence[Need],
        candidates: Sequence[Candidate],
        ship_to: Mapping[str, Any] | None,
        params: Mapping[str, Any],
    ) -> list[Pick]: ...


# --- the restriction filter -------------------------------------------------------------------


@dataclass(frozen=True)
class Site:
    """A location as the restriction filter sees it."""

    id: int
    code: str
    kind: str = "warehouse"
    channels: Sequence[str] = ()
    regions: Sequence[str] = ()
    ships: bool = True
    pickup: bool = False
    active: bool = True
    safety_stock: Decimal = ZERO
    atp_rules: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Destination:
    """Who the order is for: its channel, ship-to country and, for click & collect, the pickup
    location's code."""

    channel: str | None = None
    country: str | None = None
    pickup_code: str | None = None


def serves(site: Site, to: Destination) -> bool:
    """May this location supply an order going there? (The always-on restriction filter.)"""
    if not site.active or site.kind == "supplier":
        return False
    if to.pickup_code is not None:
        if site.code != to.pickup_code:
            return False
    elif not site.ships:
        return False
    if site.channels and to.channel is not None and to.channel not in site.channels:
        return False
    in_region = to.country is not None and to.country.upper() in {r.upper() for r in site.regions}
    if site.regions and to.pickup_code is None and not in_region:
        return False
    rule = site.atp_rules.get(to.channel or "") if to.channel else None
    return not (isinstance(rule, Mapping) and rule.get("excluded"))


def channel_safety(site: Site, channel: str | None) -> Decimal:
    """Units held back from the channel's ATP at this location (the location's own and the
    channel rule's)."""
    held = site.safety_stock
    rule = site.atp_rules.get(channel) if channel else None
    if isinstance(rule, Mapping) and rule.get("safety_stock") is not None:
        held += Decimal(str(rule["safety_stock"]))
    return held


def atp(on_hand: Decimal, reserved: Decimal, site: Site, channel: str | None) -> Decimal:
    """Available to promise at one location for one channel: on hand - reserved - safety, >= 0."""
    return max(on_hand - reserved - channel_safety(site, channel), ZERO)


def destination(shipping_address: Mapping[str, Any] | None, channel: str | None) -> Destination:
    addr = shipping_address or {}
    country = addr.get("country") or addr.get("country_code")
    pickup = addr.get("pickup_location")
    return Destination(
        channel=channel,
        country=str(country).upper() if country else None,
        pickup_code=str(pickup) if pickup else None,
    )


def coordinates(ship_to: Mapping[str, Any] | None) -> tuple[float, float] | None:
    """The ship-to's (latitude, longitude), when the address carries valid ones."""
    if not ship_to:
        return None
    try:
        lat, lon = float(ship_to["latitude"]), float(ship_to["longitude"])
    except (KeyError, TypeError, ValueError):
        return None
    if -90 <= lat <= 90 and -180 <= lon <= 180:
        return lat, lon
    return None


# --- helpers the strategies share --------------------------------------------------------------


class Stock:
    """What is left to pick per (location, SKU) while a plan is built."""

    def __init__(self, candidates: Iterable[Candidate]) -> None:
        self.left: dict[tuple[int, str], Decimal] = {
            (c.location_id, sku): max(q, ZERO) for c in candidates for sku, q in c.available.items()
        }

    def of(self, c: Candidate, sku: str) -> Decimal:
        return self.left.get((c.location_id, sku), ZERO)

    def take(self, c: Candidate, sku: str, quantity: Decimal) -> None:
        self.left[(c.location_id, sku)] = self.of(c, sku) - quantity


def by_priority(candidates: Iterable[Candidate]) -> list[Candidate]:
    return sorted(candidates, key=lambda c: (-c.priority, c.code, c.location_id))


def greedy(
    needs: Iterable[Need],
    order_for: Any,
    stock: Stock,
    label: str,
    left: dict[int, Decimal] | None = None,
) -> list[Pick]:
    """For each need, take from the candidates in ``order_for(need)`` order until it is met.
    ``left``: units still needed per line (updated)."""
    picks: list[Pick] = []
    for n in needs:
        want = left[n.line_no] if left is not None else n.quantity
        for c in order_for(n):
            if want <= 0:
                break
            take = min(want, stock.of(c, n.sku))
            if take > 0:
                stock.take(c, n.sku, take)
                picks.append(Pick(n.line_no, c.location_id, take, label))
                want -= take
        if left is not None:
            left[n.line_no] = want
    return picks


def known_params(out: IssueCollector, params: Mapping[str, Any], keys: Sequence[str], path: str) -> None:
    """Report params that are not an object, and every key a strategy does not take."""
    if not isinstance(params, Mapping):
        out.add(path, "params must be an object", "invalid", params)
        return
    for k in params:
        if k not in keys:
            allowed = ", ".join(keys) if keys else "none"
            out.add(f"{path}.{k}", f"unknown parameter {k!r}; allowed: {allowed}", "unknown", k)


def no_params(params: Mapping[str, Any], path: str) -> None:
    """The ``check`` of a strategy that takes no parameters."""
    out = IssueCollector()
    known_params(out, params, (), path)
    out.raise_if_any()


__all__ = [
    "ZERO",
    "Candidate",
    "Destination",
    "Need",
    "Pick",
    "Site",
    "Stock",
    "Strategy",
    "atp",
    "by_priority",
    "channel_safety",
    "coordinates",
    "destination",
    "greedy",
    "known_params",
    "no_params",
    "serves",
]
