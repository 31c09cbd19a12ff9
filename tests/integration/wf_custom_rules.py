"""Functions the run_custom tests allow (LEGATO_WORKFLOW_CUSTOM_MODULES=wf_custom_rules)."""

from __future__ import annotations

from typing import Any

from legato.workflow.actions import StepContext


def score(ctx: StepContext, context: dict[str, Any], args: dict[str, Any]) -> dict[str, Any]:
    """Sees the step, the condition context and the args; its dict is the step's output."""
    total = context["order"]["total"]
    return {"order": context["order"]["number"], "big": total > int(args["over"]), "actor": ctx.actor}


def halt(ctx: StepContext, context: dict[str, Any], args: dict[str, Any]) -> bool:
    return False


def nothing(ctx: StepContext, context: dict[str, Any], args: dict[str, Any]) -> None:
    return None


def answer(ctx: StepContext, context: dict[str, Any], args: dict[str, Any]) -> int:
    return 42


def broken(ctx: StepContext, context: dict[str, Any], args: dict[str, Any]) -> None:
    raise RuntimeError("the scoring service is down")


NOT_A_FUNCTION = "just text"
