"""Workflows (/workflows): the business's rules with how often each fired and failed; each edited
in a form (trigger, condition, actions as rows) with the condition checked live as it is typed
(``conditions.compile_condition``), a dry run of the form as it stands against a chosen order
(``dryrun.dry_run`` for the event's context and the other workflows), and saving as a new version
(``definitions.save``: an unchanged definition saves nothing)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response

from legato.bootstrap import Runtime
from legato.domain.errors import FieldIssue, LegatoError
from legato.domain.order import ORDER_PREFIX, parse_number
from legato.store import workflows as store
from legato.store.queries import reading
from legato.store.users import User
from legato.web.app import NavItem, error_page, is_htmx, redirect, render, runtime
from legato.web.auth import require
from legato.web.pages import workflow_form as wf
from legato.web.permissions import can
from legato.workflow import definitions
from legato.workflow.actions import REGISTRY
from legato.workflow.conditions import ConditionError, compile_condition
from legato.workflow.dryrun import dry_run
from legato.workflow.model import NAME, TRIGGERS

router = APIRouter()
NAV = [NavItem("Workflows", "/workflows", "workflows:view", order=50)]


def _stored(rt: Runtime, name: str) -> store.StoredWorkflow | None:
    if not NAME.match(name):
        return None
    with reading(rt.engine) as conn:
        return store.get_workflow(conn, name)


@router.get("/workflows")
def workflow_list(request: Request, user: User = Depends(require("workflows:view"))) -> HTMLResponse:
    with reading(runtime(request).engine) as conn:
        items = store.list_workflows(conn)
    rows = [{"w": w, "trigger": definitions.stored(w.document).trigger.describe()} for w in items]
    return render(request, "workflows/list.html", {"rows": rows})


def _editor(
    request: Request, f: wf.WorkflowForm, issues: list[FieldIssue], *, status: int = 200, saved: Any = None
) -> HTMLResponse:
    rt = runtime(request)
    versions = None
    current = _stored(rt, f.original) if f.original else None
    if f.original:
        with reading(rt.engine) as conn:
            versions = store.list_versions(conn, f.original)
    context = {
        "f": f,
        "issues": issues,
        "errors": {i.path: i.message for i in issues},
        "anchor": wf.anchor,
        "step_errors": wf.step_errors(issues),
        "events": wf.EVENTS,
        "triggers": TRIGGERS,
        "schedules": wf.SCHEDULES,
        "actions": sorted(REGISTRY),
        "current": current,
        "versions": list(reversed(versions or [])),
        "saved": saved,
        "condition": _condition(f),
    }
    if is_htmx(request) and request.headers.get("hx-target") == "wf-form":
        return render(request, "workflows/_form.html", context)
    return render(request, "workflows/edit.html", context, status_code=status)


def _condition(f: wf.WorkflowForm) -> dict[str, Any]:
    """The live check of the condition as typed: valid (and the fields it reads) or the problem."""
    if not f.condition.strip():
        return {"ok": True, "message": "No condition: every event on the trigger matches."}
    try:
        compiled = compile_condition(f.condition, f.event_trigger)
    except LegatoError as exc:
        return {"ok": False, "message": exc.issues[0].message if exc.issues else exc.detail}
    reads = ", ".join(compiled.fields)
    return {"ok": True, "message": "Valid" + (f": reads {reads}." if reads else ".")}


@router.get("/workflows/new")
def new_workflow(request: Request, user: User = Depends(require("workflows:manage"))) -> HTMLResponse:
    return _editor(request, wf.WorkflowForm(steps=[wf.Step("noop", "")]), [])


@router.get("/workflows/{name}")
def workflow_page(
    name: str, request: Request, user: User = Depends(require("workflows:view"))
) -> HTMLResponse:
    found = _stored(runtime(request), name)
    if found is None:
        return error_page(request, 404, "No such workflow", f"There is no workflow {name!r}.")
    return _editor(
        request, wf.WorkflowForm.of(definitions.stored({**found.document, "active": found.active})), []
    )


@router.post("/workflows/check")
async def check_condition(
    request: Request, user: User = Depends(require("workflows:manage"))
) -> HTMLResponse:
    """The condition's live check, as it is typed (a fragment)."""
    form = await request.form()
    f = wf.read([(k, v) for k, v in form.multi_items() if isinstance(v, str)])
    return render(request, "workflows/_check.html", {"condition": _condition(f)})


@router.post("/workflows/edit")
async def post_editor(request: Request, user: User = Depends(require("workflows:manage"))) -> Response:
    """The editor's buttons: add, remove or move an action, check everything, or save a version."""
    form = await request.form()
    f = wf.read([(k, v) for k, v in form.multi_items() if isinstance(v, str)])
    return await run_in_threadpool(_handle, request, f, user)


def _handle(request: Request, f: wf.WorkflowForm, user: User) -> Response:
    rt = runtime(request)
    wf.apply_intent(f)
    definition, issues = wf.check(f)
    if f.intent != "save":
        return _editor(request, f, issues)
    if definition is not None and not f.original and _stored(rt, definition.name) is not None:
        msg = f"a workflow {definition.name!r} exists: open it to edit it, or choose another name"
        issues = [FieldIssue("name", msg, "duplicate", definition.name)]
    if definition is None or issues:
        return _editor(request, f, issues, status=422)
    if f.original and definition.name != f.original:
        return _editor(request, f, [FieldIssue("name", "a workflow keeps its name", "invalid")], status=422)
    saved = definitions.save(rt, definition, user.actor)
    said = {
        "created": f"Workflow {saved.name} created (version 1).",
        "updated": f"Saved as version {saved.version} of {saved.name}.",
        "unchanged": f"Nothing changed: {saved.name} stays at version {saved.version}.",
    }.get(saved.outcome, f"{saved.name} {saved.outcome} (version {saved.version}).")
    return redirect(request, f"/workflows/{saved.name}", flash=said)


@router.post("/workflows/dry-run")
async def post_dry_run(request: Request, user: User = Depends(require("workflows:view"))) -> HTMLResponse:
    form = await request.form()
    f = wf.read([(k, v) for k, v in form.multi_items() if isinstance(v, str)])
    if not can(user.role, "workflows:manage"):  # a reader dry-runs the saved rules, whatever was posted
        saved = await run_in_threadpool(_stored, runtime(request), f.original) if f.original else None
        order, event = f.order, f.event
        f = wf.WorkflowForm.of(definitions.stored(saved.document)) if saved else wf.WorkflowForm()
        f.order, f.event = order, event
    return await run_in_threadpool(_dry_run, request, f)


def _dry_run(request: Request, f: wf.WorkflowForm) -> HTMLResponse:
    """The form's workflow, as it stands, against an order and an event; the saved workflows too."""
    rt = runtime(request)
    context: dict[str, Any] = {"f": f, "problem": None, "out": None, "mine": None}
    order_id = parse_number(ORDER_PREFIX, f.order)
    if order_id is None or order_id > 2**62:
        context["problem"] = (
            f"{f.order!r} is not an order number (SO-000042)" if f.order else "Type an order number."
        )
        return render(request, "workflows/_dry_run.html", context)
    event = f.event if f.event in wf.EVENTS else "order.created"
    try:
        out = dry_run(rt, order_id, event)
    except LegatoError as exc:
        context["problem"] = exc.detail
        return render(request, "workflows/_dry_run.html", context)
    definition, issues = wf.check(f)
    mine: dict[str, Any] = {"issues": issues}
    if definition is not None:
        mine["definition"] = definition
        if definition.trigger.event != event:
            mine["verdict"], mine["why"] = (
                False,
                f"it is triggered by {definition.trigger.describe()}, not {event}",
            )
        else:
            try:
                ok = (
                    compile_condition(definition.condition, event).evaluate(out.context)
                    if definition.condition
                    else True
                )
                mine["verdict"] = ok
                mine["why"] = (
                    "no condition"
                    if not definition.condition
                    else f"the condition is {'true' if ok else 'false'}"
                )
            except (ConditionError, LegatoError) as exc:
                mine["verdict"], mine["why"] = False, f"the condition cannot be evaluated: {exc.detail}"
    context.update(
        out=out,
        mine=mine,
        others=[v for v in out.verdicts if v.name != (definition.name if definition else f.original)],
    )
    return render(request, "workflows/_dry_run.html", context)


@router.post("/workflows/{name}/{switch}")
def enable(
    name: str, switch: str, request: Request, user: User = Depends(require("workflows:manage"))
) -> Response:
    if switch not in ("enable", "disable"):
        return error_page(request, 404, "Not found", "There is no page at this address.")
    try:
        changed = definitions.set_active(runtime(request), name, switch == "enable")
    except LegatoError as exc:
        return error_page(request, exc.status, "Not done", exc.detail)
    said = (
        f"{name} {'enabled' if switch == 'enable' else 'disabled'}."
        if changed
        else f"{name} was already {switch}d."
    )
    return redirect(request, f"/workflows/{name}", flash=said)


__all__ = ["NAV", "router"]
