"""Approval requests (docs/workflows/actions/require_approval.md): list and read them, accept
or reject one.

Reading needs ``orders:read``; deciding needs the ``approver`` scope (or ``admin``). A decision
changes the approval and the order in one transaction (``legato.store.approvals.decide``),
then resumes the workflow step that waits for it. The same decision sent again answers 200
with the decision already recorded (and resumes the step if it still waits, so a decision
whose resume was lost to a crash can be completed by repeating it); the opposite decision
on a decided approval is a 409.
"""

from __future__ import annotations

import contextlib
import time
from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Body, Depends, Path, Query
from pydantic import BaseModel, Field

from legato.api.deps import runtime
from legato.api.schemas import Strict, Text
from legato.api.security import require
from legato.bootstrap import Runtime
from legato.domain.errors import Conflict, FieldIssue, NotFound, ValidationFailed
from legato.domain.order import ORDER_PREFIX, parse_number
from legato.store import approvals as store
from legato.store.apikeys import ApiKey
from legato.workflow import runner

router = APIRouter(prefix="/api/v1/approvals", tags=["approvals"])


class ApprovalOut(BaseModel):
    id: int
    order: str = Field(description="the order's number, SO-000042")
    order_id: int
    order_status: str | None = Field(description="the order's lifecycle status now")
    role: str = Field(description="who should decide (any key with the approver scope may)")
    reason: str | None
    state: Literal["pending", "accepted", "rejected"]
    requested_at: datetime
    decided_at: datetime | None
    decided_by: str | None = Field(description="the deciding API key, apikey:<name>")
    note: str | None = Field(description="the decision's note")
    job_id: int | None = Field(description="the workflow step that waits for the decision")


class ApprovalPage(BaseModel):
    items: list[ApprovalOut]
    next_cursor: str | None


class DecisionIn(Strict):
    note: Text(2000) | None = Field(None, description="why; required to reject")  # type: ignore[valid-type]


def _out(a: store.Approval) -> dict[str, Any]:
    return {
        "id": a.id, "order": a.order_number, "order_id": a.order_id, "order_status": a.order_status,
        "role": a.role, "reason": a.reason, "state": a.state, "requested_at": a.requested_at,
        "decided_at": a.decided_at, "decided_by": a.decided_by, "note": a.decision_note, "job_id": a.job_id,
    }  # fmt: skip


def _approval_id() -> Any:
    return Path(ge=1, le=2**62, description="the approval's id")


@router.get("", response_model=ApprovalPage)
def list_approvals(
    state: Literal["pending", "accepted", "rejected"] | None = Query(None, description="e.g. pending"),
    order: str | None = Query(None, max_length=40, description="an order id or number (SO-000042)"),
    role: str | None = Query(None, max_length=40),
    limit: int = Query(50, ge=1, le=500),
    cursor: str | None = Query(None, max_length=100),
    _: ApiKey = Depends(require("orders:read")),
    rt: Runtime = Depends(runtime),
) -> dict[str, Any]:
    """Approval requests, oldest first: ``?state=pending`` is the queue to work through."""
    order_id = None
    if order is not None:
        order_id = parse_number(ORDER_PREFIX, order)
        if order_id is None or order_id > 2**62:
            msg = f"{order!r} is not an order id or number"
            raise ValidationFailed(msg, issues=[FieldIssue("order", msg, "invalid", order)])
    items, nxt = store.list_approvals(
        rt.engine, state=state, order_id=order_id, role=role, limit=limit, cursor=cursor
    )
    return {"items": [_out(a) for a in items], "next_cursor": nxt}


@router.get("/{approval_id}", response_model=ApprovalOut)
def get_approval(
    approval_id: int = _approval_id(),
    _: ApiKey = Depends(require("orders:read")),
    rt: Runtime = Depends(runtime),
) -> dict[str, Any]:
    found = store.get_approval(rt.engine, approval_id)
    if found is None:
        raise NotFound(f"no approval {approval_id}")
    return _out(found)


#: how long a decision waits for a step that has just asked to be recorded as waiting
_PARKING_SECONDS = 2.0


def _resume(rt: Runtime, job_id: int, accepted: bool, note: str) -> None:
    """Resume the step that waits for this decision: accept moves its run on, reject stops it.
    A step still ``running`` is between asking and being recorded as waiting (milliseconds):
    wait for it briefly. Any other state: nothing waits (already resumed, or the run was
    retried by hand and will read the decision when the step runs again)."""
    deadline = time.monotonic() + _PARKING_SECONDS
    state = store.job_state(rt.engine, job_id)
    while state == "running" and time.monotonic() < deadline:
        time.sleep(0.02)
        state = store.job_state(rt.engine, job_id)
    if state != "waiting":
        return
    with contextlib.suppress(Conflict):  # resumed by a concurrent repeat of this decision
        runner.resume(rt, job_id, note, outcome="done" if accepted else "stop")


def _decide(rt: Runtime, approval_id: int, accept: bool, key: ApiKey, note: str | None) -> dict[str, Any]:
    decided = store.decide(rt.uow(), approval_id, accept=accept, actor=key.actor, note=note)
    if decided.approval.job_id is not None:
        _resume(rt, decided.approval.job_id, accept, f"approval #{approval_id} {decided.approval.state}")
    found = store.get_approval(rt.engine, approval_id)
    assert found is not None
    return _out(found)


@router.post("/{approval_id}/accept", response_model=ApprovalOut)
def accept(
    approval_id: int = _approval_id(),
    body: DecisionIn | None = Body(None),
    key: ApiKey = Depends(require("approver")),
    rt: Runtime = Depends(runtime),
) -> dict[str, Any]:
    """Approve: a ``pending_approval`` order moves to ``created`` (a hold the request placed is
    released), and the waiting workflow step goes on."""
    return _decide(rt, approval_id, True, key, body.note if body else None)


@router.post("/{approval_id}/reject", response_model=ApprovalOut)
def reject(
    body: DecisionIn,
    approval_id: int = _approval_id(),
    key: ApiKey = Depends(require("approver")),
    rt: Runtime = Depends(runtime),
) -> dict[str, Any]:
    """Refuse: the order is cancelled with the note (when the lifecycle allows) and the
    workflow run stops at the waiting step."""
    if not body.note or not body.note.strip():
        msg = "say why the order is rejected: it is cancelled with this note"
        raise ValidationFailed(msg, issues=[FieldIssue("note", msg, "required")])
    return _decide(rt, approval_id, False, key, body.note)


__all__ = ["router"]
