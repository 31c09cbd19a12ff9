"""A workflow worker: dispatch the outbox, run due jobs, fire schedules, recover lost jobs.

``legato serve`` runs one in a thread (unless ``LEGATO_WORKFLOW_IN_PROCESS=false``);
``legato worker`` runs one in the foreground, as many processes as wanted on PostgreSQL.
A round that fails is logged and the next one tries again; a worker asked to stop
finishes the job it is running, gives back those it claimed but did not start, and ends.
"""

from __future__ import annotations

import logging
import threading
import time

from legato.bootstrap import Runtime
from legato.workflow import engine, recovery, runner, schedule

log = logging.getLogger("legato.workflow")


class WorkflowWorker:
    def __init__(self, rt: Runtime, *, worker_id: str | None = None, poll: float | None = None) -> None:
        self.rt = rt
        self.id = worker_id or runner.worker_id()
        self.poll = poll if poll is not None else rt.settings.workflow_poll_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._next_tick = 0.0  # time.time() of the next schedule tick
        self._next_recovery = 0.0  # time.monotonic() of the next look for lost jobs

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name="legato-workflow", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=timeout)

    def request_stop(self) -> None:
        """Ask the loop to end after the current job (safe from a signal handler)."""
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def run(self) -> None:
        """The loop, in the calling thread, until ``stop``."""
        log.info("workflow worker %s started", self.id)
        while not self._stop.is_set():
            try:
                busy = self.round()
            except Exception:  # a worker outlives a bad round: the next one tries again
                log.exception("workflow worker round failed")
                busy = 0
            if not busy:
                self._stop.wait(self.poll)
        log.info("workflow worker %s stopped", self.id)

    def round(self) -> int:
        """One round: recovery and schedules when due, a batch of events, a batch of jobs.
        Returns how much work it found (0: idle)."""
        if time.monotonic() >= self._next_recovery:
            recovery.recover(self.rt)
            self._next_recovery = time.monotonic() + min(30.0, self.rt.settings.workflow_lease_seconds / 2)
        if time.time() >= self._next_tick:
            schedule.tick(self.rt)
            self._next_tick = (time.time() // 60 + 1) * 60
        events = engine.dispatch(self.rt)
        return events + runner.run_due(self.rt, self.id, stop=self._stop)

    def drain(self, max_rounds: int = 100_000) -> int:
        """Rounds until nothing is due (``legato worker --once``, tests); the work done."""
        done = 0
        for _ in range(max_rounds):
            found = self.round()
            done += found
            if not found or self._stop.is_set():
                break
        return done


class _Off:
    """What ``legato serve`` runs when the workflow worker runs elsewhere."""

    def start(self) -> None:
        log.info("no in-process workflow worker (LEGATO_WORKFLOW_IN_PROCESS=false): run `legato worker`")

    def stop(self) -> None:
        pass


def serving_worker(rt: Runtime) -> WorkflowWorker | _Off:
    """The worker ``legato serve`` runs beside the API (BACKGROUND), unless turned off."""
    return WorkflowWorker(rt) if rt.settings.workflow_in_process else _Off()


__all__ = ["WorkflowWorker", "serving_worker"]
