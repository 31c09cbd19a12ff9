"""Approval requests: an order waits until a person with the ``approver`` scope decides.

The request and the decision each change the approval row and the order in ONE
transaction, under the order's row lock: an order is never approved twice, and a decision
is never recorded without its effect on the lifecycle (or the other way round).

What a request does to the order, by its status (the transition table allows
``created -> pending_approval`` but nothing else into it):

* ``created``: moves to ``pending_approval``;
* ``pending_approval``: stays (it already waits);
* ``on_hold``: stays held (held for another reason: the approval does not release it);
* ``processing``: put ``on_hold``, the reason naming the approval (``awaiting approval #7``);
* final: refused (nothing left to approve).

What a decision does: accept moves ``pending_approval`` to ``created``, or releases a hold
*this* approval placed (the order's latest hold names it); reject cancels the order when
the lifecycle allows. Otherwise (someone moved the order meanwhile) the order is left as
it is and the decision is recorded on its timeline as an ``approval`` entry.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, update

from legato.domain.errors import Conflict, NotFound
from legato.domain.lifecycle import FINAL_STATUSES, OrderStatus, allowed_targets
from legato.domain.order import ORDER_PREFIX, SalesOrder, format_number
from legato.services.orders import persist_changes
from legato.store import tables as t
from legato.store.db import READ_ONLY
from legato.store.queries import decode_cursor, encode_cursor
from legato.store.uow import SqlUnitOfWork
from legato.store.workflow_tables import approvals as _AP
from legato.store.workflow_tables import jobs as _J


@dataclass(frozen=True)
class Approval:
    id: int
    order_id: int
    job_id: int | None
    role: str
    reason: str | None
    state: str  # pending | accepted | rejected
    requested_at: datetime
    decided_at: datetime | None = None
    decided_by: str | None = None
    decision_note: str | None = None
    order_status: str | None = None  # the order's lifecycle status when read

    @property
    def order_number(self) -> str:
        return format_number(ORDER_PREFIX, self.order_id)


@dataclass(frozen=True)
class Requested:
    approval: Approval
    parked: str  # what the request did to the order: pending_approval | on_hold | "" (left alone)
    created: bool  # False: this step had asked already (a retry); nothing was written


@dataclass(frozen=True)
class Decided:
    approval: Approval
    order_status: str  # the order's status after the decision
    changed: bool  # False: the same decision was already recorded (a repeat); nothing was written


_COLS = (*_AP.c, t.orders.c.status.label("order_status"))
_FROM = _AP.join(t.orders, t.orders.c.id == _AP.c.order_id)


def _approval(r: Any) -> Approval:
    return Approval(
        r.id, r.order_id, r.job_id, r.role, r.reason, r.state, r.requested_at,
        r.decided_at, r.decided_by, r.decision_note, r.order_status,
    )  # fmt: skip


def _hold_reason(approval_id: int, role: str, reason: str | None) -> str:
    """The reason an order parked by a request carries: it names the approval, which is how a
    decision knows a hold is its own to release."""
    return f"awaiting approval #{approval_id} ({role})" + (f": {reason}" if reason else "")


def step_job(conn: Connection, idempotency_key: str) -> tuple[int, datetime] | None:
    """The job (id, created_at) of a workflow step, by the step's idempotency key."""
    r = conn.execute(select(_J.c.id, _J.c.created_at).where(_J.c.idempotency_key == idempotency_key)).first()
    return (r.id, r.created_at) if r is not None else None


def job_state(engine: Engine, job_id: int) -> str | None:
    with engine.connect().execution_options(**{READ_ONLY: True}) as conn:
        return conn.execute(select(_J.c.state).where(_J.c.id == job_id)).scalar_one_or_none()


def _for_job(conn: Connection, job_id: int) -> Approval | None:
    r = conn.execute(select(*_COLS).select_from(_FROM).where(_AP.c.job_id == job_id)).first()
    return _approval(r) if r is not None else None


def _locked_order(uow: SqlUnitOfWork, order_id: int) -> SalesOrder:
    order = uow.orders.get(order_id, for_update=True)
    if order is None:
        raise NotFound(f"no order {order_id}")
    return order


def request_approval(
    uow: SqlUnitOfWork, *, order_id: int, job_id: int | None, role: str, reason: str | None, actor: str
) -> Requested:
    """Ask for a decision on an order (once per step: a retry finds the first request)."""
    with uow:
        assert uow.conn is not None
        conn = uow.conn
        order = _locked_order(uow, order_id)
        if job_id is not None and (found := _for_job(conn, job_id)) is not None:
            return Requested(found, "", created=False)
        if order.status in FINAL_STATUSES:
            raise Conflict(f"order {order.number} is {order.status.value}; there is nothing to approve")
        now = uow.now()
        new_id = conn.execute(
            insert(_AP)
            .values(
                order_id=order_id, job_id=job_id, role=role, reason=reason, state="pending", requested_at=now
            )
            .returning(_AP.c.id)
        ).scalar_one()
        text = _hold_reason(new_id, role, reason)
        allowed = allowed_targets(order.status, order.held_from)
        parked = ""
        if order.status not in (OrderStatus.PENDING_APPROVAL, OrderStatus.ON_HOLD):
            parked = "pending_approval" if OrderStatus.PENDING_APPROVAL in allowed else "on_hold"
            order.transition(OrderStatus(parked), actor, now, text)
            persist_changes(uow, order)
        uow.commit()
        return Requested(
            Approval(new_id, order_id, job_id, role, reason, "pending", now, order_status=order.status.value),
            parked,
            created=True,
        )


def _held_by(order: SalesOrder, approval_id: int) -> bool:
    """The order's current hold is the one this approval placed."""
    if order.status is not OrderStatus.ON_HOLD:
        return False
    holds = [e for e in order.timeline if e.kind == "status_changed" and e.to_value == "on_hold"]
    prefix = f"awaiting approval #{approval_id} "
    return bool(holds) and (holds[-1].reason or "").startswith(prefix)


def decide(uow: SqlUnitOfWork, approval_id: int, *, accept: bool, actor: str, note: str | None) -> Decided:
    """Accept or reject a pending approval, with its effect on the order, in one transaction.

    The same decision again is a no-op (``changed`` False), so a client may retry; the other
    decision on a decided approval is a Conflict."""
    state = "accepted" if accept else "rejected"
    with uow:
        assert uow.conn is not None
        conn = uow.conn
        found = conn.execute(select(_AP.c.order_id).where(_AP.c.id == approval_id)).scalar_one_or_none()
        if found is None:
            raise NotFound(f"no approval {approval_id}")
        order = _locked_order(uow, found)  # the order's lock first, as a request takes it
        row = conn.execute(select(*_COLS).select_from(_FROM).where(_AP.c.id == approval_id)).one()
        current = _approval(row)
        if current.state == state:
            return Decided(current, order.status.value, changed=False)
        if current.state != "pending":
            raise Conflict(
                f"approval #{approval_id} was already {current.state} by {current.decided_by}",
                state=current.state,
            )
        now = uow.now()
        conn.execute(
            update(_AP)
            .where(_AP.c.id == approval_id)
            .values(state=state, decided_at=now, decided_by=actor, decision_note=note)
        )
        reason = f"approval #{approval_id} {state}" + (f": {note}" if note else "")
        target = _target(order, approval_id, accept)
        if target is not None:
            order.transition(target, actor, now, reason)
            persist_changes(uow, order)
        else:  # the order moved on meanwhile: leave it, but say on its timeline who decided what
            conn.execute(
                insert(t.order_timeline).values(
                    order_id=order.id, at=now, actor=actor, kind="approval", reason=reason,
                    from_value="pending", to_value=state, data={"approval_id": approval_id},
                )
            )  # fmt: skip
        uow.commit()
    decided = Approval(
        current.id, current.order_id, current.job_id, current.role, current.reason, state,
        current.requested_at, now, actor, note, order.status.value,
    )  # fmt: skip
    return Decided(decided, order.status.value, changed=True)


def _target(order: SalesOrder, approval_id: int, accept: bool) -> OrderStatus | None:
    if accept:
        if order.status is OrderStatus.PENDING_APPROVAL:
            return OrderStatus.CREATED
        if _held_by(order, approval_id):
            return order.held_from or OrderStatus.CREATED
        return None
    allowed = allowed_targets(order.status, order.held_from)
    return OrderStatus.CANCELLED if OrderStatus.CANCELLED in allowed else None


def get_approval(engine: Engine, approval_id: int) -> Approval | None:
    with engine.connect().execution_options(**{READ_ONLY: True}) as conn:
        r = conn.execute(select(*_COLS).select_from(_FROM).where(_AP.c.id == approval_id)).first()
    return _approval(r) if r is not None else None


def list_approvals(
    engine: Engine,
    *,
    state: str | None = None,
    order_id: int | None = None,
    role: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> tuple[list[Approval], str | None]:
    """Approvals oldest first (a queue to work through), keyset-paginated on the id."""
    query = select(*_COLS).select_from(_FROM)
    if state is not None:
        query = query.where(_AP.c.state == state)
    if order_id is not None:
        query = query.where(_AP.c.order_id == order_id)
    if role is not None:
        query = query.where(_AP.c.role == role)
    if cursor:
        query = query.where(_AP.c.id > decode_cursor(cursor))
    with engine.connect().execution_options(**{READ_ONLY: True}) as conn:
        rows = conn.execute(query.order_by(_AP.c.id).limit(limit + 1)).all()
    more = len(rows) > limit
    items = [_approval(r) for r in rows[:limit]]
    return items, encode_cursor(items[-1].id) if more and items else None


__all__ = [
    "Approval",
    "Decided",
    "Requested",
    "decide",
    "get_approval",
    "job_state",
    "list_approvals",
    "request_approval",
    "step_job",
]
