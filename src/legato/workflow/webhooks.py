"""Webhooks to subscribers (Standard Webhooks): fan-out, the signed message, one delivery.

Fan-out runs in the engine's dispatch transaction (``engine.FANOUT``): each outbox event
becomes one delivery job per active subscription that wants its type, so an event is either
dispatched with all its deliveries queued or not at all. The runner executes each job through
the ``deliver_webhook`` action, so deliveries get the engine's retries with backoff and jitter
and its dead letters.

A message is ``{"type", "timestamp", "data"}`` (the event type, when it happened, the
event's payload), sent as compact JSON with the headers ``webhook-id`` (fixed per event and
subscription: the receiver's idempotency key), ``webhook-timestamp`` (this attempt, Unix
seconds) and ``webhook-signature`` (``v1,<base64 HMAC-SHA256 of id.timestamp.body>``; two
during a secret rotation). Outcomes: 2xx delivered; 410 Gone disables the subscription at
once; anything else, a timeout or a closed connection is retried. A delivery out of attempts
is dead; ``LEGATO_WEBHOOKS_DISABLE_AFTER`` dead deliveries in a row disable the subscription,
with an alert and a log line.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection
from standardwebhooks import Webhook

from legato.domain.errors import FieldIssue
from legato.domain.events import EVENT_TYPES
from legato.store import webhooks as store
from legato.store.alerts import raise_alert
from legato.store.db import write_lock
from legato.store.queries import reading
from legato.workflow.actions import Fail, Retry, StepResult
from legato.workflow.model import TRIGGERS
from legato.workflow.outbound.http import (
    BlockedTarget,
    HttpResult,
    TransportError,
    allow_private,
    attach,
    check_target,
    send,
    url_problem,
)

if TYPE_CHECKING:
    from legato.bootstrap import Runtime
    from legato.config import Settings

log = logging.getLogger("legato.webhooks")

TEST_EVENT = "webhook.test"
#: attempts of one delivery: with the runner's backoff (2 s doubling, capped at 1 h, full
#: jitter) they span about three hours on average, six at most
MAX_ATTEMPTS = 16


def message_id(event_id: int, subscription_id: int) -> str:
    """The ``webhook-id`` of an event for a subscription: the same on every attempt."""
    return f"msg_{event_id}_{subscription_id}"


def iso(value: Any) -> str:
    """A timestamp as the spec's examples write it: ISO 8601 in UTC with a Z."""
    at: datetime = datetime.fromisoformat(value) if isinstance(value, str) else value
    if not isinstance(at, datetime):
        raise TypeError(f"not a timestamp: {value!r}")
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def message(event_type: str, timestamp: Any, data: Any) -> dict[str, Any]:
    return {"type": event_type, "timestamp": iso(timestamp), "data": data}


def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return iso(value)
    raise TypeError(f"{type(value).__name__} is not JSON")


def encode(body: Mapping[str, Any]) -> bytes:
    """The exact bytes that are signed and sent (compact JSON; decimals as strings)."""
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False, default=_jsonable).encode()


def signed_headers(secrets: Sequence[str], msg_id: str, body: bytes, at: datetime) -> dict[str, str]:
    """The Standard Webhooks headers, one ``v1`` signature per secret (space-separated)."""
    text = body.decode()
    signatures = " ".join(Webhook(s).sign(msg_id, at.astimezone(UTC), text) for s in secrets)
    return {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signatures,
    }


def post(rt: Runtime, url: str, secrets: Sequence[str], msg_id: str, body: bytes) -> HttpResult:
    """Sign now and POST; raises BlockedTarget or TransportError when there is no answer."""
    check_target(url, allow_private=allow_private(rt.settings), resolve=True)
    headers = signed_headers(secrets, msg_id, body, datetime.now(UTC))
    return send("POST", url, headers=headers, content=body, timeout=rt.settings.webhooks_timeout_seconds)


def answer_error(result: HttpResult) -> str:
    snippet = result.text(200).strip()
    return f"HTTP {result.status}" + (f": {snippet}" if snippet else "")


# --- subscriptions ---------------------------------------------------------------------------


def event_types() -> list[str]:
    """The event types a subscription may name: the core's and the workflow triggers'."""
    return sorted((set(EVENT_TYPES) | set(TRIGGERS)) - {"schedule"})


def subscription_issues(
    settings: Settings,
    *,
    url: Any = None,
    events: Any = None,
    check_url: bool = True,
    check_events: bool = True,
) -> list[FieldIssue]:
    """What is wrong with a subscription's URL and event list, each problem with its path."""
    issues: list[FieldIssue] = []
    if check_url:
        problem = url_problem(url)
        if problem:
            issues.append(FieldIssue("url", problem, "invalid_url", url))
        else:
            try:
                check_target(url, allow_private=allow_private(settings), resolve=False)
            except BlockedTarget as exc:
                issues.append(FieldIssue("url", f"{exc}", "blocked_url", url))
    if check_events:
        known = event_types()
        prefixes = {k.split(".", 1)[0] for k in known}
        if not isinstance(events, list) or not events:
            issues.append(FieldIssue("events", 'a list of event types, or ["*"] for every event', "required"))
            events = []
        for i, name in enumerate(events):
            ok = isinstance(name, str) and (
                name == "*" or name in known or (name.endswith(".*") and name[:-2] in prefixes)
            )
            if not ok:
                msg = f"unknown event type {name!r}; one of {', '.join(known)}, a prefix such as order.* or *"
                issues.append(FieldIssue(f"events[{i}]", msg, "unknown_event", name))
    return issues


# --- fan-out ------------------------------------------------------------------------------


def fan_out(conn: Connection, event: Mapping[str, Any]) -> None:
    """The engine's FANOUT hook: ``queue_deliveries`` in the dispatch transaction."""
    queue_deliveries(conn, event)


def queue_deliveries(conn: Connection, event: Mapping[str, Any]) -> int:
    """Queue a delivery of ``event`` (an outbox row as a mapping: id, type, payload,
    created_at ...) to every active subscription that wants its type, in the caller's
    transaction. Returns how many were queued."""
    event_type = str(event.get("type") or event.get("event_type"))
    event_id = int(event["id"])
    wanted = [s for s in store.active_subscriptions(conn) if s.wants(event_type)]
    if not wanted:
        return 0
    body = message(event_type, event.get("created_at") or datetime.now(UTC), dict(event.get("payload") or {}))
    now, queued = datetime.now(UTC), 0
    for sub in wanted:
        job = store.enqueue(
            conn, subscription_id=sub.id, message_id=message_id(event_id, sub.id), event_id=event_id,
            body=body, max_attempts=MAX_ATTEMPTS, now=now,
        )  # fmt: skip
        queued += job is not None
    return queued


# --- one delivery ----------------------------------------------------------------------------


def deliver(rt: Runtime, params: Mapping[str, Any], attempt: int) -> StepResult:
    """One attempt of one queued delivery (the ``deliver_webhook`` action's work)."""
    sub_id, msg_id = int(params["subscription_id"]), str(params["message_id"])
    with reading(rt.engine) as conn:
        sub = store.get_on(conn, sub_id)
        keys = store.signing(conn, rt.box, sub_id) if sub else None
        delivery = store.find_delivery(conn, sub_id, msg_id) if sub else None
    if sub is None or keys is None or delivery is None:
        return StepResult.done(skipped="the subscription was deleted", message_id=msg_id)
    if delivery.state == store.DELIVERED:
        return StepResult.done(skipped="already delivered", message_id=msg_id)
    if not sub.active:
        error = f"subscription {sub_id} is disabled ({sub.disabled_reason}); not sent"
        _finish(rt, delivery, store.DEAD, None, error, count=False)
        raise Fail(error)
    body = encode(message(str(params["type"]), params["timestamp"], params.get("data")))
    final = attempt >= (delivery.max_attempts or MAX_ATTEMPTS)
    request = {"url": sub.url, "message_id": msg_id, "event_type": params["type"]}
    response: dict[str, Any] | None = None
    try:
        result = post(rt, sub.url, keys.at(datetime.now(UTC)), msg_id, body)
    except BlockedTarget as exc:
        error = f"refused to call {sub.url}: {exc}"
        _finish(rt, delivery, store.DEAD, None, error, count=True)
        raise attach(Fail(error), request, {"error": "blocked"}) from None
    except TransportError as exc:
        status, error, response = None, str(exc), {"error": exc.kind}
    else:
        response = result.summary()
        if result.ok:
            _finish(rt, delivery, store.DELIVERED, result.status, None, count=False)
            return StepResult.done(request=request, **response)
        status, error = result.status, answer_error(result)
        if result.status == 410:
            _finish(rt, delivery, store.DEAD, status, error, count=False, gone=True)
            gone = Fail(f"{error}: the receiver is gone; subscription {sub_id} disabled")
            raise attach(gone, request, response)
    if final:
        _finish(rt, delivery, store.DEAD, status, error, count=True)
        raise attach(Fail(f"{error} (attempt {attempt}, the last)"), request, response)
    _finish(rt, delivery, store.FAILED, status, error, count=False)
    limit = delivery.max_attempts or MAX_ATTEMPTS
    raise attach(Retry(f"{error} (attempt {attempt} of {limit})"), request, response)


def _finish(
    rt: Runtime,
    delivery: store.Delivery,
    state: str,
    status: int | None,
    error: str | None,
    *,
    count: bool,
    gone: bool = False,
) -> None:
    """Record the attempt; on success reset the failure count; on a dead delivery count it
    and disable the subscription at the threshold (or at once on 410 Gone)."""
    now, sub_id = datetime.now(UTC), delivery.subscription_id
    with write_lock(rt.engine), rt.engine.begin() as conn:
        store.record_attempt(conn, delivery.id, state=state, status=status, error=error, now=now)
        if state == store.DELIVERED:
            store.succeeded(conn, sub_id)
            return
        reason = None
        if gone:
            reason = "the receiver answered 410 Gone"
        elif count:
            failures = store.count_failure(conn, sub_id)
            if failures >= rt.settings.webhooks_disable_after:
                reason = f"{failures} deliveries in a row failed; the last: {error}"
        if reason and store.disable(conn, sub_id, reason, now):
            sub = store.get_on(conn, sub_id)
            url = sub.url if sub else "?"
            raise_alert(
                conn, store.ALERT_KIND, store.alert_subject(sub_id),
                f"webhook subscription {sub_id} ({url}) was disabled: {reason}. Fix the receiver, then "
                f"re-enable it with PATCH /api/v1/webhooks/{sub_id} {{\"active\": true}}.",
                at=now,
            )  # fmt: skip
            log.warning(
                "webhook subscription %s (%s) disabled: %s", sub_id, url, reason,
                extra={"subscription_id": sub_id, "url": url, "reason": reason},
            )  # fmt: skip


# --- a test message ---------------------------------------------------------------------------


def send_test(rt: Runtime, sub_id: int) -> dict[str, Any] | None:
    """Send a ``webhook.test`` message to the subscription now (even a disabled one), log it,
    and say what the receiver answered. It never counts towards disabling. None: no such
    subscription."""
    now = datetime.now(UTC)
    with reading(rt.engine) as conn:
        sub = store.get_on(conn, sub_id)
        keys = store.signing(conn, rt.box, sub_id) if sub else None
    if sub is None or keys is None:
        return None
    msg_id = f"msg_test_{uuid.uuid4().hex}"
    body = encode(message(TEST_EVENT, now, {"subscription_id": sub_id, "description": sub.description}))
    result: HttpResult | None = None
    try:
        result = post(rt, sub.url, keys.at(now), msg_id, body)
        error = None if result.ok else answer_error(result)
    except (BlockedTarget, TransportError) as exc:
        error = str(exc)
    status = result.status if result else None
    store.log_test(rt.engine, sub_id, msg_id, status, error, now)
    return {
        "message_id": msg_id,
        "delivered": error is None,
        "status": status,
        "error": error,
        "duration_ms": result.duration_ms if result else None,
        "response": result.text() if result else None,
    }


__all__ = [
    "MAX_ATTEMPTS",
    "TEST_EVENT",
    "answer_error",
    "deliver",
    "encode",
    "event_types",
    "fan_out",
    "iso",
    "message",
    "message_id",
    "post",
    "queue_deliveries",
    "send_test",
    "signed_headers",
    "subscription_issues",
]
