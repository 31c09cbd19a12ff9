"""Intake: channels push deliveries to /intake/{code}; the inbox can be read and replayed."""

from __future__ import annotations

import base64
from typing import Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from legato.api.deps import runtime
from legato.api.problems import issue_to_dict
from legato.api.security import require
from legato.bootstrap import Runtime
from legato.domain.errors import LegatoError, NotFound
from legato.intake import pipeline
from legato.store import inbox
from legato.store.apikeys import ApiKey

router = APIRouter(tags=["intake"])


class IntakeResult(BaseModel):
    inbox_id: int | None
    state: str
    orders: list[dict[str, Any]] = Field(default_factory=list)
    reason: str | None = None
    code: str | None = Field(None, description="for a quarantined delivery answered 2xx: the problem's code")
    errors: list[dict[str, Any]] = Field(default_factory=list, description="the same: each field's problem")


def _outcome(out: pipeline.Outcome) -> Response:
    if out.reply is not None:
        return Response(out.reply.body, status_code=out.reply.status, media_type=out.reply.content_type)
    body = IntakeResult(
        inbox_id=out.inbox_id,
        state=out.state,
        orders=[{"id": o["id"], "number": o["number"], "created": o["created"]} for o in out.orders],
        reason=out.reason,
    )
    return JSONResponse(body.model_dump(), status_code=201 if out.created else 200)


async def _receive(request: Request, channel_code: str, rt: Runtime) -> Response:
    body = await request.body()
    try:
        out = await _run_pipeline(request, channel_code, rt, body)
    except LegatoError as exc:
        status = exc.extra.pop("answer_status", None)
        if status is None or status >= 300:
            raise
        # stored and quarantined, answered 2xx as the platform needs; the body names the problems
        return JSONResponse(
            {
                "inbox_id": exc.extra.get("inbox_id"),
                "state": "quarantined",
                "orders": [],
                "reason": exc.detail,
                "code": exc.code,
                "errors": [issue_to_dict(i) for i in exc.issues],
            },
            status_code=status,
        )
    return _outcome(out)


async def _run_pipeline(request: Request, channel_code: str, rt: Runtime, body: bytes) -> pipeline.Outcome:
    return await run_in_threadpool(
        pipeline.receive,
        rt,
        channel_code,
        method=request.method,
        path=request.url.path,
        query=dict(request.query_params),
        headers=dict(request.headers),
        body=body,
        source=request.client.host if request.client else None,
    )


_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"model": IntakeResult, "description": "stored; a re-delivery, an update or nothing to do"},
    201: {"model": IntakeResult, "description": "stored; an order was placed"},
    202: {"model": IntakeResult, "description": "stored but quarantined (channels that need a 2xx answer)"},
}


@router.post("/intake/{channel_code}", response_model=IntakeResult, responses=_RESPONSES, status_code=201)
async def intake(
    request: Request, channel_code: str = Path(max_length=32), rt: Runtime = Depends(runtime)
) -> Response:
    """A channel's delivery (webhook). Stored first, verified with the channel's secret,
    then parsed into orders; 401 for a bad signature, 422 for a payload quarantined."""
    return await _receive(request, channel_code, rt)


@router.get("/intake/{channel_code}", include_in_schema=False)
async def intake_handshake(
    request: Request, channel_code: str = Path(max_length=32), rt: Runtime = Depends(runtime)
) -> Response:
    """Verification handshakes some platforms make with GET (WhatsApp's hub.challenge)."""
    return await _receive(request, channel_code, rt)


class InboxSummary(BaseModel):
    id: int
    channel: str
    adapter: str | None
    received_at: Any
    method: str
    topic: str | None
    delivery_id: str | None
    state: str
    reason: str | None
    order_id: int | None
    attempts: int
    size: int


class InboxDetail(InboxSummary):
    source: str | None
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: str = Field(description="the raw body: text if it is UTF-8, else base64 (see body_encoding)")
    body_encoding: str
    errors: list[dict[str, Any]]
    ack: dict[str, Any] | None


class InboxPage(BaseModel):
    items: list[InboxSummary]
    next_cursor: str | None


def _summary(e: inbox.InboxEntry) -> dict[str, Any]:
    return {
        "id": e.id,
        "channel": e.channel_code,
        "adapter": e.adapter,
        "received_at": e.received_at,
        "method": e.method,
        "topic": e.topic,
        "delivery_id": e.delivery_id,
        "state": e.state,
        "reason": e.reason,
        "order_id": e.order_id,
        "attempts": e.attempts,
        "size": len(e.body),
    }


def detail(e: inbox.InboxEntry) -> dict[str, Any]:
    try:
        text, encoding = e.body.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        text, encoding = base64.b64encode(e.body).decode(), "base64"
    return {
        **_summary(e),
        "source": e.source,
        "path": e.path,
        "query": e.query,
        "headers": e.headers,
        "body": text,
        "body_encoding": encoding,
        "errors": e.errors,
        "ack": e.ack,
    }


@router.get("/api/v1/inbox", response_model=InboxPage, tags=["inbox"])
def list_inbox(
    state: str | None = Query(None, pattern="^(" + "|".join(inbox.STATES) + ")$"),
    channel: str | None = Query(None, max_length=32),
    limit: int = Query(50, ge=1, le=200),
    cursor: str | None = Query(None, max_length=100),
    _: ApiKey = Depends(require("orders:read")),
    rt: Runtime = Depends(runtime),
) -> dict[str, Any]:
    """Received deliveries, newest first; ``state=quarantined`` lists what needs attention."""
    items, nxt = inbox.listing(rt.engine, state=state, channel=channel, limit=limit, cursor=cursor)
    return {"items": [_summary(e) for e in items], "next_cursor": nxt}


@router.get("/api/v1/inbox/{entry_id}", response_model=InboxDetail, tags=["inbox"])
def get_inbox(
    entry_id: int = Path(ge=1, le=2**62),
    _: ApiKey = Depends(require("orders:read")),
    rt: Runtime = Depends(runtime),
) -> dict[str, Any]:
    """One delivery with its raw body, headers, reason and field errors."""
    entry = inbox.get(rt.engine, entry_id)
    if entry is None:
        raise NotFound(f"no inbox entry {entry_id}")
    return detail(entry)


@router.post(
    "/api/v1/inbox/{entry_id}/replay", response_model=IntakeResult, responses=_RESPONSES, tags=["inbox"]
)
def replay_inbox(
    entry_id: int = Path(ge=1, le=2**62),
    _: ApiKey = Depends(require("orders:write")),
    rt: Runtime = Depends(runtime),
) -> Response:
    """Run a quarantined, rejected or failed delivery again, after the mapping or catalogue was fixed."""
    return _outcome(pipeline.replay(rt, entry_id))
