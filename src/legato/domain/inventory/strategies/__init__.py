"""Allocation strategies: one module each, one line in ``REGISTRY``; each module defines
``STRATEGY``, an object meeting ``legato.domain.inventory.allocation.Strategy``."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from functools import cache
from typing import Any

from legato.domain.errors import FieldIssue, ValidationFailed
from legato.domain.inventory.allocation import Strategy

#: strategy name -> module defining STRATEGY
REGISTRY: dict[str, str] = {
    "priority": "legato.domain.inventory.strategies.priority",
    "nearest": "legato.domain.inventory.strategies.nearest",
    "single_location": "legato.domain.inventory.strategies.single_location",
    "fifo": "legato.domain.inventory.strategies.fifo",
    "rule": "legato.domain.inventory.strategies.rule",
}

DEFAULT = "single_location"


@cache
def get_strategy(name: str) -> Strategy:
    module = REGISTRY.get(name)
    if module is None:
        msg = f"no allocation strategy {name!r}; known: {', '.join(sorted(REGISTRY))}"
        raise ValidationFailed(msg, issues=[FieldIssue("strategy", msg, "unknown_strategy", name)])
    strategy: Strategy = importlib.import_module(module).STRATEGY
    return strategy


def check_strategy(name: Any, params: Any, path: str, params_path: str | None = None) -> None:
    """Refuse an unknown strategy (at ``path``) or bad params (under ``params_path``)."""
    if not isinstance(name, str) or name not in REGISTRY:
        msg = f"no allocation strategy {name!r}; known: {', '.join(sorted(REGISTRY))}"
        raise ValidationFailed(msg, issues=[FieldIssue(path, msg, "unknown_strategy", name)])
    if params is not None and not isinstance(params, Mapping):
        msg = "params must be an object"
        raise ValidationFailed(msg, issues=[FieldIssue(params_path or path, msg, "invalid", params)])
    get_strategy(name).check(params or {}, params_path or f"{path}.params")


__all__ = ["DEFAULT", "REGISTRY", "check_strategy", "get_strategy"]
