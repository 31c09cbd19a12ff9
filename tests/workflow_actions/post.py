"""``post`` {url}: POSTs the step to a receiver with the step's ``Idempotency-Key``; 5xx and
connection failures are Retry, 4xx is Fail. The crash and worker tests count its effects."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import httpx

from legato.workflow.actions import Fail, Retry, StepContext, StepResult

_CLIENT = httpx.Client(timeout=10)  # one per process: a client per call would build a TLS context each time


class Post:
    name: ClassVar[str] = "post"
    max_attempts: ClassVar[int] = 5

    def check(self, params: Mapping[str, Any], path: str) -> None:
        pass

    def run(self, ctx: StepContext, params: Mapping[str, Any]) -> StepResult:
        body = {"run": ctx.run_id, "step": ctx.step, "order": ctx.order_id, "workflow": ctx.workflow}
        try:
            headers = {"Idempotency-Key": ctx.idempotency_key}
            r = _CLIENT.post(str(params["url"]), json=body, headers=headers)
        except httpx.TransportError as exc:
            raise Retry(f"{type(exc).__name__}: {exc}") from None
        if r.status_code >= 500:
            raise Retry(f"HTTP {r.status_code}")
        if r.status_code >= 400:
            raise Fail(f"HTTP {r.status_code}")
        return StepResult.done(request=body, status=r.status_code, effect=r.json().get("effect"))


ACTION = Post()
