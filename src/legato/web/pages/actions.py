"""Order actions as POST forms: approve / reject, hold / release, cancel (the order or some of its
lines), void, and retrying a dead workflow step. Every one is refused by the server when the role
may not (403) or the lifecycle does not allow it now (409), whatever the page offered."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from legato.domain.commands import CancelLines
from legato.domain.errors import LegatoError
from legato.domain.lifecycle import allowed_targets
from legato.services.orders import cancel_lines as cancel_order_lines
from legato.store.job_queries import get_job
from legato.store.users import User
from legato.web.app import error_page, redirect, runtime
from legato.web.auth import PermissionDenied, require
from legato.web.order_actions import ACTIONS, pending_approval, perform, possible
from legato.web.pages.order import load_order, missing, page
from legato.web.permissions import can
from legato.workflow import recovery

router = APIRouter()
MAX_REASON = 1000


@router.post("/orders/{number:order_number}/actions/{name}")
async def order_action(
    number: str, name: str, request: Request, user: User = Depends(require("orders:view"))
) -> Response:
    action = ACTIONS.get(name)
    if action is None:
        return error_page(request, 404, "No such action", f"There is no action {name!r} on orders.")
    if not can(user.role, action.permission):
        raise PermissionDenied(action.permission)
    form = await request.form()
    reason = " ".join(str(form.get("reason") or "").split())
    order = await run_in_threadpool(load_order, request, number)
    if order is None:
        return missing(request, number)
    rt = runtime(request)
    waiting = await run_in_threadpool(pending_approval, rt, order.id or 0)
    if not possible(order, name, waiting=waiting is not None):
        allowed = ", ".join(sorted(s.value for s in allowed_targets(order.status, order.held_from))) or "none"
        message = (
            f"{order.number} is {order.status.value.replace('_', ' ')}: “{action.label}” is not possible now "
            f"(it may go to: {allowed})."
        )
        return error_page(request, 409, "Not possible now", message)
    problem = None
    if action.reason_required and not reason:
        problem = "Say why: the reason goes on the order's timeline."
    elif len(reason) > MAX_REASON:
        problem = f"At most {MAX_REASON} characters."
    if problem is not None:
        typed, errors = {"reason": str(form.get("reason") or "")}, {f"{name}.reason": problem}
        return await run_in_threadpool(
            lambda: page(request, order, user, errors=errors, open_action=name, typed=typed, status_code=422)
        )
    try:
        said = await run_in_threadpool(perform, rt, order, action, user, reason or None)
    except LegatoError as exc:  # someone moved the order meanwhile
        return error_page(request, exc.status, "Not done", exc.detail)
    return redirect(request, f"/orders/{order.number}", flash=said)


@router.post("/orders/{number:order_number}/lines/cancel")
async def cancel_lines(
    number: str, request: Request, user: User = Depends(require("orders:cancel"))
) -> Response:
    """Cancel the ticked lines with a reason; their stock is released and they leave their open
    fulfilment orders (the service does it in one commit)."""
    form = await request.form()
    typed = str(form.get("reason") or "")
    reason = " ".join(typed.split())
    raw = [str(v) for v in form.getlist("line")]
    order = await run_in_threadpool(load_order, request, number)
    if order is None:
        return missing(request, number)
    errors: dict[str, str] = {}
    line_nos = [int(v) for v in raw if v.isdigit() and 0 < int(v) <= 100_000]
    if not line_nos or len(line_nos) != len(raw):
        errors["cancel_lines.line"] = "Tick the lines to cancel."
    if not reason:
        errors["cancel_lines.reason"] = "Say why: the reason goes on the order's timeline."
    elif len(reason) > MAX_REASON:
        errors["cancel_lines.reason"] = f"At most {MAX_REASON} characters."
    if errors:
        typed_back = {"reason": typed, "lines": ",".join(raw)}
        return await run_in_threadpool(
            lambda: page(
                request, order, user, errors=errors, open_action="cancel_lines", typed=typed_back,
                status_code=422,
            )
        )  # fmt: skip
    rt = runtime(request)
    try:
        done = await run_in_threadpool(
            cancel_order_lines, rt.uow(), CancelLines(order.id or 0, tuple(line_nos), user.actor, reason)
        )
    except LegatoError as exc:
        return error_page(request, exc.status, "Not done", exc.detail)
    said = f"Line(s) {', '.join(map(str, sorted(set(line_nos))))} of {done.number} cancelled."
    return redirect(request, f"/orders/{done.number}#lines", flash=said)


@router.post("/orders/{number:order_number}/jobs/{job_id:int}/retry")
def retry_job(
    number: str, job_id: int, request: Request, user: User = Depends(require("jobs:retry"))
) -> Response:
    """Run a dead workflow step again (its earlier attempts stay in its history)."""
    order = load_order(request, number)
    if order is None:
        return missing(request, number)
    rt = runtime(request)
    job = get_job(rt.engine, job_id) if 0 < job_id <= 2**62 else None
    if job is None or job.order_id != order.id:
        return error_page(request, 404, "No such job", f"{order.number} has no workflow job {job_id}.")
    if job.state != "dead":
        return error_page(
            request, 409, "Not possible now", f"Job {job_id} is {job.state}; only a dead job is retried."
        )
    try:
        recovery.retry(rt, job_id, actor=user.actor)
    except LegatoError as exc:
        return error_page(request, exc.status, "Not done", exc.detail)
    return redirect(request, f"/orders/{order.number}#workflows", flash=f"Job {job_id} queued again.")


__all__ = ["router"]
