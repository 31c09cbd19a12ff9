"""Available to promise (ATP): per SKU and location, the units a shipped order may still be promised.

The rule (shared with allocation): a location counts for a channel when it is active, ships, its
``channels`` list is empty or holds the channel, its ``regions`` list is empty or holds the ship-to
country, and ``atp_rules[channel].excluded`` is not set. Its ATP is
``on_hand - reserved - safety_stock - atp_rules[channel].safety_stock``, never below zero.

One indexed query (``stock_levels`` by SKU, joined to its location), so a storefront's product page
can ask on every view: the arithmetic is done here rather than in SQL, because SQLite keeps the
quantities as exact decimal strings.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Text, bindparam, cast, select

from legato.store.inventory_tables import locations, stock_levels

ZERO = Decimal(0)

_QUERY = (
    select(
        stock_levels.c.sku,
        stock_levels.c.location_id,
        locations.c.code,
        stock_levels.c.on_hand,
        stock_levels.c.reserved,
        locations.c.safety_stock,
        # as text: parsed once per distinct value (_rule), not once per row
        cast(locations.c.channels, Text).label("channels"),
        cast(locations.c.regions, Text).label("regions"),
        cast(locations.c.atp_rules, Text).label("atp_rules"),
    )
    .join(locations, locations.c.id == stock_levels.c.location_id)
    .where(
        stock_levels.c.sku.in_(bindparam("skus", expanding=True)),
        locations.c.active.is_(True),
        locations.c.ships.is_(True),
        locations.c.kind != "supplier",
    )
)


def serves(
    channels: list[str] | None,
    regions: list[str] | None,
    atp_rules: Mapping[str, Any] | None,
    *,
    channel: str | None,
    region: str | None,
) -> bool:
    """Whether a location with these settings serves this channel and ship-to region (None: any)."""
    if channel is not None:
        if channels and channel not in channels:
            return False
        rule = (atp_rules or {}).get(channel) or {}
        if rule.get("excluded"):
            return False
    return not (region is not None and regions and region.upper() not in regions)


def channel_safety_stock(atp_rules: Mapping[str, Any] | None, channel: str | None) -> Decimal:
    """The units a channel's rule holds back at a location (0 without a rule)."""
    if channel is None:
        return ZERO
    rule = (atp_rules or {}).get(channel) or {}
    held = rule.get("safety_stock")
    return Decimal(str(held)) if held is not None else ZERO


_RULES: dict[tuple[str | None, str | None, str | None, str | None, str | None], tuple[bool, Decimal]] = {}


def _rule(
    channels: str | None, regions: str | None, rules: str | None, channel: str | None, region: str | None
) -> tuple[bool, Decimal]:
    """(serves, the channel's safety stock) for a location's settings as stored (JSON text);
    memoised, as there are few distinct settings and a look-up meets each one many times."""
    key = (channels, regions, rules, channel, region)
    hit = _RULES.get(key)
    if hit is None:
        loaded = json.loads(rules) if rules else {}
        ok = serves(json.loads(channels) if channels else [], json.loads(regions) if regions else [], loaded,
                    channel=channel, region=region)  # fmt: skip
        hit = (ok, channel_safety_stock(loaded, channel))
        if len(_RULES) > 10_000:  # bounded: settings that changed leave old keys behind
            _RULES.clear()
        _RULES[key] = hit
    return hit


def by_location(
    conn: Connection, skus: Iterable[str], *, channel: str | None = None, region: str | None = None
) -> dict[str, list[tuple[int, str, Decimal]]]:
    """SKU -> [(location id, location code, available to promise)], for the locations that serve
    ``channel`` and ship to ``region`` (a country code); every SKU asked for is a key."""
    wanted = list(dict.fromkeys(skus))  # in the order asked, once each
    out: dict[str, list[tuple[int, str, Decimal]]] = {sku: [] for sku in wanted}
    if not wanted:
        return out
    for r in conn.execute(_QUERY, {"skus": wanted}):
        ok, held = _rule(r.channels, r.regions, r.atp_rules, channel, region)
        if ok:
            free = r.on_hand - r.reserved - r.safety_stock - held
            out[r.sku].append((r.location_id, r.code, free if free > 0 else ZERO))
    return out


def atp(
    conn: Connection, skus: Iterable[str], *, channel: str | None = None, region: str | None = None
) -> dict[str, dict[int, Decimal]]:
    """SKU -> location id -> available to promise, for the locations that serve ``channel`` and
    ship to ``region``; every SKU asked for is a key (an empty dict: no stock anywhere)."""
    found = by_location(conn, skus, channel=channel, region=region)
    return {sku: {loc: free for loc, _, free in rows} for sku, rows in found.items()}


def total(per_location: Mapping[int, Decimal]) -> Decimal:
    return sum(per_location.values(), ZERO)


__all__ = ["atp", "by_location", "channel_safety_stock", "serves", "total"]
