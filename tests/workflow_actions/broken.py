"""``broken`` {reason}: can never succeed (raises Fail)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from legato.workflow.actions import Fail, StepContext, StepResult


class Broken:
    name: ClassVar[str] = "broken"
    max_attempts: ClassVar[int] = 5

    def check(self, params: Mapping[str, Any], path: str) -> None:
        pass

    def run(self, ctx: StepContext, params: Mapping[str, Any]) -> StepResult:
        raise Fail(str(params.get("reason", "the receiver refused the request (422)")))


ACTION = Broken()
