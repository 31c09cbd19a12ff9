"""``legato import``: import a spreadsheet of orders, write the template, look at a job.

``run`` imports in this process with a progress bar and prints the report; it exits with 1
when any row was refused, so a script can tell. The raw file is kept under ``import_dir``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from legato.cli.common import actor, console, err, fail, runtime

if TYPE_CHECKING:
    from legato.bootstrap import Runtime
    from legato.store.imports import ImportJob

app = typer.Typer(help="Spreadsheet imports (CSV, XLSX): orders, one row per line.", no_args_is_help=True)

SHOWN = 50  # problems printed in the table; the job keeps more


def _chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            yield chunk


def _report(job: ImportJob) -> None:
    colour = {"done": "green", "rejected": "red", "failed": "red"}.get(job.state, "yellow")
    console.print(
        f"import {job.id} ({job.filename}, {job.mode}): [bold {colour}]{job.state}[/] - "
        f"{job.orders_created} order(s) created, {job.orders_existing} already there, "
        f"{job.orders_rejected} refused; {job.rows_done} of {job.rows_total or 0} row(s)",
        highlight=False,
    )
    if job.reason:
        console.print(job.reason, highlight=False, markup=False)
    if not job.errors:
        return
    table = Table("row", "column", "order", "problem", "code", title=f"Problems ({job.errors_total})")
    for e in job.errors[:SHOWN]:
        column = f"{e['column']} ({e['header']})" if e.get("header") else e.get("column") or ""
        where = str(e["row"]) if e.get("row") else f"line {e['line']}" if e.get("line") else ""
        table.add_row(where, column, e.get("order_ref") or "", e["message"], e["code"])
    console.print(table)
    if job.errors_total > SHOWN:
        console.print(f"... and {job.errors_total - SHOWN} more: legato import show {job.id} --json")


def _refused(job: ImportJob) -> bool:
    return job.state != "done" or job.errors_total > 0 or job.orders_rejected > 0


@app.command("run")
def run(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="a .csv or .xlsx")],
    channel: Annotated[str, typer.Option("--channel", help="the channel's code")],
    mode: Annotated[str, typer.Option(help="all_or_nothing or valid_only")] = "all_or_nothing",
) -> None:
    """Import FILE into CHANNEL: validate every row, then place the orders; print the report."""
    from legato.domain.errors import LegatoError
    from legato.intake import imports
    from legato.store import imports as jobs

    if mode not in jobs.MODES:
        fail(f"--mode must be one of {', '.join(jobs.MODES)}", 2)
    rt = runtime()
    try:
        try:
            job, created = imports.receive_file(
                rt, channel, _chunks(file), file.name, mode=mode, actor=actor()
            )
        except LegatoError as exc:
            fail(exc.detail, 2)
        if not created and job.finished:
            console.print(f"this file was imported before (import {job.id}); nothing new was created")
        else:  # new, queued again, or left running by a process that died (resumed once stale)
            job = _run_with_progress(rt, job.id)
            if job.state in jobs.RUNNING:
                console.print(
                    f"import {job.id} of this file is running elsewhere: legato import show {job.id}"
                )
    finally:
        rt.close()
    _report(job)
    if _refused(job):
        raise typer.Exit(1)


def _run_with_progress(rt: Runtime, job_id: int) -> ImportJob:
    from legato.intake import imports

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=err, transient=False) as bar:
        tasks: dict[str, TaskID] = {}

        def progress(state: str, done: int, total: int | None) -> None:
            if state not in tasks:
                tasks[state] = bar.add_task(f"{state} rows", total=total)
            bar.update(tasks[state], completed=done, total=total)

        return imports.run_job(rt, job_id, progress=progress)


@app.command("template")
def template(
    out: Annotated[Path, typer.Argument(dir_okay=False, help="where to write it")],
    fmt: Annotated[str, typer.Option("--format", help="csv or xlsx")] = "",
) -> None:
    """Write the default template (every column, two example rows) to OUT."""
    from legato.intake.spreadsheet import FORMATS, write_template

    chosen = fmt or (out.suffix.lstrip(".").lower() if out.suffix.lower() in (".csv", ".xlsx") else "csv")
    if chosen not in FORMATS:
        fail(f"--format must be one of {', '.join(FORMATS)}", 2)
    write_template(out, chosen)
    console.print(f"template written to {out} ({chosen})", highlight=False)


@app.command("show")
def show(
    job_id: Annotated[int, typer.Argument(help="the import job's id")],
    as_json: Annotated[bool, typer.Option("--json", help="the job and its whole report as JSON")] = False,
) -> None:
    """A job: its state, progress, counts and report."""
    from legato.store import imports as jobs

    rt = runtime()
    try:
        job = jobs.get(rt.engine, job_id)
    finally:
        rt.close()
    if job is None:
        fail(f"no import job {job_id}")
    if as_json:
        print(json.dumps(job.as_dict(), default=str, indent=2))
        return
    _report(job)
