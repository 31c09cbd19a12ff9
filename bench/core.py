"""The core benchmark: placing orders, as ratios to what the database alone can do.

    python -m bench.core [--orders N] [--postgres URL] [--sqlite-only] [--threads 4] [--profile]

On one fresh database per engine (a temporary SQLite file; a new PostgreSQL database on
the server given by ``--postgres``, ``LEGATO_BENCH_POSTGRES_URL`` or
``LEGATO_TEST_POSTGRES_URL``, dropped at the end) it measures, in orders per second:

* ``raw``: the floor. One transaction per order writing the rows the service writes
  (1 order, 3 lines, 1 timeline entry, 1 outbox event) with plain SQL through the same
  driver and the same engine set-up (``make_engine``: WAL and BEGIN IMMEDIATE on
  SQLite), with no lookups, on one held connection.
* ``service``: ``legato.services.orders.place_order``: match the customer by email
  among 30 accounts, price 3 lines (a third of the accounts have a contract), store
  the order, its timeline entry and its outbox event.
* ``http``: ``POST /api/v1/orders`` to a real ``legato serve`` on loopback, from a few
  client threads with keep-alive.

The three alternate in rounds on the same database, so a busy machine slows all of
them alike. It prints the figures and the ratios service/raw and http/raw, counts the
SQL statements of one ``place_order`` (3 and 50 lines, and a re-delivery), and writes
everything to ``bench/results/core.json``.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import platform
import pstats
import secrets
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table
from sqlalchemy import JSON, create_engine, select, text
from sqlalchemy.engine import make_url

from legato.bootstrap import Runtime, build
from legato.config import Settings
from legato.domain.catalog import Account, Channel, ChannelType, Pricelist, PricelistKind, Product
from legato.domain.commands import LineDraft, OrderDraft, PlaceOrder
from legato.domain.matching import CustomerRef
from legato.domain.order import Address, SalesOrder
from legato.services.catalog import save_account, save_channel, save_pricelist, save_product
from legato.services.drafting import draft_lines
from legato.services.orders import place_order
from legato.store import mapping as m
from legato.store import tables as t
from legato.store.apikeys import create_key
from legato.store.db import normalise_url, recording_statements
from legato.store.migrate import upgrade
from legato.store.types import Dec, UTCDateTime

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "core.json"
TARGETS = {"service_over_raw": 0.5, "http_over_raw": 0.35}
CHANNEL, ACCOUNTS, CONTRACTED, PRODUCTS, LINES = "BENCH", 30, 10, 60, 3
PATTERNS = 60  # order i has the customer, SKUs and quantities of order i % PATTERNS
ROUNDS = 4  # raw, service and http alternate in this many rounds
ACTOR = "bench"
console = Console(width=None if sys.stdout.isatty() else 120)


# --- the world: one channel, 60 products, 10 contracts, 30 accounts --------------------------


def seed(rt: Runtime) -> None:
    """The catalogue, through the same use cases a real caller uses."""
    save_channel(
        rt.uow(),
        Channel(
            CHANNEL,
            "Bench shop",
            ChannelType.ECOMMERCE,
            "rest",
            "GBP",
            secrets={"webhook_secret": "bench-secret"},
        ),
        create=True,
    )
    for p in range(PRODUCTS):
        price = Decimal(300 + 137 * p).scaleb(-2)
        save_product(
            rt.uow(),
            Product(
                f"SKU-{p:03d}",
                f"Product {p}",
                category="bench",
                prices={"GBP": price, "EUR": price * Decimal("1.15")},
            ),
            create=True,
        )
    for c in range(CONTRACTED):
        percent = c % 2 == 0
        items = {f"SKU-{p:03d}": Decimal(250 + 100 * p + c).scaleb(-2) for p in range(c, PRODUCTS, 3)}
        save_pricelist(
            rt.uow(),
            Pricelist(
                f"CONTRACT-{c:02d}",
                f"Contract {c}",
                "GBP",
                PricelistKind.PERCENT_OFF if percent else PricelistKind.FIXED,
                Decimal("7.5") if percent else Decimal(0),
                items,
            ),
            create=True,
        )
    for a in range(ACCOUNTS):
        save_account(
            rt.uow(),
            Account(
                f"ACC-{a:02d}",
                f"Customer {a}",
                email=f"buyer{a:02d}@bench.example",
                phone=f"+44 20 7946 {a:04d}",
                currency="GBP",
                tier="gold" if a < 5 else None,
                pricelist_code=f"CONTRACT-{a:02d}" if a < CONTRACTED else None,
            ),
            create=True,
        )


def _spec(i: int, lines: int) -> dict[str, Any]:
    """Order i's content as plain values, shared by the service drafts and the HTTP bodies."""
    p = i % PATTERNS
    a = p % ACCOUNTS
    skus = (
        [f"SKU-{k:03d}" for k in range(lines)]
        if lines > LINES
        else [f"SKU-{(p * 7 + k * 13) % PRODUCTS:03d}" for k in range(lines)]
    )
    return {
        "email": f"Buyer{a:02d}@Bench.example",
        "name": f"Customer {a}",
        "lines": [(sku, Decimal(1 + (p + k) % 5), Decimal("0.20")) for k, sku in enumerate(skus)],
        "address": {
            "name": f"Customer {a}",
            "line1": f"{p + 1} High Street",
            "city": "London",
            "postcode": "EC1A 1BB",
            "country": "GB",
        },
    }


def draft(i: int, ref: str | None, lines: int = LINES) -> OrderDraft:
    s = _spec(i, lines)
    return OrderDraft(
        channel_code=CHANNEL,
        external_reference=ref,
        customer=CustomerRef(name=s["name"], email=s["email"]),
        lines=tuple(LineDraft(sku, qty, tax_rate=rate) for sku, qty, rate in s["lines"]),
        shipping_address=Address(**s["address"]),
        shipping=Decimal("4.95"),
        shipping_tax_rate=Decimal("0.20"),
    )


def body(i: int, ref: str) -> bytes:
    s = _spec(i, LINES)
    return json.dumps(
        {
            "channel": CHANNEL,
            "external_reference": ref,
            "customer": {"name": s["name"], "email": s["email"]},
            "lines": [
                {"sku": sku, "quantity": str(qty), "tax_rate": str(rate)} for sku, qty, rate in s["lines"]
            ],
            "shipping_address": s["address"],
            "shipping": "4.95",
            "shipping_tax_rate": "0.20",
        }
    ).encode()


# --- (a) the raw floor -----------------------------------------------------------------------


@dataclass
class Template:
    """What the service writes for one order pattern, as values for the driver."""

    order: tuple[Any, ...]
    lines: list[tuple[Any, ...]]
    payload: dict[str, Any]


class RawFloor:
    """Writes orders with plain SQL, one transaction each, on one held connection."""

    TIMELINE = ["order_id", "at", "actor", "kind", "reason", "from_value", "to_value", "data"]
    OUTBOX = ["event_type", "aggregate_type", "aggregate_id", "payload", "created_at"]

    def __init__(self, rt: Runtime) -> None:
        self.rt, self.sqlite = rt, rt.engine.dialect.name == "sqlite"
        self.templates = [self._template(p) for p in range(PATTERNS)]
        self.ins_order = self._insert(t.orders, self.order_cols) + " RETURNING id"
        self.ins_lines = self._insert(t.order_lines, self.line_cols)
        self.ins_timeline = self._insert(t.order_timeline, self.TIMELINE)
        self.ins_outbox = self._insert(t.outbox, self.OUTBOX)
        self.no_data = self._native(t.order_timeline, "data", {})

    def _native(self, table: Any, name: str, value: Any) -> Any:
        """A value as SQLAlchemy hands it to the driver: decimal strings, naive UTC text and
        JSON text on SQLite; Decimal (NUMERIC), aware datetimes and Jsonb on PostgreSQL."""
        typ = table.c[name].type
        if isinstance(typ, JSON):
            if self.sqlite:
                return json.dumps(value)
            from psycopg.types.json import Jsonb

            return Jsonb(value)
        if value is None:
            return None
        if isinstance(typ, Dec):
            return format(Decimal(value), "f") if self.sqlite else Decimal(value)
        if isinstance(typ, UTCDateTime):
            return self._when(value)
        return value

    def _when(self, at: datetime) -> Any:
        if not self.sqlite:
            return at
        u = at.astimezone(UTC)
        return f"{u:%Y-%m-%d %H:%M:%S}.{u.microsecond:06d}"

    def _insert(self, table: Any, cols: list[str]) -> str:
        marks = ", ".join(["?" if self.sqlite else "%s"] * len(cols))
        return f"INSERT INTO {table.name} ({', '.join(cols)}) VALUES ({marks})"

    def _template(self, p: int) -> Template:
        """Price pattern p with the service's own drafting (read only), then map the result to
        rows as ``SqlOrders.add`` / ``save`` and ``SqlOutbox.add`` do."""
        d0 = draft(p, None)
        with self.rt.uow() as uow:
            d = draft_lines(uow, d0)
        o = SalesOrder(
            channel_code=CHANNEL,
            currency=d.currency,
            lines=d.lines,
            customer=d.customer,
            account_code=d.account.code if d.account else None,
            shipping_address=d0.shipping_address,
            shipping=d0.shipping,
            shipping_tax_rate=d0.shipping_tax_rate,
            totals=d.totals,
        )
        row = {
            "channel_id": d.channel.id,
            "account_id": d.account.id if d.account else None,
            **m.customer_to_row(o.customer),
            "currency": o.currency,
            "billing_address": None,
            "shipping_address": m.address_to_row(o.shipping_address),
            "shipping_tax_rate": o.shipping_tax_rate,
            **m.totals_to_row(o.totals),
            "notes": None,
            "status": o.status.value,
            "held_from": None,
            "payment_status": o.payment_status.value,
            "fulfilment_status": o.fulfilment_status.value,
            "invoice_status": o.invoice_status.value,
            "priority": 0,
            "tags": [],
            "quote_id": None,
        }
        lines = [m.line_to_row("order_id", 0, ln) for ln in o.lines]
        self.order_cols = ["external_ref", "created_at", "updated_at", *row]
        self.line_cols = list(lines[0])
        return Template(
            tuple(self._native(t.orders, k, v) for k, v in row.items()),
            [
                tuple(self._native(t.order_lines, k, v) for k, v in ln.items() if k != "order_id")
                for ln in lines
            ],
            {
                "status": o.status.value,
                "currency": o.currency,
                "grand_total": str(o.totals.grand_total),
                "account": o.account_code,
            },
        )

    def run(self, n: int, start: int, prefix: str) -> float:
        """Seconds to write orders start .. start + n - 1."""
        with self.rt.engine.connect() as conn:
            began = time.perf_counter()
            for i in range(start, start + n):
                tpl, ref, now = self.templates[i % PATTERNS], f"{prefix}-{i}", self._when(datetime.now(UTC))
                conn.begin()
                oid = conn.exec_driver_sql(self.ins_order, (ref, now, now, *tpl.order)).scalar_one()
                conn.exec_driver_sql(self.ins_lines, [(oid, *ln) for ln in tpl.lines])
                conn.exec_driver_sql(
                    self.ins_timeline, (oid, now, ACTOR, "created", None, None, "created", self.no_data)
                )
                payload = {
                    "order_id": oid,
                    "number": f"SO-{oid:06d}",
                    "channel": CHANNEL,
                    **tpl.payload,
                    "external_reference": ref,
                }
                conn.exec_driver_sql(
                    self.ins_outbox,
                    ("order.created", "order", oid, self._native(t.outbox, "payload", payload), now),
                )
                conn.commit()
            return time.perf_counter() - began


# --- (b) the service layer -------------------------------------------------------------------


def run_service(
    rt: Runtime, n: int, start: int, prefix: str, profile: cProfile.Profile | None = None
) -> float:
    cmds = [PlaceOrder(draft(i, f"{prefix}-{i}"), ACTOR) for i in range(start, start + n)]
    if profile is not None:
        profile.enable()
    began = time.perf_counter()
    for cmd in cmds:
        if not place_order(rt.uow(), cmd).created:
            raise RuntimeError(f"{cmd.draft.external_reference} was not created")
    elapsed = time.perf_counter() - began
    if profile is not None:
        profile.disable()
    return elapsed


# --- (c) HTTP against a real server ----------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def server(url: str, secret: str, logdir: Path) -> Iterator[str]:
    """``legato serve`` (one process) on loopback against ``url``; yields its base URL."""
    port = _free_port()
    env = {
        **os.environ,
        "LEGATO_DATABASE_URL": url,
        "LEGATO_LOG_LEVEL": "WARNING",
        "LEGATO_SECRET_KEY": secret,
        "LEGATO_ENVIRONMENT": "production",
    }
    log_path = logdir / f"server-{port}.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "legato.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )
    base = f"http://127.0.0.1:{port}"

    def fail(why: str) -> RuntimeError:
        tail = log_path.read_text(errors="replace")[-2000:]
        return RuntimeError(f"the server {why}; its output:\n{tail}")

    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise fail(f"exited with {proc.returncode}")
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise fail("did not answer /healthz within 60 s")
            time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def post_all(base: str, path: str, requests: list[tuple[bytes, dict[str, str]]], threads: int) -> float:
    """Seconds for ``threads`` keep-alive clients to POST every (body, headers) to ``path``,
    each expecting 201; connections are opened before the clock starts."""
    failures: list[str] = []
    gate = threading.Barrier(threads + 1)

    def client(part: list[tuple[bytes, dict[str, str]]]) -> None:
        with httpx.Client(base_url=base, timeout=60) as c:
            c.get("/healthz")  # connect before the clock starts
            gate.wait()
            for b, headers in part:
                r = c.post(path, content=b, headers=headers)
                if r.status_code != 201:
                    failures.append(f"{r.status_code} {r.text[:300]}")
                    return

    workers = [threading.Thread(target=client, args=(requests[k::threads],)) for k in range(threads)]
    for w in workers:
        w.start()
    gate.wait()
    began = time.perf_counter()
    for w in workers:
        w.join()
    elapsed = time.perf_counter() - began
    if failures:
        raise RuntimeError(f"{len(failures)} request(s) to {path} failed, first: {failures[0]}")
    return elapsed


def run_http(base: str, key: str, n: int, start: int, prefix: str, threads: int) -> float:
    """Seconds for ``threads`` keep-alive clients to POST orders start .. start + n - 1."""
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    return post_all(
        base,
        "/api/v1/orders",
        [(body(i, f"{prefix}-{i}"), headers) for i in range(start, start + n)],
        threads,
    )


# --- statement counts ------------------------------------------------------------------------


def count_statements(rt: Runtime) -> dict[str, int]:
    """Statements of one place_order (for a contracted account) with 3 and 50 lines, and of a
    re-delivery of the first, with how many of those write."""
    counts = {}
    for lines in (3, 50):
        with recording_statements(rt.engine) as seen:
            place_order(rt.uow(), PlaceOrder(draft(1, f"COUNT-{lines}", lines), ACTOR))
        counts[f"place_{lines}_lines"] = len(seen)
    with recording_statements(rt.engine) as seen:
        place_order(rt.uow(), PlaceOrder(draft(1, "COUNT-3", 3), ACTOR))
    counts["redelivery"] = len(seen)
    counts["redelivery_writes"] = sum(
        s.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE")) for s in seen
    )
    return counts


def check_floor_matches_service(rt: Runtime) -> list[str]:
    """The floor must write what the service writes: RAW-7 and SVC-7, column by column."""
    # published_at: set when the workflow engine (in the serving process) dispatches the event
    per_order = {"id", "order_id", "external_ref", "created_at", "updated_at", "at", "aggregate_id",
                 "published_at"}  # fmt: skip

    def rows(conn: Any, ref: str) -> list[dict[str, Any]]:
        o = conn.execute(select(t.orders).where(t.orders.c.external_ref == ref)).one()
        found = [dict(o._mapping)]
        children = ((t.order_lines, "order_id"), (t.order_timeline, "order_id"), (t.outbox, "aggregate_id"))
        for tbl, key in children:
            q = select(tbl).where(tbl.c[key] == o.id).order_by(*tbl.primary_key)
            found += [dict(r._mapping) for r in conn.execute(q)]
        for r in found:
            if isinstance(r.get("payload"), dict):
                r["payload"] = {
                    k: v
                    for k, v in r["payload"].items()
                    if k not in ("order_id", "number", "external_reference")
                }
        return [{k: v for k, v in r.items() if k not in per_order} for r in found]

    with rt.engine.connect() as conn:
        raw, svc = rows(conn, "RAW-7"), rows(conn, "SVC-7")
    if len(raw) != len(svc):
        return [f"raw writes {len(raw)} rows, the service {len(svc)}"]
    return [f"raw {a} != service {b}" for a, b in zip(raw, svc, strict=True) if a != b]


# --- one database, start to finish -----------------------------------------------------------


@dataclass
class Measured:
    orders: int
    seconds: dict[str, float] = field(default_factory=lambda: dict.fromkeys(("raw", "service", "http"), 0.0))
    statements: dict[str, int] = field(default_factory=dict)
    mismatches: list[str] = field(default_factory=list)

    def rate(self, what: str) -> float:
        return self.orders / self.seconds[what]

    def as_dict(self) -> dict[str, Any]:
        raw = self.rate("raw")
        return {
            "orders_per_s": {k: round(self.rate(k), 1) for k in self.seconds},
            "seconds": {k: round(v, 3) for k, v in self.seconds.items()},
            "service_over_raw": round(self.rate("service") / raw, 3),
            "http_over_raw": round(self.rate("http") / raw, 3),
            "statements": self.statements,
            "floor_matches_service": not self.mismatches,
        }


def measure(url: str, n: int, threads: int, workdir: Path, profile: cProfile.Profile | None) -> Measured:
    upgrade(url)
    secret = secrets.token_urlsafe(48)
    rt = build(Settings(environment="production", database_url=url, secret_key=secret, log_json=False))
    try:
        seed(rt)
        floor = RawFloor(rt)
        key = create_key(rt.engine, "bench", ["orders:write"])
        chunk = max(1, n // ROUNDS)
        result = Measured(chunk * ROUNDS)
        with server(url, secret, workdir) as base:
            warm = max(50, n // 40)
            floor.run(warm, 0, "RAW-WARM")
            run_service(rt, warm, 0, "SVC-WARM")
            run_http(base, key, warm, 0, "HTTP-WARM", threads)
            for r in range(ROUNDS):
                result.seconds["raw"] += floor.run(chunk, r * chunk, "RAW")
                result.seconds["service"] += run_service(rt, chunk, r * chunk, "SVC", profile)
                result.seconds["http"] += run_http(base, key, chunk, r * chunk, "HTTP", threads)
        result.statements = count_statements(rt)
        result.mismatches = check_floor_matches_service(rt)
        return result
    finally:
        rt.close()


def add_database_options(ap: argparse.ArgumentParser) -> None:
    """``--postgres URL`` and ``--sqlite-only``, as every benchmark takes them."""
    ap.add_argument(
        "--postgres",
        default=os.environ.get("LEGATO_BENCH_POSTGRES_URL") or os.environ.get("LEGATO_TEST_POSTGRES_URL"),
        help="PostgreSQL server URL; a fresh database is created there and dropped afterwards",
    )
    ap.add_argument("--sqlite-only", action="store_true", help="skip PostgreSQL")


def on_each_database(
    args: argparse.Namespace, measure: Callable[[str], dict[str, Any]]
) -> dict[str, dict[str, Any]]:
    """``measure(url)`` on a fresh SQLite file, then (unless skipped) a fresh PostgreSQL database."""
    results: dict[str, dict[str, Any]] = {}
    with sqlite_database() as (url, _):
        results["sqlite"] = measure(url)
    if args.postgres and not args.sqlite_only:
        with postgres_database(args.postgres) as (pg_url, _):
            results["postgresql"] = measure(pg_url)
    else:
        console.print("PostgreSQL: skipped (--sqlite-only, or no --postgres / LEGATO_BENCH_POSTGRES_URL)")
    return results


@contextmanager
def sqlite_database() -> Iterator[tuple[str, Path]]:
    d = Path(tempfile.mkdtemp(prefix="legato-bench-"))
    try:
        yield f"sqlite:///{d / 'bench.db'}", d
    finally:
        shutil.rmtree(d, ignore_errors=True)


@contextmanager
def postgres_database(server_url: str) -> Iterator[tuple[str, str]]:
    """A new database on the server, dropped afterwards; yields its URL and the server version."""
    admin = make_url(normalise_url(server_url))
    name = f"legato_bench_{uuid.uuid4().hex[:10]}"
    eng = create_engine(admin, isolation_level="AUTOCOMMIT")
    with eng.connect() as conn:
        version = str(conn.execute(text("show server_version")).scalar_one())
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin.set(database=name).render_as_string(hide_password=False), version
    finally:
        with eng.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        eng.dispose()


# --- output ----------------------------------------------------------------------------------


def report(results: dict[str, Measured], threads: int) -> None:
    table = Table(
        title=f"Placing orders of {LINES} lines: orders/s, and ratios to the raw floor "
        f"(http: {threads} client threads, one server process)"
    )
    for col in (
        "database",
        "raw/s",
        "service/s",
        "http/s",
        "service/raw",
        "http/raw",
        "statements 3 / 50 lines / re-delivery",
    ):
        table.add_column(col, justify="left" if col == "database" else "right")

    def ratio(v: float, target: float) -> str:
        return f"[{'green' if v >= target else 'red'}]{v:.2f}[/] (target {target})"

    for db, r in results.items():
        d, st = r.as_dict(), r.statements
        rates = d["orders_per_s"]
        table.add_row(
            db,
            f"{rates['raw']:.0f}",
            f"{rates['service']:.0f}",
            f"{rates['http']:.0f}",
            ratio(d["service_over_raw"], TARGETS["service_over_raw"]),
            ratio(d["http_over_raw"], TARGETS["http_over_raw"]),
            f"{st['place_3_lines']} / {st['place_50_lines']} / {st['redelivery']}",
        )
    console.print(table)
    for db, r in results.items():
        for problem in r.mismatches:
            console.print(f"[bold red]{db}: the raw floor writes other values than the service:[/] {problem}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m bench.core",
        description="Order placement: raw SQL floor, service layer and HTTP, as orders/s and ratios.",
    )
    ap.add_argument("--orders", type=int, default=2000, help="orders per measurement (default 2000)")
    ap.add_argument(
        "--postgres",
        default=os.environ.get("LEGATO_BENCH_POSTGRES_URL") or os.environ.get("LEGATO_TEST_POSTGRES_URL"),
        help="PostgreSQL server URL; a fresh database is created there and dropped afterwards",
    )
    ap.add_argument("--sqlite-only", action="store_true", help="skip PostgreSQL")
    ap.add_argument("--threads", type=int, default=4, help="HTTP client threads (default 4)")
    ap.add_argument("--profile", action="store_true", help="cProfile the service phase")
    args = ap.parse_args(argv)

    results: dict[str, Measured] = {}
    profiles: dict[str, cProfile.Profile] = {}
    env: dict[str, Any] = {
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "sqlite": sqlite3.sqlite_version,
        "load_average_before": [round(x, 2) for x in os.getloadavg()],
    }
    began = time.perf_counter()

    def run(name: str, url: str, workdir: Path) -> None:
        console.print(f"[bold]{name}[/]: {args.orders} orders per measurement, in {ROUNDS} rounds ...")
        prof = cProfile.Profile() if args.profile else None
        results[name] = measure(url, args.orders, args.threads, workdir, prof)
        if prof is not None:
            profiles[name] = prof

    with sqlite_database() as (url, workdir):
        run("sqlite", url, workdir)
        if args.sqlite_only:
            console.print("PostgreSQL: skipped (--sqlite-only)")
        elif not args.postgres:
            console.print(
                "[yellow]PostgreSQL: skipped[/]: give --postgres URL or set LEGATO_BENCH_POSTGRES_URL"
            )
        else:
            with postgres_database(args.postgres) as (pg_url, version):
                env["postgresql"] = version
                run("postgresql", pg_url, workdir)

    env["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    env["wall_seconds"] = round(time.perf_counter() - began, 1)
    report(results, args.threads)
    busy = max(env["load_average_before"][0], env["load_average_after"][0])
    if busy > (os.cpu_count() or 1) * 0.5:
        console.print(
            f"[yellow]note:[/] load average {busy} on {os.cpu_count()} CPUs: other work was "
            "running; the ratios hold better than the absolute figures"
        )
    for name, prof in profiles.items():
        console.print(f"\n[bold]{name}: profile of the service phase[/] (top 30 by own time)")
        pstats.Stats(prof).sort_stats(os.environ.get("LEGATO_BENCH_SORT", "tottime")).print_stats(30)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "orders": args.orders,
                "lines_per_order": LINES,
                "http_client_threads": args.threads,
                "http_server": "legato serve, 1 process",
                "targets": TARGETS,
                "environment": env,
                "databases": {k: v.as_dict() for k, v in results.items()},
            },
            indent=2,
        )
        + "\n"
    )
    console.print(f"written to {RESULTS.relative_to(ROOT)} ({env['wall_seconds']} s)")
    return 0 if all(not r.mismatches for r in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
