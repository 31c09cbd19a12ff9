"""Quote use cases: create, move, and convert an accepted quote into an order."""

from __future__ import annotations

from legato.domain.commands import ConvertQuote, CreateQuote, TransitionQuote
from legato.domain.errors import FieldIssue, IllegalTransition, NotFound, ValidationFailed
from legato.domain.events import DomainEvent
from legato.domain.order import SalesOrder
from legato.domain.quote import Quote, QuoteStatus
from legato.services.drafting import draft_lines
from legato.services.orders import persist_changes as _persist_order
from legato.services.pricing import redeem
from legato.services.uow import UnitOfWork


def create_quote(uow: UnitOfWork, cmd: CreateQuote) -> Quote:
    with uow:
        d = draft_lines(uow, cmd.draft)
        now = uow.now()
        quote = Quote(
            channel_code=d.channel.code,
            currency=d.currency,
            lines=d.lines,
            customer=d.customer,
            account_code=d.account.code if d.account else None,
            billing_address=cmd.draft.billing_address,
            shipping_address=cmd.draft.shipping_address,
            shipping=cmd.draft.shipping,
            shipping_tax_rate=cmd.draft.shipping_tax_rate,
            totals=d.totals,
            pricing=d.pricing,
            valid_until=cmd.valid_until,
            notes=cmd.draft.notes,
            created_at=now,
            updated_at=now,
        )
        uow.quotes.add(quote)
        quote.created(now)
        _persist(uow, quote)
        uow.commit()
    return quote


def transition_quote(uow: UnitOfWork, cmd: TransitionQuote) -> Quote:
    try:
        target = QuoteStatus(cmd.to)
    except ValueError:
        msg = f"{cmd.to!r} is not a quote status; use one of {', '.join(s.value for s in QuoteStatus)}"
        raise ValidationFailed(msg, issues=[FieldIssue("to", msg, "invalid_status", cmd.to)]) from None
    if target is QuoteStatus.CONVERTED:
        msg = "a quote becomes converted only by converting it (POST /quotes/{id}/convert)"
        raise ValidationFailed(msg, issues=[FieldIssue("to", msg, "invalid_status", cmd.to)])
    with uow:
        quote = _get(uow, cmd.quote_id)
        quote.transition(target, cmd.actor, uow.now(), cmd.reason)
        _persist(uow, quote)
        uow.commit()
    return quote


def convert_quote(uow: UnitOfWork, cmd: ConvertQuote) -> tuple[Quote, SalesOrder]:
    """One call: an accepted quote becomes an order with the quote's lines and prices.

    The order keeps the quote's id and the quote the order's, both ways. Converting a
    quote that is already converted is refused with the order it became.
    """
    with uow:
        quote = _get(uow, cmd.quote_id)
        if quote.status is QuoteStatus.CONVERTED:
            raise IllegalTransition(
                f"quote {quote.number} was already converted",
                allowed=[],
                current=quote.status.value,
                requested="converted",
                order_id=quote.order_id,
            )
        now = uow.now()
        if quote.status is QuoteStatus.ACCEPTED and quote.expired_on(now.date()):
            quote.transition(QuoteStatus.EXPIRED, "system", now, "validity date passed")
            _persist(uow, quote)
            uow.commit()
            raise IllegalTransition(
                f"quote {quote.number} expired on {quote.valid_until}",
                allowed=[],
                current="expired",
                requested="converted",
            )
        quote.transition(QuoteStatus.CONVERTED, cmd.actor, now)
        order = SalesOrder(
            channel_code=quote.channel_code,
            currency=quote.currency,
            lines=list(quote.lines),
            customer=quote.customer,
            account_code=quote.account_code,
            external_reference=None,
            billing_address=quote.billing_address,
            shipping_address=quote.shipping_address,
            shipping=quote.shipping,
            shipping_tax_rate=quote.shipping_tax_rate,
            totals=quote.totals,
            pricing=quote.pricing,
            notes=quote.notes,
            quote_id=quote.id,
            created_at=now,
        )
        uow.orders.add(order)
        if quote.pricing.get("adjustments"):  # the quote's voucher and points are used now
            account = uow.accounts.get_by_code(quote.account_code) if quote.account_code else None
            redeem(uow, order.id or 0, account, quote.pricing["adjustments"])
        order.created(cmd.actor, now, f"converted from quote {quote.number}")
        _persist_order(uow, order)
        quote.order_id = order.id
        quote.new_events.append(
            DomainEvent(
                "quote.converted",
                "quote",
                quote.id,
                {
                    "quote_id": quote.id,
                    "number": quote.number,
                    "order_id": order.id,
                    "order_number": order.number,
                },
            )
        )
        _persist(uow, quote)
        uow.commit()
    return quote, order


def get_quote(uow: UnitOfWork, quote_id: int) -> Quote:
    with uow:
        return _get(uow, quote_id)


def _get(uow: UnitOfWork, quote_id: int) -> Quote:
    quote = uow.quotes.get(quote_id, for_update=True)
    if quote is None:
        raise NotFound(f"no quote {quote_id}")
    return quote


def _persist(uow: UnitOfWork, quote: Quote) -> None:
    uow.quotes.save(quote)
    uow.outbox.add(quote.new_events, uow.now())
    quote.new_events.clear()


__all__ = ["convert_quote", "create_quote", "get_quote", "transition_quote"]
