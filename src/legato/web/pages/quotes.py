"""Quotes (/quotes): the list, a quote's page, and its moves: send, accept, decline, expire, back to
draft, and convert into an order with one click (``services.quotes``, actor ``user:<name>``). A move
is offered only when the quote's status allows it and the role may; the server refuses otherwise."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from starlette.convertors import Convertor, register_url_convertor

from legato.domain.commands import ConvertQuote, TransitionQuote
from legato.domain.errors import LegatoError
from legato.domain.order import QUOTE_PREFIX, parse_number
from legato.domain.quote import QUOTE_TRANSITIONS, Quote, QuoteStatus
from legato.services import quotes as svc
from legato.store import queries
from legato.store.users import User
from legato.web.app import NavItem, error_page, redirect, render, runtime
from legato.web.auth import require

router = APIRouter()
NAV = [NavItem("Quotes", "/quotes", "quotes:view", order=30)]
PAGE_SIZE = 50

#: status -> the button that moves a quote there
MOVES: dict[str, str] = {
    "sent": "Send to the customer",
    "accepted": "Accept",
    "declined": "Decline",
    "expired": "Mark expired",
    "draft": "Back to draft",
}


class QuoteNumber(Convertor[str]):
    """``{number:quote_number}`` matches Q-000042 or 42 only."""

    regex = "(?:[Qq]-)?[0-9]{1,18}"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("quote_number", QuoteNumber())


def moves(quote: Quote) -> list[tuple[str, str]]:
    """(target status, label) of the moves the quote's status allows now (converting is its own button)."""
    allowed = QUOTE_TRANSITIONS[quote.status]
    return [(to, label) for to, label in MOVES.items() if QuoteStatus(to) in allowed]


def _load(request: Request, number: str) -> Quote | None:
    quote_id = parse_number(QUOTE_PREFIX, number)
    return queries.get_quote(runtime(request).engine, quote_id) if quote_id and quote_id <= 2**62 else None


def _missing(request: Request, number: str) -> HTMLResponse:
    return error_page(request, 404, "No such quote", f"There is no quote {number}.")


@router.get("/quotes")
def quote_list(request: Request, user: User = Depends(require("quotes:view"))) -> HTMLResponse:
    status = request.query_params.get("status", "")
    cursor = request.query_params.get("cursor") or None
    error = None
    if status and status not in {s.value for s in QuoteStatus}:
        error, status = f"{status!r} is not a quote status; use {', '.join(s.value for s in QuoteStatus)}", ""
    engine = runtime(request).engine
    try:
        page = queries.list_quotes(engine, status=status or None, limit=PAGE_SIZE, cursor=cursor)
    except LegatoError as exc:  # a cursor not made here: the first page, and say so
        error, cursor = exc.detail, None
        page = queries.list_quotes(engine, status=status or None, limit=PAGE_SIZE, cursor=None)
    context = {
        "page": page,
        "status": status,
        "statuses": [s.value for s in QuoteStatus],
        "error": error,
        "cursor": cursor,
    }
    return render(request, "quotes/list.html", context)


@router.get("/quotes/{number:quote_number}")
def quote_page(number: str, request: Request, user: User = Depends(require("quotes:view"))) -> HTMLResponse:
    quote = _load(request, number)
    if quote is None:
        return _missing(request, number)
    account = queries.get_account(runtime(request).engine, quote.account_code) if quote.account_code else None
    expired = quote.expired_on(datetime.now(UTC).date())
    context = {"quote": quote, "account": account, "moves": moves(quote), "expired": expired}
    return render(request, "quotes/detail.html", context)


@router.post("/quotes/{number:quote_number}/move/{to}")
def move(number: str, to: str, request: Request, user: User = Depends(require("quotes:manage"))) -> Response:
    quote = _load(request, number)
    if quote is None:
        return _missing(request, number)
    if to not in MOVES or to not in {t for t, _ in moves(quote)}:
        allowed = ", ".join(t for t, _ in moves(quote)) or "none"
        return error_page(
            request,
            409,
            "Not possible now",
            f"{quote.number} is {quote.status.value}: it cannot become {to} (it may go to: {allowed}).",
        )
    try:
        svc.transition_quote(runtime(request).uow(), TransitionQuote(quote.id or 0, to, user.actor))
    except LegatoError as exc:
        return error_page(request, exc.status, "Not done", exc.detail)
    return redirect(request, f"/quotes/{quote.number}", flash=f"{quote.number} is {to}.")


@router.post("/quotes/{number:quote_number}/convert")
def convert(number: str, request: Request, user: User = Depends(require("quotes:manage"))) -> Response:
    """One click: the accepted quote becomes an order (a sent or draft quote is accepted first)."""
    quote = _load(request, number)
    if quote is None:
        return _missing(request, number)
    rt = runtime(request)
    try:
        if quote.status in (QuoteStatus.DRAFT, QuoteStatus.SENT):
            svc.transition_quote(
                rt.uow(), TransitionQuote(quote.id or 0, "accepted", user.actor, "accepted to convert")
            )
        _, order = svc.convert_quote(rt.uow(), ConvertQuote(quote.id or 0, user.actor))
    except LegatoError as exc:
        return error_page(request, exc.status if exc.status != 422 else 409, "Not converted", exc.detail)
    return redirect(
        request, f"/orders/{order.number}", flash=f"{quote.number} converted into order {order.number}."
    )


__all__ = ["MOVES", "NAV", "moves", "router"]
