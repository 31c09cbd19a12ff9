"""Fetching and keeping exchange rates, on both databases, against a real HTTP server on
loopback serving the ECB files: stored rates survive every kind of failed fetch, alerts
open and close, the worker runs and stops, and the `legato rates` commands work."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from tests.conftest import TEST_SECRET

from legato.bootstrap import Runtime, build
from legato.config import Settings
from legato.connectors.rates import FEED_ALERT, STALE_ALERT, RatesWorker, update_rates
from legato.domain.fx import Rate
from legato.store import tables
from legato.store.alerts import clear_alert, open_alerts, raise_alert
from legato.store.fx import SqlRates

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "fx"
DAILY = (FIXTURES / "eurofxref-daily.xml").read_bytes()
FRI, MON = date(2026, 11, 20), date(2026, 11, 23)


class FeedServer:
    """A real HTTP server on 127.0.0.1 serving whatever the test sets: a body, a status,
    a delay before answering. ``hits`` counts the requests."""

    def __init__(self) -> None:
        self.body, self.status, self.delay, self.hits = DAILY, 200, 0.0, 0
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner.hits += 1
                time.sleep(owner.delay)
                self.send_response(owner.status)
                self.send_header("Content-Type", "text/xml")
                self.send_header("Content-Length", str(len(owner.body)))
                self.end_headers()
                with contextlib.suppress(OSError):  # the client gave up (a timeout test)
                    self.wfile.write(owner.body)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/stats/eurofxref/eurofxref-daily.xml"
        threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def feed() -> Iterator[FeedServer]:
    server = FeedServer()
    yield server
    server.close()


def with_settings(rt: Runtime, **changes: Any) -> Runtime:
    """The same database with other settings (validated like the environment's)."""
    return Runtime(Settings(**{**rt.settings.model_dump(), **changes}), rt.engine, rt.box)


def stored(rt: Runtime) -> list[tuple[Any, ...]]:
    r = tables.fx_rates
    with rt.engine.connect() as conn:
        rows = conn.execute(select(r.c.provider, r.c.base, r.c.quote, r.c.as_of, r.c.rate).order_by(r.c.id))
        return [tuple(row) for row in rows]


def test_an_update_stores_the_feed_once_however_often_it_runs(runtime: Runtime, feed: FeedServer) -> None:
    rt = with_settings(runtime, fx_url=feed.url)
    first = update_rates(rt, today=MON)
    assert (first.ok, first.fetched, first.rates, first.changed, first.as_of) == (True, True, 29, 29, FRI)
    assert first.stale == []
    again = update_rates(rt, today=MON)
    assert (again.ok, again.changed) == (True, 0)
    rows = stored(rt)
    assert len(rows) == 29 and ("ecb", "EUR", "USD", FRI, Decimal("1.0845")) in rows
    with rt.engine.connect() as conn:
        table = SqlRates(conn, "ecb").table(MON)
    gbp_usd = table.rate("GBP", "USD")
    assert gbp_usd is not None and gbp_usd.via == "EUR"
    assert open_alerts(rt.engine) == []


def test_the_ninety_day_file_stores_each_day_and_a_past_day_prices_with_its_own_rates(
    runtime: Runtime, feed: FeedServer
) -> None:
    feed.body = (FIXTURES / "eurofxref-hist-90d.xml").read_bytes()
    rt = with_settings(runtime, fx_url=feed.url)
    assert update_rates(rt, today=MON).changed == 87
    with rt.engine.connect() as conn:
        rates = SqlRates(conn, "ecb")
        assert rates.table(date(2026, 11, 19)).rate("EUR", "USD") == Rate(
            "EUR", "USD", Decimal("1.0868"), date(2026, 11, 19), "ecb"
        )
        assert rates.table(MON).rate("EUR", "USD").rate == Decimal("1.0845")  # type: ignore[union-attr]
        assert rates.table(date(2026, 11, 17)).rates == ()  # nothing published yet
        assert len(rates.latest(500)) == 29


def _serve_500(feed: FeedServer) -> None:
    feed.status, feed.body = 500, b"<html>Internal Server Error</html>"


def _serve_malformed(feed: FeedServer) -> None:
    feed.body = (FIXTURES / "bad-rate.xml").read_bytes()


def _serve_html(feed: FeedServer) -> None:
    feed.body = (FIXTURES / "not-xml.txt").read_bytes()


def _serve_slowly(feed: FeedServer) -> None:
    feed.delay = 2.0


def _serve_too_much(feed: FeedServer) -> None:
    feed.body = DAILY + b" " * 70_000


@pytest.mark.parametrize(
    ("failure", "reason"),
    [
        (_serve_500, "HTTP 500 Internal Server Error"),
        (_serve_malformed, "the JPY rate on 2026-11-20, '-162.37', is not a positive decimal"),
        (_serve_html, "DOCTYPE"),
        (_serve_slowly, "timed out after 0.3 s"),
        (_serve_too_much, "sent more than 65536 bytes"),
    ],
    ids=["http-500", "malformed", "html-page", "timeout", "too-large"],
)
def test_a_failed_fetch_keeps_the_stored_rates_and_raises_one_alert_until_a_good_fetch(
    runtime: Runtime, feed: FeedServer, failure: Any, reason: str
) -> None:
    rt = with_settings(runtime, fx_url=feed.url)
    assert update_rates(rt, today=MON).ok
    before = stored(rt)
    failure(feed)
    for _ in range(2):
        result = update_rates(rt, today=MON, timeout=0.3, max_bytes=65536)
        assert not result.ok and not result.fetched and reason in (result.error or "")
    assert stored(rt) == before
    alerts = open_alerts(rt.engine)
    assert [(a.kind, a.subject) for a in alerts] == [(FEED_ALERT, "ecb")]  # raised twice, one alert
    assert reason in alerts[0].message and "the stored rates are kept" in alerts[0].message
    feed.status, feed.body, feed.delay = 200, DAILY, 0.0
    assert update_rates(rt, today=MON).ok
    assert open_alerts(rt.engine) == []


def test_an_unreachable_feed_is_an_alert_not_an_exception(runtime: Runtime) -> None:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = update_rates(with_settings(runtime, fx_url=f"http://127.0.0.1:{port}/x.xml"), today=MON)
    assert not result.ok and "could not be fetched" in (result.error or "")
    assert [a.kind for a in open_alerts(runtime.engine)] == [FEED_ALERT]


def test_rates_in_use_older_than_the_maximum_age_raise_a_stale_alert_until_fresh(
    runtime: Runtime, feed: FeedServer
) -> None:
    rt = with_settings(runtime, fx_url=feed.url, fx_max_age_days=4)
    assert update_rates(rt, today=MON).stale == []  # Friday's rate on Monday: fresh
    late = update_rates(rt, today=FRI + timedelta(days=5))
    assert len(late.stale) == 29 and "EUR/USD 2026-11-20" in late.stale
    (alert,) = open_alerts(rt.engine, STALE_ALERT)
    assert alert.message.startswith("29 of 29 rates in use are older than 4 days (the oldest from 2026-11-20")
    assert update_rates(rt, today=MON).stale == []
    assert open_alerts(rt.engine, STALE_ALERT) == []


def test_with_the_manual_provider_nothing_is_fetched_and_only_manual_rates_count(
    runtime: Runtime, feed: FeedServer
) -> None:
    assert update_rates(with_settings(runtime, fx_url=feed.url), today=MON).ok  # ECB rates stored
    rt = with_settings(runtime, fx_url=feed.url, fx_provider="manual")
    hits = feed.hits
    with rt.engine.begin() as conn:
        SqlRates(conn, "manual").save(
            [Rate("EUR", "USD", Decimal("1.10"), FRI - timedelta(40), "manual")], _now()
        )
    result = update_rates(rt, today=MON)
    assert (result.ok, result.fetched, result.provider, feed.hits) == (True, False, "manual", hits)
    assert result.stale == ["EUR/USD 2026-10-11"]  # the ECB rates are not in use
    with rt.engine.connect() as conn:
        assert [r.provider for r in SqlRates(conn, "manual").table(MON).rates] == ["manual"]


def _now() -> datetime:
    return datetime.now(UTC)


def test_the_configured_provider_wins_a_pair_and_manual_rates_fill_the_gaps(runtime: Runtime) -> None:
    with runtime.engine.begin() as conn:
        rates = SqlRates(conn, "ecb")
        rates.save(
            [
                Rate("EUR", "USD", Decimal("1.0845"), FRI, "ecb"),
                Rate("USD", "EUR", Decimal("0.95"), MON, "manual"),  # the same pair, the other way round
                Rate("EUR", "AED", Decimal("3.98"), FRI - timedelta(3), "manual"),
                Rate("EUR", "AED", Decimal("4.01"), MON + timedelta(7), "manual"),  # from next week
            ],
            _now(),
        )
        table = rates.table(MON)
        assert {(r.base, r.quote, r.provider, r.rate) for r in table.rates} == {
            ("EUR", "USD", "ecb", Decimal("1.0845")),
            ("EUR", "AED", "manual", Decimal("3.98")),
        }
        assert rates.table(MON + timedelta(7)).rate("EUR", "AED").rate == Decimal("4.01")  # type: ignore[union-attr]
        assert SqlRates(conn, "manual").table(MON).rate("USD", "EUR").rate == Decimal("0.95")  # type: ignore[union-attr]
        assert len(rates.latest(10)) == 3 and len(rates.latest(2)) == 2


def test_an_open_alert_is_updated_not_duplicated_and_each_episode_is_kept(runtime: Runtime) -> None:
    with runtime.engine.begin() as conn:
        raise_alert(conn, "fx_feed", "ecb", "HTTP 500")
        raise_alert(conn, "fx_feed", "ecb", "HTTP 503")
        raise_alert(conn, "fx_stale", "ecb", "old")
    first = open_alerts(runtime.engine, "fx_feed")
    assert [a.message for a in first] == ["HTTP 503"] and first[0].last_raised_at >= first[0].raised_at
    with runtime.engine.begin() as conn:
        assert clear_alert(conn, "fx_feed", "ecb") is True
        assert clear_alert(conn, "fx_feed", "ecb") is False
        raise_alert(conn, "fx_feed", "ecb", "timed out")
    assert [a.message for a in open_alerts(runtime.engine)] == ["old", "timed out"]
    with runtime.engine.connect() as conn:
        assert len(conn.execute(select(tables.alerts)).all()) == 3


def test_the_worker_fetches_on_its_schedule_and_stops_promptly(runtime: Runtime, feed: FeedServer) -> None:
    worker = RatesWorker(with_settings(runtime, fx_url=feed.url), every=0.05)
    worker.start()
    deadline = time.monotonic() + 10
    while feed.hits < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    started = time.monotonic()
    worker.stop()
    assert time.monotonic() - started < 2
    assert feed.hits >= 2 and len(stored(runtime)) == 29


def test_the_worker_outlives_failing_rounds(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    rt = build(Settings(database_url=f"sqlite:///{tmp_path}/unmigrated.db", fx_provider="manual"))
    worker = RatesWorker(rt, every=0.01)
    worker.start()
    deadline = time.monotonic() + 10
    while worker.rounds < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    worker.stop()
    rt.close()
    assert worker.rounds >= 3 and not worker.fetching
    assert "exchange-rate round failed" in caplog.text


def test_a_refresh_of_zero_minutes_never_fetches(runtime: Runtime, feed: FeedServer) -> None:
    worker = RatesWorker(with_settings(runtime, fx_url=feed.url, fx_refresh_minutes=0))
    assert (worker.fetching, worker.every) == (False, 3600.0)


# --- the command line ------------------------------------------------------------------------


def legato(db_url: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("LEGATO_")}
    clean.update(LEGATO_DATABASE_URL=db_url, LEGATO_SECRET_KEY=TEST_SECRET, COLUMNS="200", **env)
    return subprocess.run(
        [sys.executable, "-m", "legato.cli", "rates", *args],
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.slow
def test_rates_can_be_updated_set_and_listed_from_the_command_line(
    runtime: Runtime, db_url: str, feed: FeedServer
) -> None:
    updated = legato(db_url, "update", LEGATO_FX_URL=feed.url)
    assert updated.returncode == 0, updated.stderr
    assert "ecb: 29 rates of 2026-11-20, 29 new or changed" in updated.stdout

    made = legato(db_url, "set", "EUR", "AED", "3.9821", "--as-of", "2026-11-23")
    assert made.returncode == 0, made.stderr
    assert "1 EUR = 3.9821 AED from 2026-11-23 (manual)" in made.stdout
    refused = legato(db_url, "set", "EUR", "AED", "3,98")
    assert refused.returncode == 2 and "rate: '3,98' is not a positive decimal" in refused.stderr

    listed = json.loads(legato(db_url, "list", "--json").stdout)["items"]
    by_pair = {(r["base"], r["quote"], r["provider"]): r for r in listed}
    assert len(listed) == 30
    assert (
        by_pair[("EUR", "AED", "manual")]["rate"] == "3.9821" and by_pair[("EUR", "AED", "manual")]["in_use"]
    )

    feed.status = 503
    failed = legato(db_url, "update", LEGATO_FX_URL=feed.url)
    assert failed.returncode == 1 and "HTTP 503" in failed.stderr and "stored ones are kept" in failed.stderr
    assert len(stored(runtime)) == 30
