"""``legato rates``: fetch the exchange rates now, list them, set one by hand."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer
from rich.table import Table

from legato.cli.common import console, err, fail, runtime

app = typer.Typer(help="Exchange rates (docs/pricing/currency.md).", no_args_is_help=True)


@app.command("update")
def update(as_json: Annotated[bool, typer.Option("--json", help="print the result as JSON")] = False) -> None:
    """Fetch the configured feed now and save its rates; exit 1 if it failed (rates kept)."""
    from legato.connectors.rates import update_rates

    rt = runtime()
    try:
        result = update_rates(rt)
    finally:
        rt.close()
    if as_json:
        print(json.dumps(result.as_dict(), indent=2))
    elif result.fetched:
        console.print(
            f"{result.provider}: {result.rates} rates of {result.as_of}, {result.changed} new or changed",
            soft_wrap=True,
        )
    elif result.ok:
        console.print(f"{result.provider}: nothing to fetch (rates are set by hand)")
    for label in result.stale:
        err.print(f"stale: {label}", highlight=False)
    if not result.ok:
        fail(f"rates not updated, the stored ones are kept: {result.error}", 1)


@app.command("list")
def list_rates(as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False) -> None:
    """The latest rate of every pair and provider, with its age; * marks those pricing uses."""
    from legato.domain.fx import is_stale
    from legato.store.db import READ_ONLY
    from legato.store.fx import SqlRates

    rt = runtime()
    s, today = rt.settings, datetime.now(UTC).date()
    with rt.engine.connect().execution_options(**{READ_ONLY: True}) as conn:
        store = SqlRates(conn, s.fx_provider)
        used, latest = set(store.table(today).rates), store.latest(5000)
    rt.close()
    rows = [
        {
            "base": r.base,
            "quote": r.quote,
            "rate": str(r.rate),
            "as_of": r.as_of.isoformat(),
            "provider": r.provider,
            "stale": is_stale(r, today, s.fx_max_age_days),
            "in_use": r in used,
        }
        for r in latest
    ]
    if as_json:
        print(json.dumps({"items": rows}, indent=2))
        return
    table = Table("", "pair", "rate", "as of", "provider", "stale")
    for r in latest:
        table.add_row("*" if r in used else "", f"{r.base}/{r.quote}", str(r.rate), r.as_of.isoformat(),
                      r.provider, "stale" if is_stale(r, today, s.fx_max_age_days) else "")  # fmt: skip
    console.print(table)


@app.command("set")
def set_rate(
    base: Annotated[str, typer.Argument(help="ISO 4217, e.g. EUR")],
    quote: Annotated[str, typer.Argument(help="ISO 4217, e.g. USD")],
    rate: Annotated[str, typer.Argument(help="1 BASE = RATE QUOTE, e.g. 1.0845")],
    as_of: Annotated[
        datetime | None, typer.Option("--as-of", formats=["%Y-%m-%d"], help="the day it applies from")
    ] = None,
) -> None:
    """Set a manual rate (used where the configured provider has none, or for every pair
    with LEGATO_FX_PROVIDER=manual)."""
    from legato.domain.errors import ValidationFailed
    from legato.domain.fx import manual_rate
    from legato.store.db import write_lock
    from legato.store.fx import SqlRates

    today = datetime.now(UTC).date()
    try:
        r = manual_rate(
            base, quote, rate, as_of.date() if as_of else today, latest=today + timedelta(days=366)
        )
    except ValidationFailed as exc:
        for issue in exc.issues:
            err.print(f"{issue.path}: {issue.message}", highlight=False, markup=False)
        fail(exc.detail, 2)
    rt = runtime()
    with write_lock(rt.engine), rt.engine.begin() as conn:
        SqlRates(conn, rt.settings.fx_provider).save([r], datetime.now(UTC))
    rt.close()
    console.print(f"1 {r.base} = {r.rate} {r.quote} from {r.as_of} (manual)", highlight=False)
