"""``call_http``: call an HTTP endpoint with a templated body, the building block for dropship
and custom integrations.

    - action: call_http
      params:
        method: POST                      # GET POST PUT PATCH DELETE; default POST
        url: https://supplier.example/api/orders/{{ order.number }}   # templates after the host
        headers: {Authorization: "Bearer abc"}
        body: {reference: "{{ order.number }}", total: "{{ order.total }}"}   # or a text template
        expect: [200, 201]                # default: any 2xx
        idempotency_header: Idempotency-Key   # the step's key; null to send none

Templates are Jinja2, rendered in a sandbox with the condition context (order, account,
event, now). A mapping or list body is sent as JSON with each string rendered; a text body
is sent as rendered. Outcomes: an expected status -> done, with the request and a response
summary kept on the job; 408, 429, 5xx, a timeout or a closed connection -> retried with
backoff; any other answer (3xx, 4xx, an unexpected 2xx) -> dead at once. See
docs/workflows/actions/call_http.md.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, ClassVar

from legato.domain.errors import FieldIssue, NotFound, ValidationFailed
from legato.store.queries import reading
from legato.workflow.actions import Fail, Retry, StepContext, StepResult
from legato.workflow.outbound.http import (
    BlockedTarget,
    TemplateFailed,
    TransportError,
    allow_private,
    attach,
    check_target,
    has_templates,
    is_template,
    render,
    send,
    template_issues,
    url_problem,
)

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
PARAMS = ("method", "url", "headers", "body", "expect", "idempotency_header")
HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}$")
#: headers that frame the request: set by the client, never by a workflow
FRAMING = frozenset({"host", "content-length", "transfer-encoding", "connection"})
REQUEST_BODY_CHARS = 2000


def template_context(ctx: StepContext) -> dict[str, Any]:
    """What templates see: the condition context of the step's event."""
    from legato.workflow.context import build_context

    try:
        with reading(ctx.rt.engine) as conn:
            return dict(build_context(conn, ctx.event, now=ctx.now))
    except NotFound as exc:
        raise Fail(f"the event's {exc.detail}") from None


def url_issues(url: Any, path: str, *, templates: bool) -> list[FieldIssue]:
    """An absolute http(s) URL; with ``templates``, templates only after the host."""
    text = url if isinstance(url, str) else None
    static = text
    if text is not None and templates and is_template(text):
        static = text[: min(i for i in (text.find("{{"), text.find("{%"), text.find("{#")) if i >= 0)]
        if "/" not in static.partition("://")[2]:
            msg = "write the scheme and host out; templates may follow the host (in the path or query)"
            return [FieldIssue(path, msg, "invalid", url)]
    elif text is not None and is_template(text):
        return [FieldIssue(path, "a fixed URL (no templates)", "invalid", url)]
    problem = url_problem(static)
    if problem:
        return [FieldIssue(path, problem, "invalid_url", url)]
    try:
        check_target(str(static), allow_private=True, resolve=False)
    except BlockedTarget as exc:
        return [FieldIssue(path, str(exc), "blocked_url", url)]
    return template_issues(text, path) if templates else []


def unknown_params(params: Mapping[str, Any], known: tuple[str, ...], path: str) -> list[FieldIssue]:
    return [
        FieldIssue(f"{path}.{k}", f"unknown parameter {k!r}; known: {', '.join(known)}", "unknown_field", k)
        for k in params
        if k not in known
    ]


def _check(params: Mapping[str, Any], path: str) -> list[FieldIssue]:
    issues = unknown_params(params, PARAMS, path)
    method = params.get("method", "POST")
    if not isinstance(method, str) or method.upper() not in METHODS:
        issues.append(FieldIssue(f"{path}.method", f"one of {', '.join(METHODS)}", "invalid", method))
    if "url" not in params:
        issues.append(FieldIssue(f"{path}.url", "the URL to call", "required"))
    else:
        issues += url_issues(params["url"], f"{path}.url", templates=True)
    headers = params.get("headers") or {}
    if not isinstance(headers, Mapping):
        issues.append(FieldIssue(f"{path}.headers", "a mapping of header names to texts", "invalid"))
        headers = {}
    for name, value in headers.items():
        where = f"{path}.headers.{name}"
        if not isinstance(name, str) or not HEADER_NAME.match(name) or name.lower() in FRAMING:
            issues.append(FieldIssue(where, "a header name (not Host, Content-Length ...)", "invalid", name))
        elif not isinstance(value, str | int) or isinstance(value, bool):
            issues.append(FieldIssue(where, "a header value is a text", "invalid", value))
        elif isinstance(value, str):
            issues += template_issues(value, where)
    body = params.get("body")
    if body is not None:
        if not isinstance(body, str | Mapping | list):
            issues.append(
                FieldIssue(f"{path}.body", "a text template, or a mapping/list sent as JSON", "invalid")
            )
        elif isinstance(method, str) and method.upper() == "GET":
            issues.append(FieldIssue(f"{path}.body", "a GET request has no body", "invalid"))
        else:
            issues += template_issues(body, f"{path}.body")
    expect = params.get("expect")
    if expect is not None and (
        not isinstance(expect, list)
        or not expect
        or not all(isinstance(s, int) and not isinstance(s, bool) and 100 <= s <= 599 for s in expect)
    ):
        issues.append(
            FieldIssue(f"{path}.expect", "a list of HTTP statuses, e.g. [200, 201]", "invalid", expect)
        )
    idem = params.get("idempotency_header", "Idempotency-Key")
    if idem not in (None, "") and (not isinstance(idem, str) or not HEADER_NAME.match(idem)):
        issues.append(FieldIssue(f"{path}.idempotency_header", "a header name, or null", "invalid", idem))
    return issues


def _jsonable(value: Any) -> Any:
    return str(value)


class CallHttp:
    name: ClassVar[str] = "call_http"
    max_attempts: ClassVar[int] = 8

    def check(self, params: Mapping[str, Any], path: str) -> None:
        issues = _check(params, path)
        if issues:
            raise ValidationFailed(f"{issues[0].path}: {issues[0].message}", issues=issues)

    def run(self, ctx: StepContext, params: Mapping[str, Any]) -> StepResult:
        method = str(params.get("method", "POST")).upper()
        raw = {k: params.get(k) for k in ("url", "headers", "body")}
        context = template_context(ctx) if has_templates(raw) else {}
        try:
            url, headers, body = (render(raw[k], context) for k in ("url", "headers", "body"))
        except TemplateFailed as exc:
            raise Fail(f"a template of call_http failed: {exc}") from None
        if url_problem(url):
            raise Fail(f"the rendered URL {url!r} is not valid: {url_problem(url)}")
        sent = {str(k): str(v) for k, v in (headers or {}).items()}
        content = None
        if body is not None:
            text = body if isinstance(body, str) else json.dumps(body, ensure_ascii=False, default=_jsonable)
            content = text.encode()
        names = {k.lower() for k in sent}
        if content is not None and "content-type" not in names:
            sent["Content-Type"] = "application/json"
        idem = params.get("idempotency_header", "Idempotency-Key")
        if idem and idem.lower() not in names:
            sent[idem] = ctx.idempotency_key
        settings = ctx.rt.settings
        request = {
            "method": method,
            "url": url,
            "idempotency_key": sent.get(idem) if idem else None,
            "body": content.decode("utf-8", "replace")[:REQUEST_BODY_CHARS] if content else None,
        }
        try:
            check_target(url, allow_private=allow_private(settings), resolve=True)
            result = send(
                method, url, headers=sent, content=content, timeout=settings.webhooks_timeout_seconds
            )
        except BlockedTarget as exc:
            raise attach(Fail(f"refused to call {url}: {exc}"), request, {"error": "blocked"}) from None
        except TransportError as exc:
            raise attach(Retry(f"{method} {url}: {exc}"), request, {"error": exc.kind}) from None
        expect = params.get("expect")
        answer = f"{method} {url} answered {result.status}"
        if result.status in expect if expect else result.ok:
            return StepResult.done(note=answer, request=request, **result.summary())
        snippet = result.text(300).strip()
        error = answer + (f": {snippet}" if snippet else "")
        if result.status in (408, 429) or result.status >= 500:
            raise attach(Retry(error), request, result.summary())
        raise attach(Fail(error + (f" (expected {expect})" if expect else "")), request, result.summary())


ACTION = CallHttp()
