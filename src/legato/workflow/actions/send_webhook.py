"""``send_webhook``: POST a signed Standard Webhooks message to a URL, as a workflow step.

    - action: send_webhook
      params:
        url: https://partner.example/hooks/legato
        event: order.approved              # the message's type; default: the triggering event's
        data: {number: "{{ order.number }}", total: "{{ order.total }}"}   # default: the event's payload

It is signed with ``LEGATO_WEBHOOKS_SIGNING_SECRET`` (one ``whsec_`` secret for the
installation, shared with the receivers of workflow webhooks); subscribers that each want their
own secret and event filter use ``/api/v1/webhooks`` instead. The ``webhook-id`` is the step's
idempotency key, the same on every attempt. 2xx -> done; 410 Gone -> dead at once; any other
answer, a timeout or a closed connection -> retried with backoff. See
docs/workflows/actions/send_webhook.md.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, ClassVar

from legato.domain.errors import FieldIssue, ValidationFailed
from legato.workflow import webhooks
from legato.workflow.actions import Fail, Retry, StepContext, StepResult
from legato.workflow.actions.call_http import template_context, unknown_params, url_issues
from legato.workflow.outbound.http import (
    BlockedTarget,
    TemplateFailed,
    TransportError,
    attach,
    has_templates,
    render,
    template_issues,
)

PARAMS = ("url", "event", "data")
#: the spec's advice: full-stop delimited identifiers of [a-zA-Z0-9_]
EVENT_TYPE = re.compile(r"^[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*$")


class SendWebhook:
    name: ClassVar[str] = "send_webhook"
    max_attempts: ClassVar[int] = 8

    def check(self, params: Mapping[str, Any], path: str) -> None:
        issues = unknown_params(params, PARAMS, path)
        if "url" not in params:
            issues.append(FieldIssue(f"{path}.url", "the URL to send the webhook to", "required"))
        else:
            issues += url_issues(params["url"], f"{path}.url", templates=False)
        event = params.get("event")
        if event is not None and (
            not isinstance(event, str) or len(event) > 60 or not EVENT_TYPE.match(event)
        ):
            msg = "an event type of letters, digits and _ separated by full stops (order.approved)"
            issues.append(FieldIssue(f"{path}.event", msg, "invalid", event))
        if "data" in params:
            issues += template_issues(params["data"], f"{path}.data")
        if issues:
            raise ValidationFailed(f"{issues[0].path}: {issues[0].message}", issues=issues)

    def run(self, ctx: StepContext, params: Mapping[str, Any]) -> StepResult:
        secret = ctx.rt.settings.webhooks_signing_secret
        if not secret:
            raise Fail("send_webhook needs LEGATO_WEBHOOKS_SIGNING_SECRET (whsec_...) to sign with")
        event = ctx.event
        if "data" in params:
            try:
                context = template_context(ctx) if has_templates(params["data"]) else {}
                data = render(params["data"], context)
            except TemplateFailed as exc:
                raise Fail(f"the data template of send_webhook failed: {exc}") from None
        else:
            data = dict(event.get("payload") or {})
        event_type = str(params.get("event") or event.get("type") or "workflow.webhook")
        body = webhooks.encode(webhooks.message(event_type, event.get("created_at") or ctx.now, data))
        url, msg_id = str(params["url"]), ctx.idempotency_key
        request = {"url": url, "message_id": msg_id, "event_type": event_type}
        try:
            result = webhooks.post(ctx.rt, url, [secret], msg_id, body)
        except BlockedTarget as exc:
            raise attach(Fail(f"refused to call {url}: {exc}"), request, {"error": "blocked"}) from None
        except TransportError as exc:
            raise attach(Retry(f"webhook to {url}: {exc}"), request, {"error": exc.kind}) from None
        if result.ok:
            note = f"webhook {event_type} sent to {url} ({result.status})"
            return StepResult.done(note=note, request=request, **result.summary())
        error = f"webhook to {url}: {webhooks.answer_error(result)}"
        if result.status == 410:
            raise attach(Fail(error + " (the receiver is gone)"), request, result.summary())
        raise attach(Retry(error), request, result.summary())


ACTION = SendWebhook()
