"""``legato worker``: run one workflow worker in the foreground until SIGTERM or Ctrl-C.

Run as many as wanted on PostgreSQL (each claims its own jobs); on SQLite one is plenty.
``--once`` processes everything due now and exits (cron, scripts, tests).
"""

from __future__ import annotations

import signal
from types import FrameType
from typing import Annotated

import typer

from legato.cli.common import console, runtime

app = typer.Typer(
    help="Run a workflow worker: dispatch events, run jobs, fire schedules (docs/workflows/engine.md).",
    invoke_without_command=True,
)


@app.callback()
def worker(
    once: Annotated[bool, typer.Option("--once", help="process what is due now, then exit")] = False,
    poll: Annotated[
        float | None,
        typer.Option(help="seconds to sleep when idle (LEGATO_WORKFLOW_POLL_SECONDS)", min=0.05, max=60),
    ] = None,
) -> None:
    """Run one workflow worker until SIGTERM / SIGINT (it finishes the job in hand first)."""
    from legato.api.observability import configure_logging
    from legato.workflow.worker import WorkflowWorker

    rt = runtime()
    configure_logging(rt.settings.log_level, rt.settings.log_json)
    w = WorkflowWorker(rt, poll=poll)
    try:
        if once:
            done = w.drain()
            console.print(f"worker {w.id}: {done} event(s) and job(s) processed")
            return

        def stop(signum: int, _frame: FrameType | None) -> None:
            w.request_stop()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        console.print(f"worker {w.id} running (stop: Ctrl-C or SIGTERM)")
        w.run()
    finally:
        rt.close()
