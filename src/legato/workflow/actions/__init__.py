"""Workflow actions: one module each, one line in ``REGISTRY``.

An action module defines ``ACTION``, an object meeting ``Action``: a ``name``, a retry
limit, ``check(params, path)`` (called when a workflow is saved: refuse bad parameters with
their path, so a workflow never fails at run time for a typo) and ``run(ctx, params)``
(called by the runner for one attempt of one step).

``run`` either returns a ``StepResult`` or raises:

* ``Retry`` (or any other exception): the attempt failed; the runner retries with
  exponential backoff and jitter up to the action's ``max_attempts``, then dead-letters;
* ``Fail``: the step can never succeed (a 4xx from a receiver, a missing order): dead-letter
  at once, with the reason on the order's timeline.

Effects must be idempotent per step: ``ctx.idempotency_key`` is stable across the attempts
of one step (and differs between steps and runs); pass it to every receiver that honours one
(``Idempotency-Key`` headers, the webhook id, the email's Message-ID ...).
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from legato.domain.errors import FieldIssue, ValidationFailed

if TYPE_CHECKING:
    from legato.bootstrap import Runtime

#: action name -> module defining ACTION
REGISTRY: dict[str, str] = {
    "noop": "legato.workflow.actions.noop",
    "set_status": "legato.workflow.actions.set_status",
    "require_approval": "legato.workflow.actions.require_approval",
    "add_tag": "legato.workflow.actions.add_tag",
    "remove_tag": "legato.workflow.actions.remove_tag",
    "set_priority": "legato.workflow.actions.set_priority",
    "set_field": "legato.workflow.actions.set_field",
    "validate_before_erp": "legato.workflow.actions.validate_before_erp",
    "wait": "legato.workflow.actions.wait",
    "run_custom": "legato.workflow.actions.run_custom",
    "deliver_webhook": "legato.workflow.actions.deliver_webhook",
    "send_webhook": "legato.workflow.actions.send_webhook",
    "call_http": "legato.workflow.actions.call_http",
    "push_to_erp": "legato.workflow.actions.push_to_erp",
    "push_batch_to_erp": "legato.workflow.actions.push_batch_to_erp",
    "create_erp_customer": "legato.workflow.actions.create_erp_customer",
    "send_email": "legato.workflow.actions.send_email",
    "send_sms": "legato.workflow.actions.send_sms",
    "create_fulfilment_orders": "legato.workflow.actions.create_fulfilment_orders",
    "hold_fulfilment": "legato.workflow.actions.hold_fulfilment",
    "allocate": "legato.workflow.actions.allocate",
}


@dataclass(frozen=True)
class StepContext:
    """What one attempt of one step knows."""

    rt: Runtime
    run_id: int
    step: int  # 0-based position of the action in the workflow
    attempt: int  # 1 for the first attempt
    workflow: str  # the workflow's name
    version: int  # the workflow version the run uses
    event: Mapping[str, Any]  # {"id", "type", "aggregate_type", "aggregate_id", "payload", "created_at"}
    order_id: int | None  # the order the event is about, if any
    now: datetime

    @property
    def idempotency_key(self) -> str:
        """Stable across the attempts of one step; unique per (run, step)."""
        return f"legato-run-{self.run_id}-step-{self.step}"

    @property
    def actor(self) -> str:
        """Who the timeline says did it: ``rule:<workflow>``."""
        return f"rule:{self.workflow}"


@dataclass(frozen=True)
class StepResult:
    """A finished attempt. ``output`` is kept on the job (request/response summary, ids ...)."""

    outcome: str = "done"  # done | wait | stop
    output: Mapping[str, Any] = field(default_factory=dict)
    #: outcome "wait": run the step again at this time (a timer), or, when None, when resumed
    #: (an approval decided through the API calls ``runner.resume``)
    wake_at: datetime | None = None
    note: str | None = None  # a short line for the order's timeline, if worth one

    @classmethod
    def done(cls, note: str | None = None, **output: Any) -> StepResult:
        return cls("done", output, None, note)

    @classmethod
    def stop(cls, note: str) -> StepResult:
        """End the run here, successfully (the rest of the actions do not apply)."""
        return cls("stop", {}, None, note)

    @classmethod
    def wait(cls, until: datetime | None = None, note: str | None = None, **output: Any) -> StepResult:
        return cls("wait", output, until, note)


class Retry(Exception):
    """This attempt failed but a later one may succeed (5xx, timeout, connection closed)."""


class Fail(Exception):
    """This step can never succeed as configured: dead-letter it now."""


class Action(Protocol):
    name: ClassVar[str]
    max_attempts: ClassVar[int]  # attempts before the job is dead-lettered

    def check(self, params: Mapping[str, Any], path: str) -> None:
        """Refuse bad parameters (ValidationFailed with FieldIssues under ``path``)."""
        ...

    def run(self, ctx: StepContext, params: Mapping[str, Any]) -> StepResult: ...


class UnknownAction(ValidationFailed):
    code = "unknown_action"
    title = "No such workflow action"


@cache
def get_action(name: str) -> Action:
    module = REGISTRY.get(name)
    if module is None:
        raise UnknownAction(
            f"no workflow action {name!r}; known: {', '.join(sorted(REGISTRY))}",
            issues=[FieldIssue("action", f"no workflow action {name!r}", "unknown_action", name)],
        )
    action: Action = importlib.import_module(module).ACTION
    return action


def check_action(name: str, params: Mapping[str, Any], path: str) -> None:
    """Check one step of a workflow definition (name and parameters) at save time."""
    try:
        action = get_action(name)
    except UnknownAction as exc:
        raise ValidationFailed(
            exc.detail, issues=[FieldIssue(f"{path}.action", exc.detail, exc.code, name)]
        ) from None
    action.check(params, f"{path}.params")


def bad_param(path: str, message: str, value: Any = None) -> ValidationFailed:
    return ValidationFailed(message, issues=[FieldIssue(path, message, "invalid", value)])


__all__ = [
    "REGISTRY",
    "Action",
    "Fail",
    "Retry",
    "StepContext",
    "StepResult",
    "UnknownAction",
    "bad_param",
    "check_action",
    "get_action",
]
