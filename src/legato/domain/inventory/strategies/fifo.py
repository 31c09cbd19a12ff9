"""``fifo``: for each line, the location holding the SKU's oldest stock (its oldest FIFO layer
with units left) first, so older receipts, and their cost layers, leave first; locations with no
layer for the SKU come last, by priority."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, ClassVar

from legato.domain.inventory.allocation import Candidate, Need, Pick, Stock, greedy, no_params


class Fifo:
    name: ClassVar[str] = "fifo"

    def check(self, params: Mapping[str, Any], path: str) -> None:
        no_params(params, path)

    def plan(
        self,
        needs: Sequence[Need],
        candidates: Sequence[Candidate],
        ship_to: Mapping[str, Any] | None,
        params: Mapping[str, Any],
    ) -> list[Pick]:
        def order_for(n: Need) -> list[Candidate]:
            def key(c: Candidate) -> tuple[bool, datetime | None, int, str, int]:
                oldest = c.oldest.get(n.sku)
                return (oldest is None, oldest, -c.priority, c.code, c.location_id)

            with_layer = [c for c in candidates if c.oldest.get(n.sku) is not None]
            without = [c for c in candidates if c.oldest.get(n.sku) is None]
            with_layer.sort(key=key)
            without.sort(key=key)
            return with_layer + without

        return greedy(needs, order_for, Stock(candidates), self.name)


STRATEGY = Fifo()

__all__ = ["STRATEGY", "Fifo"]
