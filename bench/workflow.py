"""The workflow engine's benchmark: rule evaluation, and events processed end to end as a
ratio to order creation.

    python -m bench.workflow [--orders N] [--postgres URL] [--sqlite-only] [--conditions 1000]

* **conditions**: 1,000 different compiled CEL conditions (``legato.workflow.conditions``)
  evaluated against one order's context (``build_context``, built once): the time to
  evaluate all of them. Target: under 1 ms.
* **engine events/s**: orders are placed with ``place_order`` (the core benchmark's seed and
  drafts), each writing ``order.created`` to the outbox; a workflow worker (the loop
  ``legato worker`` runs, in-process, one thread) dispatches them, matches the workflow
  ``bench-noop`` (``order.created`` -> ``noop``), and runs each run's job until the ``noop``
  attempt is recorded. Orders and engine alternate in rounds on the same database, and the
  engine's rate is divided by the order-creation rate of the same run. Target: >= 1 (the
  engine keeps up with the orders arriving).

Results are printed and written to ``bench/results/workflow.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.table import Table
from sqlalchemy import func, select

from bench.core import ROOT, console, postgres_database, run_service, seed, sqlite_database
from legato.bootstrap import Runtime, build
from legato.config import Settings
from legato.store import tables as t
from legato.store.migrate import upgrade
from legato.store.workflow_tables import job_attempts, jobs, workflow_runs
from legato.workflow.conditions import compile_condition
from legato.workflow.context import build_context
from legato.workflow.definitions import from_document, save
from legato.workflow.worker import WorkflowWorker

RESULTS = ROOT / "bench" / "results" / "workflow.json"
TARGETS = {"evaluate_1000_ms": 1.0, "engine_over_orders": 1.0}
ROUNDS = 4
WORKFLOW = {"name": "bench-noop", "trigger": "order.created", "actions": [{"action": "noop"}]}


def conditions(n: int, first: int = 0) -> list[str]:
    """``n`` different, realistic conditions over the documented context (``first``: where the
    numbering starts, so each database compiles its own rather than reusing the cache)."""
    shapes = [
        "order.total > {i}",
        'order.total > {i} && has(account.tier) && account.tier == "gold"',
        'order.channel.code == "BENCH" && order.currency == "GBP" && order.total < {i}.5',
        'order.lines.exists(l, l.sku == "SKU-{k:03d}")',
        "order.lines.size() > {m} || order.priority > {m}",
        '"vip-{i}" in order.tags || order.status == "on_hold"',
        "has(account.credit_limit) && account.open_balance + order.total > account.credit_limit + {i}.0",
        'order.shipping_address.country == "GB" && order.subtotal >= {i}.0',
    ]
    return [shapes[i % len(shapes)].format(i=i, k=i % 60, m=i % 7) for i in range(first, first + n)]


def evaluate(rt: Runtime, n: int, first: int, repeats: int = 30) -> dict[str, Any]:
    """Compile ``n`` conditions, then time evaluating all of them against one order's context."""
    with rt.engine.connect() as conn:
        row = conn.execute(select(t.outbox).where(t.outbox.c.event_type == "order.created").limit(1)).one()
        event = {"id": row.id, "type": row.event_type, "aggregate_type": row.aggregate_type,
                 "aggregate_id": row.aggregate_id, "payload": row.payload}  # fmt: skip
        began = time.perf_counter()
        context = build_context(conn, event)
        built = time.perf_counter() - began
    began = time.perf_counter()
    compiled = [compile_condition(expr, "order.created") for expr in conditions(n, first)]
    compile_s = time.perf_counter() - began
    matched = sum(c.evaluate(context) for c in compiled)  # converts the context once, kept on it
    simple = [compile_condition(f"order.total > {i}.5", "order.created") for i in range(first, first + n)]
    return {
        "conditions": n,
        "matched": matched,
        "evaluate_all_ms": _median_ms(compiled, context, repeats),
        "evaluate_comparisons_ms": _median_ms(simple, context, repeats),
        "compile_all_ms": round(compile_s * 1000, 1),
        "build_context_ms": round(built * 1000, 2),
    }


def _median_ms(compiled: list[Any], context: Any, repeats: int) -> float:
    """The median time to evaluate every condition once, in ms."""
    runs = []
    for _ in range(repeats):
        began = time.perf_counter()
        for c in compiled:
            c.evaluate(context)
        runs.append(time.perf_counter() - began)
    return round(statistics.median(runs) * 1000, 3)


def drain(worker: WorkflowWorker) -> float:
    """Seconds for the worker loop to process everything due."""
    began = time.perf_counter()
    worker.drain()
    return time.perf_counter() - began


def measure(url: str, orders: int, n_conditions: int, first: int = 0) -> dict[str, Any]:
    upgrade(url)
    s = Settings(environment="production", database_url=url, secret_key=secrets.token_urlsafe(48),
                 log_json=False)  # fmt: skip
    rt = build(s)
    try:
        seed(rt)
        save(rt, from_document(WORKFLOW), "bench")
        worker = WorkflowWorker(rt, worker_id="bench:0:engine")
        warm = max(50, orders // 20)
        run_service(rt, warm, 0, "WARM")
        drain(worker)
        chunk = max(1, orders // ROUNDS)
        placing = processing = 0.0
        for r in range(ROUNDS):
            placing += run_service(rt, chunk, r * chunk, "SVC")
            processing += drain(worker)
        total = chunk * ROUNDS + warm
        with rt.engine.connect() as conn:
            done = conn.execute(
                select(func.count()).where(jobs.c.state == "done", jobs.c.action == "noop")
            ).scalar()
            recorded = conn.execute(select(func.count()).where(job_attempts.c.outcome == "done")).scalar()
            runs = conn.execute(select(func.count()).select_from(workflow_runs)).scalar()
        if not done == recorded == runs == total:
            raise RuntimeError(f"{total} orders but {runs} runs, {done} noop jobs done, {recorded} attempts")
        order_rate, engine_rate = chunk * ROUNDS / placing, chunk * ROUNDS / processing
        return {
            "orders_per_s": round(order_rate, 1),
            "engine_events_per_s": round(engine_rate, 1),
            "engine_over_orders": round(engine_rate / order_rate, 3),
            "seconds": {"placing": round(placing, 3), "engine": round(processing, 3)},
            "conditions": evaluate(rt, n_conditions, first),
        }
    finally:
        rt.close()


def report(results: dict[str, dict[str, Any]]) -> None:
    table = Table(title="Workflow engine: events processed end to end (outbox -> run -> noop recorded)")
    columns = ("database", "orders/s", "engine events/s", "engine/orders", "1,000 mixed", "1,000 comparisons")
    for col in columns:
        table.add_column(col, justify="left" if col == "database" else "right")

    def ok(value: float, target: float, good_if_above: bool) -> str:
        green = value >= target if good_if_above else value < target
        return f"[{'green' if green else 'red'}]{value}[/]"

    for db, r in results.items():
        c = r["conditions"]
        table.add_row(
            db,
            f"{r['orders_per_s']:.0f}",
            f"{r['engine_events_per_s']:.0f}",
            ok(r["engine_over_orders"], TARGETS["engine_over_orders"], True) + " (target >= 1)",
            ok(c["evaluate_all_ms"], TARGETS["evaluate_1000_ms"], False) + " ms",
            ok(c["evaluate_comparisons_ms"], TARGETS["evaluate_1000_ms"], False) + " ms (target < 1)",
        )
    console.print(table)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.workflow", description=__doc__.splitlines()[0])
    ap.add_argument("--orders", type=int, default=1000, help="orders per measurement (default 1000)")
    ap.add_argument("--conditions", type=int, default=1000, help="conditions evaluated (default 1000)")
    ap.add_argument(
        "--postgres",
        default=os.environ.get("LEGATO_BENCH_POSTGRES_URL") or os.environ.get("LEGATO_TEST_POSTGRES_URL"),
        help="PostgreSQL server URL; a fresh database is created there and dropped afterwards",
    )
    ap.add_argument("--sqlite-only", action="store_true", help="skip PostgreSQL")
    args, _ = ap.parse_known_args(argv)  # `python -m bench` passes the core benchmark's options too
    results: dict[str, dict[str, Any]] = {}
    load_before = [round(x, 2) for x in os.getloadavg()]
    console.print(f"[bold]workflow engine[/]: {args.orders} orders per database, {ROUNDS} rounds ...")
    with sqlite_database() as (url, _):
        results["sqlite"] = measure(url, args.orders, args.conditions)
    if args.postgres and not args.sqlite_only:
        with postgres_database(args.postgres) as (pg_url, _):
            results["postgresql"] = measure(pg_url, args.orders, args.conditions, first=args.conditions)
    else:
        console.print("PostgreSQL: skipped (--sqlite-only, or no --postgres / LEGATO_BENCH_POSTGRES_URL)")
    report(results)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "orders": args.orders, "targets": TARGETS, "cpus": os.cpu_count(),
        "load_average_before": load_before, "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "databases": results,
    }, indent=2) + "\n")  # fmt: skip
    console.print(f"written to {Path(RESULTS).relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
