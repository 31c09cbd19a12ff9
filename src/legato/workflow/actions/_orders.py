"""What the order actions share: the event's order, a transition or an edit as the rule,
the step's job row, and parameter checks that report every problem with its path.

Domain refusals (an illegal transition, a final order, a missing order) become ``Fail``: the
step can never succeed as configured, so it is dead-lettered at once with the domain's own
message; anything else (the database went away) propagates and the runner retries.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

from legato.domain.commands import EditOrder, TransitionOrder
from legato.domain.errors import IllegalTransition, IssueCollector, LegatoError
from legato.domain.lifecycle import OrderStatus
from legato.domain.order import SalesOrder
from legato.services.orders import edit_order, get_order, persist_changes, transition_order
from legato.store.approvals import step_job
from legato.workflow.actions import Fail, StepContext


def order_of(ctx: StepContext) -> int:
    """The id of the order the event is about; an event about no order cannot run an order action."""
    if ctx.order_id is None:
        raise Fail(f"the {ctx.event.get('type', 'scheduled')} event is not about an order")
    return ctx.order_id


def load(ctx: StepContext) -> SalesOrder:
    try:
        return get_order(ctx.rt.uow(), order_of(ctx))
    except LegatoError as exc:
        raise Fail(exc.detail) from None


def transition(ctx: StepContext, to: OrderStatus, reason: str | None) -> bool:
    """Move the order as the rule; False when it already was there (a retry after a crash
    that committed the move but not the step's result)."""
    try:
        transition_order(ctx.rt.uow(), TransitionOrder(order_of(ctx), to.value, ctx.actor, reason))
    except IllegalTransition as exc:
        if exc.extra.get("current") == to.value:
            return False
        allowed = ", ".join(exc.extra.get("allowed", [])) or "none"
        raise Fail(f"{exc.detail} (allowed from {exc.extra.get('current')}: {allowed})") from None
    except LegatoError as exc:
        raise Fail(exc.detail) from None
    return True


def edit(ctx: StepContext, changes: dict[str, Any], reason: str | None) -> SalesOrder:
    """Set editable fields (absolute values) through the order service, as the rule."""
    try:
        return edit_order(ctx.rt.uow(), EditOrder(order_of(ctx), changes, ctx.actor, reason))
    except LegatoError as exc:
        raise Fail(exc.detail) from None


def edit_locked(
    ctx: StepContext, change: Callable[[SalesOrder], dict[str, Any]], reason: str | None
) -> tuple[SalesOrder, bool]:
    """An edit computed from the order as it is under its row lock (add or remove one tag):
    computed from an earlier read, two rules tagging at once would lose one tag.
    Returns the order and whether anything changed."""
    oid = order_of(ctx)
    try:
        with ctx.rt.uow() as uow:
            order = uow.orders.get(oid, for_update=True)
            if order is None:
                raise Fail(f"no order {oid}")
            changes = change(order)
            if changes:  # nothing to do is done, even on a final order
                order.edit(changes, ctx.actor, uow.now(), reason)
            changed = bool(order.new_entries)
            persist_changes(uow, order)
            uow.commit()
    except LegatoError as exc:
        raise Fail(exc.detail) from None
    return order, changed


def job_started(ctx: StepContext) -> tuple[int, datetime]:
    """The step's job row (id, created_at): found by the step's idempotency key."""
    with ctx.rt.engine.connect() as conn:
        found = step_job(conn, ctx.idempotency_key)
    if found is None:
        raise Fail(f"no job {ctx.idempotency_key}: this action runs as a step of a workflow run")
    return found


# --- parameter checks ----------------------------------------------------------------------


def issues() -> IssueCollector:
    return IssueCollector()


def known_keys(params: Mapping[str, Any], known: Iterable[str], path: str, out: IssueCollector) -> None:
    names = sorted(known)
    for key in sorted(set(params) - set(names), key=str):
        out.add(f"{path}.{key}", f"unknown parameter {key!r}; this action takes {', '.join(names)}",
                "unknown_field", key)  # fmt: skip


def text(
    params: Mapping[str, Any], key: str, path: str, out: IssueCollector, *, required: bool, max_length: int
) -> None:
    value = params.get(key)
    if value is None:
        if required:
            out.add(f"{path}.{key}", f"{key} is required", "required")
        return
    if not isinstance(value, str) or not value.strip() or len(value) > max_length:
        out.add(f"{path}.{key}", f"{key} is a text of 1 to {max_length} characters", "invalid", value)
    elif any(ord(c) < 32 and c not in "\t\n" for c in value):
        out.add(f"{path}.{key}", f"{key} contains a control character", "invalid", value)


__all__ = [
    "edit",
    "edit_locked",
    "issues",
    "job_started",
    "known_keys",
    "load",
    "order_of",
    "text",
]
