"""Text messages for ``send_sms``, in the shape of Twilio's Messages API.

One ``POST {LEGATO_SMS_BASE_URL}/2010-04-01/Accounts/{AccountSid}/Messages.json`` per
message, with HTTP basic auth (the account SID and auth token) and a form-encoded body:
``To``, ``Body`` and ``From`` (a number or an alphanumeric sender ID) or, when
``LEGATO_SMS_FROM`` is a Messaging Service SID (``MG...``), ``MessagingServiceSid``. Any
provider that speaks this shape will do (the base URL is a setting).

The step's idempotency key travels in the ``I-Twilio-Idempotency-Token`` header, the same on
every attempt. Outcomes: 2xx (Twilio answers 201 with the message's ``sid``) -> sent; 408,
429, 5xx, a timeout or a closed connection -> ``Retry``; any other answer -> ``Fail`` with
Twilio's error code and message (400 ``21211`` invalid 'To' number, 401 ``20003`` bad
credentials ...).
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

from legato.workflow.actions import Fail, Retry
from legato.workflow.outbound.http import HttpResult, TransportError, attach
from legato.workflow.outbound.http import send as http_send

if TYPE_CHECKING:
    from legato.config import Settings

API_VERSION = "2010-04-01"
IDEMPOTENCY_HEADER = "I-Twilio-Idempotency-Token"
E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
MESSAGING_SERVICE = re.compile(r"^MG[0-9a-fA-F]{32}$")
RETRY_STATUSES = frozenset({408, 429})


@dataclass(frozen=True)
class SentSms:
    sid: str | None  # the provider's id of the message (Twilio: SM...)
    status: str | None  # its first status (Twilio: queued, accepted ...)
    http_status: int


def normalise_number(value: str) -> str | None:
    """``+44 (0)7700 900-123``-style input as E.164 (``+447700900123``), or None when it is not
    an international number (a national one cannot be dialled without its country)."""
    text = re.sub(r"\(0\)", "", value.strip())
    text = re.sub(r"[\s().\-/]", "", text)
    if text.startswith("00"):
        text = "+" + text[2:]
    return text if E164.match(text) else None


def messages_url(base_url: str, account_sid: str) -> str:
    return f"{base_url.rstrip('/')}/{API_VERSION}/Accounts/{quote(account_sid, safe='')}/Messages.json"


def form(to: str, body: str, sender: str) -> dict[str, str]:
    """The form fields of one message."""
    key = "MessagingServiceSid" if MESSAGING_SERVICE.match(sender) else "From"
    return {"To": to, key: sender, "Body": body}


def _problem(result: HttpResult) -> str:
    """Twilio's error (``{"code": 21211, "message": ..., "more_info": ...}``) in one line."""
    doc = result.json()
    if isinstance(doc, dict) and (doc.get("code") or doc.get("message")):
        more = f" ({doc['more_info']})" if doc.get("more_info") else ""
        return f"{doc.get('code', '')} {doc.get('message', '')}".strip() + more
    return result.text(300).strip() or "no details"


def send(settings: Settings, to: str, body: str, key: str) -> SentSms:
    """Send one message; Retry or Fail (with the request and response attached) otherwise."""
    sid, token, sender = settings.sms_account_sid, settings.sms_auth_token, settings.sms_from
    if not (sid and token and sender):
        raise Fail("send_sms needs LEGATO_SMS_ACCOUNT_SID, LEGATO_SMS_AUTH_TOKEN and LEGATO_SMS_FROM")
    url = messages_url(settings.sms_base_url, sid)
    fields = form(to, body, sender)
    auth = base64.b64encode(f"{sid}:{token}".encode()).decode()
    headers = {
        "Authorization": f"Basic {auth}",
        "Content-Type": "application/x-www-form-urlencoded",
        "Accept": "application/json",
        IDEMPOTENCY_HEADER: key,
    }
    summary = {k.lower(): v for k, v in fields.items()}  # to, from or messagingservicesid, body
    request: dict[str, Any] = {"url": url, "idempotency_key": key, **summary}
    content, timeout = urlencode(fields).encode(), settings.sms_timeout_seconds
    try:
        result = http_send("POST", url, headers=headers, content=content, timeout=timeout)
    except TransportError as exc:
        raise attach(Retry(f"SMS provider: {exc}"), request, {"error": exc.kind}) from None
    if result.ok:
        doc = result.json()
        doc = doc if isinstance(doc, dict) else {}
        return SentSms(doc.get("sid"), doc.get("status"), result.status)
    what = f"the SMS provider answered {result.status}: {_problem(result)}"
    if result.status in RETRY_STATUSES or result.status >= 500:
        raise attach(Retry(what), request, result.summary())
    raise attach(Fail(what), request, result.summary())


__all__ = [
    "API_VERSION",
    "E164",
    "IDEMPOTENCY_HEADER",
    "MESSAGING_SERVICE",
    "RETRY_STATUSES",
    "SentSms",
    "form",
    "messages_url",
    "normalise_number",
    "send",
]
