"""The webhook subscription endpoints, on both databases, against a real subscriber on
127.0.0.1: create (the secret once), list, read, change and re-enable, delete, rotate the
secret, the delivery log with every attempt, the test message; the problems bad requests get."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from api_helpers import key_headers, order_body, paths, place, problem
from fastapi.testclient import TestClient
from tests.conftest import make_settings
from webhook_receiver import Receiver, drain, receiving

from legato.api.app import create_app
from legato.bootstrap import Runtime, build
from legato.config import Settings

API = "/api/v1/webhooks"


@pytest.fixture
def runtime(db_url: str) -> Iterator[Runtime]:
    rt = build(make_settings(db_url, webhooks_timeout_seconds=1.0, workflow_backoff_base_seconds=600))
    yield rt
    rt.close()


@pytest.fixture
def rx() -> Iterator[Receiver]:
    with receiving() as r:
        yield r


def create(
    client: TestClient, admin: dict[str, str], url: str, events: list[str], **more: Any
) -> dict[str, Any]:
    r = client.post(API, json={"url": url, "events": events, **more}, headers=admin)
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def test_a_subscription_is_created_with_a_standard_webhooks_secret_shown_once(
    client: TestClient, admin: dict[str, str], rx: Receiver
) -> None:
    made = create(client, admin, rx.url(), ["order.created", "order.*", "order.created"], description="ERP")
    secret = made["secret"]
    assert secret.startswith("whsec_") and len(base64.b64decode(secret[6:])) == 32
    assert made["events"] == ["order.created", "order.*"]  # duplicates dropped, order kept
    assert (made["active"], made["failures"], made["description"]) == (True, 0, "ERP")

    one = client.get(f"{API}/{made['id']}", headers=admin).json()
    assert "secret" not in one and one["url"] == rx.url()
    assert one["deliveries"] == {"pending": 0, "failed": 0, "delivered": 0, "dead": 0}
    other = create(client, admin, rx.url("/b"), ["*"])
    assert other["secret"] != secret
    page = client.get(API, params={"limit": 1}, headers=admin).json()
    assert [s["id"] for s in page["items"]] == [made["id"]] and page["next_cursor"]
    rest = client.get(API, params={"cursor": page["next_cursor"]}, headers=admin).json()
    assert [s["id"] for s in rest["items"]] == [other["id"]] and rest["next_cursor"] is None
    assert all("secret" not in s for s in page["items"] + rest["items"])


@pytest.mark.parametrize(
    ("body", "path", "code"),
    [
        ({"url": "ftp://example.com/x", "events": ["*"]}, "$.url", "invalid_url"),
        ({"url": "/relative", "events": ["*"]}, "$.url", "invalid_url"),
        ({"url": "https://user:pw@example.com/", "events": ["*"]}, "$.url", "invalid_url"),
        ({"url": "http://169.254.169.254/latest/meta-data", "events": ["*"]}, "$.url", "blocked_url"),
        ({"url": "http://[fe80::1]/hook", "events": ["*"]}, "$.url", "blocked_url"),
        ({"url": "http://metadata.google.internal/", "events": ["*"]}, "$.url", "blocked_url"),
        (
            {"url": "https://example.com/", "events": ["order.created", "order.shipped"]},
            "$.events[1]",
            "unknown_event",
        ),
        ({"url": "https://example.com/", "events": ["nothing.*"]}, "$.events[0]", "unknown_event"),
        ({"url": "https://example.com/", "events": []}, "$.events", "too_short"),
        ({"url": "https://example.com/", "events": ["*"], "secret": "mine"}, "$.secret", "extra_forbidden"),
    ],
)
def test_a_bad_subscription_is_refused_naming_the_field(
    client: TestClient, admin: dict[str, str], body: dict[str, Any], path: str, code: str
) -> None:
    found = problem(client.post(API, json=body, headers=admin), 422, "validation")
    assert paths(found) == [path]
    assert found["errors"][0]["code"] == code


def test_in_production_loopback_and_private_addresses_are_refused_unless_allowed(runtime: Runtime) -> None:
    def attempt(**settings: Any) -> Any:
        s = Settings(**{**runtime.settings.model_dump(), "environment": "production", **settings})
        rt = Runtime(s, runtime.engine, runtime.box)
        with TestClient(create_app(rt), raise_server_exceptions=False) as c:
            return c.post(API, json={"url": "http://10.1.2.3/hook", "events": ["*"]},
                          headers=key_headers(rt, "ops", "admin"))  # fmt: skip

    refused = problem(attempt(), 422, "validation")
    assert refused["errors"][0]["code"] == "blocked_url" and "private" in refused["errors"][0]["message"]
    assert attempt(webhooks_allow_private=True).status_code == 201


def test_only_admins_manage_subscriptions_and_unknown_ids_are_404(
    client: TestClient, admin: dict[str, str], reader: dict[str, str], rx: Receiver
) -> None:
    made = create(client, admin, rx.url(), ["*"])
    for method, url in [("get", API), ("post", API), ("get", f"{API}/{made['id']}"),
                        ("post", f"{API}/{made['id']}/test")]:  # fmt: skip
        problem(client.request(method, url, json={}, headers=reader), 403, "forbidden")
    for method, suffix in [("get", ""), ("patch", ""), ("delete", ""), ("post", "/rotate-secret"),
                           ("get", "/deliveries"), ("post", "/test")]:  # fmt: skip
        body = {"active": True} if method == "patch" else None
        problem(client.request(method, f"{API}/999{suffix}", json=body, headers=admin), 404, "not_found")
    assert rx.requests == []


def test_a_subscription_disabled_by_410_shows_why_raises_an_alert_and_is_re_enabled_by_patch(
    client: TestClient, admin: dict[str, str], shop: dict[str, str], runtime: Runtime, rx: Receiver
) -> None:
    made = create(client, admin, rx.url(), ["order.created"])
    rx.default = 410
    place(client, shop, order_body())
    drain(runtime)
    gone = client.get(f"{API}/{made['id']}", headers=admin).json()
    assert gone["active"] is False and "410 Gone" in gone["disabled_reason"] and gone["disabled_at"]
    assert gone["deliveries"]["dead"] == 1
    alerts = client.get("/api/v1/alerts", params={"kind": "webhook_disabled"}, headers=admin).json()["items"]
    assert [a["subject"] for a in alerts] == [f"webhook {made['id']}"]

    changed = client.patch(f"{API}/{made['id']}", json={"active": True, "events": ["order.*"]}, headers=admin)
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert (body["active"], body["failures"], body["disabled_reason"], body["events"]) == (
        True,
        0,
        None,
        ["order.*"],
    )
    assert (
        client.get("/api/v1/alerts", params={"kind": "webhook_disabled"}, headers=admin).json()["items"] == []
    )
    paused = client.patch(f"{API}/{made['id']}", json={"active": False}, headers=admin).json()
    assert paused["active"] is False and paused["disabled_reason"] == "paused through the API"
    nulled = client.patch(f"{API}/{made['id']}", json={"url": "gopher://x", "events": None}, headers=admin)
    bad = problem(nulled, 422, "validation")
    assert paths(bad) == ["$.events"]
    bad = problem(
        client.patch(f"{API}/{made['id']}", json={"url": "gopher://x"}, headers=admin), 422, "validation"
    )
    assert paths(bad) == ["$.url"]


def test_the_delivery_log_lists_every_attempt_with_its_status_error_and_time(
    client: TestClient, admin: dict[str, str], shop: dict[str, str], runtime: Runtime, rx: Receiver
) -> None:
    made = create(client, admin, rx.url(), ["order.created"])
    rx.script = [503]
    place(client, shop, order_body())
    drain(runtime)
    drain(runtime, now=datetime.now(UTC) + timedelta(hours=1))  # after the backoff
    place(client, shop, order_body(external_reference="LOG-2"))
    drain(runtime)

    log = client.get(f"{API}/{made['id']}/deliveries", headers=admin).json()
    second, first = log["items"]  # newest first
    assert (first["state"], first["attempts"], first["last_status"]) == ("delivered", 2, 200)
    assert first["message_id"] == rx.requests[0].headers["webhook-id"] == rx.requests[1].headers["webhook-id"]
    assert [(a["attempt"], a["outcome"], a["status"]) for a in first["attempt_log"]] == [
        (1, "retry", 503),
        (2, "done", 200),
    ]
    assert "HTTP 503" in first["attempt_log"][0]["error"] and first["attempt_log"][1]["error"] is None
    assert all(a["started_at"] and a["duration_ms"] is not None for a in first["attempt_log"])
    assert (
        second["attempts"] == 1 and second["max_attempts"] == 16 and second["event_type"] == "order.created"
    )
    only = client.get(
        f"{API}/{made['id']}/deliveries", params={"state": "delivered", "limit": 1}, headers=admin
    )
    assert [d["id"] for d in only.json()["items"]] == [second["id"]] and only.json()["next_cursor"]
    problem(
        client.get(f"{API}/{made['id']}/deliveries", params={"state": "lost"}, headers=admin),
        422,
        "validation",
    )


def test_the_test_endpoint_sends_a_signed_webhook_test_and_reports_the_answer(
    client: TestClient, admin: dict[str, str], rx: Receiver
) -> None:
    made = create(client, admin, rx.url(), ["order.created"], description="warehouse")
    r = client.post(f"{API}/{made['id']}/test", headers=admin)
    assert r.status_code == 200, r.text
    sent = r.json()
    assert (sent["delivered"], sent["status"], sent["error"]) == (True, 200, None)
    [got] = rx.requests
    payload = got.verified(made["secret"])
    assert payload["type"] == "webhook.test" and payload["data"] == {"subscription_id": made["id"],
                                                                     "description": "warehouse"}  # fmt: skip
    assert got.headers["webhook-id"] == sent["message_id"]

    rx.default = 500
    failed = client.post(f"{API}/{made['id']}/test", headers=admin).json()
    assert (failed["delivered"], failed["status"]) == (False, 500) and "HTTP 500" in failed["error"]
    one = client.get(f"{API}/{made['id']}", headers=admin).json()
    assert (one["active"], one["failures"]) == (True, 0)  # a test never counts towards disabling
    log = client.get(f"{API}/{made['id']}/deliveries", headers=admin).json()["items"]
    assert [(d["event_type"], d["state"], d["attempt_log"][0]["status"]) for d in log] == [
        ("webhook.test", "dead", 500),
        ("webhook.test", "delivered", 200),
    ]


def test_rotating_the_secret_returns_a_new_one_and_both_sign_for_a_day(
    client: TestClient, admin: dict[str, str], rx: Receiver
) -> None:
    made = create(client, admin, rx.url(), ["*"])
    r = client.post(f"{API}/{made['id']}/rotate-secret", headers=admin)
    assert r.status_code == 200, r.text
    rotated = r.json()
    assert rotated["secret"].startswith("whsec_") and rotated["secret"] != made["secret"]
    until = datetime.fromisoformat(rotated["previous_valid_until"])
    assert timedelta(hours=23) < until - datetime.now(UTC) <= timedelta(hours=24)
    client.post(f"{API}/{made['id']}/test", headers=admin)
    [got] = rx.requests
    assert got.verified(made["secret"]) == got.verified(rotated["secret"])


def test_deleting_a_subscription_removes_it_and_its_log(
    client: TestClient, admin: dict[str, str], rx: Receiver
) -> None:
    made = create(client, admin, rx.url(), ["*"])
    client.post(f"{API}/{made['id']}/test", headers=admin)
    r = client.delete(f"{API}/{made['id']}", headers=admin)
    assert r.status_code == 204 and r.content == b""
    problem(client.get(f"{API}/{made['id']}", headers=admin), 404, "not_found")
    problem(client.get(f"{API}/{made['id']}/deliveries", headers=admin), 404, "not_found")
    problem(client.delete(f"{API}/{made['id']}", headers=admin), 404, "not_found")
    assert client.get(API, headers=admin).json()["items"] == []
