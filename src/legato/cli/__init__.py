"""The ``legato`` command: serve, migrate, load the demo, manage API keys, work orders."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from legato.cli.common import actor, console, err, fail, runtime
from legato.config import UnsafeSettings, get_settings

if TYPE_CHECKING:
    from legato.bootstrap import Runtime
    from legato.domain.order import SalesOrder

app = typer.Typer(help="Legato: multichannel order management.", no_args_is_help=True, add_completion=False)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
key_app = typer.Typer(help="API keys.", no_args_is_help=True)
orders_app = typer.Typer(help="Orders.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(key_app, name="apikey")
app.add_typer(orders_app, name="orders")
inbox_app = typer.Typer(help="The intake inbox: every delivery, raw, with its fate.", no_args_is_help=True)
channels_app = typer.Typer(help="Channels.", no_args_is_help=True)
app.add_typer(inbox_app, name="inbox")
app.add_typer(channels_app, name="channels")

# Sub-commands that live in their own module (legato/cli/<name>.py, each defining ``app``):
# one line each.
SUBCOMMANDS: dict[str, str] = {
    "jobs": "legato.cli.jobs",
    "worker": "legato.cli.worker",
    "import": "legato.cli.imports",
    "iot": "legato.cli.iot",
    "sftp": "legato.cli.sftp",
    "rates": "legato.cli.rates",
    "billing": "legato.cli.billing",
    "workflows": "legato.cli.workflows",
    "user": "legato.cli.users",
    "stock": "legato.cli.stock",  # receive, adjust, import stock; levels, locations
}


def _register() -> None:
    import importlib

    for name, module in SUBCOMMANDS.items():
        app.add_typer(importlib.import_module(module).app, name=name)


_fail, _runtime, _actor = fail, runtime, actor


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="bind address (LEGATO_HOST)")] = None,
    port: Annotated[int | None, typer.Option(help="port (LEGATO_PORT)")] = None,
    workers: Annotated[int, typer.Option(help="API processes (PostgreSQL for more than one)")] = 1,
) -> None:
    """Apply migrations, then serve the API on http://HOST:PORT."""
    import uvicorn

    from legato.api.observability import configure_logging
    from legato.store.migrate import upgrade

    settings = get_settings()
    try:
        settings.check_safe()
    except UnsafeSettings as exc:
        _fail(str(exc), 2)
    configure_logging(settings.log_level, settings.log_json)
    upgrade(settings.database_url)
    uvicorn.run(
        "legato.cli.asgi:app_factory",  # the API and the control tower (web UI)
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
        workers=workers,
        log_config=None,
        access_log=False,
    )


@db_app.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Apply migrations up to REVISION (default: the latest)."""
    from legato.store.migrate import upgrade

    upgrade(get_settings().database_url, revision)
    console.print(f"database at [bold]{revision}[/]")


@app.command()
def demo() -> None:
    """Load the demo data set (idempotent) and print a fresh demo API key."""
    from legato.demo import load_demo
    from legato.store.apikeys import create_key, revoke_keys
    from legato.store.migrate import upgrade

    settings = get_settings()
    upgrade(settings.database_url)
    rt = _runtime()
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    ) as bar:
        tasks: dict[str, TaskID] = {}

        def progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done, total=total)

        summary = load_demo(rt, progress=progress)
    revoke_keys(rt.engine, "demo")
    key = create_key(rt.engine, "demo", ["admin"])
    # plain print: a key wrapped across lines at the terminal's width cannot be copied
    print(
        f"demo loaded: {summary.channels} channels, {summary.products} products, "
        f"{summary.accounts} accounts, {summary.pricelists} pricelists, {summary.orders_created} new orders "
        f"({summary.orders_existing} already there), {summary.quotes} quotes"
    )
    print(f"demo API key (admin; shown once): {key}")
    print(f"try: curl -H 'Authorization: Bearer {key}' http://{settings.host}:{settings.port}/api/v1/orders")
    from legato.web.users import ensure_demo_admin

    user, password = ensure_demo_admin(rt.engine)  # the control tower's demo admin, a fresh password
    print(f"control tower: http://{settings.host}:{settings.port}/ user {user} password {password} (admin)")
    rt.close()


@key_app.command("create")
def apikey_create(
    scope: Annotated[
        list[str], typer.Option("--scope", help="orders:read, orders:write, catalog:write, approver, admin")
    ],
    name: Annotated[str, typer.Option(help="who or what uses the key")] = "default",
) -> None:
    """Create an API key; the full key is printed once and stored only hashed."""
    from legato.store.apikeys import create_key
    from legato.store.migrate import upgrade

    upgrade(get_settings().database_url)
    rt = _runtime()
    try:
        key = create_key(rt.engine, name, scope)
    except ValueError as exc:
        _fail(str(exc), 2)
    print(key)
    rt.close()


@key_app.command("revoke")
def apikey_revoke(name: str) -> None:
    """Revoke every key with this name."""
    from legato.store.apikeys import revoke_keys

    rt = _runtime()
    console.print(f"revoked {revoke_keys(rt.engine, name)} key(s)")
    rt.close()


@orders_app.command("list")
def orders_list(
    status: str | None = None,
    channel: str | None = None,
    account: str | None = None,
    q: Annotated[str | None, typer.Option(help="text search")] = None,
    limit: int = 20,
    cursor: str | None = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """List orders, newest first."""
    from legato.domain.errors import LegatoError
    from legato.domain.order import ORDER_PREFIX, format_number
    from legato.store import queries

    rt = _runtime()
    try:
        page = queries.list_orders(
            rt.engine,
            queries.OrderFilter(status, channel, account, None, None, q),
            limit=max(1, min(limit, 500)),
            cursor=cursor,
        )
    except LegatoError as exc:
        _fail(exc.detail, 2)
    if as_json:
        print(json.dumps({"items": page.items, "next_cursor": page.next_cursor}, default=str, indent=2))
        return
    table = Table("number", "channel", "customer", "status", "payment", "fulfilment", "total", "created")
    for r in page.items:
        table.add_row(
            format_number(ORDER_PREFIX, r["id"]),
            r["channel"],
            r["customer_name"] or "-",
            r["status"],
            r["payment_status"],
            r["fulfilment_status"],
            f"{r['grand_total']} {r['currency']}",
            r["created_at"].strftime("%Y-%m-%d %H:%M"),
        )
    console.print(table)
    if page.next_cursor:
        console.print(f"more: --cursor {page.next_cursor}")


def _order_or_fail(rt: Runtime, ref: str) -> SalesOrder:
    from legato.store import queries

    oid = queries.order_number_to_id(ref)
    order = queries.get_order(rt.engine, oid) if oid else None
    if order is None:
        _fail(f"no order {ref}", 1)
    return order


@orders_app.command("create")
def orders_create(
    file: Annotated[str, typer.Argument(help="a JSON file in the canonical order format, or - for stdin")],
    as_json: Annotated[bool, typer.Option("--json", help="print the order as JSON")] = False,
) -> None:
    """Place an order from canonical JSON (the body of POST /api/v1/orders)."""
    from pydantic import ValidationError

    from legato.api import views
    from legato.api.problems import issue_to_dict
    from legato.api.schemas import OrderIn, OrderOut
    from legato.domain.errors import LegatoError
    from legato.intake.pipeline import receive_canonical

    try:
        raw = sys.stdin.read() if file == "-" else Path(file).read_text(encoding="utf-8")
        body = OrderIn.model_validate_json(raw)
    except OSError as exc:
        _fail(f"cannot read {file}: {exc.strerror}", 2)
    except ValidationError as exc:
        for err in exc.errors():
            where = "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err["loc"])
            err_console_line(f"{where}: {err['msg']}")
        _fail(f"{file} is not a valid order ({exc.error_count()} problem(s))", 2)
    rt = _runtime()
    try:  # manual entry goes through the inbox like every channel's order
        out = receive_canonical(rt, body.channel, raw.encode(), {}, _actor(), views.order_draft(body), "cli")
    except LegatoError as exc:
        for issue in exc.issues:
            err_console_line(f"{issue_to_dict(issue)['path']}: {issue.message}")
        where = f" (kept as inbox entry {exc.extra['inbox_id']})" if "inbox_id" in exc.extra else ""
        _fail(exc.detail + where, 1)
    order, created = out.orders[0]["order"], out.orders[0]["created"]
    if as_json:
        print(OrderOut.model_validate(views.order_out(order)).model_dump_json(indent=2))
        return
    verb = "placed" if created else "already there (same channel and external reference):"
    total = f"{order.totals.grand_total} {order.currency}"
    console.print(f"{verb} [bold]{order.number}[/] {order.status} {total}", soft_wrap=True)


def err_console_line(text: str) -> None:
    err.print(text, highlight=False, markup=False)


@orders_app.command("show")
def orders_show(order: str, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Show one order (SO-000042 or 42) with its lines and timeline."""
    from legato.api.schemas import OrderOut
    from legato.api.views import order_out

    rt = _runtime()
    o = _order_or_fail(rt, order)
    if as_json:
        print(OrderOut.model_validate(order_out(o)).model_dump_json(indent=2))
        return
    console.print(
        f"[bold]{o.number}[/] {o.channel_code} {o.external_reference or ''} — [bold]{o.status}[/]"
        f" · payment {o.payment_status} · fulfilment {o.fulfilment_status} · invoice {o.invoice_status}"
    )
    console.print(
        f"customer: {o.customer.name or '-'} <{o.customer.email or '-'}> account {o.account_code or '-'}"
    )
    lines = Table("#", "sku", "name", "qty", "unit", "source", "total")
    for ln in o.lines:
        lines.add_row(
            str(ln.line_no),
            ln.sku,
            ln.name,
            str(ln.quantity),
            str(ln.unit_price),
            ln.price_source,
            str(ln.total),
        )
    console.print(lines)
    t = o.totals
    console.print(
        f"subtotal {t.subtotal} - discount {t.discount} + shipping {t.shipping} + tax {t.tax} = "
        f"[bold]{t.grand_total} {o.currency}[/]"
    )
    tl = Table("at", "actor", "what", "from", "to", "reason")
    for e in o.timeline:
        tl.add_row(
            e.at.strftime("%Y-%m-%d %H:%M:%S"),
            e.actor,
            e.kind,
            e.from_value or "",
            e.to_value or "",
            e.reason or "",
        )
    console.print(tl)


@orders_app.command("transition")
def orders_transition(order: str, to: str, reason: Annotated[str | None, typer.Option()] = None) -> None:
    """Move ORDER to status TO (e.g. on_hold, processing, cancelled)."""
    from legato.domain.commands import TransitionOrder
    from legato.domain.errors import LegatoError
    from legato.services.orders import transition_order

    rt = _runtime()
    o = _order_or_fail(rt, order)
    try:
        o = transition_order(rt.uow(), TransitionOrder(o.id or 0, to, _actor(), reason))
    except LegatoError as exc:
        allowed = exc.extra.get("allowed")
        _fail(exc.detail + (f" (allowed: {', '.join(allowed) or 'none'})" if allowed is not None else ""), 1)
    console.print(f"{o.number} is now [bold]{o.status}[/]")


@inbox_app.command("list")
def inbox_list(
    quarantined: Annotated[bool, typer.Option("--quarantined", help="only what needs attention")] = False,
    state: Annotated[
        str | None,
        typer.Option(help="received, processed, duplicate, ignored, quarantined, rejected, failed"),
    ] = None,
    channel: str | None = None,
    limit: int = 20,
    cursor: str | None = None,
) -> None:
    """Received deliveries, newest first."""
    from legato.store import inbox

    rt = _runtime()
    entries, nxt = inbox.listing(
        rt.engine,
        state="quarantined" if quarantined else state,
        channel=channel,
        limit=max(1, min(limit, 500)),
        cursor=cursor,
    )
    table = Table("id", "received", "channel", "topic", "state", "order", "reason")
    for e in entries:
        table.add_row(
            str(e.id),
            e.received_at.strftime("%Y-%m-%d %H:%M:%S"),
            e.channel_code,
            e.topic or "",
            e.state,
            str(e.order_id or ""),
            (e.reason or "")[:80],
        )
    console.print(table)
    if nxt:
        console.print(f"more: --cursor {nxt}")


@inbox_app.command("show")
def inbox_show(entry: int) -> None:
    """One delivery: headers, raw body, reason, field errors, acknowledgement."""
    from legato.api.routers.intake import detail
    from legato.store import inbox

    rt = _runtime()
    found = inbox.get(rt.engine, entry)
    if found is None:
        _fail(f"no inbox entry {entry}", 1)
    print(json.dumps(detail(found), indent=2, default=str))


@inbox_app.command("replay")
def inbox_replay(entry: int) -> None:
    """Run a quarantined, rejected or failed delivery again (after fixing the mapping or catalogue)."""
    from legato.domain.errors import LegatoError
    from legato.intake.pipeline import replay

    rt = _runtime()
    try:
        out = replay(rt, entry)
    except LegatoError as exc:
        from legato.api.problems import issue_to_dict

        for issue in exc.issues:
            err_console_line(f"{issue_to_dict(issue)['path']}: {issue.message}")
        _fail(exc.detail, 1)
    orders = ", ".join(str(o["number"] or o["id"]) for o in out.orders) or "-"
    console.print(f"entry {entry}: {out.state} (orders: {orders}) {out.reason or ''}", soft_wrap=True)


@inbox_app.command("process")
def inbox_process() -> None:
    """Process what a crash left in the inbox (``legato serve`` does this at start and every 30 s)."""
    from legato.intake.pipeline import recover

    rt = _runtime()
    done = recover(rt)
    console.print(f"processed {len(done)} pending entr{'y' if len(done) == 1 else 'ies'}")


@channels_app.command("pull")
def channels_pull(code: str) -> None:
    """Fetch new orders from a pull channel (e.g. Magento) now."""
    from legato.domain.errors import LegatoError
    from legato.intake.pipeline import pull_channel

    rt = _runtime()
    try:
        outcomes = pull_channel(rt, code)
    except LegatoError as exc:
        _fail(exc.detail, 1)
    created = sum(1 for o in outcomes if o.created)
    quarantined = sum(1 for o in outcomes if o.state == "quarantined")
    console.print(f"{code}: {len(outcomes)} document(s), {created} new order(s), {quarantined} quarantined")


_register()


def main() -> None:  # pragma: no cover - console entry
    sys.exit(app())


if __name__ == "__main__":  # pragma: no cover
    main()
