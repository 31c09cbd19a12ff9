"""Pricing benchmark: lines priced per second, in-process, for a mixed basket (every
mechanism, a contracted pricelist, currency conversion) as a ratio to simple list prices in
the same run.

    python -m bench.pricing [--lines N] [--rounds N]

Each line is resolved by the engine (``legato.domain.pricing.resolve_price``) and rounded
(``price_line``): what placing an order does per line, without the database. The mixed
basket uses each mechanism's first documented example (tests/fixtures/pricing/*.json).

Targets (issue 8): simple >= 50,000 lines/s; mixed/simple >= 0.5.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

from rich.console import Console
from rich.table import Table

from bench.core import ROOT
from legato.domain.catalog import Dimensions, Pricelist, PricelistKind, PricePolicy, Product
from legato.domain.fx import Rate, RateTable, apply_price_rule, convert
from legato.domain.order import OrderLine, price_line
from legato.domain.pricing import Conversion, PriceBook, resolve_price

FIXTURES = ROOT / "tests" / "fixtures" / "pricing"
MECHANISMS = ("slabs", "rental", "distance", "zone_weight", "usage", "rate_card")
TODAY = date(2026, 11, 23)
TARGET_SIMPLE = 50_000
TARGET_RATIO = 0.5
console = Console()


def _inputs(raw: dict[str, Any]) -> tuple[Decimal, dict[str, str]]:
    """A fixture's inputs as a line's ``inputs`` (text), and its quantity."""
    flat: dict[str, str] = {}
    for key, value in raw.items():
        if key == "quantity":
            continue
        if key == "dimensions":
            flat.update({f"{k}_cm": str(v) for k, v in value.items()})
        elif key == "usage":
            flat.update({f"usage.{k}": str(v) for k, v in value.items()})
        elif key == "attributes":
            flat.update({k: str(v) for k, v in value.items()})
        else:
            flat[key] = str(value)
    return Decimal(str(raw.get("quantity", "1"))), flat


def mixed_basket() -> list[tuple[Product, Decimal, dict[str, str]]]:
    basket = []
    for kind in MECHANISMS:
        example = json.loads((FIXTURES / f"{kind}.json").read_text())[0]
        quantity, inputs = _inputs(example["inputs"])
        product = Product(
            sku=kind.upper(), name=kind, weight_kg=Decimal("1.2"),
            dimensions=Dimensions(Decimal(30), Decimal(20), Decimal(10)),
            pricing={"mechanism": kind, "currencies": {"EUR": example["config"]}},
        )  # fmt: skip
        basket.append((product, quantity, inputs))
    # a contract's fixed price, a contract's percentage off, and two conversions (simple and slabs)
    basket.append((Product("CONTRACT-FIXED", "x", prices={"EUR": Decimal("9.90")}), Decimal(3), {}))
    basket.append((Product("CONTRACT-PCT", "x", prices={"EUR": Decimal("12.40")}), Decimal(2), {}))
    basket.append((Product("USD-SIMPLE", "x", prices={"GBP": Decimal("7.25")}), Decimal(4), {}))
    return basket


def _converter(table: RateTable) -> Callable[[Decimal, str, str], tuple[Decimal, Conversion] | None]:
    def convert_(amount: Decimal, src: str, dst: str) -> tuple[Decimal, Conversion] | None:
        done = convert(amount, src, dst, table, margin_percent=Decimal("2"))
        return done.amount, Conversion(
            src, done.rate.rate, done.rate.as_of, done.rate.provider, Decimal(2), False
        )

    return convert_


def _run(lines: list[tuple[PriceBook, Product, Decimal, dict[str, str]]], n: int) -> float:
    start = time.perf_counter()
    done = 0
    while done < n:
        for book, product, quantity, inputs in lines:
            priced = resolve_price(book, product, quantity, inputs=inputs, sent_price=None,
                                   policy=PricePolicy.CATALOG, on=TODAY, path="lines[0]")  # fmt: skip
            price_line(OrderLine(1, product.sku, product.name, quantity, priced.unit_price, priced.source,
                                 tax_rate=Decimal("0.20"), charge=priced.charge), book.currency)  # fmt: skip
            done += 1
    return done / (time.perf_counter() - start)


def measure(n: int) -> dict[str, float]:
    table = RateTable([Rate("EUR", "USD", Decimal("1.0845"), TODAY, "ecb"),
                       Rate("EUR", "GBP", Decimal("0.8412"), TODAY, "ecb")])  # fmt: skip
    convert_ = _converter(table)

    def rule(amount: Decimal, cur: str) -> Decimal:
        return apply_price_rule(amount, cur, "charm:0.99")

    contract = Pricelist("ACME", "Acme", "EUR", items={"CONTRACT-FIXED": Decimal("8.50")},
                         item_pricing={"SLABS": {"mechanism": "slabs", "mode": "volume",
                                                 "bands": [{"up_to": None, "price": "3.10"}]}})  # fmt: skip
    percent = Pricelist("PCT", "Pct", "EUR", kind=PricelistKind.PERCENT_OFF, percent_off=Decimal("12"))
    eur = PriceBook("EUR", "EUR", contract, None, convert_, rule)
    eur_pct = PriceBook("EUR", "EUR", percent, None, convert_, rule)
    usd = PriceBook("USD", "EUR", None, None, convert_, rule)
    mixed = []
    for product, quantity, inputs in mixed_basket():
        book = {"CONTRACT-PCT": eur_pct, "USD-SIMPLE": usd}.get(product.sku, eur)
        if product.sku == "USD-SIMPLE":
            product = Product("USD-SIMPLE", "x", prices={"EUR": Decimal("7.25")})
        mixed.append((book, product, quantity, inputs))
    mixed.append((usd, mixed[0][1], mixed[0][2], mixed[0][3]))  # slabs, converted whole
    simple_book = PriceBook("EUR", "EUR")
    simple = [(simple_book, Product(f"S{i}", "x", prices={"EUR": Decimal("4.99") + i}), Decimal(i + 1), {})
              for i in range(len(mixed))]  # fmt: skip
    _run(simple, 2000), _run(mixed, 2000)  # warm up: the mechanisms are built once and cached
    return {"simple": _run(simple, n), "mixed": _run(mixed, n)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.pricing", description=__doc__.split("\n\n")[0])
    ap.add_argument("--lines", type=int, default=100_000)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args(argv)
    rounds = [measure(args.lines) for _ in range(args.rounds)]
    simple = sorted(r["simple"] for r in rounds)[len(rounds) // 2]
    mixed = sorted(r["mixed"] for r in rounds)[len(rounds) // 2]
    ratio = mixed / simple
    table = Table("basket", "lines/s (median of rounds)", "ratio to simple", "target",
                  title="Pricing: lines priced per second, in-process")  # fmt: skip
    table.add_row("simple list prices", f"{simple:,.0f}", "1.00", f">= {TARGET_SIMPLE:,} lines/s")
    table.add_row("mixed basket", f"{mixed:,.0f}", f"{ratio:.2f}", f">= {TARGET_RATIO}")
    console.print(table)
    out = ROOT / "bench" / "results" / "pricing.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps({"simple_lines_per_s": simple, "mixed_lines_per_s": mixed, "ratio": ratio}, indent=2)
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
