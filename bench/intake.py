"""Intake benchmark: Shopify-shaped webhooks per second through HTTP, end to end (verify,
inbox, parse, enrich, create), as a ratio to the core's POST /api/v1/orders and to the raw
SQL floor, all in the same run on the same database.

    python -m bench.intake [--orders N] [--postgres URL] [--sqlite-only] [--threads N]

Target (issue 4): shopify/core >= 0.7.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import os
import secrets
import sys
from decimal import Decimal
from pathlib import Path

from rich.console import Console
from rich.table import Table

from bench.core import (
    ROOT,
    RawFloor,
    _spec,
    post_all,
    postgres_database,
    run_http,
    seed,
    server,
    sqlite_database,
)
from legato.bootstrap import build
from legato.config import Settings
from legato.domain.catalog import Channel, ChannelSettings, ChannelType, PricePolicy
from legato.services.catalog import save_channel
from legato.store.apikeys import create_key
from legato.store.migrate import upgrade

RESULTS = ROOT / "bench" / "results" / "intake.json"
TARGET = 0.7
SHOP_SECRET = "bench-shopify-secret"
ROUNDS = 3
console = Console()


def shopify_order(i: int) -> bytes:
    """Order i (the same customer and lines as the core benchmark's) as Shopify's orders/create."""
    s = _spec(i, 3)
    items = []
    for k, (sku, qty, rate) in enumerate(s["lines"]):
        price = Decimal(300 + 137 * int(sku[-3:])).scaleb(-2)
        tax = (price * qty * rate).quantize(Decimal("0.01"))
        items.append(
            {
                "id": 10_000_000 + i * 10 + k,
                "variant_id": 40_000 + int(sku[-3:]),
                "product_id": 7_000 + int(sku[-3:]),
                "sku": sku,
                "title": f"Product {int(sku[-3:])}",
                "quantity": int(qty),
                "price": str(price),
                "total_discount": "0.00",
                "discount_allocations": [],
                "taxable": True,
                "price_set": {
                    "shop_money": {"amount": str(price), "currency_code": "GBP"},
                    "presentment_money": {"amount": str(price), "currency_code": "GBP"},
                },
                "tax_lines": [{"title": "VAT", "rate": float(rate), "price": str(tax)}],
            }
        )
    a = s["address"]
    address = {
        "first_name": "Customer",
        "last_name": s["name"].split()[-1],
        "address1": a["line1"],
        "city": a["city"],
        "zip": a["postcode"],
        "country_code": a["country"],
        "country": "United Kingdom",
    }
    order = {
        "id": 5_000_000_000 + i,
        "name": f"#{1000 + i}",
        "order_number": 1000 + i,
        "email": s["email"],
        "currency": "GBP",
        "presentment_currency": "GBP",
        "taxes_included": False,
        "financial_status": "paid",
        "created_at": "2026-11-23T10:00:00+00:00",
        "line_items": items,
        "customer": {
            "id": 900 + i % 30,
            "email": s["email"],
            "first_name": "Customer",
            "last_name": s["name"],
        },
        "billing_address": address,
        "shipping_address": address,
        "discount_codes": [],
        "tags": "",
        "shipping_lines": [
            {
                "title": "Standard",
                "price": "4.95",
                "code": "STD",
                "tax_lines": [{"title": "VAT", "rate": 0.2, "price": "0.99"}],
            }
        ],
    }
    return json.dumps(order).encode()


def run_shopify(base: str, n: int, start: int, threads: int) -> float:
    requests = []
    for i in range(start, start + n):
        b = shopify_order(i)
        sig = base64.b64encode(hmac.new(SHOP_SECRET.encode(), b, hashlib.sha256).digest()).decode()
        headers = {
            "Content-Type": "application/json",
            "X-Shopify-Topic": "orders/create",
            "X-Shopify-Hmac-Sha256": sig,
            "X-Shopify-Shop-Domain": "bench.myshopify.com",
            "X-Shopify-Webhook-Id": f"wh-{hashlib.sha1(b).hexdigest()}",
        }
        requests.append((b, headers))
    return post_all(base, "/intake/SHOP", requests, threads)


def measure(url: str, n: int, threads: int, workdir: Path) -> dict[str, float]:
    upgrade(url)
    secret = secrets.token_urlsafe(48)
    rt = build(Settings(environment="production", database_url=url, secret_key=secret, log_json=False))
    try:
        seed(rt)
        save_channel(
            rt.uow(),
            Channel(
                "SHOP",
                "Bench Shopify",
                ChannelType.ECOMMERCE,
                "shopify",
                "GBP",
                ChannelSettings(price_policy=PricePolicy.TRUST),
                secrets={"webhook_secret": SHOP_SECRET},
            ),
            create=True,
        )
        floor = RawFloor(rt)
        key = create_key(rt.engine, "bench", ["orders:write"])
        chunk = max(1, n // ROUNDS)
        seconds = {"raw": 0.0, "core_http": 0.0, "shopify_http": 0.0}
        with server(url, secret, workdir) as base:
            warm = max(30, n // 40)
            floor.run(warm, 0, "RAW-WARM")
            run_http(base, key, warm, 0, "HTTP-WARM", threads)
            run_shopify(base, warm, 10_000_000, threads)
            for r in range(ROUNDS):
                seconds["raw"] += floor.run(chunk, r * chunk, "RAW")
                seconds["core_http"] += run_http(base, key, chunk, r * chunk, "HTTP", threads)
                seconds["shopify_http"] += run_shopify(base, chunk, r * chunk, threads)
        total = chunk * ROUNDS
        return {k: total / v for k, v in seconds.items()}
    finally:
        rt.close()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.intake", description=__doc__.split("\n\n")[0])
    ap.add_argument("--orders", type=int, default=900)
    ap.add_argument(
        "--postgres",
        default=os.environ.get("LEGATO_BENCH_POSTGRES_URL") or os.environ.get("LEGATO_TEST_POSTGRES_URL"),
    )
    ap.add_argument("--sqlite-only", action="store_true")
    ap.add_argument("--threads", type=int, default=4)
    args = ap.parse_args(argv)
    results: dict[str, dict[str, float]] = {}
    with sqlite_database() as (url, workdir):
        console.print(f"[bold]sqlite[/]: {args.orders} webhooks and orders, in {ROUNDS} rounds ...")
        results["sqlite"] = measure(url, args.orders, args.threads, workdir)
        if args.postgres and not args.sqlite_only:
            with postgres_database(args.postgres) as (pg_url, _):
                console.print(f"[bold]postgresql[/]: {args.orders} webhooks and orders ...")
                results["postgresql"] = measure(pg_url, args.orders, args.threads, workdir)
    table = Table(
        "database",
        "raw/s",
        "core POST/s",
        "shopify webhooks/s",
        "shopify/core",
        "shopify/raw",
        title="Intake: Shopify orders/create through HTTP (verify, inbox, parse, enrich, create)",
    )
    for name, r in results.items():
        ratio = r["shopify_http"] / r["core_http"]
        table.add_row(
            name,
            f"{r['raw']:.0f}",
            f"{r['core_http']:.0f}",
            f"{r['shopify_http']:.0f}",
            f"{ratio:.2f} (target {TARGET})",
            f"{r['shopify_http'] / r['raw']:.2f}",
        )
    console.print(table)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {"orders": args.orders, "threads": args.threads, "target": TARGET, "databases": results}, indent=2
        )
        + "\n"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
