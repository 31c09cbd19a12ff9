"""``legato sftp``: poll an SFTP channel now, and see what became of its files."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from legato.cli.common import console, err, fail, runtime

app = typer.Typer(help="SFTP channels: partner folders polled for order files.", no_args_is_help=True)


@app.command("poll")
def poll_now(
    code: str,
    as_json: Annotated[bool, typer.Option("--json", help="print the result as JSON")] = False,
) -> None:
    """Poll channel CODE now: take its ready files, deliver its pending documents."""
    from dataclasses import asdict

    from legato.api.problems import issue_to_dict
    from legato.domain.errors import LegatoError
    from legato.intake.sftp import poll

    rt = runtime()
    try:
        result = poll(rt, code)
    except LegatoError as exc:
        for issue in exc.issues:
            err.print(f"{issue_to_dict(issue)['path']}: {issue.message}", highlight=False, markup=False)
        fail(exc.detail, 1)
    finally:
        rt.close()
    if as_json:
        print(json.dumps(asdict(result), indent=2))
    else:
        if result.files:
            table = Table("file", "state", "orders", "inbox", "moved to / reason")
            for f in result.files:
                where = f.moved_to or ""
                if f.reason and (f.state != "processed" or not f.moved_to):
                    where = f"{where}\n{f.reason}" if where else f.reason
                table.add_row(f.name, f.state, ", ".join(f.orders) or "-", str(f.inbox_id or "-"), where)
            console.print(table)
        console.print(
            f"{code}: {len(result.files)} file(s) taken, {len(result.waiting)} not ready yet, "
            f"{len(result.sent)} document(s) delivered",
            highlight=False,
        )
        for name in result.waiting:
            console.print(f"  waiting: {name}", highlight=False, markup=False)
        for path in result.sent:
            console.print(f"  delivered: {path}", highlight=False, markup=False)
        for problem in result.failed:
            err.print(f"  not delivered: {problem}", highlight=False, markup=False)
    if result.error:
        fail(f"the poll stopped early: {result.error}", 1)


@app.command("files")
def files(code: str, limit: int = 50) -> None:
    """The files channel CODE has seen, newest first, with the last poll and error."""
    from legato.domain.errors import LegatoError
    from legato.intake.sftp import LAST_ERROR, LAST_POLL, sftp_channel
    from legato.store import inbox, sftp_files

    rt = runtime()
    try:
        channel = sftp_channel(rt, code)
    except LegatoError as exc:
        fail(exc.detail, 1)
    cid = channel.id or 0
    rows = sftp_files.recent(rt.engine, cid, max(1, min(limit, 500)))
    last_poll, last_error = (
        inbox.get_state(rt.engine, cid, LAST_POLL),
        inbox.get_state(rt.engine, cid, LAST_ERROR),
    )
    rt.close()
    console.print(f"last scheduled poll: {last_poll or 'never'}", highlight=False)
    if last_error:
        err.print(f"last error: {last_error}", highlight=False, markup=False)
    table = Table("file", "size", "state", "inbox", "first seen", "updated")
    for r in rows:
        table.add_row(
            r.name, str(r.size), r.state, str(r.inbox_id or "-"),
            r.first_seen.strftime("%Y-%m-%d %H:%M:%S"), r.updated_at.strftime("%Y-%m-%d %H:%M:%S"),
        )  # fmt: skip
    console.print(table)
