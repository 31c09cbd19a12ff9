"""Order use cases: place, transition, change a track, edit."""

from __future__ import annotations

from dataclasses import dataclass

from legato.domain.commands import CancelLines, ChangeTrack, EditOrder, PlaceOrder, TransitionOrder
from legato.domain.errors import DuplicateKey, FieldIssue, NotFound, ValidationFailed
from legato.domain.lifecycle import INITIAL_STATUSES, OrderStatus, parse_status
from legato.domain.order import SalesOrder
from legato.services.drafting import check_channel, draft_lines
from legato.services.pricing import redeem
from legato.services.uow import UnitOfWork

#: an order that reaches one of these releases its stock and cancels its open fulfilment orders
_CLOSED = frozenset({OrderStatus.CANCELLED.value, OrderStatus.VOIDED.value})


@dataclass(frozen=True)
class PlaceResult:
    order: SalesOrder
    created: bool  # False: the same channel + external reference existed; nothing was written


def place_order(uow: UnitOfWork, cmd: PlaceOrder) -> PlaceResult:
    """Match, price and store an order with its timeline entry and outbox event, once.

    Idempotent on (channel, external reference): a re-delivery returns the existing
    order, also when two deliveries race (the unique index decides, and the loser
    reads the winner's order).
    """
    draft = cmd.draft
    if draft.status not in INITIAL_STATUSES:
        allowed = ", ".join(sorted(s.value for s in INITIAL_STATUSES))
        msg = f"an order starts as one of {allowed}"
        raise ValidationFailed(msg, issues=[FieldIssue("status", msg, "invalid_status", draft.status.value)])
    with uow:
        # one query: the channel, and the order it already has under this reference
        channel, existing = uow.channels.get_for_intake(draft.channel_code, draft.external_reference)
        if existing is not None:
            return PlaceResult(_get(uow, existing), created=False)
        d = draft_lines(uow, draft, channel=check_channel(channel, draft.channel_code))
        order = SalesOrder(
            channel_code=d.channel.code,
            currency=d.currency,
            lines=d.lines,
            customer=d.customer,
            account_code=d.account.code if d.account else None,
            external_reference=draft.external_reference,
            status=draft.status,
            held_from=None,
            billing_address=draft.billing_address,
            shipping_address=draft.shipping_address,
            shipping=draft.shipping,
            shipping_tax_rate=draft.shipping_tax_rate,
            totals=d.totals,
            pricing=d.pricing,
            priority=draft.priority,
            tags=draft.tags,
            notes=draft.notes,
            inbox_id=cmd.inbox_id,
            created_at=uow.now(),
        )
        reason = cmd.reason
        if d.review:  # lines the channel sent with SKUs nobody knows: hold the order for a person
            order.held_from = draft.status if draft.status is not OrderStatus.ON_HOLD else OrderStatus.CREATED
            order.status = OrderStatus.ON_HOLD
            reason = f"{len(d.review)} line(s) await review: unknown SKU {', '.join(d.review)}"
        elif d.stale_rates and uow.pricing.stale_policy == "wait":
            # priced on an exchange rate older than the business accepts: a person checks it
            order.held_from = draft.status if draft.status is not OrderStatus.ON_HOLD else OrderStatus.CREATED
            order.status = OrderStatus.ON_HOLD
            stale = ", ".join(f"{c.from_currency}->{d.currency} of {c.as_of}" for c in d.stale_rates)
            reason = f"priced on a stale exchange rate ({stale}); check the prices, then release"
        elif order.status is OrderStatus.ON_HOLD:
            order.held_from = OrderStatus.CREATED
        try:
            uow.orders.add(order)
        except DuplicateKey:
            uow.rollback()
            existing = uow.orders.id_by_external(draft.channel_code, draft.external_reference or "")
            if existing is None:
                raise
            return PlaceResult(_get(uow, existing), created=False)
        if d.pricing.get("adjustments"):
            redeem(uow, order.id or 0, d.account, d.pricing["adjustments"])
        order.created(cmd.actor, order.created_at or uow.now(), reason)
        persist_changes(uow, order)
        uow.commit()
    return PlaceResult(order, created=True)


def transition_order(uow: UnitOfWork, cmd: TransitionOrder) -> SalesOrder:
    """Move an order one step through the lifecycle, under a row lock."""
    target = parse_status(cmd.to)
    with uow:
        order = _get(uow, cmd.order_id, for_update=True)
        order.transition(target, cmd.actor, uow.now(), cmd.reason)
        persist_changes(uow, order)
        uow.commit()
    return order


def change_track(uow: UnitOfWork, cmd: ChangeTrack) -> SalesOrder:
    with uow:
        order = _get(uow, cmd.order_id, for_update=True)
        order.set_track(cmd.track, cmd.to, cmd.actor, uow.now(), cmd.reason)
        persist_changes(uow, order)
        uow.commit()
    return order


def edit_order(uow: UnitOfWork, cmd: EditOrder) -> SalesOrder:
    with uow:
        order = _get(uow, cmd.order_id, for_update=True)
        order.edit(cmd.changes, cmd.actor, uow.now(), cmd.reason)
        persist_changes(uow, order)
        uow.commit()
    return order


def cancel_lines(uow: UnitOfWork, cmd: CancelLines) -> SalesOrder:
    """Cancel some lines under the order's row lock: totals drop them, and (in the same commit)
    their reservations are released and they leave their open fulfilment orders."""
    with uow:
        order = _get(uow, cmd.order_id, for_update=True)
        order.cancel_lines(cmd.line_nos, cmd.actor, uow.now(), cmd.reason, uow.rounding)
        persist_changes(uow, order)
        uow.commit()
    return order


def get_order(uow: UnitOfWork, order_id: int) -> SalesOrder:
    with uow:
        return _get(uow, order_id)


def _get(uow: UnitOfWork, order_id: int, *, for_update: bool = False) -> SalesOrder:
    order = uow.orders.get(order_id, for_update=for_update)
    if order is None:
        raise NotFound(f"no order {order_id}")
    return order


def persist_changes(uow: UnitOfWork, order: SalesOrder) -> None:
    if not order.new_entries and not order.new_events:
        return
    closed = [e for e in order.new_entries if e.kind == "status_changed" and e.to_value in _CLOSED]
    if closed and order.id is not None:  # its reservations and open fulfilment orders go with it
        uow.fulfilment.order_closed(order.id, closed[-1].at, closed[-1].actor, closed[-1].reason)
    for e in order.new_entries:  # cancelled lines: their stock, their place on open FOs
        if e.kind == "lines_cancelled" and order.id is not None:
            uow.fulfilment.lines_cancelled(order.id, e.data["lines"], e.at, e.actor, e.reason)
    uow.orders.save(order)
    uow.outbox.add(order.new_events, uow.now())
    order.new_entries.clear()
    order.new_events.clear()


__all__ = [
    "PlaceResult",
    "cancel_lines",
    "change_track",
    "edit_order",
    "get_order",
    "persist_changes",
    "place_order",
    "transition_order",
]
