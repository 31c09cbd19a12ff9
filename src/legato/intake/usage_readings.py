"""Meter readings sent by an operator or a billing system, besides the sensors' own pushes:
``POST /api/v1/usage-readings`` (JSON or CSV) and ``legato billing usage-import FILE.csv``.

The raw body is stored in the inbox first (adapter ``usage-readings``), then read
(``usage_formats``): nothing is recorded while one reading is bad. The readings are then
recorded like a sensor's (``intake.iot.record_readings``): each stored once per channel,
device, metric and time, and the channel's replenishment rules see them too. The channel
must be an ``iot`` channel. ``ADAPTER`` reads a stored entry again for a replay.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, ClassVar

from legato.bootstrap import Runtime
from legato.domain.catalog import Channel
from legato.domain.errors import FieldIssue, LegatoError, ValidationFailed
from legato.intake.base import (
    Delivery,
    Intent,
    Outbound,
    Placed,
    Record,
    Recorded,
    Reject,
    Reply,
    SignatureInvalid,
    Unparseable,
)
from legato.intake.iot import record_readings
from legato.intake.usage_formats import UnsupportedMediaType, clock_skew, media_kind, read_body
from legato.store import inbox
from legato.store.queries import reading
from legato.store.repositories import SqlChannels

NAME = "usage-readings"  # the inbox entries' adapter
PATH = "/api/v1/usage-readings"
_SECRET_HEADERS = frozenset({"authorization", "cookie", "x-api-key", "proxy-authorization"})


# --- the adapter: a stored entry read again (replay, recovery) -------------------------------


class UsageReadingsAdapter:
    """Reads an entry this module stored. Such an entry was authenticated by its API key when
    received, so ``verify`` only makes sure it is one: taken at PATH, for an ``iot`` channel
    (a channel whose own adapter were this one would take unsigned readings at /intake/)."""

    name: ClassVar[str] = NAME

    def handshake(self, delivery: Delivery, channel: Channel) -> Reply | None:
        return None

    def verify(self, delivery: Delivery, channel: Channel) -> None:
        if delivery.path != PATH or channel.adapter != "iot":
            raise SignatureInvalid(f"usage readings are taken at {PATH}, with an API key, for an iot channel")

    def describe(self, delivery: Delivery) -> tuple[str | None, str | None]:
        return NAME, delivery.header("idempotency-key")

    def parse(self, delivery: Delivery, channel: Channel) -> list[Intent]:
        try:
            kind = media_kind(delivery.header("content-type"))
        except UnsupportedMediaType as exc:
            raise Unparseable(
                exc.detail, issues=[FieldIssue("$", exc.detail, "unsupported_media_type")]
            ) from None
        readings = read_body(
            delivery.body,
            kind,
            channel=channel.code,
            received_at=delivery.received_at,
            skew=clock_skew(channel),
        )

        def apply(rt: Runtime, ch: Channel, entry_id: int) -> Recorded:
            return record_readings(rt, ch, readings, entry_id)

        return [Record(f"{len(readings)} reading(s)", apply)]

    def acknowledge(self, delivery: Delivery, channel: Channel, placed: Placed) -> Outbound | None:
        return None


ADAPTER = UsageReadingsAdapter()


# --- receiving -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Received:
    """What became of one body of readings."""

    inbox_id: int
    state: str  # processed | duplicate | quarantined (some readings' replenishment orders refused)
    readings: int
    new: int  # readings not stored before
    summary: str
    placed: tuple[Placed, ...] = ()  # replenishment orders the readings triggered
    refused: tuple[Reject, ...] = ()


def receive_readings(
    rt: Runtime,
    body: bytes,
    *,
    content_type: str | None,
    channel_code: str | None,
    headers: Mapping[str, str],
    source: str | None,
) -> Received:
    """Store the body in the inbox, then read and record its readings (see the module's text).
    Raises 415 for a media type it cannot read (nothing stored), else a LegatoError naming
    every problem with the entry quarantined (``inbox_id`` on the error)."""
    kind = media_kind(content_type)
    now = datetime.now(UTC)
    code = channel_code or (_named_channel(body) if kind == "json" else None) or ""
    with reading(rt.engine) as conn:
        channel = SqlChannels(conn, rt.box, now).get_by_code(code, secrets=False) if code else None
    kept = {k.lower(): v for k, v in headers.items() if k.lower() not in _SECRET_HEADERS}
    kept["content-type"] = content_type or ""
    delivery = Delivery("POST", PATH, {"channel": channel_code} if channel_code else {}, kept, body, now)
    values = inbox.row(
        channel_id=channel.id if channel else None, channel_code=code, adapter=NAME, method="POST",
        path=PATH, query=delivery.query, headers=kept, body=body, received_at=now, source=source,
        topic=NAME, delivery_id=kept.get("idempotency-key"), state=inbox.PROCESSING,
    )  # fmt: skip
    values["attempts"] = 1
    with rt.engine.begin() as conn:
        entry_id = inbox.store(conn, values)
    try:
        checked = _iot_channel(channel, code)
        readings = read_body(body, kind, channel=checked.code, received_at=now, skew=clock_skew(checked))
        done = record_readings(rt, checked, readings, entry_id)
    except LegatoError as exc:
        _quarantine(rt, entry_id, exc)
        raise
    except Exception as exc:  # a bug must not lose the body: kept, replayable
        inbox.finish(rt.engine, entry_id, inbox.FAILED, reason=f"{type(exc).__name__}: {exc}")
        raise
    return _finish(rt, entry_id, len(readings), done)


def _named_channel(body: bytes) -> str | None:
    """The channel a JSON body names, to file it under in the inbox (read properly later)."""
    try:
        doc = json.loads(body, parse_float=Decimal)
    except (ValueError, RecursionError):
        return None
    named = doc.get("channel") if isinstance(doc, dict) else None
    return named[:32] if isinstance(named, str) else None


def _iot_channel(channel: Channel | None, code: str) -> Channel:
    def refuse(message: str, error: str) -> ValidationFailed:
        return ValidationFailed(message, issues=[FieldIssue("channel", message, error, code or None)])

    if not code:
        raise refuse('name the iot channel: "channel" in a JSON body, or ?channel=CODE', "required")
    if channel is None:
        raise refuse(f"no channel {code!r}", "unknown_channel")
    if channel.adapter != "iot":
        raise refuse(
            f"channel {code} takes {channel.adapter!r} deliveries, not readings", "not_an_iot_channel"
        )
    if not channel.active:
        raise refuse(f"channel {code} is inactive", "inactive_channel")
    return channel


def _errors(issues: list[FieldIssue], reference: str | None = None) -> list[dict[str, Any]]:
    return [
        {"path": i.path, "message": i.message, "code": i.code,
         **({"reference": reference} if reference else {}),
         **({"value": str(i.value)} if i.value is not None else {})}
        for i in issues
    ]  # fmt: skip


def _quarantine(rt: Runtime, entry_id: int, exc: LegatoError) -> None:
    inbox.finish(rt.engine, entry_id, inbox.QUARANTINED, reason=exc.detail, errors=_errors(exc.issues))
    exc.extra["inbox_id"] = entry_id


def _finish(rt: Runtime, entry_id: int, count: int, done: Recorded) -> Received:
    first = done.placed[0].order_id if done.placed else None
    if done.refused:
        state = inbox.QUARANTINED
        errors = [e for r in done.refused for e in _errors(list(r.issues), r.reference)]
    else:
        state = inbox.PROCESSED if done.fresh or done.placed else inbox.DUPLICATE
        errors = []
    inbox.finish(rt.engine, entry_id, state, reason=done.summary, errors=errors, order_id=first)
    return Received(entry_id, state, count, done.fresh, done.summary, done.placed, done.refused)


__all__ = ["ADAPTER", "NAME", "PATH", "Received", "UsageReadingsAdapter", "receive_readings"]
