"""``legato billing``: run usage billing for a period, list the plans, import meter readings."""

from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from legato.cli.common import actor, console, err, fail, runtime

if TYPE_CHECKING:
    from legato.domain.errors import LegatoError

app = typer.Typer(help="Usage-based billing (docs/pricing/usage.md).", no_args_is_help=True)


def _day(value: str, name: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        fail(f"--{name} must be a day such as 2026-11-01, not {value!r}", 2)


def _problems(exc: LegatoError) -> None:
    """Each issue on its own line, by the path the API would give it."""
    from legato.api.problems import issue_to_dict

    for issue in exc.issues:
        err.print(f"{issue_to_dict(issue)['path']}: {issue.message}", highlight=False, markup=False)


@app.command("run")
def run(
    start: Annotated[str, typer.Option("--from", help="the first day billed, e.g. 2026-11-01")],
    end: Annotated[str, typer.Option("--to", help="the last day billed (included), e.g. 2026-11-30")],
    channel: Annotated[str | None, typer.Option(help="only the plans billed on this channel")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the run as JSON")] = False,
) -> None:
    """Bill every active plan for the days FROM .. TO (UTC): one order per plan, placed once
    however often the period is run. Exits 1 when a plan was refused (the others are billed)."""
    from legato.domain.errors import LegatoError
    from legato.intake.billing import run_billing

    first, last = _day(start, "from"), _day(end, "to")
    rt = runtime()
    try:
        done = run_billing(rt, first, last, channel_code=channel, actor=actor())
    except LegatoError as exc:
        _problems(exc)
        fail(exc.detail, 2 if exc.status == 422 else 1)
    finally:
        rt.close()
    if as_json:
        print(json.dumps(_as_dict(done), indent=2, default=str))
    else:
        table = Table("plan", "order", "", "usage", "readings", "total")
        for b in done.bills:
            table.add_row(b["plan"], b["order"], "new" if b["created"] else "existing", b["usage"],
                          str(b["readings"]), f"{b['grand_total']} {b['currency']}")  # fmt: skip
        console.print(table)
        console.print(
            f"run {done.id} ({done.period_start} .. {done.period_end}): {done.orders_created} order(s) "
            f"placed, {done.orders_existing} already there, {len(done.refused)} refused",
            soft_wrap=True,
        )
    for r in done.refused:
        err.print(f"refused {r['plan']}: {r['reason']}", highlight=False, markup=False)
    if done.refused:
        raise typer.Exit(1)


def _as_dict(done: Any) -> dict[str, Any]:
    return {
        "id": done.id, "start": done.period_start, "end": done.period_end, "channel": done.channel_code,
        "state": done.state, "orders_created": done.orders_created, "orders_existing": done.orders_existing,
        "bills": done.bills, "refused": done.refused, "created_by": done.created_by,
    }  # fmt: skip


@app.command("plans")
def plans(
    channel: Annotated[str | None, typer.Option(help="only the plans billed on this channel")] = None,
    all_plans: Annotated[bool, typer.Option("--all", help="inactive plans too")] = False,
    limit: int = 100,
    cursor: str | None = None,
) -> None:
    """The usage plans: which meter bills which account for which product, on which channel."""
    from legato.domain.errors import LegatoError
    from legato.store import billing as store
    from legato.store.queries import reading

    rt = runtime()
    try:
        with reading(rt.engine) as conn:
            items, nxt = store.list_plans(conn, channel_code=channel, active=None if all_plans else True,
                                          limit=max(1, min(limit, 500)), cursor=cursor)  # fmt: skip
    except LegatoError as exc:
        fail(exc.detail, 2)
    finally:
        rt.close()
    table = Table("code", "channel", "device", "metric", "account", "sku", "readings from", "active")
    for s in items:
        p = s.plan
        table.add_row(p.code, p.channel_code, p.device_id, p.metric, p.account_code, p.sku,
                      p.readings_channel_code or "any channel", "yes" if p.active else "no")  # fmt: skip
    console.print(table)
    if nxt:
        console.print(f"more: --cursor {nxt}")


@app.command("usage-import")
def usage_import(
    file: Annotated[
        str, typer.Argument(help="a CSV file (device_id,metric,value,at[,unit]), or - for stdin")
    ],
    channel: Annotated[str, typer.Option(help="the iot channel the readings are for")],
) -> None:
    """Record meter readings from a CSV file (a .json file: the JSON body of POST
    /api/v1/usage-readings). Kept in the inbox first; a bad row records nothing."""
    from legato.domain.errors import LegatoError
    from legato.intake.usage_readings import receive_readings

    try:
        body = sys.stdin.buffer.read() if file == "-" else Path(file).read_bytes()
    except OSError as exc:
        fail(f"cannot read {file}: {exc.strerror}", 2)
    kind = "application/json" if file.lower().endswith(".json") else "text/csv"
    rt = runtime()
    try:
        out = receive_readings(rt, body, content_type=kind, channel_code=channel,
                               headers={"content-type": kind}, source="cli")  # fmt: skip
    except LegatoError as exc:
        _problems(exc)
        where = f" (kept as inbox entry {exc.extra['inbox_id']})" if "inbox_id" in exc.extra else ""
        fail(exc.detail + where, 1)
    finally:
        rt.close()
    console.print(f"inbox entry {out.inbox_id}: {out.state}: {out.summary}", soft_wrap=True, markup=False)
    if out.refused:
        raise typer.Exit(1)
