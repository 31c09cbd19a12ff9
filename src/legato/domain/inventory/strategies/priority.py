"""``priority``: the highest-priority location first (ties by code), taking what each has until
the line is met; a line may split over several locations."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from legato.domain.inventory.allocation import Candidate, Need, Pick, Stock, by_priority, greedy, no_params


class Priority:
    name: ClassVar[str] = "priority"

    def check(self, params: Mapping[str, Any], path: str) -> None:
        no_params(params, path)

    def plan(
        self,
        needs: Sequence[Need],
        candidates: Sequence[Candidate],
        ship_to: Mapping[str, Any] | None,
        params: Mapping[str, Any],
    ) -> list[Pick]:
        ordered = by_priority(candidates)
        return greedy(needs, lambda _n: ordered, Stock(candidates), self.name)


STRATEGY = Priority()

__all__ = ["STRATEGY", "Priority"]
