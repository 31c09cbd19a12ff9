"""The sales order: lines, addresses, totals, the lifecycle and the tracks, the timeline.

Totals are always the sum of rounded lines: each line's amount, discount and tax are
rounded to the currency's minor unit first, then added up, so an invoice printed
line by line adds up to the grand total to the last cent (or fils, or yen).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from legato.domain.errors import Conflict, FieldIssue, ValidationFailed
from legato.domain.events import DomainEvent
from legato.domain.lifecycle import (
    FINAL_STATUSES,
    FulfilmentStatus,
    InvoiceStatus,
    OrderStatus,
    PaymentStatus,
    check_transition,
    parse_track,
)
from legato.domain.matching import CustomerRef
from legato.domain.money import DEFAULT_ROUNDING, round_amount

ZERO = Decimal(0)
ORDER_PREFIX = "SO-"
QUOTE_PREFIX = "Q-"


def format_number(prefix: str, id_: int) -> str:
    """``SO-000042``: the public number is the prefix and the zero-padded id."""
    return f"{prefix}{id_:06d}"


def parse_number(prefix: str, value: str) -> int | None:
    """The id behind ``SO-000042`` (or a bare ``42``); None if it is neither."""
    text = value.strip().upper()
    if text.startswith(prefix):
        text = text[len(prefix) :]
    if text.isascii() and text.isdigit() and 0 < len(text) <= 18:
        return int(text)
    return None


@dataclass(frozen=True)
class Address:
    name: str | None = None
    company: str | None = None
    line1: str | None = None
    line2: str | None = None
    city: str | None = None
    region: str | None = None
    postcode: str | None = None
    country: str | None = None  # ISO 3166-1 alpha-2
    phone: str | None = None
    email: str | None = None
    # where the address is, as decimal strings (WGS 84): the "nearest location" allocation uses them
    latitude: str | None = None
    longitude: str | None = None
    # click & collect: the code of the store the customer collects from (shipping address only)
    pickup_location: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


@dataclass(frozen=True)
class OrderLine:
    """One priced line. Amounts are computed by ``price_line`` and stored as computed."""

    line_no: int
    sku: str
    name: str
    quantity: Decimal
    unit_price: Decimal
    price_source: str  # where the unit price came from: "contract:ACME-2026", "product", "channel", ...
    discount: Decimal = ZERO  # absolute discount on the line, in the order currency
    tax_rate: Decimal = ZERO  # e.g. 0.20 for 20 %
    amount: Decimal = ZERO  # quantity x unit price, rounded
    tax: Decimal = ZERO  # (amount - discount) x tax rate, rounded
    total: Decimal = ZERO  # amount - discount + tax (tax-exclusive prices); amount - discount (inclusive)
    status: str = "open"  # open | cancelled | review
    #: how the price was made: list, mechanism, rule, inputs, breakdown, conversion, tax, discounts
    detail: Mapping[str, Any] = field(default_factory=dict)
    #: the mechanism's charge for the whole line, unrounded (slabs, rentals ...); None: quantity x unit price
    charge: Decimal | None = field(default=None, compare=False)


def price_line(
    line: OrderLine, currency: str, rounding: str = DEFAULT_ROUNDING, *, inclusive: bool = False
) -> OrderLine:
    """Compute a line's rounded amount, discount, tax and total.

    ``inclusive``: the unit price includes tax (a shop's shelf price); the tax is the part of
    the discounted amount that ``tax_rate`` makes up, and the total is the discounted amount.
    """
    base = line.charge if line.charge is not None else line.quantity * line.unit_price
    amount = round_amount(base, currency, rounding)
    discount = max(min(round_amount(line.discount, currency, rounding), amount), ZERO)
    if inclusive:
        tax = round_amount((amount - discount) * line.tax_rate / (1 + line.tax_rate), currency, rounding)
        total = amount - discount
    else:
        tax = round_amount((amount - discount) * line.tax_rate, currency, rounding)
        total = amount - discount + tax
    # built directly rather than with dataclasses.replace: this runs for every line of every order
    return OrderLine(
        line.line_no, line.sku, line.name, line.quantity, line.unit_price, line.price_source,
        discount, line.tax_rate, amount, tax, total, line.status, line.detail, line.charge,
    )  # fmt: skip


@dataclass(frozen=True)
class Totals:
    subtotal: Decimal = ZERO  # sum of line amounts before discount and tax
    discount: Decimal = ZERO  # sum of line discounts
    shipping: Decimal = ZERO  # shipping charge (before tax, or including it with inclusive prices)
    tax: Decimal = ZERO  # line taxes plus shipping tax (included in the above with inclusive prices)
    grand_total: Decimal = ZERO  # subtotal - discount + shipping (+ tax when exclusive)
    points: Decimal = ZERO  # the part of ``discount`` that loyalty points paid, for finance

    def as_dict(self) -> dict[str, Decimal]:
        return dict(self.__dict__)


def compute_totals(
    lines: list[OrderLine],
    currency: str,
    shipping: Decimal = ZERO,
    shipping_tax_rate: Decimal = ZERO,
    rounding: str = DEFAULT_ROUNDING,
    *,
    inclusive: bool = False,
    points: Decimal = ZERO,
) -> Totals:
    """Totals from already-priced lines: every figure is a sum of rounded parts.

    ``inclusive``: prices (and the shipping charge) include tax, so tax is reported, not added.
    ``points``: the part of the line discounts that loyalty points paid (recorded, not taken again).
    """
    live = [ln for ln in lines if ln.status != "cancelled"]
    ship = round_amount(shipping, currency, rounding)
    rate = shipping_tax_rate / (1 + shipping_tax_rate) if inclusive else shipping_tax_rate
    ship_tax = round_amount(ship * rate, currency, rounding)
    subtotal = sum((ln.amount for ln in live), ZERO)
    discount = sum((ln.discount for ln in live), ZERO)
    tax = sum((ln.tax for ln in live), ZERO) + ship_tax
    due = subtotal - discount + ship + (ZERO if inclusive else tax)
    return Totals(subtotal, discount, ship, tax, due, round_amount(points, currency, rounding))


@dataclass(frozen=True)
class TimelineEntry:
    """One line of an order's history: what changed, who did it, when and why."""

    at: datetime
    actor: str  # "apikey:demo", "user:alice", "rule:high-value-approval", "system"
    kind: str  # created | status_changed | track_changed | edited | converted | lines_cancelled ...
    reason: str | None = None
    from_value: str | None = None
    to_value: str | None = None
    data: dict[str, Any] = field(default_factory=dict)


#: Fields an order edit may change, and only while the order is not final.
EDITABLE_FIELDS = ("priority", "tags", "notes", "billing_address", "shipping_address")


@dataclass
class SalesOrder:
    channel_code: str
    currency: str
    lines: list[OrderLine]
    customer: CustomerRef = field(default_factory=CustomerRef)
    account_code: str | None = None
    external_reference: str | None = None
    status: OrderStatus = OrderStatus.CREATED
    held_from: OrderStatus | None = None
    payment_status: PaymentStatus = PaymentStatus.UNPAID
    fulfilment_status: FulfilmentStatus = FulfilmentStatus.UNFULFILLED
    invoice_status: InvoiceStatus = InvoiceStatus.NOT_INVOICED
    billing_address: Address | None = None
    shipping_address: Address | None = None
    shipping: Decimal = ZERO
    shipping_tax_rate: Decimal = ZERO
    totals: Totals = field(default_factory=Totals)
    #: how the order was priced as a whole: tax-inclusive prices, adjustments (promotions,
    #: voucher, points) for finance, exchange rates used
    pricing: Mapping[str, Any] = field(default_factory=dict)
    priority: int = 0
    tags: tuple[str, ...] = ()
    notes: str | None = None
    quote_id: int | None = None
    inbox_id: int | None = None  # the inbox entry (raw delivery) the order came from
    created_at: datetime | None = None
    updated_at: datetime | None = None
    id: int | None = None
    timeline: list[TimelineEntry] = field(default_factory=list)
    #: changes not yet persisted: timeline entries and outbox events
    new_entries: list[TimelineEntry] = field(default_factory=list, repr=False)
    new_events: list[DomainEvent] = field(default_factory=list, repr=False)

    @property
    def number(self) -> str | None:
        return format_number(ORDER_PREFIX, self.id) if self.id is not None else None

    def _record(self, entry: TimelineEntry, event: DomainEvent) -> None:
        self.timeline.append(entry)
        self.new_entries.append(entry)
        self.new_events.append(event)
        self.updated_at = entry.at

    def _ref(self) -> dict[str, Any]:
        return {"order_id": self.id, "number": self.number, "channel": self.channel_code}

    def created(self, actor: str, at: datetime, reason: str | None = None) -> None:
        """Record the order's creation (after it has an id)."""
        self._record(
            TimelineEntry(at, actor, "created", reason, to_value=self.status.value),
            DomainEvent(
                "order.created",
                "order",
                self.id,
                {
                    **self._ref(),
                    "status": self.status.value,
                    "currency": self.currency,
                    "grand_total": str(self.totals.grand_total),
                    "account": self.account_code,
                    "external_reference": self.external_reference,
                },
            ),
        )

    def transition(self, to: OrderStatus, actor: str, at: datetime, reason: str | None = None) -> None:
        """Move the lifecycle one step, as the transition table allows."""
        new_held_from = check_transition(self.status, to, self.held_from)
        before = self.status
        self.status, self.held_from = to, new_held_from
        self._record(
            TimelineEntry(at, actor, "status_changed", reason, before.value, to.value),
            DomainEvent(
                "order.status_changed",
                "order",
                self.id,
                {**self._ref(), "from": before.value, "to": to.value, "reason": reason, "actor": actor},
            ),
        )

    def set_track(self, track: str, value: str, actor: str, at: datetime, reason: str | None = None) -> None:
        """Move the payment, fulfilment or invoice track; it never blocks the lifecycle."""
        new = parse_track(track, value)
        attr = f"{track}_status"
        before = getattr(self, attr)
        if before == new:
            return
        setattr(self, attr, new)
        self._record(
            TimelineEntry(at, actor, "track_changed", reason, before.value, new.value, {"track": track}),
            DomainEvent(
                "order.track_changed",
                "order",
                self.id,
                {**self._ref(), "track": track, "from": before.value, "to": new.value, "reason": reason},
            ),
        )
        if track == "payment" and new == PaymentStatus.PAID:
            paid = {**self._ref(), "currency": self.currency, "amount": str(self.totals.grand_total)}
            self.new_events.append(DomainEvent("payment.received", "order", self.id, paid))

    def edit(self, changes: dict[str, Any], actor: str, at: datetime, reason: str | None = None) -> None:
        """Change editable fields of an order that is not final; records what changed."""
        if self.status in FINAL_STATUSES:
            raise Conflict(f"order {self.number} is {self.status.value}; a final order cannot be edited")
        refused = sorted(set(changes) - set(EDITABLE_FIELDS))
        if refused:
            msg = f"only {', '.join(EDITABLE_FIELDS)} can be edited"
            raise ValidationFailed(msg, issues=[FieldIssue(k, msg, "not_editable") for k in refused])
        changed: dict[str, Any] = {}
        for key, value in changes.items():
            if getattr(self, key) != value:
                setattr(self, key, value)
                changed[key] = value.as_dict() if isinstance(value, Address) else value
        if not changed:
            return
        fields = sorted(changed)
        self._record(
            TimelineEntry(at, actor, "edited", reason, data={"fields": fields}),
            DomainEvent("order.updated", "order", self.id, {**self._ref(), "fields": fields}),
        )

    def cancel_lines(
        self,
        line_nos: Sequence[int],
        actor: str,
        at: datetime,
        reason: str | None = None,
        rounding: str = DEFAULT_ROUNDING,
    ) -> list[int]:
        """Cancel some lines of an order that is not final: they stay on the order, marked
        ``cancelled``, and the totals are computed again without them. Lines already cancelled are
        left as they are (a repeat changes nothing); cancelling every live line is refused (cancel
        the order). Returns the line numbers cancelled now."""
        if self.status in FINAL_STATUSES:
            raise Conflict(f"order {self.number} is {self.status.value}; its lines cannot be cancelled")
        known = {ln.line_no: ln for ln in self.lines}
        issues = [
            FieldIssue(f"lines[{i}]", f"the order has no line {n}", "unknown_line", n)
            for i, n in enumerate(line_nos)
            if n not in known
        ]
        if not line_nos:
            issues.append(FieldIssue("lines", "name at least one line to cancel", "required"))
        if issues:
            raise ValidationFailed(issues[0].message, issues=issues)
        wanted = sorted({n for n in line_nos if known[n].status != "cancelled"})
        if not wanted:
            return []
        live = [ln for ln in self.lines if ln.status != "cancelled"]
        if len(live) == len(wanted):
            raise Conflict(
                f"cancelling line(s) {', '.join(map(str, wanted))} would leave {self.number} with no line: "
                "cancel the order instead"
            )
        before = self.totals
        self.lines = [replace(ln, status="cancelled") if ln.line_no in wanted else ln for ln in self.lines]
        discounts = sum((ln.discount for ln in self.lines if ln.status != "cancelled"), ZERO)
        self.totals = compute_totals(
            self.lines,
            self.currency,
            self.shipping,
            self.shipping_tax_rate,
            rounding,
            inclusive=bool(self.pricing.get("prices_include_tax")),
            points=min(before.points, discounts),  # points paid part of the discounts still counted
        )
        total = {"from": str(before.grand_total), "to": str(self.totals.grand_total)}
        self._record(
            TimelineEntry(
                at, actor, "lines_cancelled", reason, str(before.grand_total), str(self.totals.grand_total),
                {"lines": wanted},
            ),
            DomainEvent(
                "order.updated", "order", self.id,
                {**self._ref(), "fields": ["lines", "totals"], "cancelled_lines": wanted,
                 "grand_total": total},
            ),
        )  # fmt: skip
        return wanted


__all__ = [
    "EDITABLE_FIELDS",
    "ORDER_PREFIX",
    "QUOTE_PREFIX",
    "Address",
    "OrderLine",
    "SalesOrder",
    "TimelineEntry",
    "Totals",
    "compute_totals",
    "format_number",
    "parse_number",
    "price_line",
]
