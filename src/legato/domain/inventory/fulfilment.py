"""The fulfilment order (FO): one leg of a sales order at one warehouse, store or dropship
supplier, its status machine, and how the legs roll up to the sales order.

One transition table. A warehouse may skip steps it does not report (``released`` straight to
``dispatched``), never go back. ``on_hold`` remembers the status it was held from and a release
returns there. A pickup FO (click & collect) is never dispatched: it is ``collected`` from
``packed``. A dispatched FO can be neither held nor cancelled: the goods have left.

Roll-up (``rollup``): the order's fulfilment track is ``fulfilled`` once every live
(not cancelled) FO has shipped or been handed over -- ``dispatched`` counts as shipped, as the
track's own words say ("everything shipped or handed over") -- and nothing waits (no backorder,
no unassigned allocation); ``partially_fulfilled`` once any FO has shipped; the order is
complete once every FO is closed (delivered, collected or cancelled), at least one was
delivered or collected, and nothing waits.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from legato.domain.errors import FieldIssue, IllegalTransition, ValidationFailed
from legato.domain.lifecycle import FulfilmentStatus


class FoStatus(StrEnum):
    CREATED = "created"  # the leg exists; the warehouse or supplier has not confirmed it
    RELEASED = "released"  # confirmed by the warehouse (or the supplier), waiting to be picked
    PICKING = "picking"
    PACKED = "packed"
    DISPATCHED = "dispatched"  # handed to the carrier: the reserved stock has left
    DELIVERED = "delivered"  # final
    COLLECTED = "collected"  # final: a pickup FO handed to the customer at the store
    CANCELLED = "cancelled"  # final: its reservations were released
    ON_HOLD = "on_hold"  # paused before dispatch; release returns to the status it left


class FoKind(StrEnum):
    SHIP = "ship"  # own warehouse, store or 3PL, shipped to the customer
    PICKUP = "pickup"  # click & collect at a store
    DROPSHIP = "dropship"  # a supplier (or marketplace vendor) ships it; no stock of ours moves


_S = FoStatus
#: the forward chain before dispatch: any later step may follow an earlier one
_CHAIN = (_S.CREATED, _S.RELEASED, _S.PICKING, _S.PACKED)
HOLDABLE = frozenset(_CHAIN)
CANCELLABLE = frozenset({*_CHAIN, _S.ON_HOLD})
FINAL = frozenset({_S.DELIVERED, _S.COLLECTED, _S.CANCELLED})
#: the goods left the location (shipped, or handed over at the counter)
SHIPPED = frozenset({_S.DISPATCHED, _S.DELIVERED, _S.COLLECTED})
#: ``on_hold`` is not here: it leaves to its ``held_from`` (see ``allowed``) or to cancelled
TRANSITIONS: dict[FoStatus, frozenset[FoStatus]] = {
    **{
        s: frozenset({*_CHAIN[i + 1 :], _S.DISPATCHED, _S.CANCELLED, _S.ON_HOLD})
        for i, s in enumerate(_CHAIN)
    },
    _S.DISPATCHED: frozenset({_S.DELIVERED}),
    _S.PACKED: frozenset({_S.DISPATCHED, _S.COLLECTED, _S.CANCELLED, _S.ON_HOLD}),
    _S.ON_HOLD: frozenset({_S.CANCELLED}),
    _S.DELIVERED: frozenset(),
    _S.COLLECTED: frozenset(),
    _S.CANCELLED: frozenset(),
}


def allowed(status: FoStatus, kind: FoKind, held_from: FoStatus | None = None) -> frozenset[FoStatus]:
    """Every status one step from ``status`` for an FO of ``kind``."""
    if status is _S.ON_HOLD:
        return frozenset({held_from or _S.CREATED, _S.CANCELLED})
    if kind is FoKind.PICKUP:  # handed over at the counter (from packed), never dispatched
        return TRANSITIONS[status] - {_S.DISPATCHED}
    return TRANSITIONS[status] - {_S.COLLECTED}


def check(
    status: FoStatus, target: FoStatus, kind: FoKind, held_from: FoStatus | None = None, *, number: str = ""
) -> FoStatus | None:
    """Validate one step; returns the new ``held_from`` (set when holding, cleared otherwise).
    Raises IllegalTransition naming the allowed targets and, for a dispatched FO, saying why."""
    targets = allowed(status, kind, held_from)
    if target in targets:
        return status if target is _S.ON_HOLD else None
    fo = f"fulfilment order {number}" if number else "the fulfilment order"
    names = sorted(s.value for s in targets)
    if status is _S.DISPATCHED and target in (_S.ON_HOLD, _S.CANCELLED):
        why = f"{fo} is already dispatched: the goods have left, so it can be neither held nor cancelled"
    elif status in FINAL:
        why = f"{fo} is {status.value}, which is final; no status follows it"
    elif target is _S.COLLECTED:
        why = f"only a pickup order that is packed is collected; {fo} is a {kind.value} order, {status.value}"
    elif kind is FoKind.PICKUP and target in (_S.DISPATCHED, _S.DELIVERED):
        why = f"{fo} is collected at the store, never {target.value}"
    elif status is _S.ON_HOLD and target is not _S.ON_HOLD:
        why = f"{fo} is on hold from {(held_from or _S.CREATED).value}: release it back there, or cancel it"
    elif status is _S.ON_HOLD:
        why = f"{fo} is already on hold"
    else:
        why = f"{fo} cannot go from {status.value} to {target.value}"
    raise IllegalTransition(why, allowed=names, current=status.value, requested=target.value)


def parse_status(value: str, path: str = "status") -> FoStatus:
    try:
        return FoStatus(value)
    except ValueError:
        msg = f"{value!r} is not a fulfilment status; use one of {', '.join(s.value for s in FoStatus)}"
        raise ValidationFailed(msg, issues=[FieldIssue(path, msg, "invalid_status", value)]) from None


def fo_number(order_number: str, seq: int) -> str:
    """``SO-000012-F2``: the order's number and the leg's sequence within the order."""
    return f"{order_number}-F{seq}"


def rollup(fo_statuses: Iterable[FoStatus | str], backordered: bool) -> tuple[FulfilmentStatus, bool]:
    """The order's fulfilment track and whether the order is complete, from its FOs' statuses.
    ``backordered``: some of the order's units still wait (a backorder, or an allocation in no
    FO yet)."""
    statuses = [FoStatus(s) for s in fo_statuses]
    live = [s for s in statuses if s is not _S.CANCELLED]
    shipped = [s for s in live if s in SHIPPED]
    if live and len(shipped) == len(live) and not backordered:
        track = FulfilmentStatus.FULFILLED
    elif shipped:
        track = FulfilmentStatus.PARTIALLY_FULFILLED
    else:
        track = FulfilmentStatus.UNFULFILLED
    handed = any(s in (_S.DELIVERED, _S.COLLECTED) for s in live)
    complete = bool(statuses) and all(s in FINAL for s in statuses) and handed and not backordered
    return track, complete


__all__ = [
    "CANCELLABLE",
    "FINAL",
    "HOLDABLE",
    "SHIPPED",
    "TRANSITIONS",
    "FoKind",
    "FoStatus",
    "allowed",
    "check",
    "fo_number",
    "parse_status",
    "rollup",
]
