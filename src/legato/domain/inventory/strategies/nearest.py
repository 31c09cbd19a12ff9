"""``nearest``: the location closest to the ship-to address (great-circle distance from the
``latitude``/``longitude`` in the shipping address JSON) first; locations without coordinates
come after those with, by priority. Without coordinates on the ship-to, it falls back to location
priority and says so: the allocations are recorded with strategy ``nearest>priority``."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from legato.domain.inventory.allocation import (
    Candidate,
    Need,
    Pick,
    Stock,
    by_priority,
    coordinates,
    greedy,
    no_params,
)

EARTH_RADIUS_KM = 6371.0088
FALLBACK = "nearest>priority"


def haversine_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance between two (latitude, longitude) points in kilometres."""
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


class Nearest:
    name: ClassVar[str] = "nearest"

    def check(self, params: Mapping[str, Any], path: str) -> None:
        no_params(params, path)

    def plan(
        self,
        needs: Sequence[Need],
        candidates: Sequence[Candidate],
        ship_to: Mapping[str, Any] | None,
        params: Mapping[str, Any],
    ) -> list[Pick]:
        origin = coordinates(ship_to)
        if origin is None:
            ordered = by_priority(candidates)
            return greedy(needs, lambda _n: ordered, Stock(candidates), FALLBACK)

        def distance(c: Candidate) -> float:
            if c.latitude is None or c.longitude is None:
                return math.inf
            return haversine_km(origin, (float(c.latitude), float(c.longitude)))

        ordered = sorted(candidates, key=lambda c: (distance(c), -c.priority, c.code, c.location_id))
        return greedy(needs, lambda _n: ordered, Stock(candidates), self.name)


STRATEGY = Nearest()

__all__ = ["FALLBACK", "STRATEGY", "Nearest", "haversine_km"]
