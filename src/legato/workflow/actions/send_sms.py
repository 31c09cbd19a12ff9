"""``send_sms``: a text message through the SMS provider (Twilio's Messages API shape).

    - action: send_sms
      params:
        to: customer                 # or account, or a number in E.164 (+447700900123)
        template: status_changed     # sms/<name>.txt in LEGATO_TEMPLATES_DIR or built in
        # text: "Order {{ order.number }} is on its way"   # or an inline template instead
        if_missing: fail             # or skip: an order without a number is noted, not dead

``customer`` is the order's customer phone (else its account's, else one on its addresses),
written as an international number (``+44 7700 900123`` and ``0044...`` are read as E.164; a
national number is not: it cannot be dialled without its country). The request carries the
step's idempotency key (``I-Twilio-Idempotency-Token``). 429, 5xx, a timeout -> retried; any
other refusal (400 with Twilio's error code) -> dead at once. See
docs/workflows/actions/send_sms.md and docs/workflows/notifications.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from legato.config import get_settings
from legato.domain.errors import NotFound
from legato.workflow.actions import Fail, StepContext, StepResult
from legato.workflow.actions import _orders as o
from legato.workflow.outbound import sms
from legato.workflow.outbound.http import TemplateFailed
from legato.workflow.templates import (
    SMS_MAX_CHARS,
    Contacts,
    TemplateMissing,
    notification_context,
    render_sms,
    template_problem,
    text_problem,
)

PARAMS = ("to", "template", "text", "if_missing")
KEYWORDS = ("customer", "account")


def resolve(to: str, found: Contacts) -> tuple[str | None, str | None]:
    """The E.164 number ``to`` names for this order, or None and why."""
    if to not in KEYWORDS:
        return to, None
    raw, who = (found.phone, "customer") if to == "customer" else (found.account_phone, "account")
    if not raw:
        return None, f"the order's {who} has no phone number"
    number = sms.normalise_number(raw)
    if number is None:
        return None, f"the phone number of the order's {who} ({raw!r}) is not an international (E.164) one"
    return number, None


class SendSms:
    name: ClassVar[str] = "send_sms"
    max_attempts: ClassVar[int] = 8

    def check(self, params: Mapping[str, Any], path: str) -> None:
        out = o.issues()
        o.known_keys(params, PARAMS, path, out)
        to = params.get("to")
        if to is None:
            out.add(f"{path}.to", "to is required: customer, account or a number in E.164", "required")
        elif not isinstance(to, str) or (to not in KEYWORDS and not sms.E164.match(to)):
            msg = "customer, account, or a number in E.164: +, country code and number (+447700900123)"
            out.add(f"{path}.to", msg, "invalid_phone", to)
        if ("template" in params) == ("text" in params):
            msg = "give either template (a file under sms/) or text (an inline template), not both"
            out.add(f"{path}.{'text' if 'text' in params else 'template'}", msg, "invalid")
        elif "template" in params:
            problem = template_problem("sms", params["template"], get_settings().templates_dir)
            if problem:
                out.add(f"{path}.template", problem, "invalid_template", params["template"])
        else:
            problem = text_problem(params["text"], SMS_MAX_CHARS)
            if problem:
                out.add(f"{path}.text", problem, "invalid_template", params["text"])
        if params.get("if_missing", "fail") not in ("fail", "skip"):
            out.add(f"{path}.if_missing", "fail or skip", "invalid", params.get("if_missing"))
        out.raise_if_any()

    def run(self, ctx: StepContext, params: Mapping[str, Any]) -> StepResult:
        settings = ctx.rt.settings
        if not (settings.sms_account_sid and settings.sms_auth_token and settings.sms_from):
            raise Fail("send_sms needs LEGATO_SMS_ACCOUNT_SID, LEGATO_SMS_AUTH_TOKEN and LEGATO_SMS_FROM")
        try:
            context, found = notification_context(ctx.rt.engine, ctx.event, ctx.now)
        except NotFound as exc:
            raise Fail(f"the event's {exc.detail}") from None
        to, missing = resolve(str(params["to"]), found)
        if to is None:
            if params.get("if_missing", "fail") != "skip":
                raise Fail(f"text message not sent: {missing}")
            return StepResult.done(note=f"text message not sent: {missing}", skipped=missing)
        template = params.get("template")
        try:
            body = render_sms(template, params.get("text"), context, settings.templates_dir)
        except (TemplateMissing, TemplateFailed) as exc:
            raise Fail(f"text message template: {exc}") from None
        sent = sms.send(settings, to, body, ctx.idempotency_key)
        note = f"text message sent to {to}" + (f" ({sent.sid})" if sent.sid else "")
        request = {"to": to, "template": template, "body": body, "idempotency_key": ctx.idempotency_key}
        return StepResult.done(
            note=note, request=request, sid=sent.sid, status=sent.status, http_status=sent.http_status
        )


ACTION = SendSms()

__all__ = ["ACTION", "KEYWORDS", "PARAMS", "SendSms", "resolve"]
