"""Quotes: create, read, list, move, convert into an order with one call."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query

from legato.api import schemas as s
from legato.api import views
from legato.api.deps import quote_id, runtime
from legato.api.security import require
from legato.bootstrap import Runtime
from legato.domain.commands import ConvertQuote, CreateQuote, TransitionQuote
from legato.domain.errors import NotFound
from legato.domain.quote import QuoteStatus
from legato.services import quotes as svc
from legato.store import queries
from legato.store.apikeys import ApiKey

router = APIRouter(prefix="/api/v1/quotes", tags=["quotes"])


@router.post("", response_model=s.QuoteOut, status_code=201)
def create_quote(
    body: s.QuoteIn, key: ApiKey = Depends(require("orders:write")), rt: Runtime = Depends(runtime)
) -> dict[str, Any]:
    quote = svc.create_quote(rt.uow(), CreateQuote(views.draft(body), key.actor, body.valid_until))
    return views.quote_out(quote)


@router.get("", response_model=s.QuotePage)
def list_quotes(
    status: QuoteStatus | None = None,
    limit: int = Query(50, ge=1, le=200),
    cursor: str | None = Query(None, max_length=100),
    _: ApiKey = Depends(require("orders:read")),
    rt: Runtime = Depends(runtime),
) -> dict[str, Any]:
    page = queries.list_quotes(rt.engine, status=status.value if status else None, limit=limit, cursor=cursor)
    return {"items": [views.quote_summary(r) for r in page.items], "next_cursor": page.next_cursor}


@router.get("/{quote}", response_model=s.QuoteOut)
def get_quote(
    qid: int = Depends(quote_id), _: ApiKey = Depends(require("orders:read")), rt: Runtime = Depends(runtime)
) -> dict[str, Any]:
    quote = queries.get_quote(rt.engine, qid)
    if quote is None:
        raise NotFound(f"no quote {qid}")
    return views.quote_out(quote)


@router.post("/{quote}/transitions", response_model=s.QuoteOut)
def transition_quote(
    body: s.QuoteTransitionIn,
    qid: int = Depends(quote_id),
    key: ApiKey = Depends(require("orders:write")),
    rt: Runtime = Depends(runtime),
) -> dict[str, Any]:
    """Send, accept, decline or expire a quote."""
    return views.quote_out(
        svc.transition_quote(rt.uow(), TransitionQuote(qid, body.to, key.actor, body.reason))
    )


@router.post("/{quote}/convert", response_model=s.ConversionOut, status_code=201)
def convert_quote(
    qid: int = Depends(quote_id),
    key: ApiKey = Depends(require("orders:write")),
    rt: Runtime = Depends(runtime),
) -> dict[str, Any]:
    """Turn an accepted quote into an order, with no re-entry; both keep the link."""
    quote, order = svc.convert_quote(rt.uow(), ConvertQuote(qid, key.actor))
    fresh = queries.get_order(rt.engine, order.id or 0)
    return {"quote": views.quote_out(quote), "order": views.order_out(fresh or order)}
