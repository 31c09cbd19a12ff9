"""``deliver_webhook``: one attempt of one queued webhook delivery (a job of kind ``webhook``).

Not a step for workflows: the fan-out queues these jobs for subscriptions
(``/api/v1/webhooks``); a workflow that wants to call a URL uses ``send_webhook`` or
``call_http``. Running deliveries as jobs gives them the engine's retries with backoff and
jitter, its dead letters and ``legato jobs retry``. See docs/workflows/webhooks.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from legato.workflow import webhooks
from legato.workflow.actions import StepContext, StepResult, bad_param


class DeliverWebhook:
    name: ClassVar[str] = "deliver_webhook"
    max_attempts: ClassVar[int] = webhooks.MAX_ATTEMPTS

    def check(self, params: Mapping[str, Any], path: str) -> None:
        raise bad_param(
            path.removesuffix(".params") + ".action",
            "deliver_webhook delivers subscriptions' webhooks; in a workflow use send_webhook or call_http",
            self.name,
        )

    def run(self, ctx: StepContext, params: Mapping[str, Any]) -> StepResult:
        return webhooks.deliver(ctx.rt, params, ctx.attempt)


ACTION = DeliverWebhook()
