"""``legato stock``: receive, adjust and import stock; list levels and locations (docs/inventory.md)."""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer
from rich.table import Table

from legato.cli.common import actor, console, err, fail, runtime
from legato.domain.errors import LegatoError

if TYPE_CHECKING:
    from legato.store.stock import StockChange

app = typer.Typer(help="Stock at the fulfilment locations (docs/inventory.md).", no_args_is_help=True)


def _decimal(text: str, what: str) -> Decimal:
    try:
        d = Decimal(text)
    except InvalidOperation:
        d = Decimal("NaN")
    if not d.is_finite():
        fail(f"{what}: {text!r} is not a number", 2)
    return d


def _refused(exc: LegatoError) -> NoReturn:
    for issue in exc.issues:
        err.print(f"{issue.path}: {issue.message}", highlight=False, soft_wrap=True)
    fail(exc.detail)


def _report(done: StockChange, as_json: bool) -> None:
    if as_json:
        out = {k: str(v) if isinstance(v, Decimal) else v for k, v in vars(done).items()}
        print(json.dumps({**out, "available": str(done.available)}, indent=2))
        return
    verb = "already applied (same reference)" if done.replayed else f"{done.kind} of {done.quantity}"
    console.print(
        f"{done.location} {done.sku}: {verb}; on hand {done.on_hand}, reserved {done.reserved}, "
        f"available {done.available}",
        highlight=False,
        soft_wrap=True,
    )
    if done.filled_orders:
        console.print(f"backorders filled for orders {', '.join(map(str, done.filled_orders))}")


@app.command("receive")
def receive(
    location: Annotated[str, typer.Argument(help="the location's code")],
    sku: Annotated[str, typer.Argument(help="the product's SKU")],
    quantity: Annotated[str, typer.Argument(help="units received (more than 0)")],
    cost: Annotated[str | None, typer.Option("--cost", help="unit cost of this receipt (FIFO layer)")] = None,
    reference: Annotated[
        str | None, typer.Option("--reference", help="the delivery's document; the same one applies once")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the result as JSON")] = False,
) -> None:
    """Goods in: QUANTITY units of SKU at LOCATION; waiting backorders are filled at once."""
    from legato.store import stock

    qty = _decimal(quantity, "quantity")
    unit_cost = _decimal(cost, "--cost") if cost is not None else None
    key = stock.movement_key("cli-receipt", f"{location}:{sku}:{reference}") if reference else None
    rt = runtime()
    try:
        done = stock.receive(rt.engine, location, sku, qty, unit_cost, reference, key, actor=actor())
    except LegatoError as exc:
        _refused(exc)
    finally:
        rt.close()
    _report(done, as_json)


@app.command("adjust", context_settings={"ignore_unknown_options": True})
def adjust(
    location: Annotated[str, typer.Argument(help="the location's code")],
    sku: Annotated[str, typer.Argument(help="the product's SKU")],
    quantity: Annotated[str, typer.Argument(help="signed: 3 found, -2 damaged")],
    reason: Annotated[str, typer.Option("--reason", help="why (a count, damage ...)")],
    reference: Annotated[str | None, typer.Option("--reference", help="a count sheet or note")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the result as JSON")] = False,
) -> None:
    """Correct on hand by a signed QUANTITY; it never goes below what is reserved."""
    from legato.store import stock

    qty = _decimal(quantity, "quantity")
    rt = runtime()
    try:
        done = stock.adjust(rt.engine, location, sku, qty, reason, reference=reference, actor=actor())
    except LegatoError as exc:
        _refused(exc)
    finally:
        rt.close()
    _report(done, as_json)


@app.command("import")
def import_file(
    file: Annotated[Path, typer.Argument(help="CSV: location,sku,quantity,unit_cost,reference", exists=True)],
    mode: Annotated[str, typer.Option("--mode", help="receive (receipts) or set (counts)")] = "receive",
    as_json: Annotated[bool, typer.Option("--json", help="print the result as JSON")] = False,
) -> None:
    """Import a stock file: every row or none; a bad row is named with its column."""
    from legato.store.stock_import import import_stock

    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        fail(f"cannot read {file}: {exc}", 2)
    rt = runtime()
    try:
        done = import_stock(rt.engine, text, mode=mode, actor=actor())
    except LegatoError as exc:
        _refused(exc)
    finally:
        rt.close()
    if as_json:
        print(json.dumps(vars(done), indent=2))
        return
    console.print(
        f"{done.rows} rows ({done.mode}): {done.applied} applied, {done.replayed} already imported, "
        f"{done.unchanged} unchanged",
        highlight=False,
    )
    if done.filled_orders:
        console.print(f"backorders filled for orders {', '.join(map(str, done.filled_orders))}")


@app.command("levels")
def levels(
    sku: Annotated[str | None, typer.Option("--sku", help="only this SKU")] = None,
    location: Annotated[str | None, typer.Option("--location", help="only this location")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """On hand, reserved and available per location and SKU."""
    from legato.store import stock

    rt = runtime()
    try:
        rows = stock.levels(rt.engine, sku=sku, location=location)
    finally:
        rt.close()
    if as_json:
        items = [
            {"location": r.location, "sku": r.sku, "on_hand": str(r.on_hand), "reserved": str(r.reserved),
             "available": str(r.available)}
            for r in rows
        ]  # fmt: skip
        print(json.dumps({"items": items}, indent=2))
        return
    table = Table("location", "sku", "on hand", "reserved", "available")
    for r in rows:
        table.add_row(r.location, r.sku, str(r.on_hand), str(r.reserved), str(r.available))
    console.print(table)


@app.command("locations")
def list_locations(as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False) -> None:
    """The fulfilment locations: kind, priority, what they serve."""
    from legato.store.locations import list_locations as page

    rt = runtime()
    try:
        found, cursor = page(rt.engine, limit=500)
        while cursor:
            more, cursor = page(rt.engine, limit=500, cursor=cursor)
            found.extend(more)
    finally:
        rt.close()
    if as_json:
        items = [
            {"code": x.code, "name": x.name, "kind": x.kind, "priority": x.priority, "ships": x.ships,
             "pickup": x.pickup, "channels": x.channels, "regions": x.regions, "active": x.active}
            for x in found
        ]  # fmt: skip
        print(json.dumps({"items": items}, indent=2))
        return
    table = Table("code", "name", "kind", "priority", "ships", "pickup", "channels", "regions")
    for x in found:
        table.add_row(x.code, x.name, x.kind, str(x.priority), "yes" if x.ships else "no",
                      "yes" if x.pickup else "no", ", ".join(x.channels) or "all",
                      ", ".join(x.regions) or "all")  # fmt: skip
    console.print(table)
