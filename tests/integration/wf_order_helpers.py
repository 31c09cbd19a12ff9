"""Helpers for the order-action tests: a real run and job for a step, its StepContext, and
reading an order's timeline and approvals straight from the tables."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select

from legato.bootstrap import Runtime
from legato.store import jobs
from legato.store import tables as t
from legato.store.workflow_tables import approvals, workflows
from legato.workflow.actions import StepContext, StepResult, get_action


def step(
    rt: Runtime,
    order_id: int | None,
    action: str,
    params: Mapping[str, Any] | None = None,
    *,
    workflow: str = "test-rule",
    at: datetime | None = None,
) -> StepContext:
    """A workflow run with one job for ``action`` (as the engine would create them), and the
    StepContext of its first attempt."""
    now = at or datetime.now(UTC)
    event = {"id": None, "type": "order.created", "aggregate_type": "order", "aggregate_id": order_id,
             "payload": {"order_id": order_id}}  # fmt: skip
    with jobs.writing(rt.engine) as conn:
        wf = conn.execute(select(workflows.c.id).where(workflows.c.name == workflow)).scalar()
        if wf is None:
            wf = conn.execute(
                insert(workflows)
                .values(
                    name=workflow,
                    version=1,
                    trigger="order.created",
                    priority=0,
                    active=True,
                    created_at=now,
                    updated_at=now,
                )
                .returning(workflows.c.id)
            ).scalar_one()
        run_id = jobs.add_run(conn, workflow_id=wf, version=1, event=event, order_id=order_id, now=now)
        assert run_id is not None
        jobs.add_job(conn, action=action, params=dict(params or {}), max_attempts=5, now=now, run_id=run_id,
                     order_id=order_id, state="running")  # fmt: skip
    return StepContext(rt, run_id, 0, 1, workflow, 1, event, order_id, now)


def run(ctx: StepContext, params: Mapping[str, Any], *, at: datetime | None = None) -> StepResult:
    """One attempt of the step's action (``at``: a later attempt's clock)."""
    action = get_action(_action_of(ctx))
    if at is not None:
        ctx = StepContext(ctx.rt, ctx.run_id, ctx.step, ctx.attempt + 1, ctx.workflow, ctx.version,
                          ctx.event, ctx.order_id, at)  # fmt: skip
    action.check(params, "actions[0].params")
    return action.run(ctx, params)


def _action_of(ctx: StepContext) -> str:
    with ctx.rt.engine.connect() as conn:
        query = select(jobs.J.c.action).where(jobs.J.c.idempotency_key == ctx.idempotency_key)
        return str(conn.execute(query).scalar_one())


def timeline(rt: Runtime, order_id: int) -> list[Any]:
    tl = t.order_timeline
    with rt.engine.connect() as conn:
        return list(conn.execute(select(tl).where(tl.c.order_id == order_id).order_by(tl.c.id)))


def status(rt: Runtime, order_id: int) -> str:
    with rt.engine.connect() as conn:
        return str(conn.execute(select(t.orders.c.status).where(t.orders.c.id == order_id)).scalar_one())


def approval_rows(rt: Runtime, order_id: int) -> list[Any]:
    with rt.engine.connect() as conn:
        return list(conn.execute(select(approvals).where(approvals.c.order_id == order_id)))
