"""The intake's background work in a serving process: recover what a crash left in the
inbox (at start-up, then every ``every`` seconds) and pull the pull channels on their
schedule. One daemon thread; stopping it waits for the current round to end."""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime

from legato.bootstrap import Runtime
from legato.intake import pipeline

log = logging.getLogger("legato.intake")


class IntakeWorker:
    def __init__(self, rt: Runtime, every: float = 30.0) -> None:
        self.rt, self.every = rt, every
        self.started = datetime.now(UTC)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="legato-intake", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        first = True
        while not self._stop.is_set():
            try:
                done = pipeline.recover(self.rt, started_before=self.started if first else None)
                if done:
                    log.info("recovered inbox entries", extra={"entries": done})
                pipeline.pull_channels(self.rt)
            except Exception:  # the worker must outlive a bad round; the next one tries again
                log.exception("intake background round failed")
            first = False
            self._stop.wait(self.every)
