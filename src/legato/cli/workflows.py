"""``legato workflows``: load and check YAML definitions, list and show them, enable or disable
one, and try them on an order without running anything (docs/workflows/README.md)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from legato.cli.common import actor, console, err, fail, runtime

if TYPE_CHECKING:
    from legato.workflow.dryrun import DryRun

app = typer.Typer(help="Workflows: named rules run at order events (docs/workflows/).", no_args_is_help=True)

JsonOption = Annotated[bool, typer.Option("--json", help="print JSON")]


def _problems(directory: Path) -> list[str]:
    from legato.workflow.definitions import check_dir

    return [str(p) for p in check_dir(directory)]


@app.command("check")
def check(
    directory: Annotated[Path, typer.Argument(help="a folder of *.yaml / *.yml workflow files")],
) -> None:
    """Check every workflow file (YAML, fields, conditions, action parameters); exit 1 with
    every problem, file:line first."""
    from legato.workflow.definitions import load_dir

    problems = _problems(directory)
    for line in problems:
        err.print(line, highlight=False, markup=False, soft_wrap=True)
    if problems:
        fail(f"{len(problems)} problem(s) in {directory}", 1)
    console.print(f"{len(load_dir(directory))} workflow(s) valid in {directory}", soft_wrap=True)


@app.command("load")
def load(
    directory: Annotated[Path, typer.Argument(help="a folder of *.yaml / *.yml workflow files")],
) -> None:
    """Check every file, then save them all in one transaction (nothing is saved if any is
    invalid): a changed workflow gets a new version, an unchanged one stays as it is."""
    from legato.domain.errors import LegatoError
    from legato.workflow.definitions import load_dir, save_all

    problems = _problems(directory)
    for line in problems:
        err.print(line, highlight=False, markup=False, soft_wrap=True)
    if problems:
        fail(f"{len(problems)} problem(s) in {directory}: nothing saved", 1)
    rt = runtime()
    try:
        saved = save_all(rt, load_dir(directory), actor())
    except LegatoError as exc:  # saved at the same time by someone else: nothing was saved
        fail(f"{exc.detail}: nothing saved", 1)
    finally:
        rt.close()
    for s in saved:
        console.print(f"{s.outcome:<10} {s.name} (version {s.version})", highlight=False, soft_wrap=True)
    counts = Counter(s.outcome for s in saved)
    console.print(", ".join(f"{n} {outcome}" for outcome, n in sorted(counts.items())), highlight=False)


@app.command("list")
def list_(as_json: JsonOption = False) -> None:
    """Every workflow: trigger, priority, active, version, how often it fired and failed."""
    from legato.store import workflows as store
    from legato.store.queries import reading
    from legato.workflow.definitions import stored

    rt = runtime()
    with reading(rt.engine) as conn:
        items = store.list_workflows(conn)
    rt.close()
    rows: list[dict[str, Any]] = [
        {
            "name": w.name,
            "version": w.version,
            "trigger": stored(w.document).trigger.describe(),
            "priority": w.priority,
            "active": w.active,
            "fired": w.fired,
            "failed": w.failed,
            "last_fired_at": w.last_fired_at.isoformat() if w.last_fired_at else None,
        }
        for w in items
    ]
    if as_json:
        print(json.dumps({"items": rows}, indent=2))
        return
    table = Table("name", "trigger", "priority", "active", "version", "fired", "failed", "last fired")
    for r in rows:
        table.add_row(
            r["name"],
            r["trigger"],
            str(r["priority"]),
            "yes" if r["active"] else "no",
            str(r["version"]),
            str(r["fired"]),
            str(r["failed"]),
            (r["last_fired_at"] or "-")[:19],
        )
    console.print(table)


@app.command("show")
def show(
    name: str,
    version: Annotated[int | None, typer.Option(help="an earlier version (default: the current one)")] = None,
    as_json: JsonOption = False,
) -> None:
    """A workflow's definition as YAML (loadable again), with who saved that version and when."""
    import yaml

    from legato.store import workflows as store
    from legato.store.queries import reading

    rt = runtime()
    with reading(rt.engine) as conn:
        found = store.get_version(conn, name, version)
        current = store.get_workflow(conn, name)
    rt.close()
    if found is None or current is None:
        fail(f"no workflow {name!r}" + (f" with a version {version}" if current and version else ""), 1)
    document = {**found.document, "active": current.active} if version is None else found.document
    if as_json:
        meta = {
            "version": found.version,
            "created_at": found.created_at.isoformat(),
            "created_by": found.created_by,
            "current_version": current.version,
        }
        print(json.dumps({**document, **meta}, indent=2))
        return
    console.print(
        f"# {name} version {found.version} of {current.version}, saved {found.created_at:%Y-%m-%d %H:%M} UTC "
        f"by {found.created_by}",
        highlight=False,
        markup=False,
        soft_wrap=True,
    )
    if document.get("description") is None:
        document.pop("description", None)
    print(yaml.safe_dump(document, sort_keys=False, allow_unicode=True), end="")


def _enable(name: str, active: bool) -> None:
    from legato.domain.errors import NotFound
    from legato.workflow.definitions import set_active

    rt = runtime()
    try:
        changed = set_active(rt, name, active)
    except NotFound as exc:
        fail(exc.detail, 1)
    finally:
        rt.close()
    state = "enabled" if active else "disabled"
    console.print(f"{name} {'is now' if changed else 'was already'} {state}", highlight=False)


@app.command("enable")
def enable(name: str) -> None:
    """Let the engine run this workflow again (no new version)."""
    _enable(name, True)


@app.command("disable")
def disable(name: str) -> None:
    """Stop the engine from running this workflow (no new version; runs already started go on)."""
    _enable(name, False)


def _print_dry_run(out: DryRun) -> None:
    event = out.event
    where = f"outbox event {event['id']}" if out.event_source == "outbox" else "made up from the order"
    console.print(f"{out.order_number}, event {event['type']} ({where})", highlight=False, soft_wrap=True)
    if not out.verdicts:
        console.print("no workflows are saved")
    for v in out.verdicts:
        mark = "[green]MATCH[/]   " if v.matched else "[dim]no match[/]"
        console.print(f"{mark} {v.name} (v{v.version}, priority {v.priority}): {v.why}", soft_wrap=True)
        for i, step in enumerate(v.actions):
            params = json.dumps(dict(step.params), default=str)
            console.print(
                f"          {i + 1}. {step.action} {params}", highlight=False, markup=False, soft_wrap=True
            )
    console.print(f"{len(out.matched)} of {len(out.verdicts)} workflow(s) would run; nothing was run")


@app.command("test")
def test(
    order: Annotated[str, typer.Option("--order", help="the order: SO-000042 or 42")],
    name: Annotated[str | None, typer.Argument(help="one workflow (default: every workflow)")] = None,
    event: Annotated[
        str | None, typer.Option("--event", help="the event type (default order.created)")
    ] = None,
    payload: Annotated[
        str | None,
        typer.Option(help='event fields laid over the order\'s event, as JSON: {"to": "processing"}'),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Dry run: which workflows an event about ORDER would run, which not and why, and which
    actions would run, without running anything."""
    from legato.domain.errors import LegatoError
    from legato.domain.order import ORDER_PREFIX, parse_number
    from legato.workflow.dryrun import dry_run

    order_id = parse_number(ORDER_PREFIX, order)
    if order_id is None:
        fail(f"no order {order!r}: give an order number (SO-000042) or id (42)", 1)
    extra: Any = None
    if payload is not None:
        try:
            extra = json.loads(payload)
        except ValueError as exc:
            fail(f"--payload is not JSON: {exc}", 2)
        if not isinstance(extra, dict):
            fail("--payload must be a JSON object", 2)
    rt = runtime()
    try:
        out = dry_run(rt, order_id, event, name, extra)
    except LegatoError as exc:
        fail(exc.detail, 1)
    finally:
        rt.close()
    if as_json:
        from legato.api.routers.workflows import dry_run_out

        print(json.dumps(dry_run_out(out), indent=2, default=str))
        return
    _print_dry_run(out)
