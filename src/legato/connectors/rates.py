"""Fetch the day's exchange rates (the ECB feed) and watch that the rates in use stay fresh.

A failed fetch (HTTP error, timeout, too large, not the feed) never touches the stored
rates: pricing goes on with the last good ones, an ``fx_feed`` alert says why, and the
next successful fetch clears it. After every run the rates in use are checked against
``LEGATO_FX_MAX_AGE_DAYS`` and an ``fx_stale`` alert is raised or cleared.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import httpx

from legato import __version__
from legato.bootstrap import Runtime
from legato.domain.fx import MANUAL, MAX_FEED_BYTES, Rate, RatesFeedInvalid, is_stale, parse_ecb
from legato.store.alerts import clear_alert, raise_alert
from legato.store.db import write_lock
from legato.store.fx import SqlRates

log = logging.getLogger("legato.fx")

FEED_ALERT, STALE_ALERT = "fx_feed", "fx_stale"
#: Seconds to connect, and for the whole download; the feed is a few kilobytes.
TIMEOUT_SECONDS = 10.0


class FeedUnavailable(Exception):
    """The feed could not be fetched: the reason, for the alert."""


@dataclass(frozen=True)
class UpdateResult:
    """What one run did: ``error`` is None when the feed was fetched and saved (or, with the
    manual provider, when there was nothing to fetch); ``stale`` names the rates in use
    that are older than the configured maximum age."""

    provider: str
    fetched: bool
    rates: int = 0  # rates in the feed
    changed: int = 0  # stored rows that are new or now hold another rate
    as_of: date | None = None  # the newest day in the feed
    error: str | None = None
    stale: list[str] = field(default_factory=list)  # "EUR/USD 2026-11-20"

    @property
    def ok(self) -> bool:
        return self.error is None

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok, "as_of": self.as_of.isoformat() if self.as_of else None}


def fetch_feed(url: str, *, timeout: float = TIMEOUT_SECONDS, max_bytes: int = MAX_FEED_BYTES) -> bytes:
    """The body at ``url``, or FeedUnavailable: not 200, slower than ``timeout`` seconds in
    all, or larger than ``max_bytes`` (read no further)."""
    deadline = time.monotonic() + timeout
    headers = {"User-Agent": f"legato/{__version__} (exchange rates)", "Accept": "application/xml, text/xml"}
    try:
        with (
            httpx.Client(timeout=timeout, follow_redirects=True, max_redirects=5) as client,
            client.stream("GET", url, headers=headers) as answer,
        ):
            if answer.status_code != 200:
                raise FeedUnavailable(f"HTTP {answer.status_code} {answer.reason_phrase} from {url}")
            body = bytearray()
            for chunk in answer.iter_bytes():
                body += chunk
                if len(body) > max_bytes:
                    raise FeedUnavailable(f"{url} sent more than {max_bytes} bytes: not the rates feed")
                if time.monotonic() > deadline:
                    raise FeedUnavailable(f"{url} took longer than {timeout:g} s")
            return bytes(body)
    except httpx.TimeoutException as exc:
        raise FeedUnavailable(f"{url} timed out after {timeout:g} s ({type(exc).__name__})") from exc
    except httpx.HTTPError as exc:
        raise FeedUnavailable(f"{url} could not be fetched: {exc or type(exc).__name__}") from exc


def update_rates(
    rt: Runtime,
    *,
    today: date | None = None,
    timeout: float = TIMEOUT_SECONDS,
    max_bytes: int = MAX_FEED_BYTES,
) -> UpdateResult:
    """Fetch, parse and save the configured feed, then check staleness. Never raises for a
    bad feed: the result (and an alert) says what went wrong, and stored rates stay."""
    s = rt.settings
    now = datetime.now(UTC)
    today = today or now.date()
    if s.fx_provider == MANUAL:  # nothing to fetch: rates are set by hand
        return UpdateResult(MANUAL, False, stale=_labels(check_staleness(rt, today)))
    rates: list[Rate] = []
    error: str | None = None
    try:
        rates = parse_ecb(fetch_feed(s.fx_url, timeout=timeout, max_bytes=max_bytes))
    except FeedUnavailable as exc:
        error = str(exc)
    except RatesFeedInvalid as exc:
        error = f"{s.fx_url} is not a valid rates feed: {exc.detail}"
    changed = 0
    with write_lock(rt.engine), rt.engine.begin() as conn:
        if error is None:
            changed = SqlRates(conn, s.fx_provider).save(rates, now)
            clear_alert(conn, FEED_ALERT, s.fx_provider, at=now)
        else:
            raise_alert(conn, FEED_ALERT, s.fx_provider, f"{error}; the stored rates are kept", at=now)
    if error is None:
        log.info("exchange rates updated", extra={"provider": s.fx_provider, "rates": len(rates)})
    else:
        log.warning("exchange rates not updated: %s", error, extra={"provider": s.fx_provider})
    return UpdateResult(
        s.fx_provider,
        error is None,
        len(rates),
        changed,
        max((r.as_of for r in rates), default=None),
        error,
        _labels(check_staleness(rt, today)),
    )


def check_staleness(rt: Runtime, today: date) -> list[Rate]:
    """The rates pricing would use today that are older than ``fx_max_age_days``; raises
    the ``fx_stale`` alert when there are any, clears it when there are none."""
    s = rt.settings
    with write_lock(rt.engine), rt.engine.begin() as conn:
        in_use = SqlRates(conn, s.fx_provider).table(today).rates
        stale = sorted((r for r in in_use if is_stale(r, today, s.fx_max_age_days)), key=_label)
        if stale:
            oldest = min(r.as_of for r in stale)
            message = (
                f"{len(stale)} of {len(in_use)} rates in use are older than {s.fx_max_age_days} days "
                f"(the oldest from {oldest}, policy {s.fx_stale_policy}): {', '.join(_labels(stale[:10]))}"
            )
            raise_alert(conn, STALE_ALERT, s.fx_provider, message)
        else:
            clear_alert(conn, STALE_ALERT, s.fx_provider)
    if stale:
        log.warning("stale exchange rates", extra={"provider": s.fx_provider, "stale": len(stale)})
    return stale


def _label(r: Rate) -> str:
    return f"{r.base}/{r.quote} {r.as_of}"


def _labels(rates: list[Rate]) -> list[str]:
    return [_label(r) for r in rates]


class RatesWorker:
    """``legato serve``'s rate keeper: every ``fx_refresh_minutes``, fetch the feed (or, for
    the manual provider or a refresh of 0, only check staleness, hourly). One daemon
    thread; a failing round is logged and the next one tries again."""

    def __init__(self, rt: Runtime, every: float | None = None) -> None:
        minutes = rt.settings.fx_refresh_minutes
        self.rt = rt
        self.fetching = minutes > 0 and rt.settings.fx_provider != MANUAL
        self.every = every if every is not None else (minutes or 60) * 60.0
        self.rounds = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="legato-rates", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Prompt: a fetch in flight is abandoned to its daemon thread after a few seconds."""
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                if self.fetching:
                    update_rates(self.rt)
                else:
                    check_staleness(self.rt, datetime.now(UTC).date())
            except Exception:  # the worker must outlive a bad round (a database restart ...)
                log.exception("exchange-rate round failed")
            self.rounds += 1
            self._stop.wait(self.every)


__all__ = [
    "FEED_ALERT",
    "STALE_ALERT",
    "FeedUnavailable",
    "RatesWorker",
    "UpdateResult",
    "check_staleness",
    "fetch_feed",
    "update_rates",
]
