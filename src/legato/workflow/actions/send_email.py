"""``send_email``: an email from a template, over SMTP, as a workflow step.

    - action: send_email
      params:
        to: customer                 # or account, an address, or a list of them
        template: status_changed     # email/<name>.txt (+ .html) in LEGATO_TEMPLATES_DIR or built in
        cc: [sales@shop.example]     # optional, same forms as to
        subject: "Order {{ order.number }}"   # optional: the template's own subject otherwise
        if_missing: fail             # or skip: an order without the address is noted, not dead

``customer`` is the order's customer email (else its account's, else one on its addresses);
``account`` the account's. The message carries the step's idempotency key as its Message-ID,
so a retry is recognisably the same message. SMTP 4xx, a refused or dropped connection or a
timeout -> retried with backoff; 5xx (550 no such user) -> dead at once. See
docs/workflows/actions/send_email.md and docs/workflows/notifications.md.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from email.utils import parseaddr
from typing import Any, ClassVar

from legato.config import get_settings
from legato.domain.errors import IssueCollector, NotFound
from legato.workflow.actions import Fail, StepContext, StepResult
from legato.workflow.actions import _orders as o
from legato.workflow.outbound import email as smtp
from legato.workflow.outbound.http import TemplateFailed
from legato.workflow.templates import (
    Contacts,
    TemplateMissing,
    notification_context,
    render_email,
    template_problem,
    text_problem,
)

PARAMS = ("to", "cc", "template", "subject", "if_missing")
KEYWORDS = ("customer", "account")
MAX_RECIPIENTS = 20
ADDRESS = re.compile(r"^[^@\s<>()\[\],;:\"\\]+@[^@\s<>()\[\],;:\"\\]+\.[^@\s<>()\[\],;:\"\\.]+$")


def is_address(value: str) -> bool:
    """An address (``a@shop.example``), optionally with a display name (``Sales <a@shop.example>``)."""
    if any(c in value for c in "\r\n") or len(value) > 254:
        return False
    return bool(ADDRESS.match(parseaddr(value)[1])) and ("<" in value or value.strip() == parseaddr(value)[1])


def _check_recipients(value: Any, key: str, path: str, out: IssueCollector, *, required: bool) -> None:
    where = f"{path}.{key}"
    if value is None:
        if required:
            out.add(where, f"{key} is required: customer, account, an address, or a list of them", "required")
        return
    items = value if isinstance(value, list) else [value]
    if not items or len(items) > MAX_RECIPIENTS:
        out.add(where, f"{key} is one recipient or a list of 1 to {MAX_RECIPIENTS}", "invalid", value)
        return
    for n, item in enumerate(items):
        at = f"{where}[{n}]" if isinstance(value, list) else where
        if not isinstance(item, str) or (item not in KEYWORDS and not is_address(item)):
            out.add(at, "customer, account, or an email address (orders@shop.example)", "invalid_email", item)


def resolve(value: Any, found: Contacts) -> tuple[list[str], list[str]]:
    """The addresses ``value`` (a recipient or a list) names for this order, and what was
    missing (one reason each)."""
    addresses: list[str] = []
    missing: list[str] = []
    for item in value if isinstance(value, list) else [] if value is None else [value]:
        if item == "customer":
            address, who = found.email, "the order's customer"
        elif item == "account":
            address, who = found.account_email, "the order's account"
        else:
            address, who = str(item), "the workflow"
        if not address:
            missing.append(f"{who} has no email address")
        elif not is_address(address):
            missing.append(f"the email address of {who} ({address!r}) is not valid")
        elif address not in addresses:
            addresses.append(address)
    return addresses, missing


class SendEmail:
    name: ClassVar[str] = "send_email"
    max_attempts: ClassVar[int] = 10  # about half an hour of backoff: greylisting passes well within it

    def check(self, params: Mapping[str, Any], path: str) -> None:
        out = o.issues()
        o.known_keys(params, PARAMS, path, out)
        _check_recipients(params.get("to"), "to", path, out, required=True)
        _check_recipients(params.get("cc"), "cc", path, out, required=False)
        if "template" not in params:
            out.add(f"{path}.template", "template is required: the name of an email template", "required")
        else:
            problem = template_problem("email", params["template"], get_settings().templates_dir)
            if problem:
                out.add(f"{path}.template", problem, "invalid_template", params["template"])
        if "subject" in params:
            problem = text_problem(params["subject"], 300)
            if problem:
                out.add(f"{path}.subject", problem, "invalid_template", params["subject"])
        if params.get("if_missing", "fail") not in ("fail", "skip"):
            out.add(f"{path}.if_missing", "fail or skip", "invalid", params.get("if_missing"))
        out.raise_if_any()

    def run(self, ctx: StepContext, params: Mapping[str, Any]) -> StepResult:
        settings = ctx.rt.settings
        if not settings.smtp_host or not settings.smtp_from:
            raise Fail("send_email needs LEGATO_SMTP_HOST and LEGATO_SMTP_FROM (the sender's address)")
        template = str(params["template"])
        try:
            context, found = notification_context(ctx.rt.engine, ctx.event, ctx.now)
        except NotFound as exc:
            raise Fail(f"the event's {exc.detail}") from None
        to, missing = resolve(params.get("to"), found)
        cc, cc_missing = resolve(params.get("cc"), found)
        missing += cc_missing
        if missing and params.get("if_missing", "fail") != "skip":
            raise Fail(f"email {template!r} not sent: {'; '.join(missing)}")
        if not to:
            note = f"email {template!r} not sent: {'; '.join(missing)}"
            return StepResult.done(note=note, skipped="; ".join(missing))
        try:
            rendered = render_email(template, context, settings.templates_dir, params.get("subject"))
        except (TemplateMissing, TemplateFailed) as exc:
            raise Fail(f"email template {template!r}: {exc}") from None
        sender = settings.smtp_from
        message = smtp.Email(
            sender=sender, to=tuple(to), cc=tuple(cc), subject=rendered.subject, text=rendered.text,
            html=rendered.html, message_id=smtp.message_id(ctx.idempotency_key, sender), date=ctx.now,
        )  # fmt: skip
        sent = smtp.send(settings, message)
        note = f"email {template!r} sent to {', '.join(sent.accepted)}"
        if sent.refused:
            note += "; refused: " + "; ".join(f"{r} ({m})" for r, m in sent.refused.items())
        if missing:
            note += "; not sent: " + "; ".join(missing)
        request = {"to": list(to), "cc": list(cc), "subject": rendered.subject, "template": template}
        return StepResult.done(
            note=note, request=request, message_id=message.message_id, accepted=sent.accepted,
            refused=sent.refused, reply=sent.reply,
        )  # fmt: skip


ACTION = SendEmail()

__all__ = ["ACTION", "ADDRESS", "KEYWORDS", "PARAMS", "SendEmail", "is_address", "resolve"]
