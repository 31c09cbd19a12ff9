"""``legato jobs``: the workflow engine's jobs — list (dead letters first of all), show with
every attempt, retry a dead one."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.table import Table

from legato.cli.common import actor, console, err, fail, runtime

app = typer.Typer(
    help="Workflow jobs: dead letters, attempts, retries (docs/workflows/engine.md).", no_args_is_help=True
)


def _order(ref: str | None) -> int | None:
    from legato.domain.order import ORDER_PREFIX, parse_number

    if ref is None:
        return None
    found = parse_number(ORDER_PREFIX, ref)
    if found is None:
        fail(f"{ref!r} is not an order number (SO-000042) or id", 2)
    return found


def _when(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value is not None else ""


@app.command("list")
def list_jobs(
    state: Annotated[str | None, typer.Option(help="queued, running, waiting, done, dead")] = None,
    order: Annotated[str | None, typer.Option(help="only this order's jobs (SO-000042 or 42)")] = None,
    kind: Annotated[str | None, typer.Option(help="step, webhook, schedule")] = None,
    limit: int = 20,
    cursor: str | None = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Jobs, newest first; --state dead lists the dead letters."""
    from legato.domain.errors import LegatoError
    from legato.store import job_queries as jq
    from legato.store import jobs
    from legato.store.job_queries import summary

    if state is not None and state not in jobs.JOB_STATES:
        fail(f"unknown state {state!r}; one of {', '.join(jobs.JOB_STATES)}", 2)
    rt = runtime()
    try:
        items, nxt = jq.list_jobs(
            rt.engine,
            state=state,
            order_id=_order(order),
            kind=kind,
            limit=max(1, min(limit, 500)),
            cursor=cursor,
        )
    except LegatoError as exc:
        fail(exc.detail, 2)
    finally:
        rt.close()
    if as_json:
        print(json.dumps({"items": [summary(j) for j in items], "next_cursor": nxt}, default=str, indent=2))
        return
    table = Table("id", "kind", "action", "state", "attempts", "run", "order", "next / updated", "error")
    for j in items:
        when = j.run_at if j.state in ("queued", "waiting") and j.run_at < jobs.FOREVER else j.updated_at
        table.add_row(
            str(j.id),
            j.kind,
            j.action,
            j.state,
            f"{j.attempts}/{j.max_attempts}",
            str(j.run_id or ""),
            str(j.order_id or ""),
            _when(when),
            (j.last_error or "")[:60],
        )
    console.print(table)
    if nxt:
        console.print(f"more: --cursor {nxt}")


@app.command("show")
def show(job: int, as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False) -> None:
    """One job with every attempt (worker, outcome, error, duration, request and response)."""
    from dataclasses import asdict

    from legato.store import job_queries as jq
    from legato.store.job_queries import summary

    rt = runtime()
    try:
        found = jq.get_job(rt.engine, job)
        attempts = jq.attempts_of(rt.engine, job) if found else []
    finally:
        rt.close()
    if found is None:
        fail(f"no job {job}", 1)
    if as_json:
        body = {**summary(found), "attempts": [asdict(a) for a in attempts]}
        print(json.dumps(body, default=str, indent=2))
        return
    console.print(
        f"job [bold]{found.id}[/] {found.kind} {found.action} — [bold]{found.state}[/] "
        f"attempts {found.attempts}/{found.max_attempts} run {found.run_id or '-'} "
        f"order {found.order_id or '-'} key {found.idempotency_key}",
        soft_wrap=True,
    )
    if found.last_error:
        err.print(f"last error: {found.last_error}", highlight=False, markup=False)
    table = Table("#", "worker", "started", "ms", "outcome", "error")
    for a in attempts:
        table.add_row(
            str(a.attempt),
            a.worker,
            _when(a.started_at),
            str(a.duration_ms or ""),
            a.outcome or "",
            (a.error or "")[:80],
        )
    console.print(table)


@app.command("retry")
def retry(job: int) -> None:
    """Run a dead job again, with a fresh allowance of attempts."""
    from legato.domain.errors import LegatoError
    from legato.workflow import runner

    rt = runtime()
    try:
        found = runner.retry(rt, job, actor=actor())
    except LegatoError as exc:
        fail(exc.detail, 1)
    finally:
        rt.close()
    console.print(
        f"job {found.id} ({found.action}) is queued again: up to {found.max_attempts - found.attempts} "
        "more attempt(s); a worker runs it"
    )
