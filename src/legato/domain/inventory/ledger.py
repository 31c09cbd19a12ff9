"""The stock ledger's arithmetic: what each movement does to on hand and reserved.

Every change to stock is one movement of one kind; a stock level is the sum of its movements'
deltas, and no movement may leave ``reserved`` below zero or above ``on_hand`` (so available to
promise, ``on_hand - reserved``, is never negative either):

=============  ===========================  =======================================
kind           on hand / reserved           when
=============  ===========================  =======================================
receipt        +q / 0                       goods in (a delivery, a transfer in)
adjustment     ±q / 0                       a count, damage, shrinkage (signed)
reservation    0 / +q                       an order line allocated here
release        0 / -q                       a reservation given back (cancel, re-route)
shipment       -q / -q                      reserved units leave (the FO dispatched)
return         +q / 0                       units come back (a return received)
=============  ===========================  =======================================
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from legato.domain.errors import Conflict, FieldIssue, ValidationFailed

ZERO = Decimal(0)

#: kind -> (sign of the on-hand delta, sign of the reserved delta); adjustment takes its sign
#: from the quantity, every other kind takes a positive quantity
MOVEMENTS: dict[str, tuple[int, int]] = {
    "receipt": (1, 0),
    "adjustment": (1, 0),
    "reservation": (0, 1),
    "release": (0, -1),
    "shipment": (-1, -1),
    "return": (1, 0),
}


#: how a refusal names the movement: "cannot ship 3 of TEA-100 ..."
VERBS = {
    "receipt": "receive",
    "adjustment": "adjust down",
    "reservation": "reserve",
    "release": "release",
    "shipment": "ship",
    "return": "take back",
}


class InsufficientStock(Conflict):
    code = "insufficient_stock"
    title = "Not enough stock"


@dataclass(frozen=True)
class Level:
    on_hand: Decimal = ZERO
    reserved: Decimal = ZERO

    @property
    def available(self) -> Decimal:
        return self.on_hand - self.reserved


def deltas(kind: str, quantity: Decimal, path: str = "quantity") -> tuple[Decimal, Decimal]:
    """The (on hand, reserved) deltas of one movement; refuses an unknown kind or a bad quantity."""
    signs = MOVEMENTS.get(kind)
    if signs is None:
        msg = f"{kind!r} is not a stock movement; use one of {', '.join(MOVEMENTS)}"
        raise ValidationFailed(msg, issues=[FieldIssue("kind", msg, "invalid", kind)])
    if not isinstance(quantity, Decimal) or not quantity.is_finite():
        msg = "the quantity must be a finite decimal number"
        raise ValidationFailed(msg, issues=[FieldIssue(path, msg, "invalid", str(quantity))])
    if kind == "adjustment":
        if quantity == 0:
            msg = "an adjustment moves stock up or down: a quantity of 0 changes nothing"
            raise ValidationFailed(msg, issues=[FieldIssue(path, msg, "invalid", str(quantity))])
    elif quantity <= 0:
        msg = f"a {kind} moves a positive quantity"
        raise ValidationFailed(msg, issues=[FieldIssue(path, msg, "invalid", str(quantity))])
    on_hand_sign, reserved_sign = signs
    return quantity * on_hand_sign, quantity * reserved_sign


def apply(level: Level, kind: str, quantity: Decimal, *, what: str = "") -> Level:
    """The level after one movement; ``InsufficientStock`` when it would break the invariant."""
    d_on_hand, d_reserved = deltas(kind, quantity)
    after = Level(level.on_hand + d_on_hand, level.reserved + d_reserved)
    where = f" of {what}" if what else ""
    if after.reserved < 0:
        raise InsufficientStock(
            f"cannot {VERBS[kind]} {quantity}{where}: only {level.reserved} reserved",
            reserved=str(level.reserved),
        )
    if after.on_hand < after.reserved:
        if kind == "reservation":
            msg = f"cannot reserve {quantity}{where}: only {level.available} available"
        else:
            msg = (
                f"cannot {VERBS[kind]} {abs(quantity)}{where}: {level.on_hand} on hand, "
                f"{level.reserved} of it reserved"
            )
        raise InsufficientStock(msg, on_hand=str(level.on_hand), reserved=str(level.reserved))
    return after


__all__ = ["MOVEMENTS", "VERBS", "ZERO", "InsufficientStock", "Level", "apply", "deltas"]
