"""Email over SMTP for ``send_email``: one message per step, one connection per message.

The server and how to reach it come from the settings (``LEGATO_SMTP_*``): ``starttls``
(port 587: plain connection upgraded with STARTTLS, refused if the server does not offer it),
``ssl`` (port 465: TLS from the first byte) or ``none`` (port 25, a relay on a trusted
network). Certificates are verified (``LEGATO_SMTP_CA_FILE`` adds a private CA); a
username logs in after TLS.

The Message-ID is the step's idempotency key at the sender's domain
(``<legato-run-1-step-0@shop.example>``): the same on every attempt, so a relay or mailbox
that drops duplicates by Message-ID sees a retry after a lost answer as the same message.

SMTP's own answer decides what the runner does: a 4xx reply (greylisting, a full mailbox,
451), a refused or dropped connection or a timeout is worth retrying (``Retry``); a 5xx
reply (550 no such user, 535 bad credentials, 554 rejected) will never succeed (``Fail``).
"""

from __future__ import annotations

import smtplib
import socket
import ssl
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import format_datetime, parseaddr
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from legato.workflow.actions import Fail, Retry
from legato.workflow.outbound.http import attach

if TYPE_CHECKING:
    from legato.config import Settings

DEFAULT_PORTS = {"starttls": 587, "ssl": 465, "none": 25}
#: what the job keeps of a server's reply
REPLY_CHARS = 300


@dataclass(frozen=True)
class Email:
    """One message as it is sent: rendered, addressed, identified."""

    sender: str  # "Shop <orders@shop.example>"
    to: tuple[str, ...]
    subject: str
    text: str
    html: str | None
    message_id: str
    date: datetime
    cc: tuple[str, ...] = ()

    @property
    def recipients(self) -> list[str]:
        """The envelope's recipients: To then Cc, each once."""
        return list(dict.fromkeys(parseaddr(a)[1] for a in (*self.to, *self.cc)))


@dataclass(frozen=True)
class Sent:
    """The server took the message for ``accepted``; ``refused`` recipients with the reply."""

    accepted: list[str]
    refused: dict[str, str] = field(default_factory=dict)
    reply: str = ""  # the answer to the message's end, e.g. "250 2.0.0 Ok: queued as 4BdX"


def domain_of(address: str) -> str:
    return parseaddr(address)[1].rpartition("@")[2]


def message_id(key: str, sender: str) -> str:
    """``<legato-run-1-step-0@shop.example>``: stable across a step's attempts and machines
    (the sender's domain, not this host's name)."""
    return f"<{key}@{domain_of(sender) or 'legato.invalid'}>"


def build(email: Email) -> EmailMessage:
    """The MIME message: text, with the HTML as its alternative when there is one; bodies
    7-bit safe (quoted-printable or base64), for servers without 8BITMIME."""
    msg = EmailMessage(policy=SMTP_POLICY.clone(cte_type="7bit"))
    msg["From"] = email.sender
    msg["To"] = ", ".join(email.to)
    if email.cc:
        msg["Cc"] = ", ".join(email.cc)
    msg["Subject"] = email.subject
    msg["Date"] = format_datetime(email.date)
    msg["Message-ID"] = email.message_id
    msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: out-of-office replies should not answer it
    msg.set_content(email.text)
    if email.html is not None:
        msg.add_alternative(email.html, subtype="html")
    return msg


@lru_cache(maxsize=1)
def _local_name() -> str:
    return socket.getfqdn()


@lru_cache(maxsize=8)
def _tls(ca_file: Path | None) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(ca_file) if ca_file else None)


def _reply(code: int, message: bytes | str) -> str:
    text = message.decode("utf-8", "replace") if isinstance(message, bytes) else str(message)
    return f"{code} {' '.join(text.split())}"[:REPLY_CHARS]


def _by_code(code: int, what: str) -> Exception:
    """A 4xx reply is temporary (Retry); a 5xx one permanent (Fail)."""
    return Fail(what) if 500 <= code < 600 else Retry(what)


def send(settings: Settings, email: Email) -> Sent:
    """Hand ``email`` to the SMTP server; Retry or Fail (with the request and the reply
    attached for the job's log) when it does not take it."""
    host, mode = settings.smtp_host, settings.smtp_tls
    if not host:
        raise Fail("send_email needs an SMTP server: set LEGATO_SMTP_HOST (and LEGATO_SMTP_FROM)")
    port = settings.smtp_port or DEFAULT_PORTS[mode]
    request: dict[str, Any] = {
        "server": f"{host}:{port}", "tls": mode, "from": email.sender, "to": list(email.to),
        "cc": list(email.cc), "subject": email.subject, "message_id": email.message_id,
    }  # fmt: skip
    try:
        context = _tls(settings.smtp_ca_file) if mode != "none" else None
    except (OSError, ssl.SSLError) as exc:
        raise attach(Fail(f"cannot use LEGATO_SMTP_CA_FILE: {exc}"), request, {"error": "tls"}) from None
    try:
        return _transaction(settings, email, host, port, context)
    except smtplib.SMTPRecipientsRefused as exc:
        replies = {r: _reply(c, m) for r, (c, m) in exc.recipients.items()}
        temporary = any(400 <= c < 500 for c, _ in exc.recipients.values())
        what = "every recipient was refused: " + "; ".join(f"{r}: {m}" for r, m in replies.items())
        raise attach(Retry(what) if temporary else Fail(what), request, {"refused": replies}) from None
    except smtplib.SMTPResponseException as exc:  # the greeting, HELO, AUTH, MAIL FROM, DATA
        reply = _reply(exc.smtp_code, exc.smtp_error)
        what = f"the SMTP server {host}:{port} answered {reply}"
        raise attach(_by_code(exc.smtp_code, what), request, {"reply": reply}) from None
    except smtplib.SMTPNotSupportedError as exc:  # no STARTTLS, no AUTH on offer
        raise attach(Fail(f"{host}:{port}: {exc}"), request, {"error": "not_supported"}) from None
    except smtplib.SMTPServerDisconnected as exc:  # smtplib's word for a reply that timed out too
        if "timed out" in str(exc):
            what = f"no answer from {host}:{port} within {settings.smtp_timeout_seconds:g} s"
            raise attach(Retry(what), request, {"error": "timeout"}) from None
        what = f"the SMTP server {host}:{port} closed the connection: {exc or 'without an answer'}"
        raise attach(Retry(what), request, {"error": "closed"}) from None
    except smtplib.SMTPException as exc:
        raise attach(Retry(f"SMTP {host}:{port}: {exc}"), request, {"error": "smtp"}) from None
    except ssl.SSLCertVerificationError as exc:
        what = f"the certificate of {host}:{port} cannot be trusted: {exc.verify_message}"
        raise attach(Fail(what), request, {"error": "certificate"}) from None
    except TimeoutError:
        what = f"no answer from {host}:{port} within {settings.smtp_timeout_seconds:g} s"
        raise attach(Retry(what), request, {"error": "timeout"}) from None
    except OSError as exc:  # refused, unreachable, a name that does not resolve, a TLS failure
        what = f"cannot reach the SMTP server {host}:{port}: {exc}"
        raise attach(Retry(what), request, {"error": "connection"}) from None


def _transaction(
    settings: Settings, email: Email, host: str, port: int, context: ssl.SSLContext | None
) -> Sent:
    """One SMTP session: (STARTTLS,) (AUTH,) MAIL, RCPT per recipient, DATA."""
    timeout, mode = settings.smtp_timeout_seconds, settings.smtp_tls
    smtp: smtplib.SMTP
    if mode == "ssl":
        smtp = smtplib.SMTP_SSL(host, port, local_hostname=_local_name(), timeout=timeout, context=context)
    else:
        smtp = smtplib.SMTP(host, port, local_hostname=_local_name(), timeout=timeout)
    with smtp:
        smtp.ehlo()
        if mode == "starttls":
            if not smtp.has_extn("starttls"):
                raise smtplib.SMTPNotSupportedError(
                    "the server does not offer STARTTLS (LEGATO_SMTP_TLS=starttls); use ssl, or none on a "
                    "trusted network"
                )
            smtp.starttls(context=context)
            smtp.ehlo()
        if settings.smtp_username:
            smtp.login(settings.smtp_username, settings.smtp_password or "")
        recipients = email.recipients
        ascii_only = all(a.isascii() for a in (parseaddr(email.sender)[1], *recipients))
        options: list[str] = []
        if not ascii_only:
            if not smtp.has_extn("smtputf8"):
                raise Fail("an address is not ASCII and the SMTP server does not offer SMTPUTF8")
            options = ["SMTPUTF8"]
        policy = SMTP_POLICY if ascii_only else SMTP_POLICY.clone(utf8=True)
        data = build(email).as_bytes(policy=policy)
        code, reply = smtp.mail(parseaddr(email.sender)[1], options)
        if code != 250:
            smtp.rset()
            raise smtplib.SMTPSenderRefused(code, reply, email.sender)
        refused: dict[str, tuple[int, bytes]] = {}
        for rcpt in recipients:
            code, reply = smtp.rcpt(rcpt)
            if code not in (250, 251):
                refused[rcpt] = (code, reply)
        if len(refused) == len(recipients):
            smtp.rset()
            raise smtplib.SMTPRecipientsRefused(refused)
        code, reply = smtp.data(data)
        if code != 250:
            smtp.rset()
            raise smtplib.SMTPDataError(code, reply)
    return Sent(
        [r for r in recipients if r not in refused],
        {r: _reply(c, m) for r, (c, m) in refused.items()},
        _reply(code, reply),
    )


__all__ = ["DEFAULT_PORTS", "Email", "Sent", "build", "domain_of", "message_id", "send"]
