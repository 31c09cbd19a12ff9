"""``add_tag``: tag the event's order (kept once: a tag already there changes nothing).

    - action: add_tag
      params: {tag: vip}

Recorded on the timeline as an ``edited`` entry (fields: tags) by ``rule:<workflow>``. The
tags are read and written under the order's row lock, so two rules tagging one order at
the same moment both keep their tag.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from legato.domain.errors import IssueCollector
from legato.domain.order import SalesOrder
from legato.workflow.actions import Fail, StepContext, StepResult
from legato.workflow.actions import _orders as o

MAX_TAGS = 50  # as the API allows


def check_tag(params: Mapping[str, Any], path: str, out: IssueCollector) -> None:
    o.known_keys(params, ("tag", "reason"), path, out)
    o.text(params, "tag", path, out, required=True, max_length=64)
    o.text(params, "reason", path, out, required=False, max_length=1000)


class AddTag:
    name: ClassVar[str] = "add_tag"
    max_attempts: ClassVar[int] = 5

    def check(self, params: Mapping[str, Any], path: str) -> None:
        out = o.issues()
        check_tag(params, path, out)
        out.raise_if_any()

    def run(self, ctx: StepContext, params: Mapping[str, Any]) -> StepResult:
        tag = params["tag"]

        def add(order: SalesOrder) -> dict[str, Any]:
            if tag in order.tags:
                return {}
            if len(order.tags) >= MAX_TAGS:
                raise Fail(f"order {order.number} has {MAX_TAGS} tags already; {tag!r} was not added")
            return {"tags": (*order.tags, tag)}

        order, changed = o.edit_locked(ctx, add, params.get("reason"))
        return StepResult.done(tags=list(order.tags), changed=changed)


ACTION = AddTag()

__all__ = ["ACTION", "MAX_TAGS", "AddTag", "check_tag"]
