"""A real HTTP receiver on loopback that honours ``Idempotency-Key`` as a careful ERP does: the
first request with a key has an effect, a repeat answers the same without another one."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Receiver:
    def __init__(self) -> None:
        self.requests: Counter[str] = Counter()  # key -> requests received
        self.effects: dict[str, dict[str, Any]] = {}  # key -> the body of its one effect
        self.fail_next = 0  # answer 500 to this many requests (failure injection)
        self.delay = 0.0  # seconds to take over each answer (a slow ERP)
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                time.sleep(receiver.delay)
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                key = self.headers.get("Idempotency-Key") or ""
                with receiver.lock:
                    receiver.requests[key] += 1
                    failing = receiver.fail_next > 0
                    receiver.fail_next -= failing
                    if not failing and key not in receiver.effects:
                        receiver.effects[key] = {**body, "effect": len(receiver.effects) + 1}
                    effect = receiver.effects.get(key, {}).get("effect")
                status, answer = (
                    (500, b'{"error": "down"}') if failing else (200, json.dumps({"effect": effect}).encode())
                )
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/orders"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
