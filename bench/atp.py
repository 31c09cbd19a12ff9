"""The ATP benchmark: available-to-promise look-ups per second and their p50/p99 latency with
100,000 SKUs at 20 locations (2,000,000 stock levels), as a ratio to a raw floor in the same run.

    python -m bench.atp [--skus 100000] [--lookups 5000] [--postgres URL] [--sqlite-only]

On one fresh database per engine (as the core benchmark makes them), seeded in bulk with one
``INSERT ... SELECT`` per table (under a minute), it measures one SKU per look-up, random SKUs,
channel ``WEB`` and ship-to ``GB`` (so the channel lists, regions and ATP rules are all applied):

* **raw**: the floor: the same SELECT (levels joined to their locations, by SKU) as plain SQL on
  one held driver connection (sqlite3 / psycopg cursor), rows fetched, no rule applied.
* **atp**: ``legato.store.atp.atp`` as the API calls it: a read connection from the pool per
  look-up (``reading``: BEGIN, the query, ROLLBACK), the rules applied in Python.
* **api**: ``GET /api/v1/availability?sku=...&channel=WEB&region=GB`` through the whole app
  (API key, middleware, routing, validation, the thread pool, JSON), called straight as ASGI on
  one event loop: the server's own time, without an HTTP client or a socket. ``GET /healthz``
  through the same harness is printed beside it: what any request costs the app.

Printed: look-ups/s, p50 and p99 in ms, and atp/raw, api/raw (rates); the target is p99 under
2 ms for ``atp``. Written to ``bench/results/atp.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from rich.table import Table
from sqlalchemy import Engine, text

from bench.core import ROOT, add_database_options, console, on_each_database
from legato.api.app import create_app
from legato.bootstrap import build
from legato.config import Settings
from legato.store.apikeys import create_key
from legato.store.atp import atp
from legato.store.db import write_lock
from legato.store.inventory_tables import locations
from legato.store.migrate import upgrade
from legato.store.queries import reading

RESULTS = ROOT / "bench" / "results" / "atp.json"
TARGET_P99_MS = 2.0
LOCATIONS = 20

_RAW = (
    "SELECT stock_levels.sku, stock_levels.location_id, locations.code, stock_levels.on_hand, "
    "stock_levels.reserved, locations.safety_stock, locations.channels, locations.regions, "
    "locations.atp_rules FROM stock_levels JOIN locations ON locations.id = stock_levels.location_id "
    "WHERE stock_levels.sku IN ({p}) AND locations.active AND locations.ships "
    "AND locations.kind != 'supplier'"
)


def _locations(now: datetime) -> list[dict[str, Any]]:
    """20 locations: most serve everything; some are limited to channels or regions, have ATP
    rules, or are stores that do not ship."""
    rows = []
    for i in range(1, LOCATIONS + 1):
        kind = "store" if i % 10 == 0 else "warehouse"
        rules = (
            {"WEB": {"safety_stock": "1"}} if i % 6 == 0 else ({"WEB": {"excluded": True}} if i == 7 else {})
        )
        rows.append({
            "code": f"L{i:02d}", "name": f"L{i:02d}", "kind": kind, "priority": i,
            "channels": ["WEB"] if i % 4 == 0 else ([] if i % 3 else ["B2B"]),
            "regions": ["GB", "IE"] if i % 5 == 0 else ([] if i % 2 else ["DE", "FR", "GB"]),
            "ships": kind != "store", "pickup": False, "safety_stock": Decimal(i % 2 * 2), "atp_rules": rules,
            "settings": {}, "active": True, "created_at": now, "updated_at": now,
        })  # fmt: skip
    return rows


def seed(engine: Engine, skus: int) -> float:
    """The locations, then every SKU at every location in one INSERT ... SELECT; returns seconds."""
    start = time.perf_counter()
    pg = engine.dialect.name == "postgresql"
    now = datetime.now(UTC)
    with write_lock(engine), engine.begin() as conn:
        conn.execute(locations.insert(), _locations(now))
        if pg:
            conn.execute(text(
                "INSERT INTO stock_levels (location_id, sku, on_hand, reserved, updated_at) "
                "SELECT l.id, 'SKU-' || lpad(g::text, 6, '0'), (g * 7 + l.id) % 40, (g + l.id) % 4, now() "
                "FROM generate_series(0, :n - 1) AS g CROSS JOIN locations AS l"
            ), {"n": skus})  # fmt: skip
        else:
            conn.execute(text(
                "WITH RECURSIVE s(g) AS (SELECT 0 UNION ALL SELECT g + 1 FROM s WHERE g < :n - 1) "
                "INSERT INTO stock_levels (location_id, sku, on_hand, reserved, updated_at) "
                "SELECT l.id, printf('SKU-%06d', g), CAST((g * 7 + l.id) % 40 AS TEXT), "
                "CAST((g + l.id) % 4 AS TEXT), :now FROM s CROSS JOIN locations AS l"
            ), {"n": skus, "now": now.isoformat(" ")})  # fmt: skip
    with engine.connect() as conn:
        conn.execute(text("ANALYZE"))
        conn.commit()
    return time.perf_counter() - start


def _timed(fn: Callable[[str], Any], keys: list[str]) -> dict[str, float]:
    for k in keys[:200]:  # warm-up: caches, pool, prepared statements
        fn(k)
    took = []
    for k in keys:
        t0 = time.perf_counter_ns()
        fn(k)
        took.append(time.perf_counter_ns() - t0)
    took.sort()
    total = sum(took) / 1e9
    return {
        "per_s": round(len(keys) / total, 1),
        "p50_ms": round(took[len(took) // 2] / 1e6, 3),
        "p99_ms": round(took[int(len(took) * 0.99)] / 1e6, 3),
    }


def _asgi_get(app: Any, key: str, path: str = "/api/v1/availability") -> Callable[[str], int]:
    """``GET <path>?<query>`` straight into the ASGI app on one event loop: the
    server's whole time for the request (key check, middleware, validation, the look-up in the
    thread pool, JSON), without an HTTP client's or a socket's."""
    loop = asyncio.new_event_loop()
    headers = [(b"authorization", f"Bearer {key}".encode())]

    async def one(query: str) -> int:
        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
                 "scheme": "http", "path": path, "raw_path": path.encode(),
                 "query_string": query.encode(), "root_path": "", "headers": headers,
                 "client": ("127.0.0.1", 50000), "server": ("bench", 80)}  # fmt: skip
        status: list[int] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])

        await app(scope, receive, send)
        return status[0]

    def call(query: str) -> int:
        status = loop.run_until_complete(one(query))
        assert status == 200, status
        return status

    return call


def measure(url: str, skus: int, lookups: int) -> dict[str, Any]:
    upgrade(url)
    settings = Settings(
        environment="test", database_url=url, secret_key="bench-atp-" + "x" * 32, log_json=False
    )
    rt = build(settings)
    engine = rt.engine
    try:
        seconds = seed(engine, skus)
        rng = random.Random(7)
        keys = [f"SKU-{rng.randrange(skus):06d}" for _ in range(lookups)]
        pg = engine.dialect.name == "postgresql"
        raw_conn = engine.raw_connection()
        try:
            cur = raw_conn.cursor()
            sql = _RAW.format(p="%s" if pg else "?")

            def raw(sku: str) -> Any:
                cur.execute(sql, (sku,))
                return cur.fetchall()

            assert len(raw(keys[0])) > 0
            floor = _timed(raw, keys)
        finally:
            raw_conn.close()

        def lookup(sku: str) -> Any:
            with reading(engine) as conn:
                return atp(conn, [sku], channel="WEB", region="GB")

        assert lookup(keys[0])[keys[0]], "the look-up found no location"
        ours = _timed(lookup, keys)
        app, key = create_app(rt), create_key(engine, "bench", ["orders:read"])
        call, health = _asgi_get(app, key), _asgi_get(app, key, "/healthz")
        api = _timed(lambda sku: call(f"sku={sku}&channel=WEB&region=GB"), keys)
        healthz = _timed(lambda _: health(""), keys)
        return {
            "seed_seconds": round(seconds, 1),
            "levels": skus * LOCATIONS,
            "raw": floor,
            "atp": ours,
            "api": api,
            "healthz": healthz,
            "atp_over_raw": round(ours["per_s"] / floor["per_s"], 3),
            "api_over_raw": round(api["per_s"] / floor["per_s"], 3),
        }
    finally:
        rt.close()


def report(results: dict[str, dict[str, Any]], skus: int) -> None:
    table = Table(
        title=f"ATP look-ups (1 SKU, channel and region rules): {skus} SKUs x {LOCATIONS} locations"
    )
    for col in ("database", "raw/s", "atp/s", "api/s", "atp p50 / p99 ms", "api p50 / p99 ms",
                "/healthz p50 / p99 ms", "atp/raw", "api/raw", "seed s"):  # fmt: skip
        table.add_column(col, justify="left" if col == "database" else "right")
    for db, r in results.items():
        colour = "green" if r["atp"]["p99_ms"] < TARGET_P99_MS else "red"
        table.add_row(db, f"{r['raw']['per_s']:.0f}", f"{r['atp']['per_s']:.0f}", f"{r['api']['per_s']:.0f}",
                      f"{r['atp']['p50_ms']:.2f} / [{colour}]{r['atp']['p99_ms']:.2f}[/]",
                      f"{r['api']['p50_ms']:.2f} / {r['api']['p99_ms']:.2f}",
                      f"{r['healthz']['p50_ms']:.2f} / {r['healthz']['p99_ms']:.2f}",
                      f"{r['atp_over_raw']:.2f}", f"{r['api_over_raw']:.2f}",
                      f"{r['seed_seconds']:.0f}")  # fmt: skip
    console.print(table)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.atp", description=__doc__.splitlines()[0])
    ap.add_argument("--skus", type=int, default=100_000, help="SKUs, each at every location (default 100000)")
    ap.add_argument("--lookups", type=int, default=5000, help="look-ups per measurement (default 5000)")
    add_database_options(ap)
    args, _ = ap.parse_known_args(argv)  # `python -m bench` passes the core benchmark's options too
    load_before = [round(x, 2) for x in os.getloadavg()]
    console.print(f"[bold]atp[/]: {args.skus} SKUs x {LOCATIONS} locations, {args.lookups} look-ups ...")
    results = on_each_database(args, lambda u: measure(u, args.skus, args.lookups))
    report(results, args.skus)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"), "skus": args.skus,
        "locations": LOCATIONS, "lookups": args.lookups, "target_p99_ms": TARGET_P99_MS,
        "cpus": os.cpu_count(),
        "load_average_before": load_before, "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "databases": results,
    }, indent=2) + "\n")  # fmt: skip
    console.print(f"written to {Path(RESULTS).relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
