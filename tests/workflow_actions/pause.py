"""``pause`` {seconds?}: waits (until resumed, or ``seconds`` from now: a timer), then is done."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any, ClassVar

from legato.workflow.actions import StepContext, StepResult


class Pause:
    name: ClassVar[str] = "pause"
    max_attempts: ClassVar[int] = 1

    def check(self, params: Mapping[str, Any], path: str) -> None:
        pass

    def run(self, ctx: StepContext, params: Mapping[str, Any]) -> StepResult:
        if ctx.attempt > 1:  # woken by the timer
            return StepResult.done("the timer went off", woke_at=ctx.now.isoformat())
        seconds = params.get("seconds")
        until = ctx.now + timedelta(seconds=int(seconds)) if seconds else None
        return StepResult.wait(until, "waiting", wake=until.isoformat() if until else None)


ACTION = Pause()
