"""The order lifecycle and its three independent tracks.

The lifecycle is one explicit transition table. ``on_hold`` remembers the status it
was held from, and a release returns there and nowhere else. ``completed``,
``cancelled`` and ``voided`` are final. The payment, fulfilment and invoice tracks
move independently: none blocks another, nor the lifecycle (a B2B order may ship
before it is paid).
"""

from __future__ import annotations

from enum import StrEnum

from legato.domain.errors import FieldIssue, IllegalTransition, ValidationFailed


class OrderStatus(StrEnum):
    PENDING_APPROVAL = "pending_approval"  # waits for a person (or rule) to approve it
    CREATED = "created"  # accepted, not yet being worked on
    ON_HOLD = "on_hold"  # paused with a reason; release returns to the status it left
    PROCESSING = "processing"  # being picked, packed, shipped or otherwise fulfilled
    COMPLETED = "completed"  # final: everything delivered and closed
    CANCELLED = "cancelled"  # final: called off by the customer or the business
    VOIDED = "voided"  # final: entered in error, never a real order (no financial effect)


_S = OrderStatus

#: Where each status may go. ON_HOLD is special: its release target is the status it
#: was held from (see ``allowed_targets``), plus cancel and void where that status allows.
TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    _S.PENDING_APPROVAL: frozenset({_S.CREATED, _S.ON_HOLD, _S.CANCELLED, _S.VOIDED}),
    _S.CREATED: frozenset({_S.PENDING_APPROVAL, _S.PROCESSING, _S.ON_HOLD, _S.CANCELLED, _S.VOIDED}),
    _S.PROCESSING: frozenset({_S.COMPLETED, _S.ON_HOLD, _S.CANCELLED}),
    _S.ON_HOLD: frozenset(),
    _S.COMPLETED: frozenset(),
    _S.CANCELLED: frozenset(),
    _S.VOIDED: frozenset(),
}

FINAL_STATUSES = frozenset({_S.COMPLETED, _S.CANCELLED, _S.VOIDED})
#: Statuses an order may be created in.
INITIAL_STATUSES = frozenset({_S.CREATED, _S.PENDING_APPROVAL, _S.ON_HOLD})


def allowed_targets(status: OrderStatus, held_from: OrderStatus | None = None) -> frozenset[OrderStatus]:
    """Every status reachable in one step from ``status`` (and, when on hold, its origin)."""
    if status is _S.ON_HOLD:
        origin = held_from or _S.CREATED
        exits = TRANSITIONS[origin] & {_S.CANCELLED, _S.VOIDED}
        return frozenset({origin}) | exits
    return TRANSITIONS[status]


def check_transition(
    status: OrderStatus, target: OrderStatus, held_from: OrderStatus | None = None
) -> OrderStatus | None:
    """Validate one step; return the new ``held_from`` (set when holding, cleared otherwise).

    Raises IllegalTransition naming the allowed targets when the table forbids it.
    """
    allowed = allowed_targets(status, held_from)
    if target not in allowed:
        names = sorted(s.value for s in allowed)
        if status in FINAL_STATUSES:
            why = f"{status.value} is final; no transition leaves it"
        elif status is _S.ON_HOLD and target in TRANSITIONS:
            origin = (held_from or _S.CREATED).value
            why = f"an order held from {origin} is released back to it, not to {target.value}"
        else:
            why = f"cannot go from {status.value} to {target.value}"
        raise IllegalTransition(why, allowed=names, current=status.value, requested=target.value)
    return status if target is _S.ON_HOLD else None


def parse_status(value: str, path: str = "to") -> OrderStatus:
    try:
        return OrderStatus(value)
    except ValueError:
        msg = f"{value!r} is not an order status; use one of {', '.join(s.value for s in OrderStatus)}"
        raise ValidationFailed(msg, issues=[FieldIssue(path, msg, "invalid_status", value)]) from None


class PaymentStatus(StrEnum):
    UNPAID = "unpaid"  # nothing received
    PARTIALLY_PAID = "partially_paid"  # some tenders received, balance open
    PAID = "paid"  # settled in full
    PARTIALLY_REFUNDED = "partially_refunded"  # part of what was paid went back
    REFUNDED = "refunded"  # everything paid went back


class FulfilmentStatus(StrEnum):
    UNFULFILLED = "unfulfilled"  # nothing shipped or handed over
    PARTIALLY_FULFILLED = "partially_fulfilled"  # some lines or units shipped
    FULFILLED = "fulfilled"  # everything shipped or handed over
    PARTIALLY_RETURNED = "partially_returned"  # some of what shipped came back
    RETURNED = "returned"  # everything that shipped came back


class InvoiceStatus(StrEnum):
    NOT_INVOICED = "not_invoiced"  # no invoice raised
    PARTIALLY_INVOICED = "partially_invoiced"  # some lines invoiced
    INVOICED = "invoiced"  # fully invoiced
    CREDITED = "credited"  # a credit note reversed the invoice


#: The tracks by the name the API uses, each with its enum and its starting value.
TRACKS: dict[str, type[StrEnum]] = {
    "payment": PaymentStatus,
    "fulfilment": FulfilmentStatus,
    "invoice": InvoiceStatus,
}


def parse_track(track: str, value: str) -> StrEnum:
    """Validate a track name and value; tracks move freely within their own values."""
    enum = TRACKS.get(track)
    if enum is None:
        msg = f"{track!r} is not a track; use payment, fulfilment or invoice"
        raise ValidationFailed(msg, issues=[FieldIssue("track", msg, "invalid_track", track)])
    try:
        return enum(value)
    except ValueError:
        allowed = ", ".join(m.value for m in enum)
        msg = f"{value!r} is not a {track} status; use one of {allowed}"
        raise ValidationFailed(msg, issues=[FieldIssue("to", msg, "invalid_status", value)]) from None


__all__ = [
    "FINAL_STATUSES",
    "INITIAL_STATUSES",
    "TRACKS",
    "TRANSITIONS",
    "FulfilmentStatus",
    "InvoiceStatus",
    "OrderStatus",
    "PaymentStatus",
    "allowed_targets",
    "check_transition",
    "parse_status",
    "parse_track",
]
