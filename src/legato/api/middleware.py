"""ASGI middleware (plain ASGI, not BaseHTTPMiddleware, to stay off the hot path's back):

* ``RequestContext``: request id (taken from X-Request-ID if sane, else made), a body
  size limit (413 as problem+json), one JSON log line and one latency sample per request.
* ``Idempotency``: the ``Idempotency-Key`` header on POST/PUT/PATCH replays the first
  response for the same key and body, and answers 422 for the same key with another body.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from legato.api.context import request_id
from legato.api.problems import PROBLEM_JSON
from legato.store import apikeys

log = logging.getLogger("legato.http")
_SANE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def _problem_bytes(status: int, code: str, title: str, detail: str, path: str) -> bytes:
    return json.dumps(
        {
            "type": f"urn:legato:problem:{code}",
            "title": title,
            "status": status,
            "detail": detail,
            "instance": path,
            "code": code,
            "request_id": request_id.get(),
            "errors": [],
        }
    ).encode()


async def _send_problem(send: Send, status: int, body: bytes, rid: str | None) -> None:
    headers = [(b"content-type", PROBLEM_JSON.encode()), (b"content-length", str(len(body)).encode())]
    if rid:
        headers.append((b"x-request-id", rid.encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class _TooLarge(Exception):
    pass


#: where whole files arrive (channel deliveries, spreadsheet imports, usage readings): these
#: take up to LEGATO_MAX_INTAKE_BYTES, every other request LEGATO_MAX_BODY_BYTES
_FILE_PATHS = ("/intake/", "/api/v1/imports", "/api/v1/usage-readings", "/api/v1/stock/import")


class RequestContext:
    """Request id, body limit, access log and latency; the last word on unexpected errors.

    A body over the limit is refused with 413 whether it declares its length or is
    streamed in chunks (a chunked body is read, up to the limit, before the app sees it).
    An exception nothing else handled is logged with its traceback and answered as a 500
    problem+json that carries the request id, like every other error.
    """

    def __init__(self, app: ASGIApp, *, max_body: int, max_intake: int, metrics: Any | None) -> None:
        self.app, self.api_limit, self.intake_limit, self.metrics = app, max_body, max_intake, metrics

    def _too_large(self, path: str, limit: int) -> bytes:
        detail = f"the body is larger than {limit} bytes"
        return _problem_bytes(413, "payload_too_large", "Payload too large", detail, path)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        incoming = headers.get(b"x-request-id", b"").decode("latin-1")
        rid = incoming if _SANE_ID.match(incoming) else uuid.uuid4().hex
        token = request_id.set(rid)
        started = time.perf_counter()
        status = 500
        responded = False
        path = scope.get("path", "")
        # a channel's delivery is stored even when too large to process (then quarantined)
        limit = self.intake_limit if path.startswith(_FILE_PATHS) else self.api_limit
        try:
            declared = headers.get(b"content-length")
            if declared is not None and declared.isdigit() and int(declared) > limit:
                status = 413
                await _send_problem(send, 413, self._too_large(path, limit), rid)
                return
            if declared is None and scope.get("method") in _IDEMPOTENT_METHODS:
                buffered = await _read_body(receive, limit)
                if buffered is None:
                    status = 413
                    await _send_problem(send, 413, self._too_large(path, limit), rid)
                    return
                receive = _replay(buffered, receive)
            seen = 0

            async def limited_receive() -> Message:
                nonlocal seen
                message = await receive()
                if message["type"] == "http.request":
                    seen += len(message.get("body", b""))
                    if seen > limit:
                        raise _TooLarge
                return message

            async def send_with_id(message: Message) -> None:
                nonlocal status, responded
                if message["type"] == "http.response.start":
                    status, responded = message["status"], True
                    message["headers"] = [*message.get("headers", []), (b"x-request-id", rid.encode())]
                await send(message)

            try:
                await self.app(scope, limited_receive, send_with_id)
            except _TooLarge:
                status = 413
                if not responded:
                    await _send_problem(send, 413, self._too_large(path, limit), rid)
            except Exception:
                log.exception("unhandled error", extra={"path": path})
                status = 500
                if not responded:
                    detail = "an unexpected error; it was logged with this request id"
                    body = _problem_bytes(500, "internal", "Internal error", detail, path)
                    await _send_problem(send, 500, body, rid)
        finally:
            elapsed = time.perf_counter() - started
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            if self.metrics is not None:
                self.metrics.latency.labels(scope.get("method", ""), template, str(status)).observe(elapsed)
            duration_ms = round(elapsed * 1000, 2)
            fields = {"method": scope.get("method"), "path": path, "route": template, "status": status}
            log.info("request", extra={**fields, "duration_ms": duration_ms})
            request_id.reset(token)


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    """The whole body of a request that did not declare its length; None past ``limit``."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


_IDEMPOTENT_METHODS = {"POST", "PUT", "PATCH"}


class Idempotency:
    def __init__(self, app: ASGIApp, *, engine: Any) -> None:
        self.app, self.engine = app, engine

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") not in _IDEMPOTENT_METHODS:
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        key = headers.get(b"idempotency-key", b"").decode("latin-1").strip()
        if not key:
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        if len(key) > 255:
            await _send_problem(
                send,
                422,
                _problem_bytes(
                    422,
                    "validation",
                    "The request is not valid",
                    "Idempotency-Key is longer than 255 characters",
                    path,
                ),
                request_id.get(),
            )
            return
        presented = _presented(headers)
        api_key = await run_in_threadpool(apikeys.authenticate, self.engine, presented) if presented else None
        if api_key is None:  # let the route answer 401 as usual
            await self.app(scope, receive, send)
            return
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        claim = await run_in_threadpool(
            apikeys.begin_idempotent, self.engine, api_key.id, key, scope["method"], path, body
        )
        if claim.state == "replay":
            payload = (claim.body or "").encode()
            ctype = PROBLEM_JSON if (claim.status_code or 200) >= 400 else "application/json"
            await send(
                {
                    "type": "http.response.start",
                    "status": claim.status_code,
                    "headers": [
                        (b"content-type", ctype.encode()),
                        (b"content-length", str(len(payload)).encode()),
                        (b"idempotent-replayed", b"true"),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": payload})
            return
        if claim.state in ("mismatch", "in_flight"):
            status, code, detail = (
                (422, "idempotency_key_reused", "this Idempotency-Key was used with a different request body")
                if claim.state == "mismatch"
                else (
                    409,
                    "idempotency_key_in_flight",
                    "a request with this Idempotency-Key is still being processed",
                )
            )
            await _send_problem(
                send,
                status,
                _problem_bytes(status, code, "Idempotency-Key conflict", detail, path),
                request_id.get(),
            )
            return

        replay_receive = _replay(body, receive)
        captured: dict[str, Any] = {"status": 500, "body": b""}

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                captured["status"] = message["status"]
            elif message["type"] == "http.response.body":
                captured["body"] += message.get("body", b"")
            await send(message)

        try:
            await self.app(scope, replay_receive, capture)
        finally:
            await run_in_threadpool(
                apikeys.finish_idempotent,
                self.engine,
                claim.record_id or 0,
                captured["status"],
                captured["body"].decode("utf-8", "replace"),
            )


def _presented(headers: dict[bytes, bytes]) -> str | None:
    auth = headers.get(b"authorization", b"").decode("latin-1")
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip() or None
    return headers.get(b"x-api-key", b"").decode("latin-1") or None
