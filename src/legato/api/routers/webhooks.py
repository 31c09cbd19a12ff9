"""Webhook subscriptions: who is told of which events, signed per Standard Webhooks.

The signing secret (``whsec_...``) is returned once, when the subscription is created or its
secret rotated; it is stored encrypted and never shown again. A subscription that failed too
often (or whose receiver answered 410 Gone) is disabled; ``PATCH {"active": true}`` enables
it again. Every delivery and each of its attempts is in ``/deliveries``. Admin scope
throughout: a subscription decides where order data goes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from legato.api.deps import runtime
from legato.api.security import require
from legato.bootstrap import Runtime
from legato.domain.errors import FieldIssue, NotFound, ValidationFailed
from legato.store import webhooks as store
from legato.store.apikeys import ApiKey
from legato.workflow import webhooks

router = APIRouter(prefix="/api/v1", tags=["webhooks"])
ADMIN = require("admin")

EventType = Annotated[str, StringConstraints(min_length=1, max_length=60)]
Description = Annotated[str, StringConstraints(max_length=200)]


def _id() -> Any:
    return Path(ge=1, le=2**62, description="the subscription's id")


class WebhookIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str = Field(max_length=2000, examples=["https://erp.example.com/hooks/legato"])
    events: list[EventType] = Field(
        min_length=1, max_length=100, description='event types, a prefix such as "order.*", or "*"'
    )
    description: Description | None = None


class WebhookPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str | None = Field(None, max_length=2000)
    events: list[EventType] | None = Field(None, min_length=1, max_length=100)
    description: Description | None = None
    active: bool | None = Field(None, description="true re-enables a disabled subscription; false pauses it")


class WebhookOut(BaseModel):
    id: int
    url: str
    events: list[str]
    description: str | None
    active: bool
    failures: int = Field(description="dead deliveries since the last one that arrived")
    disabled_at: datetime | None
    disabled_reason: str | None
    created_at: datetime
    updated_at: datetime
    deliveries: dict[str, int] | None = Field(None, description="how many deliveries are in each state")


class WebhookCreated(WebhookOut):
    secret: str = Field(description="the signing secret (whsec_...): shown this once")


class WebhookPage(BaseModel):
    items: list[WebhookOut]
    next_cursor: str | None


class SecretOut(BaseModel):
    id: int
    secret: str = Field(description="the new signing secret (whsec_...): shown this once")
    previous_valid_until: datetime = Field(description="until then deliveries are signed with both secrets")


class AttemptOut(BaseModel):
    attempt: int
    started_at: datetime
    finished_at: datetime | None
    outcome: str | None = Field(description="done, retry, dead, or lost (the worker died)")
    status: int | None = Field(description="the receiver's HTTP status; null when there was no answer")
    error: str | None
    duration_ms: int | None


class DeliveryOut(BaseModel):
    id: int
    message_id: str = Field(description="the webhook-id header, the same on every attempt")
    event_type: str
    event_id: int | None
    state: str = Field(description="pending, failed (will retry), delivered or dead")
    attempts: int
    max_attempts: int | None = Field(description="attempts before the delivery is dead")
    last_status: int | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None
    job_id: int | None
    attempt_log: list[AttemptOut]


class DeliveryPage(BaseModel):
    items: list[DeliveryOut]
    next_cursor: str | None


class TestOut(BaseModel):
    message_id: str
    delivered: bool
    status: int | None
    error: str | None
    duration_ms: int | None
    response: str | None = Field(description="the start of the receiver's answer")


def _out(sub: store.Subscription, counts: dict[str, int] | None = None) -> dict[str, Any]:
    return {**vars(sub), "events": list(sub.events), "deliveries": counts}


def _found(sub: store.Subscription | None, webhook_id: int) -> store.Subscription:
    if sub is None:
        raise NotFound(f"no webhook subscription {webhook_id}")
    return sub


def _check(rt: Runtime, **fields: Any) -> None:
    issues = webhooks.subscription_issues(
        rt.settings, check_url="url" in fields, check_events="events" in fields, **fields
    )
    if issues:
        raise ValidationFailed(f"{issues[0].path}: {issues[0].message}", issues=issues)


@router.post("/webhooks", response_model=WebhookCreated, status_code=201)
def create_webhook(
    body: WebhookIn, _: ApiKey = Depends(ADMIN), rt: Runtime = Depends(runtime)
) -> dict[str, Any]:
    """Subscribe a URL to event types; the answer holds the signing secret, shown only now."""
    _check(rt, url=body.url, events=body.events)
    events = list(dict.fromkeys(body.events))
    sub, secret = store.create(rt.engine, rt.box, url=body.url, events=events, description=body.description)
    return {**_out(sub), "secret": secret}


@router.get("/webhooks", response_model=WebhookPage)
def list_webhooks(
    limit: int = Query(100, ge=1, le=500),
    cursor: str | None = Query(None, max_length=100),
    _: ApiKey = Depends(ADMIN),
    rt: Runtime = Depends(runtime),
) -> dict[str, Any]:
    items, nxt = store.listing(rt.engine, limit=limit, cursor=cursor)
    return {"items": [_out(s) for s in items], "next_cursor": nxt}


@router.get("/webhooks/{webhook_id}", response_model=WebhookOut)
def get_webhook(
    webhook_id: int = _id(), _: ApiKey = Depends(ADMIN), rt: Runtime = Depends(runtime)
) -> dict[str, Any]:
    sub = _found(store.get(rt.engine, webhook_id), webhook_id)
    return _out(sub, store.delivery_counts(rt.engine, webhook_id))


@router.patch("/webhooks/{webhook_id}", response_model=WebhookOut)
def change_webhook(
    body: WebhookPatch, webhook_id: int = _id(), _: ApiKey = Depends(ADMIN), rt: Runtime = Depends(runtime)
) -> dict[str, Any]:
    """Change the URL, events or description; ``active: true`` re-enables a disabled
    subscription (its failure count starts again and its alert is cleared)."""
    changes = body.model_dump(exclude_unset=True)
    for name in ("url", "events", "active"):
        if name in changes and changes[name] is None:
            raise ValidationFailed(
                f"{name} cannot be null", issues=[FieldIssue(name, "cannot be null", "null")]
            )
    _check(rt, **{k: changes[k] for k in ("url", "events") if k in changes})
    if "events" in changes:
        changes["events"] = list(dict.fromkeys(changes["events"]))
    sub = _found(store.update_subscription(rt.engine, webhook_id, changes), webhook_id)
    return _out(sub, store.delivery_counts(rt.engine, webhook_id))


@router.delete("/webhooks/{webhook_id}", status_code=204)
def delete_webhook(
    webhook_id: int = _id(), _: ApiKey = Depends(ADMIN), rt: Runtime = Depends(runtime)
) -> Response:
    """Remove the subscription and its delivery log; deliveries still queued are not sent."""
    if not store.delete_subscription(rt.engine, webhook_id):
        raise NotFound(f"no webhook subscription {webhook_id}")
    return Response(status_code=204)


@router.post("/webhooks/{webhook_id}/rotate-secret", response_model=SecretOut)
def rotate_webhook_secret(
    webhook_id: int = _id(), _: ApiKey = Depends(ADMIN), rt: Runtime = Depends(runtime)
) -> dict[str, Any]:
    """A new signing secret, shown once. For ``ROTATION_OVERLAP`` (24 h) every delivery
    carries a signature with each secret, so the receiver can switch without losing one."""
    secret = store.rotate_secret(rt.engine, rt.box, webhook_id)
    if secret is None:
        raise NotFound(f"no webhook subscription {webhook_id}")
    sub = _found(store.get(rt.engine, webhook_id), webhook_id)
    return {
        "id": webhook_id,
        "secret": secret,
        "previous_valid_until": sub.updated_at + store.ROTATION_OVERLAP,
    }


@router.get("/webhooks/{webhook_id}/deliveries", response_model=DeliveryPage)
def list_deliveries(
    webhook_id: int = _id(),
    state: str | None = Query(None, pattern="^(pending|failed|delivered|dead)$"),
    limit: int = Query(50, ge=1, le=500),
    cursor: str | None = Query(None, max_length=100),
    _: ApiKey = Depends(ADMIN),
    rt: Runtime = Depends(runtime),
) -> dict[str, Any]:
    """The delivery log, newest first: each delivery's state and every attempt (status,
    error, time, duration)."""
    _found(store.get(rt.engine, webhook_id), webhook_id)
    found, nxt = store.deliveries(rt.engine, webhook_id, state=state, limit=limit, cursor=cursor)
    items = []
    for d, attempts in found:
        log = [{**a, "status": (a.get("response") or {}).get("status")} for a in attempts]
        if not log and d.attempts and d.job_id is None:  # a test message: sent once, at once
            log = [{"attempt": 1, "started_at": d.created_at, "finished_at": d.created_at,
                    "outcome": "done" if d.state == store.DELIVERED else "dead", "status": d.last_status,
                    "error": d.last_error, "duration_ms": None}]  # fmt: skip
        items.append({**vars(d), "attempt_log": log})
    return {"items": items, "next_cursor": nxt}


@router.post("/webhooks/{webhook_id}/test", response_model=TestOut)
def test_webhook(
    webhook_id: int = _id(), _: ApiKey = Depends(ADMIN), rt: Runtime = Depends(runtime)
) -> dict[str, Any]:
    """Send a signed ``webhook.test`` message now (also to a disabled subscription) and say
    what the receiver answered. It is logged with the deliveries and never disables."""
    result = webhooks.send_test(rt, webhook_id)
    if result is None:
        raise NotFound(f"no webhook subscription {webhook_id}")
    return result


__all__ = ["router"]
