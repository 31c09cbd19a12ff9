"""The rates and alerts endpoints, on both databases: list, set by hand, refresh from a
real feed server on loopback, and the problems each bad request gets."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from api_helpers import paths, problem
from fastapi.testclient import TestClient
from test_fx_rates import FeedServer, with_settings

from legato.api.app import create_app
from legato.bootstrap import Runtime

DOC = Path(__file__).resolve().parents[2] / "docs" / "pricing" / "currency.md"


@pytest.fixture
def feed() -> Iterator[FeedServer]:
    server = FeedServer()
    yield server
    server.close()


@pytest.fixture
def fed(runtime: Runtime, feed: FeedServer) -> Iterator[TestClient]:
    """A client whose rates feed is the local server."""
    with TestClient(create_app(with_settings(runtime, fx_url=feed.url)), raise_server_exceptions=False) as c:
        yield c


def _today() -> str:
    return datetime.now(UTC).date().isoformat()


def test_the_documented_manual_rate_is_set_and_listed_as_in_use(
    client: TestClient, cataloguer: dict[str, str], reader: dict[str, str]
) -> None:
    doc = DOC.read_text(encoding="utf-8")
    body = json.loads(re.search(r"-d '(\{.*?\})'", doc).group(1))  # type: ignore[union-attr]
    path = re.search(r"http://127\.0\.0\.1:8000(/api/v1/rates/[A-Z]{3}/[A-Z]{3})", doc).group(1)  # type: ignore[union-attr]
    body["as_of"] = _today()  # the doc's day may be past by now; the rate is the doc's
    r = client.put(path, json=body, headers=cataloguer)
    assert r.status_code == 200, r.text
    assert r.json() == {
        "base": "EUR",
        "quote": "AED",
        "rate": "3.9821",
        "as_of": _today(),
        "provider": "manual",
        "stale": False,
        "age_days": 0,
        "in_use": True,
    }
    listed = client.get("/api/v1/rates", headers=reader)
    assert listed.status_code == 200
    page = listed.json()
    assert (page["base_currency"], page["provider"], page["max_age_days"], page["stale_policy"]) == (
        "EUR",
        "ecb",
        4,
        "use_last",
    )
    assert [(i["base"], i["quote"], i["rate"], i["in_use"]) for i in page["items"]] == [
        ("EUR", "AED", "3.9821", True)
    ]


def test_setting_a_rate_again_replaces_it_and_an_old_one_is_flagged_stale(
    client: TestClient, admin: dict[str, str]
) -> None:
    old = (datetime.now(UTC).date() - timedelta(days=10)).isoformat()
    assert (
        client.put("/api/v1/rates/USD/JPY", json={"rate": "150", "as_of": old}, headers=admin).status_code
        == 200
    )
    r = client.put("/api/v1/rates/USD/JPY", json={"rate": "151.25", "as_of": old}, headers=admin)
    assert (r.json()["rate"], r.json()["stale"], r.json()["age_days"]) == ("151.25", True, 10)
    items = client.get("/api/v1/rates", headers=admin).json()["items"]
    assert [(i["rate"], i["stale"]) for i in items] == [("151.25", True)]


def test_only_catalogue_writers_and_admins_set_rates(
    client: TestClient, reader: dict[str, str], writer: dict[str, str]
) -> None:
    for headers in (reader, writer):
        r = client.put("/api/v1/rates/EUR/USD", json={"rate": "1.08"}, headers=headers)
        assert problem(r, 403, "forbidden")["required_scope"] == "catalog:write"
    problem(client.get("/api/v1/rates"), 401, "unauthorized")


@pytest.mark.parametrize(
    ("url", "body", "status", "code", "where"),
    [
        ("/api/v1/rates/EUR/USD", {"rate": "abc"}, 422, "validation", ["$.rate"]),
        ("/api/v1/rates/EUR/USD", {"rate": "-1.08"}, 422, "validation", ["$.rate"]),
        ("/api/v1/rates/EUR/USD", {"rate": 1.08}, 422, "validation", ["$.rate"]),
        ("/api/v1/rates/EUR/USD", {"rate": "1.08", "as_of": "2026-13-01"}, 422, "validation", ["$.as_of"]),
        ("/api/v1/rates/EUR/USD", {"rate": "1.08", "source": "x"}, 422, "validation", ["$.source"]),
        ("/api/v1/rates/EUR/USD", {"rate": "1.08", "as_of": "2099-01-01"}, 422, "validation", ["$.as_of"]),
        ("/api/v1/rates/EUR/XYZ", {"rate": "1.08"}, 422, "validation", ["$.quote"]),
        ("/api/v1/rates/EUR/EUR", {"rate": "1"}, 422, "validation", ["$.quote"]),
        ("/api/v1/rates/usd/EUR", {"rate": "0.9"}, 422, "validation", ["$.base"]),
        ("/api/v1/rates/EUR/USDOLLARS", {"rate": "1.08"}, 422, "validation", ["quote"]),
    ],
)
def test_a_bad_manual_rate_is_refused_naming_the_field(
    client: TestClient,
    admin: dict[str, str],
    url: str,
    body: dict[str, object],
    status: int,
    code: str,
    where: list[str],
) -> None:
    r = client.put(url, json=body, headers=admin)
    assert paths(problem(r, status, code)) == where
    assert client.get("/api/v1/rates", headers=admin).json()["items"] == []


def test_a_refresh_fetches_the_feed_and_refuses_to_run_again_at_once(
    fed: TestClient, admin: dict[str, str], reader: dict[str, str]
) -> None:
    problem(fed.post("/api/v1/rates/refresh", headers=reader), 403, "forbidden")
    r = fed.post("/api/v1/rates/refresh", headers=admin)
    assert r.status_code == 200, r.text
    result = r.json()
    assert (result["ok"], result["fetched"], result["rates"], result["changed"]) == (True, True, 29, 29)
    assert (result["provider"], result["as_of"], result["error"]) == ("ecb", "2026-11-20", None)
    items = fed.get("/api/v1/rates", headers=reader).json()["items"]
    assert len(items) == 29 and {i["provider"] for i in items} == {"ecb"}
    usd = next(i for i in items if i["quote"] == "USD")
    assert (usd["rate"], usd["as_of"], usd["in_use"]) == ("1.0845", "2026-11-20", True)
    again = fed.post("/api/v1/rates/refresh", headers=admin)
    body = problem(again, 429, "too_many_requests")
    assert int(again.headers["retry-after"]) >= 1 and "try again" in body["detail"]


def test_a_failed_refresh_says_why_keeps_the_rates_and_shows_an_alert(
    fed: TestClient, feed: FeedServer, admin: dict[str, str], reader: dict[str, str], runtime: Runtime
) -> None:
    assert fed.get("/api/v1/alerts", headers=reader).json() == {"items": []}
    feed.status = 500
    r = fed.post("/api/v1/rates/refresh", headers=admin)
    assert r.status_code == 200, r.text
    assert (r.json()["ok"], r.json()["fetched"], r.json()["rates"]) == (False, False, 0)
    assert r.json()["error"].startswith(f"HTTP 500 Internal Server Error from {feed.url}")
    alerts = fed.get("/api/v1/alerts", headers=reader).json()["items"]
    assert [(a["kind"], a["subject"]) for a in alerts] == [("fx_feed", "ecb")]
    assert "HTTP 500" in alerts[0]["message"] and "stored rates are kept" in alerts[0]["message"]
    assert fed.get("/api/v1/alerts?kind=fx_stale", headers=reader).json() == {"items": []}
    assert fed.get("/api/v1/rates", headers=reader).json()["items"] == []
    problem(fed.get("/api/v1/alerts"), 401, "unauthorized")


def test_with_the_manual_provider_a_refresh_only_checks_staleness(
    runtime: Runtime, feed: FeedServer, admin: dict[str, str]
) -> None:
    rt = with_settings(runtime, fx_url=feed.url, fx_provider="manual")
    with TestClient(create_app(rt)) as c:
        old = (datetime.now(UTC).date() - timedelta(days=40)).isoformat()
        assert (
            c.put("/api/v1/rates/EUR/USD", json={"rate": "1.1", "as_of": old}, headers=admin).status_code
            == 200
        )
        r = c.post("/api/v1/rates/refresh", headers=admin)
        assert r.status_code == 200, r.text
        assert (r.json()["fetched"], r.json()["stale"], feed.hits) == (False, [f"EUR/USD {old}"], 0)
        (alert,) = c.get("/api/v1/alerts", headers=admin).json()["items"]
        assert alert["kind"] == "fx_stale" and "older than 4 days" in alert["message"]
