"""Per-request context: the request id travels on every log line and error response."""

from __future__ import annotations

from contextvars import ContextVar

request_id: ContextVar[str | None] = ContextVar("legato_request_id", default=None)
