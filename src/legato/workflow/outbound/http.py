"""HTTP for the actions that call out (webhook deliveries, ``send_webhook``, ``call_http``).

One pooled client per process (a delivery reuses the subscriber's connection), a result
small enough to keep on the job, and the address policy that stops a URL from reaching into
Legato's own network (server-side request forgery): cloud metadata and link-local addresses
are never called; loopback and private networks only when the settings allow them
(``LEGATO_WEBHOOKS_ALLOW_PRIVATE``; by default everywhere except production).

Redirects are not followed: Standard Webhooks counts a 3xx as a failure (update the URL), and
following one would let a public URL bounce a request into a private network.
"""

from __future__ import annotations

import ipaddress
import json
import socket
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

import httpx
from jinja2 import ChainableUndefined, StrictUndefined, TemplateError, TemplateSyntaxError
from jinja2.sandbox import SandboxedEnvironment

from legato import __version__
from legato.domain.errors import FieldIssue

if TYPE_CHECKING:
    from legato.config import Settings

USER_AGENT = f"Legato/{__version__}"
#: what a result keeps of the answer's body (the job's response summary)
SUMMARY_CHARS = 2000
#: the most of an answer's body that is read at all
MAX_BODY_BYTES = 256 * 1024

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

#: cloud metadata services (AWS/GCP/Azure, AWS over IPv6, Alibaba): never a target
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a) for a in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200")
)
METADATA_NAMES = frozenset({"metadata.google.internal", "metadata.goog", "instance-data"})


class BlockedTarget(Exception):
    """The URL's host is an address Legato refuses to call."""


class TransportError(Exception):
    """No HTTP answer: a timeout, a refused or closed connection, a name that does not resolve."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind  # timeout | connection | closed | dns | error


@dataclass(frozen=True)
class HttpResult:
    status: int
    headers: Mapping[str, str]
    body: bytes
    duration_ms: int

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def text(self, limit: int = SUMMARY_CHARS) -> str:
        return self.body[: limit * 4].decode("utf-8", "replace")[:limit]

    def json(self) -> Any:
        """The body as JSON, or None when it is not JSON."""
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    def summary(self) -> dict[str, Any]:
        """What the job keeps of the answer."""
        return {
            "status": self.status,
            "duration_ms": self.duration_ms,
            "content_type": self.headers.get("content-type"),
            "body": self.text(),
        }


def allow_private(settings: Settings) -> bool:
    """Whether loopback and private-network targets are allowed: the setting, or by default
    everywhere but production."""
    if settings.webhooks_allow_private is not None:
        return settings.webhooks_allow_private
    return settings.environment != "production"


def url_problem(url: Any) -> str | None:
    """What is wrong with the URL's shape (an absolute http(s) URL with a host), or None."""
    if not isinstance(url, str) or not url.strip():
        return "an absolute http:// or https:// URL"
    if len(url) > 2000:
        return "a URL of at most 2000 characters"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError as exc:
        return f"not a valid URL: {exc}"
    if parts.scheme not in ("http", "https"):
        return f"an http:// or https:// URL, not {parts.scheme or 'a relative'} one"
    if not parts.hostname:
        return "a URL with a host"
    if parts.username is not None or parts.password is not None:
        return "a URL without user:password@ (send credentials in a header)"
    if any(c.isspace() for c in url):
        return "a URL without spaces"
    return None


def refusal(address: IPAddress, *, allow_private: bool) -> str | None:
    """Why this address may not be called, or None."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address in METADATA_ADDRESSES:
        return f"{address} is a cloud metadata address"
    if address.is_link_local:
        return f"{address} is a link-local address"
    if address.is_multicast or address.is_unspecified:
        return f"{address} is not a unicast address"
    if not allow_private and (address.is_loopback or address.is_private or not address.is_global):
        return f"{address} is a loopback or private-network address (LEGATO_WEBHOOKS_ALLOW_PRIVATE is off)"
    return None


def _name_refusal(host: str, *, allow_private: bool) -> str | None:
    name = host.lower().rstrip(".")
    if name in METADATA_NAMES:
        return f"{host} is a cloud metadata host"
    if not allow_private and (name == "localhost" or name.endswith(".localhost")):
        return f"{host} is a loopback name (LEGATO_WEBHOOKS_ALLOW_PRIVATE is off)"
    return None


def check_target(url: str, *, allow_private: bool, resolve: bool) -> None:
    """Refuse (BlockedTarget) a URL whose host is, or with ``resolve`` resolves to, an address
    that may not be called. Without ``resolve`` only IP literals and well-known names are
    checked (when a subscription is saved); every send resolves and checks again."""
    host = urlsplit(url).hostname or ""
    try:
        literal: IPAddress | None = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        why = refusal(literal, allow_private=allow_private)
        if why:
            raise BlockedTarget(why)
        return
    why = _name_refusal(host, allow_private=allow_private)
    if why:
        raise BlockedTarget(why)
    if not resolve:
        return
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise TransportError("dns", f"cannot resolve {host}: {exc}") from None
    for info in infos:
        why = refusal(ipaddress.ip_address(info[4][0]), allow_private=allow_private)
        if why:
            raise BlockedTarget(f"{host} resolves to {why}")


_LOCK = threading.Lock()
_CLIENT: httpx.Client | None = None


def _client() -> httpx.Client:
    global _CLIENT
    with _LOCK:
        if _CLIENT is None:
            _CLIENT = httpx.Client(follow_redirects=False, headers={"user-agent": USER_AGENT})
        return _CLIENT


def send(
    method: str,
    url: str,
    *,
    headers: Mapping[str, str],
    content: bytes | None,
    timeout: float,
) -> HttpResult:
    """One request; an answer of any status is a result, no answer is a TransportError."""
    started = time.monotonic()
    try:
        with _client().stream(method, url, headers=dict(headers), content=content, timeout=timeout) as r:
            body = b""
            for chunk in r.iter_bytes():
                body += chunk
                if len(body) >= MAX_BODY_BYTES:
                    break
            status, answer_headers = r.status_code, dict(r.headers)
    except httpx.TimeoutException:
        raise TransportError("timeout", f"no answer within {timeout:g} s") from None
    except httpx.ConnectError as exc:
        raise TransportError("connection", f"cannot connect: {exc}") from None
    except (httpx.RemoteProtocolError, httpx.ReadError) as exc:
        raise TransportError("closed", f"the connection closed without a full answer: {exc}") from None
    except httpx.HTTPError as exc:
        raise TransportError("error", f"{type(exc).__name__}: {exc}") from None
    duration = round((time.monotonic() - started) * 1000)
    return HttpResult(status, answer_headers, body, duration)


E = TypeVar("E", bound=Exception)


def attach(exc: E, request: Mapping[str, Any] | None, response: Mapping[str, Any] | None) -> E:
    """The request and response summaries the runner keeps with a failed attempt."""
    vars(exc).update(request=request, response=response)
    return exc


# --- templated requests ---------------------------------------------------------------------


class TemplateFailed(Exception):
    """A template could not be rendered for this event (an unknown field, a sandbox refusal)."""


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON")


def _dumps(value: Any, **kw: Any) -> str:
    return json.dumps(value, default=_json_default, **kw)


class Absent(ChainableUndefined, StrictUndefined):
    """A field that is not there: an error when it is used (a typo never renders as an empty
    text), but it may be looked into, so ``order.shipping_address.country | default('')``
    works for an order without one."""

    __slots__ = ()


#: Jinja2 in its sandbox: a template sees the condition context and nothing of Python's
#: internals.
TEMPLATES = SandboxedEnvironment(autoescape=False, undefined=Absent, keep_trailing_newline=True)
TEMPLATES.policies["json.dumps_function"] = _dumps
TEMPLATES.policies["json.dumps_kwargs"] = {"ensure_ascii": False}


def is_template(text: str) -> bool:
    return "{{" in text or "{%" in text or "{#" in text


def has_templates(value: Any) -> bool:
    if isinstance(value, str):
        return is_template(value)
    if isinstance(value, Mapping):
        return any(has_templates(v) for v in value.values())
    if isinstance(value, list):
        return any(has_templates(v) for v in value)
    return False


def template_issues(value: Any, path: str) -> list[FieldIssue]:
    """Every string in ``value`` (a text, or a mapping/list of them) that is not a valid
    template, with its path and the line of the error: refused when the workflow is saved."""
    if isinstance(value, Mapping):
        return [i for k, v in value.items() for i in template_issues(v, f"{path}.{k}")]
    if isinstance(value, list):
        return [i for n, v in enumerate(value) for i in template_issues(v, f"{path}[{n}]")]
    if isinstance(value, str) and is_template(value):
        try:
            TEMPLATES.parse(value)
        except TemplateSyntaxError as exc:
            msg = f"template error at line {exc.lineno}: {exc.message}"
            return [FieldIssue(path, msg, "invalid_template", value)]
    return []


@lru_cache(maxsize=512)
def _compiled(text: str) -> Any:
    return TEMPLATES.from_string(text)


def render(value: Any, context: Mapping[str, Any]) -> Any:
    """``value`` with every template string rendered; mappings and lists keep their shape,
    other values stay as they are. Raises TemplateFailed."""
    if isinstance(value, Mapping):
        return {k: render(v, context) for k, v in value.items()}
    if isinstance(value, list):
        return [render(v, context) for v in value]
    if isinstance(value, str) and is_template(value):
        try:
            return _compiled(value).render(context)
        except TemplateError as exc:
            raise TemplateFailed(f"{type(exc).__name__}: {exc.message or exc}") from None
        except (TypeError, ValueError, ArithmeticError, LookupError) as exc:
            raise TemplateFailed(f"{type(exc).__name__}: {exc}") from None
    return value


__all__ = [
    "MAX_BODY_BYTES",
    "METADATA_ADDRESSES",
    "SUMMARY_CHARS",
    "TEMPLATES",
    "USER_AGENT",
    "Absent",
    "BlockedTarget",
    "HttpResult",
    "TemplateFailed",
    "TransportError",
    "allow_private",
    "attach",
    "check_target",
    "has_templates",
    "is_template",
    "refusal",
    "render",
    "send",
    "template_issues",
    "url_problem",
]
