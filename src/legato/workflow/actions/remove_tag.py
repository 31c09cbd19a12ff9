"""``remove_tag``: take a tag off the event's order (a tag it does not have changes nothing).

    - action: remove_tag
      params: {tag: awaiting-stock}

Recorded on the timeline as an ``edited`` entry (fields: tags) by ``rule:<workflow>``, read
and written under the order's row lock like ``add_tag``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from legato.domain.order import SalesOrder
from legato.workflow.actions import StepContext, StepResult
from legato.workflow.actions import _orders as o
from legato.workflow.actions.add_tag import check_tag


class RemoveTag:
    name: ClassVar[str] = "remove_tag"
    max_attempts: ClassVar[int] = 5

    def check(self, params: Mapping[str, Any], path: str) -> None:
        out = o.issues()
        check_tag(params, path, out)
        out.raise_if_any()

    def run(self, ctx: StepContext, params: Mapping[str, Any]) -> StepResult:
        tag = params["tag"]

        def remove(order: SalesOrder) -> dict[str, Any]:
            return {"tags": tuple(t for t in order.tags if t != tag)} if tag in order.tags else {}

        order, changed = o.edit_locked(ctx, remove, params.get("reason"))
        return StepResult.done(tags=list(order.tags), changed=changed)


ACTION = RemoveTag()

__all__ = ["ACTION", "RemoveTag"]
