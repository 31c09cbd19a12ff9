"""The workflow editor's form as data: trigger, condition, and actions as rows, read from the posted
fields, turned into the same document the YAML files and the API use, and checked by the same
``definitions.from_document`` so every problem comes back at its path (``actions[1].params.to``).

An action's parameters are written in YAML (JSON is YAML too): ``{role: approver}``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from legato.domain.errors import FieldIssue, LegatoError
from legato.workflow.definitions import document, from_document
from legato.workflow.model import TRIGGERS, Definition

EVENTS = tuple(k for k in TRIGGERS if k != "schedule")
SCHEDULES = {"at": "every day at (UTC)", "every": "every interval"}
MAX_STEPS = 50
MAX_PARAMS = 20_000


@dataclass
class Step:
    action: str = ""
    params: str = ""  # YAML text


@dataclass
class WorkflowForm:
    """What the user typed, as typed."""

    name: str = ""
    original: str = ""  # the workflow being edited ("" = a new one)
    description: str = ""
    trigger: str = "order.created"  # an event type, or "at" / "every"
    trigger_at: str = ""
    trigger_every: str = ""
    condition: str = ""
    priority: str = "0"
    active: bool = True
    steps: list[Step] = field(default_factory=list)
    order: str = ""  # the order to dry-run against
    event: str = "order.created"
    intent: str = "check"  # check | add | remove:N | up:N | save

    @classmethod
    def of(cls, d: Definition) -> WorkflowForm:
        """The form of a saved definition."""
        doc = document(d)
        trigger = doc["trigger"]
        f = cls(
            name=d.name,
            original=d.name,
            description=d.description or "",
            condition=d.condition,
            priority=str(d.priority),
            active=d.active,
        )
        if isinstance(trigger, dict):
            f.trigger = "at" if "schedule" in trigger else "every"
            f.trigger_at, f.trigger_every = str(trigger.get("schedule", "")), str(trigger.get("every", ""))
        else:
            f.trigger = trigger
            f.event = trigger
        f.steps = [Step(s.action, _yaml(dict(s.params))) for s in d.steps]
        return f

    @property
    def event_trigger(self) -> str:
        """The trigger a condition is compiled for."""
        return self.trigger if self.trigger in EVENTS else "schedule"


def _yaml(params: dict[str, Any]) -> str:
    if not params:
        return ""
    return yaml.safe_dump(
        params, default_flow_style=None, sort_keys=False, allow_unicode=True, width=100
    ).strip()


def read(pairs: list[tuple[str, str]]) -> WorkflowForm:
    f = WorkflowForm(active=False)
    actions: list[str] = []
    params: list[str] = []
    for name, value in pairs:
        if name == "action":
            actions.append(value.strip())
        elif name == "params":
            params.append(value[:MAX_PARAMS])
        elif name == "active":
            f.active = value in ("1", "on", "true")
        elif name in ("condition", "description"):
            setattr(f, name, value.replace("\r\n", "\n")[:5000])
        elif name in (
            "name",
            "original",
            "trigger",
            "trigger_at",
            "trigger_every",
            "priority",
            "order",
            "event",
            "intent",
        ):
            setattr(f, name, value.strip()[:200])
    f.steps = [Step(a, params[i] if i < len(params) else "") for i, a in enumerate(actions[:MAX_STEPS])]
    f.intent = f.intent or "check"
    return f


def apply_intent(f: WorkflowForm) -> None:
    verb, _, arg = f.intent.partition(":")
    if verb == "add" and len(f.steps) < MAX_STEPS:
        f.steps.append(Step())
    elif verb == "remove" and arg.isdigit() and int(arg) < len(f.steps):
        del f.steps[int(arg)]
    elif verb == "up" and arg.isdigit() and 0 < int(arg) < len(f.steps):
        i = int(arg)
        f.steps[i - 1], f.steps[i] = f.steps[i], f.steps[i - 1]


def doc(f: WorkflowForm) -> tuple[dict[str, Any], list[FieldIssue]]:
    """The definition document, and the problems met building it (parameters that are not YAML)."""
    issues: list[FieldIssue] = []
    trigger: Any = f.trigger
    if f.trigger == "at":
        trigger = {"schedule": f.trigger_at}
    elif f.trigger == "every":
        trigger = {"every": f.trigger_every}
    priority: Any = int(f.priority) if re.fullmatch(r"-?\d{1,6}", f.priority) else f.priority
    steps = []
    for i, s in enumerate(f.steps):
        try:
            params = yaml.safe_load(s.params) if s.params.strip() else {}
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1} column {mark.column + 1}" if mark is not None else ""
            issues.append(
                FieldIssue(
                    f"actions[{i}].params", f"not YAML: {getattr(exc, 'problem', exc)}{where}", "invalid"
                )
            )
            params = {}
        steps.append({"action": s.action, "params": params if params is not None else {}})
    out = {
        "name": f.name,
        "description": f.description.strip() or None,
        "trigger": trigger,
        "condition": f.condition,
        "priority": priority,
        "active": f.active,
        "actions": steps,
    }
    return out, issues


def check(f: WorkflowForm) -> tuple[Definition | None, list[FieldIssue]]:
    """The checked definition, or every problem by its path."""
    raw, issues = doc(f)
    try:
        definition = from_document(raw)
    except LegatoError as exc:
        found = list(exc.issues) or [FieldIssue("$", exc.detail, exc.code)]
        unread = tuple(x.path for x in issues)  # parameters that are not YAML: no more about them
        return None, issues + [i for i in found if not i.path.startswith(unread)]
    return (definition, []) if not issues else (None, issues)


def step_errors(issues: list[FieldIssue]) -> dict[int, dict[str, str]]:
    """Problems of each action row: {row: {"action": ..., "params": ...}}."""
    out: dict[int, dict[str, list[str]]] = {}
    for issue in issues:
        m = re.match(r"^actions\[(\d+)\](.*)$", issue.path)
        if m is None:
            continue
        rest = m.group(2)
        slot = "action" if rest == ".action" else "params"
        where = rest.removeprefix(".params").lstrip(".")
        text = issue.message if slot == "action" or not where else f"{where}: {issue.message}"
        out.setdefault(int(m.group(1)), {}).setdefault(slot, []).append(text)
    return {row: {slot: "; ".join(texts) for slot, texts in slots.items()} for row, slots in out.items()}


def anchor(path: str) -> str:
    """The id of the control a problem at ``path`` belongs to."""
    m = re.match(r"^actions\[(\d+)\](\.(\w+))?", path)
    if m:
        return f"step-{m.group(1)}-{'action' if m.group(3) == 'action' else 'params'}"
    head = path.split(".")[0].split("[")[0]
    if path.startswith("trigger."):
        return "trigger_at" if path.endswith("schedule") else "trigger_every"
    return (
        head
        if head in ("name", "description", "trigger", "condition", "priority", "active")
        else ("add-step" if head == "actions" else "wf-errors")
    )


__all__ = [
    "EVENTS",
    "SCHEDULES",
    "Step",
    "WorkflowForm",
    "anchor",
    "apply_intent",
    "check",
    "doc",
    "read",
    "step_errors",
]
