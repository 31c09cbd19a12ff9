"""``single_location``: the fewest splits. When one location has every line in full, all of it
comes from there (ties by priority); otherwise, greedily, the location that covers the most of
the remaining lines in full takes them (ties by priority), and what no location covers in full
is taken by location priority, splitting the line."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any, ClassVar

from legato.domain.inventory.allocation import (
    ZERO,
    Candidate,
    Need,
    Pick,
    Stock,
    by_priority,
    greedy,
    no_params,
)


def _covered(c: Candidate, needs: Sequence[Need], stock: Stock) -> list[Need]:
    """The needs this location can meet in full, in line order (lines of one SKU share its stock)."""
    used: dict[str, Decimal] = {}
    out = []
    for n in needs:
        if stock.of(c, n.sku) - used.get(n.sku, ZERO) >= n.quantity:
            used[n.sku] = used.get(n.sku, ZERO) + n.quantity
            out.append(n)
    return out


class SingleLocation:
    name: ClassVar[str] = "single_location"

    def check(self, params: Mapping[str, Any], path: str) -> None:
        no_params(params, path)

    def plan(
        self,
        needs: Sequence[Need],
        candidates: Sequence[Candidate],
        ship_to: Mapping[str, Any] | None,
        params: Mapping[str, Any],
    ) -> list[Pick]:
        stock = Stock(candidates)
        ordered = by_priority(candidates)
        remaining = [n for n in needs if n.quantity > 0]
        picks: list[Pick] = []
        while remaining:
            best: tuple[Candidate, list[Need]] | None = None
            for c in ordered:  # by priority: the first of equal coverage wins
                got = _covered(c, remaining, stock)
                if got and (best is None or len(got) > len(best[1])):
                    best = (c, got)
            if best is None:
                break
            c, got = best
            for n in got:
                stock.take(c, n.sku, n.quantity)
                picks.append(Pick(n.line_no, c.location_id, n.quantity, self.name))
            done = {id(n) for n in got}
            remaining = [n for n in remaining if id(n) not in done]
        left = {n.line_no: n.quantity for n in remaining}
        return picks + greedy(remaining, lambda _n: ordered, stock, self.name, left)


STRATEGY = SingleLocation()

__all__ = ["STRATEGY", "SingleLocation"]
