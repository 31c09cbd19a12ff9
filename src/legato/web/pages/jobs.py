"""Workflow jobs (/jobs): every step and webhook delivery the engine runs, by state, with the dead
letters (steps that could not be done) and a retry button for the roles that may
(``runner.retry``: a fresh allowance of attempts; the earlier ones stay in its history)."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response

from legato.domain.errors import LegatoError
from legato.store import lookups
from legato.store.job_queries import get_job
from legato.store.jobs import JOB_STATES
from legato.store.users import User
from legato.web.app import error_page, redirect, render, runtime, safe_next
from legato.web.auth import require
from legato.workflow import recovery
from legato.workflow.model import NAME

router = APIRouter()
PAGE_SIZE = 50


def _link(state: str, workflow: str, cursor: str | None = None) -> str:
    pairs = [(k, v) for k, v in (("state", state), ("workflow", workflow), ("cursor", cursor)) if v]
    return "/jobs" + (f"?{urlencode(pairs)}" if pairs else "")


@router.get("/jobs")
def job_list(request: Request, user: User = Depends(require("workflows:view"))) -> HTMLResponse:
    params = request.query_params
    errors: dict[str, str] = {}
    state = params.get("state", "").strip()
    if state and state not in JOB_STATES:
        errors["state"], state = f"{state!r} is not a job state; use {', '.join(JOB_STATES)}", ""
    workflow = params.get("workflow", "").strip()[:80]
    if workflow and not NAME.match(workflow):
        errors["workflow"], workflow = f"{workflow!r} is not a workflow name", ""
    cursor = params.get("cursor") or None
    engine = runtime(request).engine
    try:
        items, nxt = lookups.jobs_page(
            engine, state=state or None, workflow=workflow or None, limit=PAGE_SIZE, cursor=cursor
        )
    except LegatoError as exc:
        errors["cursor"], cursor = exc.detail, None
        items, nxt = lookups.jobs_page(
            engine, state=state or None, workflow=workflow or None, limit=PAGE_SIZE
        )
    context = {
        "items": items,
        "state": state,
        "workflow": workflow,
        "states": JOB_STATES,
        "errors": errors,
        "counts": lookups.job_counts(engine),
        "link": _link,
        "here": _link(state, workflow, cursor),
        "next_link": _link(state, workflow, nxt) if nxt else None,
        "first_link": _link(state, workflow) if cursor else None,
    }
    return render(request, "workflows/jobs.html", context)


@router.post("/jobs/{job_id:int}/retry")
async def retry(job_id: int, request: Request, user: User = Depends(require("jobs:retry"))) -> Response:
    """Run a dead job again, then back to the list it was retried from."""
    back = safe_next(str((await request.form()).get("back") or ""), "/jobs?state=dead")
    return await run_in_threadpool(_retry, request, job_id, user, back)


def _retry(request: Request, job_id: int, user: User, back: str) -> Response:
    rt = runtime(request)
    job = get_job(rt.engine, job_id) if 0 < job_id <= 2**62 else None
    if job is None:
        return error_page(request, 404, "No such job", f"There is no workflow job {job_id}.")
    if job.state != "dead":
        return error_page(
            request, 409, "Not possible now", f"Job {job_id} is {job.state}; only a dead job is retried."
        )
    try:
        recovery.retry(rt, job_id, actor=user.actor)
    except LegatoError as exc:
        return error_page(request, exc.status, "Not done", exc.detail)
    return redirect(request, back, flash=f"Job {job_id} queued again.")


__all__ = ["router"]
