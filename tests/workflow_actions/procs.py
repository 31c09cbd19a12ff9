"""Worker processes for the crash and multi-worker tests, and small waits and counts."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import func, select

from legato.bootstrap import Runtime
from legato.store.workflow_tables import jobs, workflow_runs
from tests.conftest import TEST_SECRET

ROOT = Path(__file__).parents[2]


def worker(db_url: str, *args: str, **env: str) -> subprocess.Popen[str]:
    """``legato worker`` (with the test actions registered) as a process of its own."""
    e = {k: v for k, v in os.environ.items() if not k.startswith("LEGATO_")}
    e.update(LEGATO_DATABASE_URL=db_url, LEGATO_SECRET_KEY=TEST_SECRET, LEGATO_LOG_LEVEL="WARNING")
    e.update(LEGATO_LOG_JSON="false", LEGATO_WORKFLOW_POLL_SECONDS="0.05", PYTHONPATH=str(ROOT), **env)
    command = [sys.executable, "-m", "tests.workflow_actions", "worker", *args]
    return subprocess.Popen(
        command, env=e, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def finished(proc: subprocess.Popen[str], timeout: float = 60) -> int:
    """Its exit code: 0, or -9 (SIGKILL); anything else fails with its output."""
    _, errors = proc.communicate(timeout=timeout)
    assert proc.returncode in (0, -signal.SIGKILL), errors
    return proc.returncode


def until(check: Callable[[], bool], timeout: float = 60, *procs: subprocess.Popen[str]) -> None:
    """Wait for ``check``; fail at once, with its output, if one of ``procs`` has ended."""
    deadline = time.monotonic() + timeout
    while not check():
        for p in procs:
            if p.poll() is not None:
                raise AssertionError(f"a worker ended with {p.returncode}: {p.communicate()[1][-3000:]}")
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def states(rt: Runtime, table: str) -> dict[str, int]:
    """How many jobs or runs are in each state."""
    t = {"jobs": jobs, "runs": workflow_runs}[table]
    with rt.engine.connect() as conn:
        return {s: n for s, n in conn.execute(select(t.c.state, func.count()).group_by(t.c.state))}
