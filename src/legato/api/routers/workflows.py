"""Workflows over the API: definitions with their versions, enable/disable, a check for the
editor's live validation, and the dry run (docs/workflows/README.md).

A definition is sent as JSON in the same shape as the YAML files and goes through the same
checks (``legato.workflow.definitions.from_document``), so the API and ``legato workflows
check`` report the same problems at the same paths (``$.actions[1].params.to``, ``$.condition``
with the position in the message). Writing needs ``workflows:write`` (or ``admin``); reading,
checking and dry runs need ``orders:read``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Path, Response
from pydantic import BaseModel, Field, StringConstraints

from legato.api.deps import runtime
from legato.api.schemas import Strict
from legato.api.security import require
from legato.bootstrap import Runtime
from legato.domain.errors import DuplicateKey, FieldIssue, NotFound, ValidationFailed
from legato.domain.order import ORDER_PREFIX, parse_number
from legato.store import workflows as store
from legato.store.apikeys import ApiKey
from legato.store.queries import reading
from legato.workflow import definitions
from legato.workflow.dryrun import DryRun, dry_run
from legato.workflow.model import NAME, TRIGGERS, Definition

router = APIRouter(prefix="/api/v1", tags=["workflows"])

READ, WRITE = "orders:read", "workflows:write"
Name = Annotated[str, StringConstraints(pattern=NAME.pattern, max_length=80)]

#: the request body's documented shape; the checks themselves are the definition's own
DEFINITION_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["name", "trigger", "actions"],
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string", "pattern": NAME.pattern, "maxLength": 80},
        "description": {"type": ["string", "null"], "maxLength": 2000},
        "trigger": {
            "description": "an event type, {schedule: 'HH:MM'} (UTC) or {every: '15m'}",
            "anyOf": [
                {"type": "string", "enum": [k for k in TRIGGERS if k != "schedule"]},
                {
                    "type": "object",
                    "required": ["schedule"],
                    "additionalProperties": False,
                    "properties": {
                        "schedule": {"type": "string", "pattern": "^([01][0-9]|2[0-3]):[0-5][0-9]$"}
                    },
                },
                {
                    "type": "object",
                    "required": ["every"],
                    "additionalProperties": False,
                    "properties": {"every": {"type": "string", "pattern": "^[0-9]{1,5}[smhd]$"}},
                },
            ],
        },
        "condition": {"type": ["string", "null"], "description": "CEL; empty: always", "maxLength": 4000},
        "priority": {"type": "integer", "minimum": -10000, "maximum": 10000, "default": 0},
        "active": {"type": "boolean", "default": True},
        "actions": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["action"],
                "additionalProperties": False,
                "properties": {
                    "action": {"type": "string", "description": "a name in docs/workflows"},
                    "params": {"type": "object"},
                },
            },
        },
    },
}
_BODY = {"requestBody": {"required": True, "content": {"application/json": {"schema": DEFINITION_SCHEMA}}}}


class StepOut(BaseModel):
    action: str
    params: dict[str, Any]


class DefinitionOut(BaseModel):
    name: str
    description: str | None
    trigger: str | dict[str, str]
    trigger_description: str = Field(description="the trigger in words")
    condition: str
    priority: int
    active: bool
    actions: list[StepOut]


class WorkflowOut(DefinitionOut):
    version: int = Field(description="the current version")
    created_at: datetime
    updated_at: datetime
    fired: int = Field(description="runs started")
    failed: int = Field(description="steps dead-lettered now (GET /api/v1/jobs?state=dead)")
    last_fired_at: datetime | None


class SavedOut(WorkflowOut):
    outcome: Literal["created", "updated", "unchanged", "enabled", "disabled"]


class WorkflowList(BaseModel):
    items: list[WorkflowOut]


class VersionOut(BaseModel):
    name: str
    version: int
    current: bool
    created_at: datetime
    created_by: str
    definition: DefinitionOut


class VersionSummary(BaseModel):
    version: int
    current: bool
    created_at: datetime
    created_by: str


class VersionList(BaseModel):
    items: list[VersionSummary]


class CheckOut(BaseModel):
    valid: Literal[True]
    outcome: Literal["created", "updated", "unchanged", "enabled", "disabled"] = Field(
        description="what saving it now would do"
    )
    version: int = Field(description="the version it would be saved as (or is)")
    definition: DefinitionOut


class DryRunIn(Strict):
    order: Annotated[str, StringConstraints(min_length=1, max_length=40)] = Field(
        description="order id (42) or number (SO-000042)"
    )
    event: str | None = Field(None, max_length=60, description="an event type; default order.created")
    name: Name | None = Field(None, description="only this workflow (default: every workflow)")
    payload: dict[str, Any] | None = Field(None, description="event fields laid over the order's event")


class VerdictOut(BaseModel):
    name: str
    version: int
    priority: int
    trigger: str
    active: bool
    condition: str
    matched: bool
    reason: Literal["matched", "other_trigger", "inactive", "condition_false", "condition_error"]
    why: str
    condition_result: bool | None
    actions: list[StepOut] = Field(description="what would run, in order (matched workflows only)")


class DryRunOut(BaseModel):
    order: str
    event: dict[str, Any]
    event_source: Literal["outbox", "made up"]
    context: dict[str, Any] = Field(description="what the conditions saw")
    matched: list[str] = Field(description="the workflows that would run, in the order they would run")
    workflows: list[VerdictOut]


def _definition(d: Definition, active: bool | None = None) -> dict[str, Any]:
    doc = definitions.document(d)
    return {
        **doc,
        "active": d.active if active is None else active,
        "trigger_description": d.trigger.describe(),
    }


def _workflow(w: store.StoredWorkflow) -> dict[str, Any]:
    return {
        **_definition(definitions.stored(w.document), w.active),
        "version": w.version,
        "created_at": w.created_at,
        "updated_at": w.updated_at,
        "fired": w.fired,
        "failed": w.failed,
        "last_fired_at": w.last_fired_at,
    }


def _get(rt: Runtime, name: str) -> store.StoredWorkflow:
    with reading(rt.engine) as conn:
        found = store.get_workflow(conn, name)
    if found is None:
        raise NotFound(f"no workflow {name!r}")
    return found


def _name() -> Any:
    return Path(pattern=NAME.pattern, max_length=80, description="the workflow's name")


def _checked(doc: dict[str, Any], name: str | None = None) -> Definition:
    if name is not None:
        sent = doc.setdefault("name", name)
        if sent != name:
            msg = f"the name in the body ({sent!r}) differs from the one in the path ({name!r})"
            raise ValidationFailed(msg, issues=[FieldIssue("name", msg, "mismatch", str(sent))])
    return definitions.from_document(doc)


@router.get("/workflows", response_model=WorkflowList)
def list_workflows(_: ApiKey = Depends(require(READ)), rt: Runtime = Depends(runtime)) -> dict[str, Any]:
    """Every workflow at its current version, by name, with how often it fired and failed."""
    with reading(rt.engine) as conn:
        items = store.list_workflows(conn)
    return {"items": [_workflow(w) for w in items]}


@router.post("/workflows", response_model=SavedOut, status_code=201, openapi_extra=_BODY)
def create_workflow(
    doc: dict[str, Any] = Body(), key: ApiKey = Depends(require(WRITE)), rt: Runtime = Depends(runtime)
) -> dict[str, Any]:
    """A new workflow, version 1 (409 if the name is taken: PUT its URL for a new version)."""
    definition = _checked(doc)
    with reading(rt.engine) as conn:
        if store.get_version(conn, definition.name) is not None:
            raise DuplicateKey(
                f"the workflow {definition.name!r} exists: PUT /api/v1/workflows/"
                f"{definition.name} saves a new version"
            )
    saved = definitions.save(rt, definition, key.actor)
    if saved.outcome != "created":  # created by someone else between the look and the save
        raise DuplicateKey(f"the workflow {definition.name!r} was created at the same time")
    return {**_workflow(_get(rt, saved.name)), "outcome": saved.outcome}


@router.get("/workflows/{name}", response_model=WorkflowOut)
def get_workflow(
    name: str = _name(), _: ApiKey = Depends(require(READ)), rt: Runtime = Depends(runtime)
) -> dict[str, Any]:
    return _workflow(_get(rt, name))


@router.put(
    "/workflows/{name}",
    response_model=SavedOut,
    openapi_extra=_BODY,
    responses={201: {"model": SavedOut, "description": "a new workflow (version 1)"}},
)
def put_workflow(
    response: Response,
    doc: dict[str, Any] = Body(),
    name: str = _name(),
    key: ApiKey = Depends(require(WRITE)),
    rt: Runtime = Depends(runtime),
) -> dict[str, Any]:
    """Save the workflow: a changed definition becomes a new version (200, outcome ``updated``),
    the same one saves nothing (``unchanged``), a new name is created (201). The body is the
    whole definition: ``active`` left out means active."""
    saved = definitions.save(rt, _checked(doc, name), key.actor)
    if saved.outcome == "created":
        response.status_code = 201
    return {**_workflow(_get(rt, saved.name)), "outcome": saved.outcome}


@router.get("/workflows/{name}/versions", response_model=VersionList)
def list_versions(
    name: str = _name(), _: ApiKey = Depends(require(READ)), rt: Runtime = Depends(runtime)
) -> dict[str, Any]:
    """Every version, oldest first; runs record the version they used."""
    with reading(rt.engine) as conn:
        found = store.list_versions(conn, name)
    if found is None:
        raise NotFound(f"no workflow {name!r}")
    last = found[-1].version
    return {
        "items": [
            {
                "version": v.version,
                "current": v.version == last,
                "created_at": v.created_at,
                "created_by": v.created_by,
            }
            for v in found
        ]
    }


@router.get("/workflows/{name}/versions/{version}", response_model=VersionOut)
def get_version(
    name: str = _name(),
    version: int = Path(ge=1, le=2**31 - 1),
    _: ApiKey = Depends(require(READ)),
    rt: Runtime = Depends(runtime),
) -> dict[str, Any]:
    """One version's definition as it was saved (its ``active`` is the one sent then)."""
    with reading(rt.engine) as conn:
        found = store.get_version(conn, name, version)
        current = store.get_version(conn, name)
    if found is None or current is None:
        raise NotFound(f"no version {version} of workflow {name!r}" if current else f"no workflow {name!r}")
    return {
        "name": found.name,
        "version": found.version,
        "current": found.version == current.version,
        "created_at": found.created_at,
        "created_by": found.created_by,
        "definition": _definition(definitions.stored(found.document)),
    }


def _switch(rt: Runtime, name: str, active: bool) -> dict[str, Any]:
    definitions.set_active(rt, name, active)
    return _workflow(_get(rt, name))


@router.post("/workflows/{name}/enable", response_model=WorkflowOut)
def enable_workflow(
    name: str = _name(), _: ApiKey = Depends(require(WRITE)), rt: Runtime = Depends(runtime)
) -> dict[str, Any]:
    """Let the engine run it again (no new version)."""
    return _switch(rt, name, True)


@router.post("/workflows/{name}/disable", response_model=WorkflowOut)
def disable_workflow(
    name: str = _name(), _: ApiKey = Depends(require(WRITE)), rt: Runtime = Depends(runtime)
) -> dict[str, Any]:
    """Stop the engine from running it (no new version; runs already started go on)."""
    return _switch(rt, name, False)


@router.post("/workflows/check", response_model=CheckOut, openapi_extra=_BODY)
def check_workflow(
    doc: dict[str, Any] = Body(), _: ApiKey = Depends(require(READ)), rt: Runtime = Depends(runtime)
) -> dict[str, Any]:
    """Validate a definition without saving it (an editor's live check): 422 with every
    problem by path, or what saving it would do."""
    definition = _checked(doc)
    with reading(rt.engine) as conn:
        outcome, version = store.outcome_of(
            conn, definition.name, definitions.document(definition), definition.active
        )
    return {"valid": True, "outcome": outcome, "version": version, "definition": _definition(definition)}


def dry_run_out(out: DryRun) -> dict[str, Any]:
    """The dry run as the API answers it (also ``legato workflows test --json``)."""
    steps = [[{"action": s.action, "params": dict(s.params)} for s in v.actions] for v in out.verdicts]
    return {
        "order": out.order_number,
        "event": out.event,
        "event_source": out.event_source,
        "context": out.context,
        "matched": [v.name for v in out.matched],
        "workflows": [
            {**{k: getattr(v, k) for k in VerdictOut.model_fields if k != "actions"}, "actions": s}
            for v, s in zip(out.verdicts, steps, strict=True)
        ],
    }


@router.post("/workflows/dry-run", response_model=DryRunOut)
def dry_run_workflows(
    body: DryRunIn, _: ApiKey = Depends(require(READ)), rt: Runtime = Depends(runtime)
) -> dict[str, Any]:
    """For an order and an event (default ``order.created``), every workflow: matched or not
    and why, and the actions that would run, without running anything."""
    order_id = parse_number(ORDER_PREFIX, body.order)
    if order_id is None or order_id > 2**62:
        raise NotFound(f"no order {body.order!r}")
    return dry_run_out(dry_run(rt, order_id, body.event, body.name, body.payload))
