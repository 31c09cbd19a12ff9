"""No oversell under concurrency, on both databases: 200 orders of one unit of a SKU with 50 units,
allocated at the same time from separate connections (threads, each its own transaction; on
PostgreSQL also 4 processes), reserve exactly 50 units and backorder the other 150; the stock
level equals the ledger's sums and no error escapes (deadlocks are retried)."""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
from sqlalchemy import Connection, Engine, select
from tests.integration.alloc_helpers import (
    NOW,
    D,
    balanced,
    channel,
    level,
    location,
    order,
    receive,
    writing,
)

from legato.bootstrap import Runtime
from legato.store.allocation import allocate_order, in_transaction
from legato.store.db import make_engine
from legato.store.inventory_tables import allocations, backorders

ORDERS, UNITS, THREADS, PROCESSES = 200, 50, 16, 4


def _setup(engine: Engine) -> tuple[int, list[int]]:
    with writing(engine) as conn:
        ch = channel(conn)
        wh1, wh2 = location(conn, "WH1", 2), location(conn, "WH2", 1)
        receive(conn, wh1, "HOT", 30)
        receive(conn, wh2, "HOT", 20)
        oids = [order(conn, ch, [("HOT", 1)]) for _ in range(ORDERS)]
    return wh1, oids


def _allocate_one(engine: Engine, oid: int) -> None:
    def work(conn: Connection) -> None:
        allocate_order(conn, oid, at=NOW, actor="test", strategy="priority")

    in_transaction(engine, work, attempts=10)


def _allocate_slice(url: str, oids: Sequence[int]) -> int:
    """One process: its own engine, a few threads, its share of the orders."""
    engine = make_engine(url)
    try:
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(lambda oid: _allocate_one(engine, oid), oids))
    finally:
        engine.dispose()
    return len(oids)


def _check(engine: Engine, wh1: int, oids: list[int]) -> None:
    with engine.connect() as conn:
        reserved = sum((D(q) for q in conn.execute(select(allocations.c.quantity)).scalars()), Decimal(0))
        waiting = sum((D(q) for q in conn.execute(select(backorders.c.quantity)).scalars()), Decimal(0))
        per_order = conn.execute(select(allocations.c.order_id)).scalars().all()
        assert (reserved, waiting) == (D(UNITS), D(ORDERS - UNITS))
        assert len(per_order) == len(set(per_order)) == UNITS  # each order got one unit, once
        assert level(conn, wh1, "HOT") == (D(30), D(30))
        assert balanced(conn)
        lines = conn.execute(select(backorders.c.order_id)).scalars().all()
        assert set(lines) | set(per_order) == set(oids)


def _run_threads(fn: Callable[[int], None], oids: list[int]) -> None:
    with ThreadPoolExecutor(THREADS) as pool:
        for fut in [pool.submit(fn, oid) for oid in oids]:
            fut.result()  # re-raises any error a thread met


def test_200_concurrent_orders_for_50_units_reserve_exactly_50_from_threads(runtime: Runtime) -> None:
    wh1, oids = _setup(runtime.engine)
    _run_threads(lambda oid: _allocate_one(runtime.engine, oid), oids)
    _check(runtime.engine, wh1, oids)


def test_200_concurrent_orders_for_50_units_reserve_exactly_50_from_processes(runtime: Runtime) -> None:
    if runtime.engine.dialect.name != "postgresql":
        pytest.skip("the multiprocessing variant runs on PostgreSQL")
    wh1, oids = _setup(runtime.engine)
    url = runtime.engine.url.render_as_string(hide_password=False)
    shares = [oids[i::PROCESSES] for i in range(PROCESSES)]
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(PROCESSES) as pool:
        done = pool.starmap(_allocate_slice, [(url, share) for share in shares])
    assert sum(done) == ORDERS
    _check(runtime.engine, wh1, oids)


def test_one_order_allocated_by_many_at_once_is_allocated_once_dropship_lines_too(runtime: Runtime) -> None:
    """A workflow step, its retry and a person's button may allocate the same order together: the
    order's row lock makes the others find the first's allocation and add nothing (a dropship
    line locks no stock level, so without it the supplier would be sent the line twice)."""
    from legato.store.inventory_tables import supplier_items

    engine = runtime.engine
    with writing(engine) as conn:
        ch = channel(conn)
        wh = location(conn, "WH1", 1)
        supplier = location(conn, "SUP", 0, kind="supplier")
        conn.execute(supplier_items.insert().values(location_id=supplier, sku="DROP"))
        receive(conn, wh, "HOT", 5)
        mixed = order(conn, ch, [("HOT", 2), ("DROP", 1)])
        dropship_only = order(conn, ch, [("DROP", 3)])  # locks no stock level at all
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda i: _allocate_one(engine, (mixed, dropship_only)[i % 2]), range(16)))
    with engine.connect() as conn:
        rows = conn.execute(
            select(allocations.c.order_id, allocations.c.line_no, allocations.c.quantity)
            .order_by(allocations.c.order_id, allocations.c.line_no)
        ).all()
        assert [(r.order_id, r.line_no, D(r.quantity)) for r in rows] == [
            (mixed, 1, D(2)), (mixed, 2, D(1)), (dropship_only, 1, D(3))
        ]  # fmt: skip
        assert level(conn, wh, "HOT") == (D(5), D(2))
        assert balanced(conn)
