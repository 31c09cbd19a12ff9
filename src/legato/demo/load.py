"""Loading the planned demo data set through the services, idempotently."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from legato.bootstrap import Runtime
from legato.demo.plan import ACTOR, QUOTE_PREFIX, OrderPlan, Progress, QuotePlan, Step, demo_dataset
from legato.demo.stock import load_stock
from legato.domain.commands import (
    ChangeTrack,
    ConvertQuote,
    CreateQuote,
    PlaceOrder,
    TransitionOrder,
    TransitionQuote,
)
from legato.domain.errors import DuplicateKey
from legato.services.catalog import save_account, save_channel, save_pricelist, save_product
from legato.services.orders import change_track, place_order, transition_order
from legato.services.quotes import convert_quote, create_quote, transition_quote
from legato.store import tables as t
from legato.store.queries import reading

_BATCH, _WORKERS = 25, 6  # on PostgreSQL: orders placed per batch, histories moved side by side


@dataclass(frozen=True)
class DemoSummary:
    channels: int  # demo channels present after loading (created now or already there)
    products: int
    accounts: int
    pricelists: int
    orders_created: int  # demo orders this run placed (and moved to their status)
    orders_existing: int  # demo orders already there: left untouched
    quotes: int  # demo quotes present after loading
    quotes_created: int = 0  # of which this run created


def _silent(stage: str, done: int, total: int) -> None:
    return None


def _ensure(rt: Runtime, save: Callable[..., Any], items: list[Any], stage: str, progress: Progress) -> int:
    """Create each item that does not exist yet; an existing one is left as it is."""
    progress(stage, 0, len(items))
    for done, item in enumerate(items, start=1):
        with suppress(DuplicateKey):
            save(rt.uow(), item, create=True)
        progress(stage, done, len(items))
    return len(items)


def _apply(rt: Runtime, order_id: int, step: Step) -> None:
    what, to, reason = step
    if what == "status":
        transition_order(rt.uow(), TransitionOrder(order_id, to, ACTOR, reason))
    else:
        change_track(rt.uow(), ChangeTrack(order_id, what, to, ACTOR, reason))


def _history(rt: Runtime, order_id: int, steps: list[Step]) -> None:
    for step in steps:
        _apply(rt, order_id, step)


def _load_orders(rt: Runtime, plans: list[OrderPlan], progress: Progress) -> tuple[int, int]:
    """Place the orders one by one (so ids follow DEMO-0001, DEMO-0002 ...) and move each
    new one to its status. On a server database the histories of a batch of orders run
    side by side (they touch different rows); SQLite has one writer, so it goes in turn.
    """
    parallel = rt.engine.dialect.name != "sqlite"
    batch = _BATCH if parallel else 1
    created = 0
    progress("orders", 0, len(plans))
    with ThreadPoolExecutor(_WORKERS if parallel else 1, thread_name_prefix="demo") as pool:
        for start in range(0, len(plans), batch):
            histories = []
            for plan in plans[start : start + batch]:
                result = place_order(rt.uow(), PlaceOrder(plan.draft, ACTOR, plan.reason))
                if result.created:  # an order found again keeps whatever happened to it since
                    created += 1
                    assert result.order.id is not None
                    histories.append(pool.submit(_history, rt, result.order.id, plan.steps))
            for future in histories:
                future.result()
            progress("orders", min(start + batch, len(plans)), len(plans))
    return created, len(plans) - created


def _quote_keys(rt: Runtime) -> set[str]:
    """Keys of the demo quotes already stored (read side: quotes have no external reference)."""
    q = t.quotes
    with reading(rt.engine) as conn:
        notes = conn.execute(select(q.c.notes).where(q.c.notes.like(f"{QUOTE_PREFIX}%"))).scalars()
        return {text.split(":", 1)[0] for text in notes if text}


def _load_quotes(rt: Runtime, plans: list[QuotePlan], progress: Progress) -> int:
    existing, today, created = _quote_keys(rt), datetime.now(UTC).date(), 0
    progress("quotes", 0, len(plans))
    for done, plan in enumerate(plans, start=1):
        if plan.key not in existing:
            valid_until = today + timedelta(days=plan.valid_days)
            quote_id = create_quote(rt.uow(), CreateQuote(plan.draft, ACTOR, valid_until)).id
            assert quote_id is not None
            for to in plan.steps:
                if to == "convert":
                    convert_quote(rt.uow(), ConvertQuote(quote_id, ACTOR))
                else:
                    transition_quote(rt.uow(), TransitionQuote(quote_id, to, ACTOR, f"demo: quote {to}"))
            created += 1
        progress("quotes", done, len(plans))
    return created


def load_demo(rt: Runtime, *, progress: Progress | None = None) -> DemoSummary:
    """Load the demo data set through the services; running it again duplicates nothing.

    ``progress(stage, done, total)`` is called as each stage starts and after each item
    (stages: channels, products, pricelists, accounts, orders, quotes).
    """
    report = progress or _silent
    data = demo_dataset()
    channels = _ensure(rt, save_channel, data.channels, "channels", report)
    products = _ensure(rt, save_product, data.products, "products", report)
    load_stock(rt, data.products)  # locations, supplier items, opening stock (no progress stage)
    pricelists = _ensure(rt, save_pricelist, data.pricelists, "pricelists", report)
    accounts = _ensure(rt, save_account, data.accounts, "accounts", report)
    orders_created, orders_existing = _load_orders(rt, data.orders, report)
    quotes_created = _load_quotes(rt, data.quotes, report)
    return DemoSummary(channels, products, accounts, pricelists, orders_created, orders_existing,
                       len(data.quotes), quotes_created)  # fmt: skip


__all__ = ["DemoSummary", "load_demo"]
