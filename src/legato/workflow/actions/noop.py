"""``noop``: does nothing, and records that it ran.

It is what the benchmark measures the engine with (outbox -> run -> job -> recorded), a
safe first action to try a trigger and condition with, and a step whose ``note`` puts a
line on the order's timeline::

    - action: noop
      params: {note: "matched the high-value rule"}   # optional
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from legato.workflow.actions import StepContext, StepResult, bad_param


class Noop:
    name: ClassVar[str] = "noop"
    max_attempts: ClassVar[int] = 3  # it cannot fail, but its worker can crash under it

    def check(self, params: Mapping[str, Any], path: str) -> None:
        for key in params:
            if key != "note":
                raise bad_param(f"{path}.{key}", f"unknown parameter {key!r}; noop takes note", key)
        note = params.get("note")
        if note is not None and (not isinstance(note, str) or not 0 < len(note) <= 500):
            raise bad_param(f"{path}.note", "a note is text of 1 to 500 characters", note)

    def run(self, ctx: StepContext, params: Mapping[str, Any]) -> StepResult:
        note = params.get("note")
        return StepResult.done(
            note if isinstance(note, str) else None, ran_at=ctx.now.isoformat(), attempt=ctx.attempt
        )


ACTION = Noop()
