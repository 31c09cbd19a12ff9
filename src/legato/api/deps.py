"""Shared dependencies: the runtime, and path parameters that accept numbers like SO-000042."""

from __future__ import annotations

from fastapi import Path, Request

from legato.bootstrap import Runtime
from legato.domain.errors import NotFound
from legato.domain.order import ORDER_PREFIX, QUOTE_PREFIX, parse_number


async def runtime(request: Request) -> Runtime:
    return request.app.state.runtime  # type: ignore[no-any-return]


async def order_id(
    order: str = Path(description="order id (42) or number (SO-000042)", max_length=40),
) -> int:
    found = parse_number(ORDER_PREFIX, order)
    if found is None or found > 2**62:
        raise NotFound(f"no order {order!r}")
    return found


async def quote_id(quote: str = Path(description="quote id (7) or number (Q-000007)", max_length=40)) -> int:
    found = parse_number(QUOTE_PREFIX, quote)
    if found is None or found > 2**62:
        raise NotFound(f"no quote {quote!r}")
    return found
