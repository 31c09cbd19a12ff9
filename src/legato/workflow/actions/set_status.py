"""``set_status``: move the event's order through the lifecycle, as the rule.

    - action: set_status
      params: {to: processing, reason: "paid and in stock"}

The transition table decides (``docs/lifecycle.md``): a move it forbids can never succeed,
so the step is dead-lettered at once with the lifecycle's own message. An order already in
the target status counts as done (a retry after a crash that committed the move).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from legato.domain.errors import ValidationFailed
from legato.domain.lifecycle import parse_status
from legato.workflow.actions import StepContext, StepResult
from legato.workflow.actions import _orders as o


class SetStatus:
    name: ClassVar[str] = "set_status"
    max_attempts: ClassVar[int] = 5

    def check(self, params: Mapping[str, Any], path: str) -> None:
        out = o.issues()
        o.known_keys(params, ("to", "reason"), path, out)
        to = params.get("to")
        if not isinstance(to, str):
            out.add(f"{path}.to", "to is required: the status to move the order to", "required", to)
        else:
            try:
                parse_status(to, f"{path}.to")
            except ValidationFailed as exc:
                out.issues.extend(exc.issues)
        o.text(params, "reason", path, out, required=False, max_length=1000)
        out.raise_if_any()

    def run(self, ctx: StepContext, params: Mapping[str, Any]) -> StepResult:
        to = parse_status(params["to"])
        moved = o.transition(ctx, to, params.get("reason"))
        return StepResult.done(status=to.value, changed=moved)


ACTION = SetStatus()

__all__ = ["ACTION", "SetStatus"]
