"""Spreadsheet imports: a CSV of 100,000 lines (20,000 orders of 5 lines) imported end to end,
as a ratio to the raw SQL floor, and the import's memory as the file grows.

    python -m bench.imports [--orders N] [--postgres URL] [--sqlite-only] [--mode both] [--quick]

On a fresh database per engine (as ``bench.core``: a temporary SQLite file; a new PostgreSQL
database on the server given by ``--postgres``, ``LEGATO_BENCH_POSTGRES_URL`` or
``LEGATO_TEST_POSTGRES_URL``, dropped at the end), with the core benchmark's catalogue (60
products, 30 accounts, 10 contracts), it measures:

* ``raw``: the floor. The same rows the import writes for each order (1 ``orders`` row, 5
  ``order_lines``, 1 ``order_timeline`` entry, 1 ``outbox`` event) with plain SQL INSERTs
  (``exec_driver_sql`` executemany), ``BATCH`` orders per transaction, ids taken the way the
  import takes them; the values are priced by the service's own drafting once per pattern and
  converted for the driver beforehand, so the floor is the database's and the driver's work.
  It runs in two halves, before and after the imports, so a busy machine slows both alike.
* ``import``: ``receive_file`` (the file streamed to disk, hashed, the job recorded) and
  ``run_job`` (pass 1 validates every row, pass 2 places the orders through ``place_order``
  in batches), per mode: ``valid_only`` and ``all_or_nothing`` (whose pass 1 also prices
  every order in a dry run).
* memory: the peak of Python allocations (tracemalloc) of one import on SQLite for a file
  of N/10 orders and one of N orders: the import streams, so the peak stays flat.

It prints orders/s, lines/s and the ratio import/raw (target 0.3), checks that a floor
order and an imported order of the same pattern hold the same values, and writes
``bench/results/imports.json``.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import secrets
import sys
import time
import tracemalloc
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from sqlalchemy import select, text

from bench.core import ROOT, postgres_database, seed, sqlite_database
from legato.bootstrap import Runtime, build
from legato.config import Settings
from legato.domain.catalog import Channel, ChannelType
from legato.domain.commands import LineDraft, OrderDraft
from legato.domain.matching import CustomerRef
from legato.domain.order import Address, SalesOrder
from legato.intake import imports
from legato.services.catalog import save_channel
from legato.services.drafting import draft_lines
from legato.store import mapping as m
from legato.store import tables as t
from legato.store.migrate import upgrade
from legato.store.repositories import _document_row, _state_row

RESULTS = ROOT / "bench" / "results" / "imports.json"
TARGET = 0.3
CHANNEL, LINES, PATTERNS, ACCOUNTS, PRODUCTS = "SHEETS", 5, 60, 30, 60
HEADER = ",".join(("order_ref", "customer_email", "customer_name", "sku", "quantity", "tax_rate", "ship_name",
                   "ship_line1", "ship_city", "ship_postcode", "ship_country"))  # fmt: skip
ACTOR = "bench"
console = Console(width=None if sys.stdout.isatty() else 120)


def _pattern(p: int) -> dict[str, Any]:
    a = p % ACCOUNTS
    return {
        "email": f"buyer{a:02d}@bench.example",
        "name": f"Customer {a}",
        "line1": f"{p + 1} High Street",
        "lines": [(f"SKU-{(p * 7 + k * 13) % PRODUCTS:03d}", 1 + (p + k) % 5) for k in range(LINES)],
    }


def write_csv(path: Path, n: int, prefix: str) -> int:
    """n orders of LINES lines, as a buyer's ERP would export them; returns the file's size."""
    with path.open("w", encoding="utf-8", newline="") as f:
        f.write(HEADER + "\n")
        for i in range(n):
            s = _pattern(i % PATTERNS)
            for sku, qty in s["lines"]:
                f.write(f"{prefix}-{i:06d},{s['email']},{s['name']},{sku},{qty},0.2,{s['name']},{s['line1']},"
                        "London,EC1A 1BB,GB\n")  # fmt: skip
    return path.stat().st_size


def _draft(p: int) -> OrderDraft:
    """The draft the import makes of pattern p's rows (as ``spreadsheet.to_draft`` does)."""
    s = _pattern(p)
    return OrderDraft(
        channel_code=CHANNEL,
        lines=tuple(
            LineDraft(sku, Decimal(q), None, None, Decimal(0), Decimal("0.2")) for sku, q in s["lines"]
        ),
        customer=CustomerRef(name=s["name"], email=s["email"]),
        shipping_address=Address(
            name=s["name"], line1=s["line1"], city="London", postcode="EC1A 1BB", country="GB"
        ),
    )


# --- the raw floor ---------------------------------------------------------------------------------


@dataclass
class _Template:
    order: list[Any]  # native values of every column but the per-order ones
    lines: list[list[Any]]
    payload: dict[str, Any]


class BatchFloor:
    """Plain SQL: the import's rows for n orders, BATCH orders per transaction, executemany."""

    PER_ORDER = ("id", "external_ref", "created_at", "updated_at")

    def __init__(self, rt: Runtime) -> None:
        self.rt, self.dialect = rt, rt.engine.dialect
        self.pg = self.dialect.name == "postgresql"
        self.templates = [self._template(p) for p in range(PATTERNS)]
        mark = "%s" if self.pg else "?"

        def insert(table: Any, cols: list[str]) -> str:
            return f"INSERT INTO {table.name} ({', '.join(cols)}) VALUES ({', '.join([mark] * len(cols))})"

        self.ins = {
            "orders": insert(t.orders, [*self.PER_ORDER, *self.order_cols]),
            "lines": insert(t.order_lines, ["order_id", *self.line_cols]),
            "timeline": insert(
                t.order_timeline, ["order_id", "at", "actor", "kind", "reason", "to_value", "data"]
            ),
            "outbox": insert(
                t.outbox, ["event_type", "aggregate_type", "aggregate_id", "payload", "created_at"]
            ),
        }
        self.no_data = self._native(t.order_timeline, "data", {})

    def _native(self, table: Any, name: str, value: Any) -> Any:
        proc = table.c[name].type.dialect_impl(self.dialect).bind_processor(self.dialect)
        return proc(value) if proc else value

    def _template(self, p: int) -> _Template:
        with self.rt.uow() as uow:
            d = draft_lines(uow, _draft(p))
            channel_id, account_id = d.channel.id, d.account.id if d.account else None
        o = SalesOrder(
            channel_code=CHANNEL,
            currency=d.currency,
            lines=d.lines,
            customer=d.customer,
            account_code=d.account.code if d.account else None,
            shipping_address=_draft(p).shipping_address,
            totals=d.totals,
            pricing=d.pricing,
        )
        row = {"channel_id": channel_id, "account_id": account_id, **_document_row(o), **_state_row(o),
               "quote_id": None, "inbox_id": None}  # fmt: skip
        lines = [m.line_to_row("order_id", 0, ln) for ln in o.lines]
        self.order_cols = list(row)
        self.line_cols = [k for k in lines[0] if k != "order_id"]
        payload = {"status": o.status.value, "currency": o.currency, "grand_total": str(o.totals.grand_total),
                   "account": o.account_code}  # fmt: skip
        return _Template(
            [self._native(t.orders, k, v) for k, v in row.items()],
            [[self._native(t.order_lines, k, v) for k, v in ln.items() if k != "order_id"] for ln in lines],
            payload,
        )

    def _ids(self, conn: Any, n: int) -> list[int]:
        if self.pg:
            q = text("SELECT nextval(pg_get_serial_sequence('orders', 'id')) FROM generate_series(1, :n)")
            return list(conn.execute(q, {"n": n}).scalars())
        first = conn.exec_driver_sql("SELECT coalesce(max(id), 0) + 1 FROM orders").scalar_one()
        return list(range(first, first + n))

    def run(self, start: int, n: int, prefix: str) -> float:
        """Seconds to write orders start .. start + n - 1."""
        json_native = self._native(t.outbox, "payload", {}).__class__
        with self.rt.engine.connect() as conn:
            began = time.perf_counter()
            for b in range(start, start + n, imports.BATCH):
                count = min(imports.BATCH, start + n - b)
                conn.begin()
                when = self._native(t.orders, "created_at", datetime.now(UTC))
                orders, lines, entries, events = [], [], [], []
                for i, oid in zip(range(b, b + count), self._ids(conn, count), strict=True):
                    tpl, ref = self.templates[i % PATTERNS], f"{prefix}-{i:06d}"
                    orders.append((oid, ref, when, when, *tpl.order))
                    lines.extend((oid, *ln) for ln in tpl.lines)
                    entries.append((oid, when, ACTOR, "created", f"imported from floor (rows {i})", "created",
                                    self.no_data))  # fmt: skip
                    payload = {"order_id": oid, "number": f"SO-{oid:06d}", "channel": CHANNEL, **tpl.payload,
                               "external_reference": ref}  # fmt: skip
                    events.append(("order.created", "order", oid, _json(payload, json_native), when))
                conn.exec_driver_sql(self.ins["orders"], orders)
                conn.exec_driver_sql(self.ins["lines"], lines)
                conn.exec_driver_sql(self.ins["timeline"], entries)
                conn.exec_driver_sql(self.ins["outbox"], events)
                conn.commit()
            return time.perf_counter() - began


def _json(value: Any, native: type) -> Any:
    return json.dumps(value) if native is str else native(value)


def check_floor_matches_import(rt: Runtime, floor_ref: str, import_ref: str) -> list[str]:
    """A floor order and an imported order of the same pattern hold the same values."""
    per_order = {"id", "order_id", "external_ref", "created_at", "updated_at", "at", "aggregate_id", "reason"}

    def rows(conn: Any, ref: str) -> list[dict[str, Any]]:
        o = conn.execute(select(t.orders).where(t.orders.c.external_ref == ref)).one()
        found = [dict(o._mapping)]
        for tbl, key in (
            (t.order_lines, "order_id"),
            (t.order_timeline, "order_id"),
            (t.outbox, "aggregate_id"),
        ):
            found += [
                dict(r._mapping)
                for r in conn.execute(select(tbl).where(tbl.c[key] == o.id).order_by(*tbl.primary_key))
            ]
        for r in found:
            if isinstance(r.get("payload"), dict):
                r["payload"] = {
                    k: v
                    for k, v in r["payload"].items()
                    if k not in ("order_id", "number", "external_reference")
                }
        return [{k: v for k, v in r.items() if k not in per_order} for r in found]

    with rt.engine.connect() as conn:
        floor, imported = rows(conn, floor_ref), rows(conn, import_ref)
    if len(floor) != len(imported):
        return [f"the floor writes {len(floor)} rows, the import {len(imported)}"]
    return [f"floor {a} != import {b}" for a, b in zip(floor, imported, strict=True) if a != b]


# --- one database ---------------------------------------------------------------------------------


@dataclass
class Measured:
    orders: int
    seconds: dict[str, float] = field(default_factory=dict)
    phases: dict[str, dict[str, float]] = field(default_factory=dict)
    mismatches: list[str] = field(default_factory=list)

    def rate(self, what: str) -> float:
        return self.orders / self.seconds[what]

    def as_dict(self) -> dict[str, Any]:
        raw = self.rate("raw")
        return {
            "orders_per_s": {k: round(self.rate(k), 1) for k in self.seconds},
            "lines_per_s": {k: round(self.rate(k) * LINES, 1) for k in self.seconds},
            "seconds": {k: round(v, 3) for k, v in self.seconds.items()},
            "phases": self.phases,
            "over_raw": {k: round(self.rate(k) / raw, 3) for k in self.seconds if k != "raw"},
            "floor_matches_import": not self.mismatches,
        }


def import_file(
    rt: Runtime, path: Path, mode: str, profile: cProfile.Profile | None = None
) -> dict[str, float]:
    """Seconds of each phase of one import (store, validate, import), checking it placed everything."""
    marks: dict[str, float] = {}
    began = time.perf_counter()
    job, _ = imports.receive_file(rt, CHANNEL, _chunks(path), path.name, mode=mode, actor=ACTOR)
    marks["store"] = time.perf_counter() - began

    def progress(state: str, done: int, total: int | None) -> None:
        marks.setdefault(f"_{state}", time.perf_counter())

    if profile is not None:
        profile.enable()
    done = imports.run_job(rt, job.id, progress=progress)
    if profile is not None:
        profile.disable()
    ended = time.perf_counter()
    if done.state != "done" or done.orders_rejected:
        raise RuntimeError(f"import {job.id} ended {done.state}: {done.reason} {done.errors[:3]}")
    placing = marks.get("_importing", ended)
    marks["validate"] = placing - began - marks["store"]
    marks["import"] = ended - placing
    marks.pop("_validating", None)
    marks.pop("_importing", None)
    return marks


def _chunks(path: Path) -> Any:
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            yield chunk


def measure(url: str, n: int, modes: list[str], workdir: Path, profile: cProfile.Profile | None) -> Measured:
    upgrade(url)
    settings = Settings(environment="production", database_url=url, secret_key=secrets.token_urlsafe(48),
                        log_json=False, import_dir=workdir / "imports")  # fmt: skip
    rt = build(settings)
    try:
        seed(rt)
        save_channel(
            rt.uow(), Channel(CHANNEL, "Bench sheets", ChannelType.B2B, "spreadsheet", "GBP"), create=True
        )
        floor = BatchFloor(rt)
        result = Measured(n)
        files = {mode: workdir / f"{mode}.csv" for mode in modes}
        for mode, path in files.items():
            write_csv(path, n, mode.upper())
        warm = workdir / "warm.csv"
        write_csv(warm, max(PATTERNS, n // 50), "WARM")
        import_file(rt, warm, "valid_only")
        floor.run(0, max(PATTERNS, n // 50), "RAW-WARM")
        result.seconds["raw"] = floor.run(0, n // 2, "RAW")
        for mode, path in files.items():
            result.phases[mode] = {k: round(v, 3) for k, v in import_file(rt, path, mode, profile).items()}
            result.seconds[mode] = sum(result.phases[mode].values())
        result.seconds["raw"] += floor.run(n // 2, n - n // 2, "RAW")
        result.mismatches = check_floor_matches_import(rt, "RAW-000007", f"{modes[0].upper()}-000007")
        return result
    finally:
        rt.close()


def measure_memory(small: int, big: int) -> dict[str, float]:
    """Peak Python allocations (KiB) of importing a file of ``small`` and of ``big`` orders."""
    peaks: dict[str, float] = {}
    with sqlite_database() as (url, workdir):
        upgrade(url)
        rt = build(Settings(environment="test", database_url=url, secret_key=secrets.token_urlsafe(48),
                            log_json=False, import_dir=workdir / "imports"))  # fmt: skip
        try:
            seed(rt)
            save_channel(
                rt.uow(), Channel(CHANNEL, "Sheets", ChannelType.B2B, "spreadsheet", "GBP"), create=True
            )
            for n in (small, big):
                path = workdir / f"memory-{n}.csv"
                size = write_csv(path, n, f"M{n}")
                job, _ = imports.receive_file(
                    rt, CHANNEL, _chunks(path), path.name, mode="valid_only", actor=ACTOR
                )
                tracemalloc.start()
                imports.run_job(rt, job.id)
                peak = tracemalloc.get_traced_memory()[1]
                tracemalloc.stop()
                peaks[f"{n * LINES} lines ({size // 1024} KiB file)"] = round(peak / 1024, 1)
        finally:
            rt.close()
    return peaks


# --- output ----------------------------------------------------------------------------------------


def report(results: dict[str, Measured], memory: dict[str, float]) -> None:
    modes = [k for k in next(iter(results.values())).seconds if k != "raw"]
    n = next(iter(results.values())).orders
    table = Table(
        title=f"Spreadsheet import of {n} orders x {LINES} lines: orders/s (lines/s), ratio to the raw floor"
    )
    table.add_column("database")
    table.add_column("raw/s", justify="right")
    for mode in modes:
        table.add_column(f"{mode}/s", justify="right")
        table.add_column(f"{mode}/raw", justify="right")
    for db, r in results.items():
        cells = [db, f"{r.rate('raw'):.0f} ({r.rate('raw') * LINES:.0f})"]
        for mode in modes:
            ratio = r.rate(mode) / r.rate("raw")
            colour = "green" if ratio >= TARGET else "red"
            cells += [
                f"{r.rate(mode):.0f} ({r.rate(mode) * LINES:.0f})",
                f"[{colour}]{ratio:.2f}[/] (target {TARGET})",
            ]
        table.add_row(*cells)
    console.print(table)
    for db, r in results.items():
        phases = "; ".join(
            f"{mode}: " + ", ".join(f"{k} {v:.2f} s" for k, v in p.items()) for mode, p in r.phases.items()
        )
        console.print(f"{db} phases - {phases}", highlight=False)
        for problem in r.mismatches:
            console.print(f"[bold red]{db}: the floor writes other values than the import:[/] {problem}")
    if memory:
        sizes = list(memory.items())
        growth = sizes[-1][1] / sizes[0][1] if sizes[0][1] else 0
        larger = int(sizes[-1][0].split()[0]) / int(sizes[0][0].split()[0])
        peaks = ", ".join(f"{k}: {v:.0f} KiB" for k, v in sizes)
        console.print(f"peak Python memory of one import (tracemalloc): {peaks} - x{growth:.2f} for a file "
                      f"{larger:.0f} times larger", highlight=False)  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.imports", description=__doc__.split("\n\n")[0])
    ap.add_argument("--orders", type=int, default=20_000, help=f"orders of {LINES} lines (default 20000)")
    ap.add_argument(
        "--postgres",
        default=os.environ.get("LEGATO_BENCH_POSTGRES_URL") or os.environ.get("LEGATO_TEST_POSTGRES_URL"),
    )
    ap.add_argument("--sqlite-only", action="store_true")
    ap.add_argument("--mode", choices=["both", "valid_only", "all_or_nothing"], default="both")
    ap.add_argument(
        "--quick", action="store_true", help="a smoke test: 600 orders, SQLite, small memory check"
    )
    ap.add_argument("--no-memory", action="store_true", help="skip the memory measurement")
    ap.add_argument("--profile", action="store_true", help="cProfile the imports and print the top 30")
    args = ap.parse_args(argv)
    n = 600 if args.quick else args.orders
    modes = ["valid_only", "all_or_nothing"] if args.mode == "both" else [args.mode]
    prof = cProfile.Profile() if args.profile else None
    results: dict[str, Measured] = {}
    began = time.perf_counter()
    with sqlite_database() as (url, workdir):
        console.print(f"[bold]sqlite[/]: {n} orders of {LINES} lines, {', '.join(modes)} ...")
        results["sqlite"] = measure(url, n, modes, workdir, prof)
        if args.postgres and not (args.sqlite_only or args.quick):
            with postgres_database(args.postgres) as (pg_url, _):
                console.print(f"[bold]postgresql[/]: {n} orders of {LINES} lines, {', '.join(modes)} ...")
                results["postgresql"] = measure(pg_url, n, modes, workdir, prof)
    # below two batches the peak still grows with the batch: compare from there
    small = max(n // 10, 2 * imports.BATCH)
    memory = {} if args.no_memory else measure_memory(small, max(n, 3 * small))
    report(results, memory)
    if prof is not None:
        pstats.Stats(prof).sort_stats("tottime").print_stats(30)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"), "orders": n, "lines": n * LINES,
        "batch": imports.BATCH, "target": TARGET, "load_average": [round(x, 2) for x in os.getloadavg()],
        "wall_seconds": round(time.perf_counter() - began, 1),
        "databases": {k: v.as_dict() for k, v in results.items()}, "memory_peak_kib": memory,
    }, indent=2) + "\n")  # fmt: skip
    console.print(f"written to {RESULTS.relative_to(ROOT)}")
    return 0 if all(not r.mismatches for r in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
