"""``rule``: a line's product category or tag names the location that supplies it, e.g. every
``furniture`` line from its assembly point; lines no rule maps go to the ``fallback`` strategy.

    strategy: rule
    params:
      categories: {furniture: ASM-1}      # product category -> location code
      tags: {bulky: WH-NORTH}             # product tag -> location code (categories win)
      fallback: priority                  # default: priority
      fallback_params: {}

A mapped line is supplied only by its location (what it lacks is backordered there, not taken
elsewhere); its allocations are recorded with strategy ``rule``, the fallback's with
``rule>priority`` (or whichever fallback)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any, ClassVar

from legato.domain.errors import IssueCollector
from legato.domain.inventory.allocation import Candidate, Need, Pick, Stock, greedy, known_params


def _target(n: Need, params: Mapping[str, Any]) -> str | None:
    categories: Mapping[str, str] = params.get("categories") or {}
    if n.category is not None and n.category in categories:
        return categories[n.category]
    tags: Mapping[str, str] = params.get("tags") or {}
    for tag in n.tags:
        if tag in tags:
            return tags[tag]
    return None


class Rule:
    name: ClassVar[str] = "rule"

    def check(self, params: Mapping[str, Any], path: str) -> None:
        from legato.domain.inventory.strategies import REGISTRY, get_strategy

        out = IssueCollector()
        known_params(out, params, ("categories", "tags", "fallback", "fallback_params"), path)
        if not isinstance(params, Mapping):
            out.raise_if_any()
        for key in ("categories", "tags"):
            value = params.get(key)
            if value is None:
                continue
            if not isinstance(value, Mapping):
                out.add(f"{path}.{key}", f"{key} maps a {key[:-1]} to a location code", "invalid", value)
                continue
            for k, code in value.items():
                if not isinstance(code, str) or not code:
                    out.add(f"{path}.{key}.{k}", "a location code (text)", "invalid", code)
        if not params.get("categories") and not params.get("tags"):
            out.add(path, "give categories or tags to map to a location", "required")
        fallback = params.get("fallback", "priority")
        if fallback == self.name or fallback not in REGISTRY:
            known = ", ".join(sorted(k for k in REGISTRY if k != self.name))
            out.add(f"{path}.fallback", f"a strategy other than rule: {known}", "unknown_strategy", fallback)
        else:
            fp = params.get("fallback_params") or {}
            if not isinstance(fp, Mapping):
                out.add(f"{path}.fallback_params", "fallback_params must be an object", "invalid", fp)
            else:
                out.raise_if_any()
                get_strategy(fallback).check(fp, f"{path}.fallback_params")
        out.raise_if_any()

    def plan(
        self,
        needs: Sequence[Need],
        candidates: Sequence[Candidate],
        ship_to: Mapping[str, Any] | None,
        params: Mapping[str, Any],
    ) -> list[Pick]:
        from legato.domain.inventory.strategies import get_strategy

        by_code = {c.code: c for c in candidates}
        stock = Stock(candidates)
        mapped: list[Pick] = []
        rest: list[Need] = []
        for n in needs:
            code = _target(n, params)
            if code is None:
                rest.append(n)
                continue
            site = by_code.get(code)
            mapped += greedy([n], lambda _n, s=site: [s] if s is not None else [], stock, self.name)
        if not rest:
            return mapped
        left = [replace(c, available={sku: stock.of(c, sku) for sku in c.available}) for c in candidates]
        fallback = str(params.get("fallback", "priority"))
        picks = get_strategy(fallback).plan(rest, left, ship_to, params.get("fallback_params") or {})
        return mapped + [replace(p, strategy=f"{self.name}>{p.strategy or fallback}") for p in picks]


STRATEGY = Rule()

__all__ = ["STRATEGY", "Rule"]
