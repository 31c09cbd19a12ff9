"""The ``iot`` adapter: sensor readings, pushed over HTTP (signed) or received over MQTT.

A delivery carries readings, not an order::

    {"device_id": "tank-7",
     "readings": [{"metric": "level", "value": "12.5", "unit": "%", "at": "2026-11-23T08:00:00Z"}]}

or a list of such objects (a gateway reporting for several devices), or, over MQTT, one
reading (``{"metric": ..., "value": ..., "at": ...}``) whose device is named by the topic.
``parse`` stays pure: it reads the readings and hands them to the pipeline as a ``Record``
whose ``apply`` (``legato.intake.iot.record_readings``) stores them and runs the rules.

Over HTTP the body is signed like the ``rest`` channel's: ``X-Legato-Signature:
sha256=<hex HMAC-SHA256 of the body with the channel's webhook_secret>``. Over MQTT the
broker is the gate (its own authentication); the subscriber stores each message with the
method ``MQTT`` and the topic as its path, which is how ``verify`` tells the two apart (an
HTTP request cannot have that method).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any, ClassVar, TypeGuard

from legato.bootstrap import Runtime
from legato.domain.catalog import Channel
from legato.domain.errors import FieldIssue, ValidationFailed
from legato.domain.replenishment import MAX_MAGNITUDE, MAX_PLACES, Reading, places
from legato.intake.base import (
    Delivery,
    Ignore,
    Intent,
    Outbound,
    Placed,
    Record,
    Recorded,
    Reject,
    Reply,
    SignatureInvalid,
    Unparseable,
    hmac_sha256,
    require_secret,
    same,
)
from legato.intake.iot import record_readings

SIGNATURE_HEADER = "x-legato-signature"
MQTT = "MQTT"  # the method of a delivery the MQTT subscriber stored (the path is the topic)
DEFAULT_SKEW = 300  # seconds a reading's time may be ahead of its receipt (device clocks drift)
_METRIC_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.:-")
_EXPONENT = Decimal(1).scaleb(-MAX_PLACES)
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)  # a device whose clock was never set reports 1970


def valid_device_id(value: Any) -> TypeGuard[str]:
    """1-120 printable characters without spaces or the MQTT topic characters ``/ + #``."""
    return (
        isinstance(value, str)
        and 0 < len(value) <= 120
        and all(ch.isprintable() and not ch.isspace() and ch not in "/+#" for ch in value)
    )


def valid_metric(value: Any) -> TypeGuard[str]:
    """1-60 of letters, digits and ``_ . : -``: ``level``, ``operating_hours``, ``energy.kwh``."""
    return isinstance(value, str) and 0 < len(value) <= 60 and set(value) <= _METRIC_CHARS


def device_from_topic(topic: str, pattern: str | None, level: int | None = None) -> str | None:
    """The device id a topic carries: the level of ``pattern``'s first ``+`` (or ``level``)."""
    if level is None and pattern:
        levels = pattern.split("/")
        level = levels.index("+") if "+" in levels else None
    parts = topic.split("/")
    if level is None or not 0 <= level < len(parts):
        return None
    return parts[level] or None


def read_readings(
    body: bytes,
    *,
    device_id: str | None = None,
    received_at: datetime | None = None,
    skew: int = DEFAULT_SKEW,
) -> tuple[list[Reading], list[Reject]]:
    """Every good reading, and a Reject per bad one (or per bad device object) naming its
    JSON path. Raises Unparseable only when the body is not JSON or has no readings shape."""
    try:
        doc = json.loads(body, parse_float=Decimal, parse_constant=Decimal)
    except ValueError as exc:  # also a body that is not UTF-8
        raise _unparseable("$", f"the body is not JSON: {exc}") from None
    limit = received_at + timedelta(seconds=skew) if received_at else None
    readings: list[Reading] = []
    rejects: list[Reject] = []
    if isinstance(doc, list):
        for i, item in enumerate(doc):
            _device(item, f"$[{i}]", device_id, limit, readings, rejects)
    elif isinstance(doc, dict) and "readings" not in doc and "metric" in doc:
        _device({"readings": [doc], **({"device_id": doc["device_id"]} if "device_id" in doc else {})},
                "$", device_id, limit, readings, rejects, single=True)  # fmt: skip
    elif isinstance(doc, dict):
        _device(doc, "$", device_id, limit, readings, rejects)
    else:
        raise _unparseable("$", "the body must be an object with device_id and readings, or a list of them")
    return readings, rejects


def parse_readings(
    body: bytes,
    *,
    device_id: str | None = None,
    received_at: datetime | None = None,
    skew: int = DEFAULT_SKEW,
) -> list[Reading]:
    """The readings of a body, all of them good, else Unparseable naming every bad field."""
    readings, rejects = read_readings(body, device_id=device_id, received_at=received_at, skew=skew)
    issues = [i for r in rejects for i in r.issues]
    if issues:
        raise Unparseable(_summary(issues), issues=issues)
    return readings


def _device(
    doc: Any,
    path: str,
    topic_device: str | None,
    limit: datetime | None,
    readings: list[Reading],
    rejects: list[Reject],
    *,
    single: bool = False,
) -> None:
    if not isinstance(doc, dict):
        rejects.append(_reject(path, path, "must be an object with device_id and readings", doc))
        return
    device = doc.get("device_id", topic_device)
    items = doc.get("readings")
    if not valid_device_id(device):
        msg = (
            "device_id is missing"
            if device is None
            else "device_id must be 1-120 characters without spaces, / + #"
        )
        rejects.append(_reject(path, f"{path}.device_id", msg, device))
        return
    if topic_device is not None and device != topic_device:
        msg = f"device_id {device!r} differs from the topic's device {topic_device!r}"
        rejects.append(_reject(path, f"{path}.device_id", msg, device))
        return
    if not isinstance(items, list):
        rejects.append(_reject(path, f"{path}.readings", "readings must be a list", items))
        return
    for i, item in enumerate(items):
        where = path if single else f"{path}.readings[{i}]"
        issues: list[FieldIssue] = []
        reading = _reading(item, where, device, limit, issues)
        if reading is None:
            rejects.append(Reject(where, tuple(issues)))
        else:
            readings.append(reading)


def _reading(
    item: Any, path: str, device: str, limit: datetime | None, issues: list[FieldIssue]
) -> Reading | None:
    if not isinstance(item, dict):
        issues.append(FieldIssue(path, "a reading must be an object", "unparseable", item))
        return None
    metric, unit = item.get("metric"), item.get("unit")
    if not valid_metric(metric):
        issues.append(FieldIssue(f"{path}.metric", "metric must be 1-60 letters, digits or _ . : -",
                                 "unparseable", metric))  # fmt: skip
    if unit is not None and not (isinstance(unit, str) and len(unit) <= 20 and unit.isprintable()):
        issues.append(
            FieldIssue(f"{path}.unit", "unit must be a text of at most 20 characters", "unparseable", unit)
        )
    value = _value(item.get("value"), f"{path}.value", issues)
    at = _time(item.get("at"), f"{path}.at", limit, issues)
    if issues or value is None or at is None or not valid_metric(metric):
        return None
    return Reading(device, metric, value, at, unit or None)


def _value(raw: Any, path: str, issues: list[FieldIssue]) -> Decimal | None:
    if raw is None or isinstance(raw, bool) or not isinstance(raw, str | int | Decimal):
        issues.append(FieldIssue(path, f"value must be a number, not {raw!r}", "not_a_number", raw))
        return None
    try:
        value = Decimal(raw.strip() if isinstance(raw, str) else raw)
    except InvalidOperation:
        issues.append(FieldIssue(path, f"value is not a number: {raw!r}", "not_a_number", raw))
        return None
    if not value.is_finite() or abs(value) >= MAX_MAGNITUDE:
        issues.append(FieldIssue(path, "value must be a finite number below 10^15", "out_of_range", str(raw)))
        return None
    # a sensor's noise past the sixth decimal place is not kept
    return value.quantize(_EXPONENT, rounding=ROUND_HALF_EVEN) if places(value) > MAX_PLACES else value


def _time(raw: Any, path: str, limit: datetime | None, issues: list[FieldIssue]) -> datetime | None:
    if not isinstance(raw, str):
        msg = "at is missing" if raw is None else "at must be an ISO 8601 time text"
        issues.append(FieldIssue(path, msg, "unparseable", raw))
        return None
    try:
        at = datetime.fromisoformat(raw.strip())
    except ValueError:
        issues.append(FieldIssue(path, f"at is not an ISO 8601 time: {raw!r}", "unparseable", raw))
        return None
    if at.tzinfo is None or at.utcoffset() is None:
        issues.append(FieldIssue(path, "at must carry its time zone (Z or +01:00)", "unparseable", raw))
        return None
    try:
        at = at.astimezone(UTC)
    except OverflowError:
        at = EARLIEST - timedelta(days=1)  # out of any calendar: refused just below
    if at < EARLIEST:
        issues.append(FieldIssue(path, "at is before 2000: is the device's clock set?", "clock_not_set", raw))
        return None
    if limit is not None and at > limit:
        issues.append(FieldIssue(path, "at is in the future: is the device's clock right?", "future", raw))
        return None
    return at


def _reject(reference: str, path: str, message: str, value: Any) -> Reject:
    return Reject(reference, (FieldIssue(path, message, "unparseable", value),))


def _unparseable(path: str, message: str) -> Unparseable:
    return Unparseable(message, issues=[FieldIssue(path, message, "unparseable")])


def _summary(issues: list[FieldIssue]) -> str:
    first = issues[0]
    more = f" (and {len(issues) - 1} more)" if len(issues) > 1 else ""
    return f"{first.message} at {first.path}{more}"


def _skew(channel: Channel) -> int:
    raw = channel.settings.extra.get("max_clock_skew_seconds", DEFAULT_SKEW)
    if isinstance(raw, bool) or not isinstance(raw, int) or raw < 0:
        msg = "max_clock_skew_seconds must be a whole number of seconds, 0 or more"
        issue = FieldIssue("settings.max_clock_skew_seconds", msg, "invalid_setting", raw)
        raise ValidationFailed(f"channel {channel.code}: {msg}", issues=[issue])
    return raw


def _recorder(readings: list[Reading]) -> Callable[[Runtime, Channel, int], Recorded]:
    def apply(rt: Runtime, channel: Channel, entry_id: int) -> Recorded:
        return record_readings(rt, channel, readings, entry_id)

    return apply


class IotAdapter:
    name: ClassVar[str] = "iot"

    def handshake(self, delivery: Delivery, channel: Channel) -> Reply | None:
        return None

    def verify(self, delivery: Delivery, channel: Channel) -> None:
        if delivery.method == MQTT:  # stored by our own subscriber: the broker authenticated it
            return
        secret = require_secret(channel, "webhook_secret")
        presented = (delivery.header(SIGNATURE_HEADER) or "").removeprefix("sha256=")
        if not same(hmac_sha256(secret, delivery.body).hex(), presented):
            raise SignatureInvalid(f"{SIGNATURE_HEADER} is missing or does not match the body")

    def describe(self, delivery: Delivery) -> tuple[str | None, str | None]:
        if delivery.method == MQTT:
            return delivery.path, None
        return "readings", delivery.header("idempotency-key") or delivery.header("x-request-id")

    def parse(self, delivery: Delivery, channel: Channel) -> list[Intent]:
        device = None
        if delivery.method == MQTT:
            extra = channel.settings.extra
            level = extra.get("mqtt_device_level")
            device = device_from_topic(
                delivery.path, extra.get("mqtt_topic"), level if isinstance(level, int) else None
            )
        readings, rejects = read_readings(
            delivery.body, device_id=device, received_at=delivery.received_at, skew=_skew(channel)
        )
        if not readings and rejects:
            issues = [i for r in rejects for i in r.issues]
            raise Unparseable(_summary(issues), issues=issues)
        if not readings:
            return [Ignore("the delivery carries no readings")]
        return [*rejects, Record(f"{len(readings)} reading(s)", _recorder(readings))]

    def acknowledge(self, delivery: Delivery, channel: Channel, placed: Placed) -> Outbound | None:
        return None


ADAPTER = IotAdapter()
