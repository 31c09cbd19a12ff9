"""The allocation benchmark: allocations with reservation per second on one hot SKU under 8
concurrent clients, as a ratio to uncontended allocation in the same run, and to the raw floor.

    python -m bench.allocation [--orders N] [--clients 8] [--postgres URL] [--sqlite-only]

On one fresh database per engine (as the core benchmark makes them) with two warehouses:

* **contended/s**: N orders of one unit of the same SKU, allocated by ``allocate_order`` (strategy
  ``priority``) from ``--clients`` threads, each allocation its own transaction
  (``in_transaction``: row locks on PostgreSQL, the write lock on SQLite, deadlocks retried).
* **uncontended/s**: N orders of one unit, each of its own SKU, allocated one after the other by
  one client.
* **raw/s**: the floor: the same reservation written with plain SQL, one transaction per order:
  read the level (``FOR UPDATE`` on PostgreSQL), ``UPDATE stock_levels``, ``INSERT`` the movement
  and the allocation; no strategy, no restriction filter, no timeline or outbox.

The three alternate in rounds. Printed: the rates, contended/uncontended (target >= 0.5) and
uncontended/raw; written to ``bench/results/allocation.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from rich.table import Table
from sqlalchemy import Connection, Engine, insert, select, update

from bench.core import ROOT, add_database_options, console, on_each_database
from legato.store import tables as t
from legato.store.allocation import allocate_order, in_transaction
from legato.store.db import make_engine, write_lock
from legato.store.inventory import move
from legato.store.inventory_tables import allocations, locations, stock_levels, stock_movements
from legato.store.migrate import upgrade

RESULTS = ROOT / "bench" / "results" / "allocation.json"
TARGETS = {"contended_over_uncontended": 0.5}
ROUNDS = 2
HOT = "HOT-1"
ZERO, ONE = Decimal(0), Decimal(1)


def _seed(engine: Engine, n: int) -> tuple[int, dict[str, list[int]]]:
    """Two warehouses, stock for every order, and the orders: n hot, n distinct, n for the floor."""
    now = datetime.now(UTC)
    orders: dict[str, list[int]] = {"hot": [], "solo": [], "raw": []}
    with write_lock(engine), engine.begin() as conn:
        ch = conn.execute(insert(t.channels).values(
            code="BENCH", name="Bench", type="ecommerce", adapter="rest", currency="EUR", settings={},
            active=True, created_at=now, updated_at=now).returning(t.channels.c.id)).scalar_one()  # fmt: skip
        whs = [_location(conn, i, now) for i in (1, 2)]
        move(conn, location_id=whs[0], sku=HOT, kind="receipt", quantity=Decimal(n * ROUNDS * 2), at=now,
             actor="bench")  # fmt: skip
        for kind in ("hot", "solo", "raw"):
            for i in range(n):
                sku = HOT if kind == "hot" else f"{kind.upper()}-{i:06d}"
                if kind != "hot":
                    move(conn, location_id=whs[i % 2], sku=sku, kind="receipt", quantity=Decimal(5), at=now,
                         actor="bench")  # fmt: skip
                orders[kind].append(_order(conn, ch, sku, now))
    return whs[0], orders


def _location(conn: Connection, i: int, now: datetime) -> int:
    return int(conn.execute(insert(locations).values(
        code=f"WH{i}", name=f"WH{i}", kind="warehouse", address={"country": "GB"}, priority=i, channels=[],
        regions=[], ships=True, pickup=False, safety_stock=ZERO, atp_rules={}, settings={}, active=True,
        created_at=now, updated_at=now,
    ).returning(locations.c.id)).scalar_one())  # fmt: skip


def _order(conn: Connection, ch: int, sku: str, now: datetime) -> int:
    z = ZERO
    oid = conn.execute(insert(t.orders).values(
        external_ref=None, channel_id=ch, account_id=None, customer={}, currency="EUR",
        shipping_address={"country": "GB"}, shipping=z, shipping_tax_rate=z, subtotal=z, discount_total=z,
        tax_total=z, grand_total=z, status="created", payment_status="unpaid",
        fulfilment_status="unfulfilled", invoice_status="not_invoiced", priority=0, tags=[], created_at=now,
        updated_at=now,
    ).returning(t.orders.c.id)).scalar_one()  # fmt: skip
    conn.execute(insert(t.order_lines).values(
        order_id=oid, line_no=1, sku=sku, name=sku, quantity=ONE, unit_price=z, price_source="bench",
        discount=z, tax_rate=z, amount=z, tax=z, total=z, status="open"))  # fmt: skip
    return int(oid)


def _allocate(engine: Engine, oid: int) -> None:
    def work(conn: Connection) -> None:
        allocate_order(conn, oid, at=datetime.now(UTC), actor="bench", strategy="priority")

    in_transaction(engine, work, attempts=20)


def _raw(engine: Engine, oid: int, sku: str) -> None:
    """The floor: the same reservation with plain SQL, one transaction."""
    now = datetime.now(UTC)
    with write_lock(engine), engine.begin() as conn:
        q = select(stock_levels.c.location_id, stock_levels.c.reserved).where(stock_levels.c.sku == sku)
        if engine.dialect.name == "postgresql":
            q = q.with_for_update()
        lv = conn.execute(q).first()
        assert lv is not None
        conn.execute(update(stock_levels).where(stock_levels.c.location_id == lv.location_id,
                                                stock_levels.c.sku == sku)
                     .values(reserved=lv.reserved + ONE, updated_at=now))  # fmt: skip
        conn.execute(insert(stock_movements).values(
            location_id=lv.location_id, sku=sku, kind="reservation", on_hand_delta=ZERO, reserved_delta=ONE,
            order_id=oid, actor="bench", at=now))  # fmt: skip
        conn.execute(insert(allocations).values(
            order_id=oid, line_no=1, location_id=lv.location_id, sku=sku, quantity=ONE, shipped=ZERO,
            strategy="raw", created_at=now, updated_at=now))  # fmt: skip


def _rate(fn: Any, items: list[Any], clients: int) -> tuple[float, float]:
    start = time.perf_counter()
    if clients == 1:
        for it in items:
            fn(it)
    else:
        with ThreadPoolExecutor(clients) as pool:
            for fut in [pool.submit(fn, it) for it in items]:
                fut.result()
    took = time.perf_counter() - start
    return len(items), took


def measure(url: str, n: int, clients: int) -> dict[str, Any]:
    upgrade(url)
    engine = make_engine(url)
    try:
        wh1, orders = _seed(engine, n)
        raw_skus = {oid: f"RAW-{i:06d}" for i, oid in enumerate(orders["raw"])}
        totals = {"contended": [0.0, 0.0], "uncontended": [0.0, 0.0], "raw": [0.0, 0.0]}
        per = n // ROUNDS
        for r in range(ROUNDS):
            part = slice(r * per, (r + 1) * per)
            for name, fn, items, c in (
                ("contended", lambda oid: _allocate(engine, oid), orders["hot"][part], clients),
                ("uncontended", lambda oid: _allocate(engine, oid), orders["solo"][part], 1),
                ("raw", lambda oid: _raw(engine, oid, raw_skus[oid]), orders["raw"][part], 1),
            ):
                done, took = _rate(fn, items, c)
                totals[name][0] += done
                totals[name][1] += took
        with engine.connect() as conn:  # no oversell, every hot order allocated once
            reserved = conn.execute(select(stock_levels.c.reserved).where(
                stock_levels.c.location_id == wh1, stock_levels.c.sku == HOT)).scalar_one()  # fmt: skip
        rates = {k: v[0] / v[1] for k, v in totals.items()}
        return {
            **{f"{k}_per_s": round(v, 1) for k, v in rates.items()},
            "contended_over_uncontended": round(rates["contended"] / rates["uncontended"], 3),
            "uncontended_over_raw": round(rates["uncontended"] / rates["raw"], 3),
            "hot_reserved": str(reserved),
            "hot_orders": per * ROUNDS,
        }
    finally:
        engine.dispose()


def report(results: dict[str, dict[str, Any]], clients: int) -> None:
    table = Table(
        title=f"Allocation with reservation: per second, {clients} clients on one hot SKU vs 1 client"
    )
    for col in (
        "database",
        "contended/s",
        "uncontended/s",
        "raw/s",
        "contended/uncontended",
        "uncontended/raw",
    ):
        table.add_column(col, justify="left" if col == "database" else "right")
    for db, r in results.items():
        ok = r["contended_over_uncontended"] >= TARGETS["contended_over_uncontended"]
        colour = "green" if ok else "red"
        table.add_row(db, f"{r['contended_per_s']:.0f}", f"{r['uncontended_per_s']:.0f}",
                      f"{r['raw_per_s']:.0f}",
                      f"[{colour}]{r['contended_over_uncontended']:.2f}[/] (target 0.5)",
                      f"{r['uncontended_over_raw']:.2f}")  # fmt: skip
    console.print(table)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.allocation", description=__doc__.splitlines()[0])
    ap.add_argument("--allocations", type=int, default=600, help="allocations per measurement (default 600)")
    ap.add_argument("--clients", type=int, default=8, help="concurrent clients on the hot SKU (default 8)")
    add_database_options(ap)
    args, _ = ap.parse_known_args(argv)  # `python -m bench` passes the core benchmark's options too
    load_before = [round(x, 2) for x in os.getloadavg()]
    console.print(f"[bold]allocation[/]: {args.allocations} allocations per measurement, {ROUNDS} rounds ...")
    results = on_each_database(args, lambda u: measure(u, args.allocations, args.clients))
    report(results, args.clients)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"), "allocations": args.allocations,
        "clients": args.clients, "targets": TARGETS, "cpus": os.cpu_count(),
        "load_average_before": load_before, "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "databases": results,
    }, indent=2) + "\n")  # fmt: skip
    console.print(f"written to {Path(RESULTS).relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
