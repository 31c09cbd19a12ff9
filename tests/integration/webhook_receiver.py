"""A real webhook subscriber / HTTP endpoint on 127.0.0.1 for the webhook and call_http tests.

It records every request (method, path, headers, body) and answers as scripted, one
behaviour per request, then ``default``: an HTTP status, ``"timeout"`` (answers nothing for
longer than the client waits) or ``"close"`` (closes the connection without an answer). The
tests verify what it received the way a subscriber would, with standardwebhooks'
``Webhook(secret).verify``; and ``drain`` runs Legato's real dispatcher and job runner until
nothing is left to do.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from sqlalchemy import func, select
from standardwebhooks import Webhook

from legato.bootstrap import Runtime
from legato.store.workflow_tables import jobs
from legato.workflow import engine, runner

Behaviour = int | str


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    headers: dict[str, str]  # names in lower case
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def verified(self, secret: str) -> Any:
        """The payload, as a subscriber holding ``secret`` verifies it (raises if it does not)."""
        return Webhook(secret).verify(self.body, self.headers)


class Receiver:
    def __init__(
        self, *, default: Behaviour = 200, hang_seconds: float = 2.5, answer: str = '{"ok": true}'
    ) -> None:
        self.default, self.hang_seconds, self.answer = default, hang_seconds, answer
        self.script: list[Behaviour] = []
        self.requests: list[Received] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # keep the test output quiet
                pass

            def _handle(self) -> None:
                size = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(size) if size else b""
                seen = Received(
                    self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body
                )
                with receiver._lock:
                    receiver.requests.append(seen)
                    behaviour = receiver.script.pop(0) if receiver.script else receiver.default
                if behaviour == "close":
                    self.close_connection = True
                    return
                if behaviour == "timeout":
                    time.sleep(receiver.hang_seconds)
                    self.close_connection = True
                    return
                payload = receiver.answer.encode()
                self.send_response(int(behaviour))
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_POST = do_PUT = do_PATCH = do_DELETE = do_GET = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def url(self, path: str = "/hook") -> str:
        return self.base + path

    def to(self, path: str) -> list[Received]:
        with self._lock:
            return [r for r in self.requests if r.path == path]

    def start(self) -> Receiver:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@contextmanager
def receiving(**kw: Any) -> Iterator[Receiver]:
    r = Receiver(**kw).start()
    try:
        yield r
    finally:
        r.stop()


def _queued(rt: Runtime) -> int:
    with rt.engine.connect() as conn:
        return int(
            conn.execute(select(func.count()).select_from(jobs).where(jobs.c.state == "queued")).scalar_one()
        )


def drain(rt: Runtime, *, now: datetime | None = None, retries: bool = False, rounds: int = 2000) -> int:
    """Dispatch every outbox event and run every due job until none is left; with
    ``retries``, also wait for queued retries (the tests that use it make the backoff tiny).
    Returns how many job attempts ran."""
    worker, ran = runner.worker_id(), 0
    for _ in range(rounds):
        dispatched = engine.dispatch(rt, now=now)
        claimed = runner.run_due(rt, worker, now=now)
        ran += claimed
        if not dispatched and not claimed:
            if not retries or not _queued(rt):
                return ran
            time.sleep(0.002)
    raise AssertionError(f"still busy after {rounds} rounds")
