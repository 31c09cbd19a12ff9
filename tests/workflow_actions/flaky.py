"""``flaky`` {fail_times}: raises Retry on its first ``fail_times`` attempts, then succeeds."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from legato.workflow.actions import Retry, StepContext, StepResult


class Flaky:
    name: ClassVar[str] = "flaky"
    max_attempts: ClassVar[int] = 4

    def check(self, params: Mapping[str, Any], path: str) -> None:
        pass

    def run(self, ctx: StepContext, params: Mapping[str, Any]) -> StepResult:
        if ctx.attempt <= int(params.get("fail_times", 0)):
            raise Retry(f"the receiver answered 503 (attempt {ctx.attempt})")
        return StepResult.done(f"succeeded at attempt {ctx.attempt}", attempt=ctx.attempt)


ACTION = Flaky()
