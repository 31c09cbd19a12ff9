"""``set_priority``: set the event's order's priority (-1000 to 1000; higher goes first).

    - action: set_priority
      params: {priority: 10, reason: "gold customer"}

Recorded on the timeline as an ``edited`` entry (fields: priority) by ``rule:<workflow>``;
nothing is recorded when the priority already has that value. A final order cannot be
edited: the step is dead-lettered with that message.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from legato.workflow.actions import StepContext, StepResult
from legato.workflow.actions import _orders as o

LOWEST, HIGHEST = -1000, 1000


def check_priority(value: Any, path: str, out: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not LOWEST <= value <= HIGHEST:
        out.add(path, f"a whole number from {LOWEST} to {HIGHEST}", "invalid", value)


class SetPriority:
    name: ClassVar[str] = "set_priority"
    max_attempts: ClassVar[int] = 5

    def check(self, params: Mapping[str, Any], path: str) -> None:
        out = o.issues()
        o.known_keys(params, ("priority", "reason"), path, out)
        if "priority" not in params:
            out.add(f"{path}.priority", "priority is required", "required")
        else:
            check_priority(params["priority"], f"{path}.priority", out)
        o.text(params, "reason", path, out, required=False, max_length=1000)
        out.raise_if_any()

    def run(self, ctx: StepContext, params: Mapping[str, Any]) -> StepResult:
        order = o.edit(ctx, {"priority": params["priority"]}, params.get("reason"))
        return StepResult.done(priority=order.priority)


ACTION = SetPriority()

__all__ = ["ACTION", "SetPriority", "check_priority"]
