"""``wait``: a timer. The run pauses, then continues with the next action.

    - action: wait
      params: {for: 2h}                                  # 90s, 15m, 2h, 1d, 1h30m ...
    - action: wait
      params: {until: "18:00", timezone: Europe/London}  # the next 18:00 there (default UTC)

The wake time is counted from when the step was reached (its job's creation), not from
each call, so the step is stateless: every call works out the same wake time; before it,
the step answers ``wait(until=wake)`` and the runner parks the job until then; from it on,
the step is done. ``until`` is the first such time of day strictly after the step was
reached (today's if it is still ahead, else tomorrow's), in ``timezone``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime, time, timedelta
from typing import Any, ClassVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from legato.domain.errors import IssueCollector
from legato.workflow.actions import StepContext, StepResult
from legato.workflow.actions import _orders as o

_PART = re.compile(r"(\d{1,6})([smhd])")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_CLOCK = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
LONGEST = timedelta(days=366)


def parse_duration(text: Any) -> timedelta | None:
    """``1h30m`` -> 1:30:00; None unless it is one or more number+unit parts (s, m, h, d)."""
    if not isinstance(text, str) or not text or _PART.sub("", text):
        return None
    seconds = sum(int(n) * _UNITS[u] for n, u in _PART.findall(text))
    return timedelta(seconds=seconds)


def _zone(name: Any) -> ZoneInfo | None:
    if not isinstance(name, str) or not name or len(name) > 64:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def wake_time(params: Mapping[str, Any], reached: datetime) -> datetime:
    """When a step reached at ``reached`` (UTC) wakes."""
    if "for" in params:
        span = parse_duration(params["for"])
        assert span is not None
        return reached + span
    zone = _zone(params.get("timezone", "UTC"))
    assert zone is not None
    hour, minute = (int(x) for x in params["until"].split(":"))
    local = reached.astimezone(zone)
    at = datetime.combine(local.date(), time(hour, minute), tzinfo=zone)
    if at <= local:
        at = datetime.combine(local.date() + timedelta(days=1), time(hour, minute), tzinfo=zone)
    return at.astimezone(UTC)


def _check(params: Mapping[str, Any], path: str, out: IssueCollector) -> None:
    o.known_keys(params, ("for", "until", "timezone"), path, out)
    if ("for" in params) == ("until" in params):
        out.add(path, "give either for (a duration such as 2h) or until (a time of day such as 18:00)",
                "required")  # fmt: skip
        return
    if "for" in params:
        span = parse_duration(params["for"])
        if span is None or not timedelta(0) < span <= LONGEST:
            msg = "for: a duration such as 90s, 15m, 2h, 1d or 1h30m, at most 366 days"
            out.add(f"{path}.for", msg, "invalid", params["for"])
        if "timezone" in params:
            out.add(f"{path}.timezone", "timezone goes with until, not for", "invalid", params["timezone"])
        return
    if not isinstance(params["until"], str) or not _CLOCK.match(params["until"]):
        out.add(
            f"{path}.until", "until: a time of day as HH:MM (24 h), e.g. 18:00", "invalid", params["until"]
        )
    if _zone(params.get("timezone", "UTC")) is None:
        msg = "timezone: an IANA time zone such as Europe/London or UTC"
        out.add(f"{path}.timezone", msg, "invalid", params.get("timezone"))


class Wait:
    name: ClassVar[str] = "wait"
    max_attempts: ClassVar[int] = 5

    def check(self, params: Mapping[str, Any], path: str) -> None:
        out = o.issues()
        _check(params, path, out)
        out.raise_if_any()

    def run(self, ctx: StepContext, params: Mapping[str, Any]) -> StepResult:
        _, reached = o.job_started(ctx)
        wake = wake_time(params, reached)
        if ctx.now >= wake:
            return StepResult.done(woke_at=wake.isoformat())
        return StepResult.wait(until=wake, note=f"waiting until {wake:%Y-%m-%d %H:%M} UTC",
                               wake_at=wake.isoformat())  # fmt: skip


ACTION = Wait()

__all__ = ["ACTION", "LONGEST", "Wait", "parse_duration", "wake_time"]
