"""Quotes: an order's structure in a provisional state, converted with one call."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from legato.domain.errors import IllegalTransition
from legato.domain.events import DomainEvent
from legato.domain.matching import CustomerRef
from legato.domain.order import QUOTE_PREFIX, Address, OrderLine, TimelineEntry, Totals, format_number

ZERO = Decimal(0)


class QuoteStatus(StrEnum):
    DRAFT = "draft"  # being put together, not yet shown to the customer
    SENT = "sent"  # shown to the customer, awaiting an answer
    ACCEPTED = "accepted"  # the customer said yes; ready to convert
    DECLINED = "declined"  # final: the customer said no
    EXPIRED = "expired"  # final: passed its validity date unanswered
    CONVERTED = "converted"  # final: became an order (linked both ways)


_Q = QuoteStatus
QUOTE_TRANSITIONS: dict[QuoteStatus, frozenset[QuoteStatus]] = {
    _Q.DRAFT: frozenset({_Q.SENT, _Q.ACCEPTED, _Q.DECLINED, _Q.EXPIRED}),
    _Q.SENT: frozenset({_Q.ACCEPTED, _Q.DECLINED, _Q.EXPIRED, _Q.DRAFT}),
    _Q.ACCEPTED: frozenset({_Q.CONVERTED, _Q.EXPIRED}),
    _Q.DECLINED: frozenset(),
    _Q.EXPIRED: frozenset(),
    _Q.CONVERTED: frozenset(),
}


@dataclass
class Quote:
    channel_code: str
    currency: str
    lines: list[OrderLine]
    customer: CustomerRef = field(default_factory=CustomerRef)
    account_code: str | None = None
    status: QuoteStatus = QuoteStatus.DRAFT
    billing_address: Address | None = None
    shipping_address: Address | None = None
    shipping: Decimal = ZERO
    shipping_tax_rate: Decimal = ZERO
    totals: Totals = field(default_factory=Totals)
    pricing: Mapping[str, Any] = field(default_factory=dict)  # as on SalesOrder
    valid_until: date | None = None
    notes: str | None = None
    order_id: int | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    id: int | None = None
    new_entries: list[TimelineEntry] = field(default_factory=list, repr=False)
    new_events: list[DomainEvent] = field(default_factory=list, repr=False)

    @property
    def number(self) -> str | None:
        return format_number(QUOTE_PREFIX, self.id) if self.id is not None else None

    def _event(self, type_: str, at: datetime, **payload: Any) -> None:
        self.new_events.append(
            DomainEvent(type_, "quote", self.id, {"quote_id": self.id, "number": self.number, **payload})
        )
        self.updated_at = at

    def created(self, at: datetime) -> None:
        self._event("quote.created", at, channel=self.channel_code, status=self.status.value)

    def transition(self, to: QuoteStatus, actor: str, at: datetime, reason: str | None = None) -> None:
        allowed = QUOTE_TRANSITIONS[self.status]
        if to not in allowed:
            raise IllegalTransition(
                f"a {self.status.value} quote cannot become {to.value}",
                allowed=sorted(s.value for s in allowed),
                current=self.status.value,
                requested=to.value,
            )
        before, self.status = self.status, to
        self._event(
            "quote.status_changed",
            at,
            **{"from": before.value, "to": to.value, "actor": actor, "reason": reason},
        )
        if to is QuoteStatus.ACCEPTED:
            self._event("quote.accepted", at, actor=actor)

    def expired_on(self, today: date) -> bool:
        return self.valid_until is not None and today > self.valid_until


__all__ = ["QUOTE_TRANSITIONS", "Quote", "QuoteStatus"]
