"""What a person may do to an order from its page, and doing it.

An action is offered only when the lifecycle allows it now (``allowed_targets``) AND the
user's role grants its permission; the POST that performs it checks both again, and the
service checks the transition once more under the order's row lock. Cancelling some lines (a
partial cancellation) has its own form on the lines (``lines_cancellable``).
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass

from legato.bootstrap import Runtime
from legato.domain.commands import TransitionOrder
from legato.domain.errors import Conflict
from legato.domain.lifecycle import FINAL_STATUSES, OrderStatus, allowed_targets
from legato.domain.order import SalesOrder
from legato.services.orders import transition_order
from legato.store import approvals
from legato.store.users import User
from legato.web.permissions import can
from legato.workflow import runner

_S = OrderStatus
_FINAL = {s.value for s in FINAL_STATUSES}


@dataclass(frozen=True)
class Action:
    name: str
    label: str
    permission: str
    reason_required: bool
    danger: bool = False
    help: str = ""


ACTIONS: dict[str, Action] = {
    a.name: a
    for a in (
        Action("approve", "Approve", "orders:approve", False, help="the order goes on to be worked on"),
        Action("reject", "Reject", "orders:approve", True, True, "the order is cancelled with your reason"),
        Action("hold", "Hold", "orders:hold", True, help="pause the order; release returns it where it was"),
        Action("release", "Release", "orders:hold", True, help="end the hold"),
        Action("cancel", "Cancel order", "orders:cancel", True, True, "final: the whole order is called off"),
        Action("void", "Void", "orders:void", True, True, "final: entered in error, never a real order"),
    )
}


def pending_approval(rt: Runtime, order_id: int) -> approvals.Approval | None:
    """The oldest undecided approval request on the order, if any."""
    found, _ = approvals.list_approvals(rt.engine, state="pending", order_id=order_id, limit=1)
    return found[0] if found else None


def possible(order: SalesOrder, action: str, *, waiting: bool) -> bool:
    """Does the lifecycle allow ``action`` now? ``waiting``: an approval request is pending."""
    allowed = allowed_targets(order.status, order.held_from)
    if action == "approve":
        return waiting or (order.status is _S.PENDING_APPROVAL and _S.CREATED in allowed)
    if action == "reject":
        return waiting or (order.status is _S.PENDING_APPROVAL and _S.CANCELLED in allowed)
    if action == "hold":
        return _S.ON_HOLD in allowed
    if action == "release":
        return order.status is _S.ON_HOLD
    if action == "cancel":
        return _S.CANCELLED in allowed
    if action == "void":
        return _S.VOIDED in allowed
    return False


def available(order: SalesOrder, role: str, *, waiting: bool) -> list[Action]:
    """The actions to offer: allowed by the lifecycle now and by the role."""
    return [
        a for a in ACTIONS.values() if can(role, a.permission) and possible(order, a.name, waiting=waiting)
    ]


def lines_cancellable(order: SalesOrder, role: str) -> bool:
    """Offer to cancel some lines: the order is not final, the role may cancel, and more than one
    line is live (cancelling the last one is cancelling the order)."""
    live = [ln for ln in order.lines if ln.status != "cancelled"]
    return can(role, "orders:cancel") and order.status.value not in _FINAL and len(live) > 1


def _resume(rt: Runtime, job_id: int, accepted: bool, note: str) -> None:
    """Resume the workflow step that waits for the decision (as the approvals API does): a step
    still ``running`` is milliseconds from being recorded as waiting, so wait for it briefly."""
    deadline = time.monotonic() + 2.0
    state = approvals.job_state(rt.engine, job_id)
    while state == "running" and time.monotonic() < deadline:
        time.sleep(0.02)
        state = approvals.job_state(rt.engine, job_id)
    if state == "waiting":
        with contextlib.suppress(Conflict):  # resumed meanwhile by someone else
            runner.resume(rt, job_id, note, outcome="done" if accepted else "stop")


def perform(rt: Runtime, order: SalesOrder, action: Action, user: User, reason: str | None) -> str:
    """Do ``action`` (already checked: possible and permitted) and say what happened."""
    order_id = order.id or 0
    if action.name in ("approve", "reject"):
        accept = action.name == "approve"
        request = pending_approval(rt, order_id)
        if request is not None:  # a workflow asked for this decision: record it and resume the step
            decided = approvals.decide(rt.uow(), request.id, accept=accept, actor=user.actor, note=reason)
            if decided.approval.job_id is not None:
                _resume(
                    rt, decided.approval.job_id, accept, f"approval #{request.id} {decided.approval.state}"
                )
            return f"{order.number}: approval #{request.id} {decided.approval.state}; the order is now " + (
                decided.order_status.replace("_", " ")
            )
        target = _S.CREATED if accept else _S.CANCELLED
        why = reason if accept else f"rejected: {reason}"
    elif action.name == "release":
        target, why = order.held_from or _S.CREATED, reason
    else:
        target = {"hold": _S.ON_HOLD, "cancel": _S.CANCELLED, "void": _S.VOIDED}[action.name]
        why = reason
    done = transition_order(rt.uow(), TransitionOrder(order_id, target.value, user.actor, why))
    return f"{done.number} is now {done.status.value.replace('_', ' ')}."


__all__ = ["ACTIONS", "Action", "available", "lines_cancellable", "pending_approval", "perform", "possible"]
