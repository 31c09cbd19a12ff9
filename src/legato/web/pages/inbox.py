"""The inbox (/inbox): every delivery received, by channel and state (processed, duplicate, ignored,
quarantined, rejected, failed ...) with its reason, the raw payload made readable (escaped), and a
replay button for what can be replayed (``intake.pipeline.replay``: after the mapping or the
catalogue was fixed)."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from legato.domain.errors import IllegalTransition, LegatoError
from legato.intake import pipeline
from legato.store import inbox, lookups
from legato.store.users import User
from legato.web.app import NavItem, error_page, redirect, render, runtime
from legato.web.auth import require
from legato.web.format import readable_payload

router = APIRouter()
NAV = [NavItem("Inbox", "/inbox", "inbox:view", order=60)]
PAGE_SIZE = 50
ATTENTION = (inbox.QUARANTINED, inbox.REJECTED, inbox.FAILED)


def _link(states: list[str], channel: str, cursor: str | None = None) -> str:
    pairs = [("state", s) for s in states] + ([("channel", channel)] if channel else [])
    pairs += [("cursor", cursor)] if cursor else []
    return "/inbox" + (f"?{urlencode(pairs)}" if pairs else "")


@router.get("/inbox")
def inbox_list(request: Request, user: User = Depends(require("inbox:view"))) -> HTMLResponse:
    params = request.query_params
    errors: dict[str, str] = {}
    states = [s for s in params.getlist("state") if s]
    bad = [s for s in states if s not in inbox.STATES]
    if bad:
        errors["state"] = f"{bad[0]!r} is not an inbox state; use {', '.join(inbox.STATES)}"
        states = [s for s in states if s in inbox.STATES]
    channel = params.get("channel", "").strip()[:32]
    cursor = params.get("cursor") or None
    engine = runtime(request).engine
    try:
        items, next_cursor = lookups.inbox_page(
            engine, states=tuple(states), channel=channel or None, limit=PAGE_SIZE, cursor=cursor
        )
    except LegatoError as exc:
        errors["cursor"], cursor = exc.detail, None
        items, next_cursor = lookups.inbox_page(
            engine, states=tuple(states), channel=channel or None, limit=PAGE_SIZE
        )
    counts = lookups.inbox_counts(engine)
    context = {
        "items": items,
        "counts": counts,
        "states": inbox.STATES,
        "chosen": states,
        "channel": channel,
        "errors": errors,
        "cursor": cursor,
        "replayable": inbox.REPLAYABLE,
        "attention": ATTENTION,
        "next_link": _link(states, channel, next_cursor) if next_cursor else None,
        "first_link": _link(states, channel) if cursor else None,
        "link": _link,
        "totals": {s: sum(c.get(s, 0) for c in counts.values()) for s in inbox.STATES},
    }
    return render(request, "inbox/list.html", context)


@router.get("/inbox/{entry_id:int}")
def inbox_entry(entry_id: int, request: Request, user: User = Depends(require("inbox:view"))) -> HTMLResponse:
    entry = inbox.get(runtime(request).engine, entry_id) if 0 < entry_id <= 2**62 else None
    if entry is None:
        return error_page(request, 404, "No such delivery", f"The inbox has no entry {entry_id}.")
    kind, text = readable_payload(entry.body)
    context = {
        "e": entry,
        "kind": kind,
        "text": text,
        "size": len(entry.body),
        "replayable": inbox.REPLAYABLE,
    }
    return render(request, "inbox/entry.html", context)


@router.post("/inbox/{entry_id:int}/replay")
def replay(entry_id: int, request: Request, user: User = Depends(require("inbox:replay"))) -> Response:
    """Run a stored delivery again; the page says what became of it."""
    rt = runtime(request)
    entry = inbox.get(rt.engine, entry_id) if 0 < entry_id <= 2**62 else None
    if entry is None:
        return error_page(request, 404, "No such delivery", f"The inbox has no entry {entry_id}.")
    back = f"/inbox/{entry_id}"
    try:
        out = pipeline.replay(rt, entry_id)
    except IllegalTransition as exc:
        return error_page(request, 409, "Not replayed", exc.detail)
    except LegatoError as exc:
        return redirect(request, back, flash=f"Replayed, and refused again: {exc.detail}", error=True)
    except Exception as exc:  # an adapter bug: the entry is marked failed and stays replayable
        return redirect(request, back, flash=f"Replayed, and failed: {type(exc).__name__}: {exc}", error=True)
    placed = [o["number"] for o in out.orders if o.get("number")]
    said = (
        f"Replayed: {out.state}"
        + (f", order {', '.join(placed)}" if placed else "")
        + (f" ({out.reason})" if out.reason else "")
    )
    return redirect(request, back, flash=said + ".")


__all__ = ["NAV", "router"]
