"""A workflow definition, as written in YAML or sent to the API, and its checks.

    name: high-value-approval
    description: Orders over 5,000 wait for an approver
    trigger: order.created            # an event type, or {schedule: "18:00"} / {every: "15m"}
    condition: order.total > 5000     # CEL; empty or absent: always
    priority: 100                     # higher runs first when several workflows match one event
    active: true
    actions:
      - action: require_approval
        params: {role: approver, reason: "order over 5,000"}
      - action: send_email
        params: {to: "approvals@example.com", template: approval_requested}

``parse`` turns such a document into a ``Definition`` and reports every problem with its
path (``actions[1].params.to``); the condition is compiled and each action's parameters
checked by the action itself, so a workflow that saves is a workflow that can run.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import time
from typing import Any

from legato.domain.errors import FieldIssue, LegatoError, ValidationFailed

#: the events a workflow can be triggered by, and when they fire
TRIGGERS: dict[str, str] = {
    "order.created": "an order entered the lifecycle, from any channel",
    "order.status_changed": "the lifecycle moved (event.from, event.to, event.reason)",
    "order.track_changed": "the payment, fulfilment or invoice track moved (event.track, .from, .to)",
    "order.updated": "editable fields of an order changed (event.fields)",
    "payment.received": "an order's payment track became paid",
    "quote.created": "a quote was drafted",
    "quote.accepted": "a quote was accepted",
    "quote.converted": "an accepted quote became an order",
    "sensor.breach": "a replenishment rule's sensor crossed its threshold (event.device_id, .metric ...)",
    "order.allocated": "stock was reserved for an order's lines (event.allocations, .backordered)",
    "order.backordered": "some of an order's units wait for stock (event.lines)",
    "fulfilment.created": "a fulfilment order was created (event.fulfilment_order: kind, location, lines)",
    "fulfilment.status_changed": "a fulfilment order moved (event.fulfilment_order, .from, .to, .reason)",
    "stock.received": "stock was received at a location (event.location, .sku, .quantity)",
    "return.created": "a return was opened (comes with returns)",
    "schedule": "a time of day or an interval, without an event",
}

NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,79}$")
_EVERY = re.compile(r"^(\d{1,5})(s|m|h|d)$")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True)
class Step:
    action: str
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Trigger:
    event: str  # one of TRIGGERS ("schedule" for the time-driven ones)
    at: time | None = None  # schedule: every day at this time (UTC)
    every_seconds: int | None = None  # schedule: every so many seconds

    def describe(self) -> str:
        if self.event != "schedule":
            return self.event
        return f"every day at {self.at:%H:%M} UTC" if self.at else f"every {self.every_seconds} s"


@dataclass(frozen=True)
class Definition:
    name: str
    trigger: Trigger
    steps: tuple[Step, ...]
    condition: str = ""  # CEL; "" always matches
    priority: int = 0  # higher first; equal priority: by name
    description: str | None = None
    active: bool = True

    def as_dict(self) -> dict[str, Any]:
        trigger: Any = self.trigger.event
        if self.trigger.event == "schedule":
            trigger = ({"schedule": f"{self.trigger.at:%H:%M}"} if self.trigger.at
                       else {"every": _interval(self.trigger.every_seconds or 0)})  # fmt: skip
        return {
            "name": self.name,
            "description": self.description,
            "trigger": trigger,
            "condition": self.condition,
            "priority": self.priority,
            "active": self.active,
            "actions": [{"action": s.action, "params": dict(s.params)} for s in self.steps],
        }


def _interval(seconds: int) -> str:
    """An interval in its largest whole unit (``2d``, ``90m``), as ``parse`` reads it back."""
    for unit in ("d", "h", "m"):
        if seconds % _SECONDS[unit] == 0:
            return f"{seconds // _SECONDS[unit]}{unit}"
    return f"{seconds}s"


def _trigger(raw: Any, issues: list[FieldIssue]) -> Trigger | None:
    if isinstance(raw, str):
        if raw not in TRIGGERS or raw == "schedule":
            known = ", ".join(k for k in TRIGGERS if k != "schedule")
            issues.append(FieldIssue("trigger", f"unknown trigger {raw!r}; one of {known}, or a schedule",
                                     "unknown_trigger", raw))  # fmt: skip
            return None
        return Trigger(raw)
    if isinstance(raw, Mapping) and len(raw) == 1 and "schedule" in raw:
        text = str(raw["schedule"])
        m = re.fullmatch(r"([01]\d|2[0-3]):([0-5]\d)", text)
        if not m:
            issues.append(
                FieldIssue("trigger.schedule", f"a time of day as HH:MM (UTC), not {text!r}", "invalid", text)
            )
            return None
        return Trigger("schedule", at=time(int(m.group(1)), int(m.group(2))))
    if isinstance(raw, Mapping) and len(raw) == 1 and "every" in raw:
        text = str(raw["every"])
        m = _EVERY.fullmatch(text)
        seconds = int(m.group(1)) * _SECONDS[m.group(2)] if m else 0
        if not m or seconds < 60:
            msg = f"an interval of at least 1 minute such as 15m, 1h, 1d; not {text!r}"
            issues.append(FieldIssue("trigger.every", msg, "invalid", text))
            return None
        return Trigger("schedule", every_seconds=seconds)
    msg = "an event type (order.created ...), {schedule: HH:MM} or {every: 15m}"
    issues.append(FieldIssue("trigger", msg, "invalid", None))
    return None


def parse(doc: Any, *, check: bool = True) -> Definition:
    """A definition from a YAML/JSON document; raises ValidationFailed naming every problem.

    ``check``: also compile the condition and check each action's parameters (always, except
    when reading back a version that was checked when it was saved)."""
    issues: list[FieldIssue] = []
    if not isinstance(doc, Mapping):
        raise ValidationFailed("a workflow is a mapping (name, trigger, condition, actions)",
                               issues=[FieldIssue("$", "a workflow is a mapping", "invalid")])  # fmt: skip
    known = {"name", "description", "trigger", "condition", "priority", "active", "actions"}
    for key in sorted(set(doc) - known):
        issues.append(
            FieldIssue(
                str(key), f"unknown field {key!r}; fields: {', '.join(sorted(known))}", "unknown_field"
            )
        )
    name = doc.get("name")
    if not isinstance(name, str) or not NAME.match(name):
        issues.append(
            FieldIssue("name", "a name of lower-case letters, digits, - _ . (up to 80)", "invalid", name)
        )
    trigger = _trigger(doc.get("trigger"), issues)
    condition = doc.get("condition") or ""
    if not isinstance(condition, str):
        issues.append(FieldIssue("condition", "a CEL expression, as text", "invalid", condition))
        condition = ""
    priority = doc.get("priority", 0)
    if isinstance(priority, bool) or not isinstance(priority, int) or not -10_000 <= priority <= 10_000:
        issues.append(FieldIssue("priority", "a whole number from -10000 to 10000", "invalid", priority))
        priority = 0
    active = doc.get("active", True)
    if not isinstance(active, bool):
        issues.append(FieldIssue("active", "true or false", "invalid", active))
    description = doc.get("description")
    raw_steps = doc.get("actions")
    steps: list[Step] = []
    if not isinstance(raw_steps, list) or not raw_steps:
        issues.append(FieldIssue("actions", "a list of at least one action", "required"))
        raw_steps = []
    for i, raw in enumerate(raw_steps):
        path = f"actions[{i}]"
        if not isinstance(raw, Mapping) or not isinstance(raw.get("action"), str):
            issues.append(FieldIssue(path, "each action is {action: NAME, params: {...}}", "invalid"))
            continue
        params = raw.get("params") or {}
        extra = sorted(set(raw) - {"action", "params"})
        if extra:
            msg = f"unknown field {extra[0]!r}; an action has action and params"
            issues.append(FieldIssue(f"{path}.{extra[0]}", msg, "unknown_field"))
        if not isinstance(params, Mapping):
            issues.append(FieldIssue(f"{path}.params", "params is a mapping", "invalid"))
            continue
        steps.append(Step(raw["action"], dict(params)))
        if check:
            issues.extend(_check_step(raw["action"], params, path))
    if check and condition and trigger is not None:
        issues.extend(_check_condition(condition, trigger))
    if issues:
        raise ValidationFailed(
            f"the workflow is not valid: {issues[0].path}: {issues[0].message}", issues=issues
        )
    assert trigger is not None and isinstance(name, str)
    return Definition(name, trigger, tuple(steps), condition, priority,
                      str(description) if description else None, active)  # fmt: skip


def _check_step(action: str, params: Mapping[str, Any], path: str) -> list[FieldIssue]:
    from legato.workflow.actions import check_action

    try:
        check_action(action, params, path)
    except LegatoError as exc:
        return list(exc.issues) or [FieldIssue(path, exc.detail, exc.code)]
    return []


def _check_condition(condition: str, trigger: Trigger) -> list[FieldIssue]:
    from legato.workflow.conditions import compile_condition

    try:
        compile_condition(condition, trigger.event)
    except LegatoError as exc:
        return list(exc.issues) or [FieldIssue("condition", exc.detail, exc.code, condition)]
    return []


__all__ = ["NAME", "TRIGGERS", "Definition", "Step", "Trigger", "parse"]
