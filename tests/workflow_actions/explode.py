"""``explode``: a bug (an unexpected exception): retried like Retry, within its limit."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from legato.workflow.actions import StepContext, StepResult


class Explode:
    name: ClassVar[str] = "explode"
    max_attempts: ClassVar[int] = 2

    def check(self, params: Mapping[str, Any], path: str) -> None:
        pass

    def run(self, ctx: StepContext, params: Mapping[str, Any]) -> StepResult:
        raise ZeroDivisionError("division by zero")


ACTION = Explode()
