"""Jobs whose worker vanished are taken back (``recover``); a dead job is run again by an
operator with ``retry`` (the runner's, also importable from here).

A worker id is ``host:pid:random``: a job held by a process of this host that no longer
exists is taken back at once; any other comes back when its lease runs out.
"""

from __future__ import annotations

import logging
import os
import socket
from datetime import datetime, timedelta

from legato.bootstrap import Runtime
from legato.store import job_queries as jq
from legato.store import jobs as store
from legato.workflow.runner import retry, utcnow, worker_id
from legato.workflow.runs import dead_letter

log = logging.getLogger("legato.workflow")
_HOST = socket.gethostname()


def _gone(worker: str) -> bool:
    """A worker of this host whose process has ended (another host's cannot be checked:
    its jobs come back when their lease runs out)."""
    host, _, rest = worker.partition(":")
    pid = rest.partition(":")[0]
    if host != _HOST or not pid.isdigit() or int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def recover(rt: Runtime, *, now: datetime | None = None) -> int:
    """Put back jobs whose worker is gone: its process ended (same host) or its lease ran
    out. A job that has used all its attempts this way is dead. Returns how many."""
    at = now or utcnow()
    lease = rt.settings.workflow_lease_seconds
    with store.writing(rt.engine) as conn:
        gone = [w for w in store.holders(conn) if _gone(w)]
        lost = store.lost(conn, stale_before=at - timedelta(seconds=lease), workers=gone)
        runs = jq.runs_by_id(conn, (j.run_id for j in lost if j.run_id is not None))
        for job in lost:
            why = "its process ended" if job.locked_by in gone else f"its lease of {lease} s ran out"
            reason = f"worker {job.locked_by} lost the job ({why})"
            store.record_attempt(conn, job.id, job.attempts, outcome="lost", now=at, error=reason)
            run = runs.get(job.run_id) if job.run_id is not None else None
            if job.attempts >= job.max_attempts:
                store.finish(
                    conn, job.id, expect="running", worker=job.locked_by, state="dead", now=at, error=reason
                )
                dead_letter(conn, job, run, reason, at)
            else:
                store.finish(
                    conn,
                    job.id,
                    expect="running",
                    worker=job.locked_by,
                    state="queued",
                    now=at,
                    run_at=at,
                    error=reason,
                )
    if lost:
        log.warning("put back %s job(s) whose worker was lost", len(lost))
    return len(lost)


__all__ = ["recover", "retry", "worker_id"]  # retry and worker_id live in the runner
