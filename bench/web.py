"""The control tower's page load times, through a real ``legato serve`` on loopback.

    python -m bench.web [--requests N] [--pg-orders 1000000] [--postgres URL] [--sqlite-only]

* **SQLite, demo data**: a fresh file with ``legato demo`` loaded (500 orders). Target: every page
  under 150 ms.
* **PostgreSQL, a million orders**: a fresh database with the demo loaded, then ``--pg-orders`` more
  orders (and their lines) made by ``INSERT ... SELECT generate_series`` from the demo's orders,
  their creation spread over two years, then ``ANALYZE``. Target: every page under 300 ms.

Pages: the hub's first page, the hub filtered (status + channel + a month), an order's page, the
dashboard (today), and the operations board. Each is requested ``--requests`` times by one
keep-alive client signed in as an admin, after three warm-up requests; the figures are the
median and the 95th percentile of the wall time of each request (server and client on the same
machine). Results are printed and written to ``bench/results/web.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from rich.table import Table
from sqlalchemy import create_engine, text

from bench.core import ROOT, console, postgres_database, server, sqlite_database
from legato.bootstrap import build
from legato.config import Settings
from legato.store.migrate import upgrade
from legato.web.users import create_user

RESULTS = ROOT / "bench" / "results" / "web.json"
TARGETS_MS = {"sqlite": 150, "postgresql": 300}  # by database (a key of the results starts with it)
USER, PASSWORD = "bench-admin", "bench-password-0123"
CHUNK = 200_000  # orders per INSERT ... SELECT


def pages(now: datetime) -> dict[str, str]:
    month = (now - timedelta(days=30)).date().isoformat()
    return {
        "hub, first page": "/orders",
        "hub, filtered": f"/orders?status=processing&channel=WEB-UK&from={month}&to={now.date().isoformat()}",
        "order page": "/orders/SO-000042",
        "dashboard (today)": "/",
        "operations": "/operations",
    }


def load_demo(url: str, secret: str) -> None:
    """``legato demo`` on ``url`` (as a user would), then a bench admin who signs in."""
    env = {**os.environ, "LEGATO_DATABASE_URL": url, "LEGATO_SECRET_KEY": secret, "LEGATO_LOG_JSON": "false"}
    done = subprocess.run(
        [sys.executable, "-m", "legato.cli", "demo"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"legato demo failed:\n{done.stdout}\n{done.stderr}")
    rt = build(Settings(database_url=url, secret_key=secret, environment="test", log_json=False))
    try:
        create_user(rt.engine, USER, "admin", PASSWORD)
    finally:
        rt.close()


_ORDER_COLS = (
    "channel_id, account_id, customer_name, customer_email, customer_phone, customer, currency, "
    "billing_address, shipping_address, shipping, shipping_tax_rate, subtotal, discount_total, tax_total, "
    "grand_total, notes, points_total, pricing, status, held_from, payment_status, fulfilment_status, "
    "invoice_status, priority, tags"
)
_LINE_COLS = (
    "line_no, sku, name, quantity, unit_price, price_source, discount, tax_rate, amount, tax, total, status, "
    "price_detail"
)


#: what the history looks like: orders older than this are closed (completed, or as cancelled or
#: voided as their template), paid, shipped and invoiced; the recent ones keep every status
RECENT_DAYS = 30
SPAN_SECONDS = 730 * 86400  # the generated orders were created over the last two years


def _closed(column: str, value: str) -> str:
    """The column's value for an order of the history: ``value``, unless cancelled or voided."""
    return f"CASE WHEN o.status IN ('cancelled', 'voided') THEN o.{column} ELSE '{value}' END"


def grow(url: str, orders: int) -> float:
    """Add ``orders`` orders copied from the demo's first 500 (with their lines), ids growing with
    their creation time over the last two years; returns the seconds it took."""
    began = time.perf_counter()
    eng = create_engine(url)
    history = {
        "status": _closed("status", "completed"),
        "held_from": "NULL",
        "payment_status": _closed("payment_status", "paid"),
        "fulfilment_status": _closed("fulfilment_status", "fulfilled"),
        "invoice_status": _closed("invoice_status", "invoiced"),
    }
    old = f"src.at < now() - interval '{RECENT_DAYS} days'"
    cols = ", ".join(
        f"CASE WHEN {old} THEN {history[c]} ELSE o.{c} END" if c in history else f"o.{c}"
        for c in (c.strip() for c in _ORDER_COLS.split(","))
    )
    lines = ", ".join(f"l.{c.strip()}" for c in _LINE_COLS.split(","))
    for start in range(1, orders + 1, CHUNK):
        end = min(start + CHUNK - 1, orders)
        statement = f"""
            WITH src AS (
                SELECT g, (g % 500) + 1 AS tid,
                       now() - make_interval(secs => ({orders} - g) * {SPAN_SECONDS / orders}) AS at
                FROM generate_series({start}, {end}) AS g
            ),
            made AS (
                INSERT INTO orders (external_ref, {_ORDER_COLS}, created_at, updated_at)
                SELECT 'BENCH-' || src.g || '-' || src.tid, {cols}, src.at, src.at
                FROM src JOIN orders o ON o.id = src.tid
                RETURNING id, external_ref
            )
            INSERT INTO order_lines (order_id, {_LINE_COLS})
            SELECT made.id, {lines} FROM made
            JOIN order_lines l ON l.order_id = split_part(made.external_ref, '-', 3)::bigint
        """
        with eng.begin() as conn:
            conn.execute(text(statement))
        console.print(f"  {end:,} of {orders:,} orders", highlight=False)
    with eng.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))  # what autovacuum does to a live database
    eng.dispose()
    return time.perf_counter() - began


def signed_in(base: str) -> httpx.Client:
    """A keep-alive client signed in through the form. The server runs in production mode, so its
    cookies are Secure: they are sent by hand over loopback's plain HTTP."""
    client = httpx.Client(base_url=base, timeout=30, follow_redirects=False)
    form = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert token, form.text[:500]
    cookie = "; ".join(f"{c.name}={c.value}" for c in client.cookies.jar)
    r = client.post(
        "/login",
        data={"username": USER, "password": PASSWORD, "csrf_token": token.group(1), "next": "/"},
        headers={"Cookie": cookie},
    )
    assert r.status_code == 303, r.text[:500]
    client.headers["Cookie"] = "; ".join(f"{c.name}={c.value}" for c in client.cookies.jar)
    return client


def time_pages(base: str, requests: int) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    client = signed_in(base)
    try:
        for name, path in pages(datetime.now(UTC)).items():
            for _ in range(3):
                r = client.get(path)
                assert r.status_code == 200, f"{path}: {r.status_code} {r.text[:300]}"
            times = []
            for _ in range(requests):
                t0 = time.perf_counter()
                r = client.get(path)
                times.append((time.perf_counter() - t0) * 1000)
                assert r.status_code == 200
            times.sort()
            out[name] = {
                "median_ms": round(statistics.median(times), 1),
                "p95_ms": round(times[max(0, int(len(times) * 0.95) - 1)], 1),
                "bytes": len(r.content),
            }
    finally:
        client.close()
    return out


def measure(url: str, workdir: Path, requests: int, orders: int = 0) -> dict[str, dict[str, Any]]:
    """The pages on ``url`` with the demo (plus ``orders``), as migrated (migration 0013 holds
    the dashboard's indexes that a million orders need)."""
    secret = secrets.token_urlsafe(32)
    upgrade(url)
    load_demo(url, secret)
    result: dict[str, Any] = {"orders": 500 + orders}
    if orders:
        console.print(f"  adding {orders:,} orders with INSERT ... SELECT generate_series ...")
        result["grow_seconds"] = round(grow(url, orders), 1)
    with server(url, secret, workdir) as base:
        result["pages"] = time_pages(base, requests)
    return {"": result}


def report(results: dict[str, dict[str, Any]]) -> None:
    table = Table(title="Control tower page loads through legato serve: median / p95 ms (target)")
    table.add_column("page")
    for db in results:
        table.add_column(f"{db} ({results[db]['orders']:,} orders)", justify="right")
    names = next(iter(results.values()))["pages"].keys() if results else []
    for name in names:
        cells = []
        for db, r in results.items():
            p = r["pages"][name]
            target = TARGETS_MS[db.split(" ")[0]]
            colour = "green" if p["median_ms"] < target else "red"
            cells.append(f"[{colour}]{p['median_ms']}[/] / {p['p95_ms']} (< {target})")
        table.add_row(name, *cells)
    console.print(table)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.web", description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=30, help="timed requests per page (default 30)")
    ap.add_argument(
        "--pg-orders", type=int, default=1_000_000, help="orders added on PostgreSQL (default 1,000,000)"
    )
    ap.add_argument(
        "--postgres",
        default=os.environ.get("LEGATO_BENCH_POSTGRES_URL") or os.environ.get("LEGATO_TEST_POSTGRES_URL"),
        help="PostgreSQL server URL; a fresh database is created there and dropped afterwards",
    )
    ap.add_argument("--sqlite-only", action="store_true", help="skip PostgreSQL")
    args, _ = ap.parse_known_args(argv)  # `python -m bench` passes the core benchmark's options too
    results: dict[str, dict[str, Any]] = {}
    load_before = [round(x, 2) for x in os.getloadavg()]
    console.print(f"[bold]control tower pages[/]: {args.requests} requests per page ...")
    with sqlite_database() as (url, workdir):
        console.print("SQLite, demo data ...")
        results.update({"sqlite" + k: v for k, v in measure(url, workdir, args.requests).items()})
        if args.postgres and not args.sqlite_only:
            with postgres_database(args.postgres) as (pg_url, version):
                console.print(f"PostgreSQL {version} ...")
                measured = measure(pg_url, workdir, args.requests, args.pg_orders)
                results.update({"postgresql" + k: v for k, v in measured.items()})
        else:
            console.print("PostgreSQL: skipped (--sqlite-only, or no --postgres / LEGATO_BENCH_POSTGRES_URL)")
    report(results)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "requests": args.requests,
                "targets_ms": TARGETS_MS,
                "cpus": os.cpu_count(),
                "load_average_before": load_before,
                "load_average_after": [round(x, 2) for x in os.getloadavg()],
                "databases": results,
            },
            indent=2,
        )
        + "\n"
    )
    console.print(f"written to {Path(RESULTS).relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
