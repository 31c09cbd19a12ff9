"""Webhook deliveries end to end, on both databases: an order's outbox event -> the engine's
fan-out -> delivery jobs -> the runner -> a REAL subscriber on 127.0.0.1 that verifies every
request with standardwebhooks (the receiver's view). Failure injection (500, timeout, closed
connection, 410) -> retries with backoff and the same webhook-id, dead deliveries, disabling
with an alert, and counts that match on both sides."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from api_helpers import order_body, outbox_rows, place
from sqlalchemy import func, select
from standardwebhooks.webhooks import WebhookVerificationError
from tests.conftest import make_settings
from webhook_receiver import Receiver, drain, receiving

from legato.bootstrap import Runtime, build
from legato.config import Settings
from legato.store import webhooks as store
from legato.store.alerts import open_alerts
from legato.store.workflow_tables import job_attempts, jobs, webhook_deliveries
from legato.workflow import runner
from legato.workflow.webhooks import MAX_ATTEMPTS, queue_deliveries


@pytest.fixture
def runtime(db_url: str) -> Iterator[Runtime]:
    """Short timeouts, and a subscription disabled after two dead deliveries in a row."""
    rt = build(make_settings(db_url, webhooks_timeout_seconds=1.0, webhooks_disable_after=2))
    yield rt
    rt.close()


@pytest.fixture
def rx() -> Iterator[Receiver]:
    with receiving() as r:
        yield r


def tuned(rt: Runtime, **changes: Any) -> Runtime:
    """The same database with other settings."""
    return Runtime(Settings(**{**rt.settings.model_dump(), **changes}), rt.engine, rt.box)


def fast(rt: Runtime) -> Runtime:
    """Retries due at once (the backoff itself is tested with the real settings)."""
    return tuned(rt, workflow_backoff_base_seconds=0.001, workflow_backoff_cap_seconds=0.001)


def subscribe(rt: Runtime, url: str, events: list[str]) -> tuple[store.Subscription, str]:
    return store.create(rt.engine, rt.box, url=url, events=events, description=None)


def rows(rt: Runtime, table: Any, **where: Any) -> list[Any]:
    query = select(table).order_by(table.c.id)
    for column, value in where.items():
        query = query.where(table.c[column] == value)
    with rt.engine.connect() as conn:
        return list(conn.execute(query))


def count(rt: Runtime, table: Any) -> int:
    with rt.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def event_ids(rt: Runtime) -> list[int]:
    return [r.id for r in outbox_rows(rt, "order.created")]


def test_an_order_event_reaches_each_subscription_that_wants_it_signed_per_standard_webhooks(
    runtime: Runtime, client: Any, shop: dict[str, str], rx: Receiver
) -> None:
    wants = {"exact": ["order.created"], "prefix": ["order.*"], "all": ["*"], "other": ["quote.created"]}
    subs = {name: subscribe(runtime, rx.url(f"/{name}"), events) for name, events in wants.items()}
    paused, _ = subscribe(runtime, rx.url("/paused"), ["*"])
    store.update_subscription(runtime.engine, paused.id, {"active": False})

    order = place(client, shop, order_body("WEB", ("TEA-100", 2), external_reference="WH-1"))
    drain(runtime)

    [event_id] = event_ids(runtime)
    for name in ("exact", "prefix", "all"):
        sub, secret = subs[name]
        [got] = rx.to(f"/{name}")
        payload = got.verified(secret)
        assert payload["type"] == "order.created"
        assert payload["timestamp"].endswith("Z")
        assert payload["data"]["number"] == order["number"]
        assert payload["data"]["external_reference"] == "WH-1"
        assert payload["data"]["grand_total"] == order["totals"]["grand_total"]
        assert got.method == "POST" and got.headers["content-type"] == "application/json"
        assert got.headers["webhook-id"] == f"msg_{event_id}_{sub.id}"
        assert abs(int(got.headers["webhook-timestamp"]) - datetime.now(UTC).timestamp()) < 60
        with pytest.raises(WebhookVerificationError):
            got.verified(subs["other"][1])  # another subscription's secret does not verify it
        [delivery] = rows(runtime, webhook_deliveries, subscription_id=sub.id)
        assert (delivery.state, delivery.attempts, delivery.last_status) == ("delivered", 1, 200)
        assert delivery.delivered_at is not None and delivery.event_id == event_id
    assert rx.to("/other") == [] and rx.to("/paused") == []
    assert len(rx.requests) == 3
    assert Counter(j.state for j in rows(runtime, jobs, kind="webhook")) == {"done": 3}


@pytest.mark.parametrize("failure", [500, "timeout", "close"])
def test_a_failed_delivery_is_retried_after_a_backoff_with_the_same_webhook_id(
    runtime: Runtime, client: Any, shop: dict[str, str], rx: Receiver, failure: int | str
) -> None:
    rt = tuned(runtime, workflow_backoff_base_seconds=600)  # the first retry: within 10 minutes
    _, secret = subscribe(rt, rx.url(), ["order.created"])
    rx.script = [failure]
    place(client, shop, order_body())
    before = datetime.now(UTC)
    assert drain(rt) == 1

    [job] = rows(rt, jobs, kind="webhook")
    assert (job.state, job.attempts) == ("queued", 1)
    assert before < job.run_at <= datetime.now(UTC) + timedelta(seconds=600)
    expected = {500: "HTTP 500", "timeout": "no answer within 1 s", "close": "closed"}[failure]
    assert expected in job.last_error
    [delivery] = rows(rt, webhook_deliveries)
    assert (delivery.state, delivery.attempts) == ("failed", 1)
    assert delivery.last_status == (500 if failure == 500 else None)
    assert drain(rt) == 0  # not due before its backoff ends

    assert drain(rt, now=datetime.now(UTC) + timedelta(hours=1)) == 1
    first, second = rx.requests
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == delivery.message_id
    assert first.verified(secret) == second.verified(secret)  # the same message, signed each time
    [delivery] = rows(rt, webhook_deliveries)
    assert (delivery.state, delivery.attempts, delivery.last_status) == ("delivered", 2, 200)
    assert [a.outcome for a in rows(rt, job_attempts, job_id=job.id)] == ["retry", "done"]


def test_deliveries_out_of_attempts_are_dead_and_two_in_a_row_disable_the_subscription_with_an_alert(
    runtime: Runtime, client: Any, shop: dict[str, str], rx: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    rt = fast(runtime)
    sub, secret = subscribe(rt, rx.url(), ["order.created"])
    rx.default = 500
    for ref in ("D-1", "D-2"):
        place(client, shop, order_body(external_reference=ref))
    with caplog.at_level(logging.WARNING, logger="legato.webhooks"):
        drain(rt, retries=True)
    [line] = [r.getMessage() for r in caplog.records if r.name == "legato.webhooks"]
    assert line.startswith(
        f"webhook subscription {sub.id} ({rx.url()}) disabled: 2 deliveries in a row failed"
    )

    ids = [f"msg_{e}_{sub.id}" for e in event_ids(rt)]
    assert Counter(r.headers["webhook-id"] for r in rx.requests) == {
        ids[0]: MAX_ATTEMPTS,
        ids[1]: MAX_ATTEMPTS,
    }
    assert all(r.verified(secret)["type"] == "order.created" for r in rx.requests)
    deliveries = rows(rt, webhook_deliveries)
    assert [(d.state, d.attempts, d.last_status) for d in deliveries] == [("dead", MAX_ATTEMPTS, 500)] * 2
    assert [(j.state, j.attempts) for j in rows(rt, jobs, kind="webhook")] == [("dead", MAX_ATTEMPTS)] * 2
    assert count(rt, job_attempts) == len(rx.requests) == 2 * MAX_ATTEMPTS

    found = store.get(rt.engine, sub.id)
    assert found is not None and not found.active and found.failures == 2
    assert found.disabled_reason is not None and "2 deliveries in a row failed" in found.disabled_reason
    [alert] = open_alerts(rt.engine, "webhook_disabled")
    assert alert.subject == f"webhook {sub.id}" and rx.url() in alert.message

    place(client, shop, order_body(external_reference="D-3"))  # disabled: nothing more is queued
    drain(rt, retries=True)
    assert len(rx.requests) == 2 * MAX_ATTEMPTS and count(rt, webhook_deliveries) == 2


def test_a_delivery_that_arrives_starts_the_count_of_failures_again(
    runtime: Runtime, client: Any, shop: dict[str, str], rx: Receiver
) -> None:
    rt = fast(runtime)
    sub, _ = subscribe(rt, rx.url(), ["order.created"])
    rx.script = [500] * MAX_ATTEMPTS + [200] + [500] * MAX_ATTEMPTS
    outcomes = []
    for ref in ("R-1", "R-2", "R-3"):  # dead, delivered, dead: never two dead in a row
        place(client, shop, order_body(external_reference=ref))
        drain(rt, retries=True)
        found = store.get(rt.engine, sub.id)
        assert found is not None
        outcomes.append((rows(rt, webhook_deliveries)[-1].state, found.failures, found.active))
    assert outcomes == [("dead", 1, True), ("delivered", 0, True), ("dead", 1, True)]
    assert len(rx.requests) == 2 * MAX_ATTEMPTS + 1
    assert open_alerts(rt.engine, "webhook_disabled") == []


def test_410_gone_disables_at_once_and_a_retry_after_re_enabling_delivers_the_same_messages(
    runtime: Runtime, client: Any, shop: dict[str, str], rx: Receiver
) -> None:
    sub, secret = subscribe(runtime, rx.url(), ["*"])
    rx.default = 410
    for ref in ("G-1", "G-2"):
        place(client, shop, order_body(external_reference=ref))
    drain(runtime)

    assert len(rx.requests) == 1  # the second delivery found the subscription disabled
    first, second = rows(runtime, webhook_deliveries)
    assert (first.state, first.last_status) == ("dead", 410)
    assert second.state == "dead" and "disabled" in second.last_error and second.last_status is None
    found = store.get(runtime.engine, sub.id)
    assert found is not None and not found.active and "410 Gone" in (found.disabled_reason or "")
    assert len(open_alerts(runtime.engine, "webhook_disabled")) == 1

    rx.default = 200
    store.update_subscription(runtime.engine, sub.id, {"active": True})
    assert open_alerts(runtime.engine, "webhook_disabled") == []
    for job in rows(runtime, jobs, kind="webhook"):
        runner.retry(runtime, job.id)  # what `legato jobs retry ID` does
    drain(runtime)
    assert [r.headers["webhook-id"] for r in rx.requests[1:]] == [first.message_id, second.message_id]
    assert [r.verified(secret)["data"]["external_reference"] for r in rx.requests[1:]] == ["G-1", "G-2"]
    assert [d.state for d in rows(runtime, webhook_deliveries)] == ["delivered", "delivered"]


def test_after_a_rotation_deliveries_carry_both_signatures_so_either_secret_verifies(
    runtime: Runtime, client: Any, shop: dict[str, str], rx: Receiver
) -> None:
    sub, old = subscribe(runtime, rx.url(), ["order.created"])
    new = store.rotate_secret(runtime.engine, runtime.box, sub.id)
    assert new is not None and new != old and new.startswith("whsec_")
    place(client, shop, order_body())
    drain(runtime)
    [got] = rx.requests
    assert len(got.headers["webhook-signature"].split(" ")) == 2
    assert got.verified(old) == got.verified(new)


def test_a_private_address_is_refused_at_send_time_when_private_networks_are_not_allowed(
    runtime: Runtime, client: Any, shop: dict[str, str], rx: Receiver
) -> None:
    sub, _ = subscribe(runtime, rx.url(), ["order.created"])
    named, _ = subscribe(runtime, rx.url().replace("127.0.0.1", "localhost"), ["order.created"])
    place(client, shop, order_body())
    drain(tuned(runtime, webhooks_allow_private=False))
    assert rx.requests == []
    for d in rows(runtime, webhook_deliveries):
        assert d.state == "dead" and "refused to call" in d.last_error and "loopback" in d.last_error
    assert [
        s.failures for s in (store.get(runtime.engine, sub.id), store.get(runtime.engine, named.id)) if s
    ] == [1, 1]


def test_fan_out_queues_one_delivery_per_event_and_subscription_however_often_it_runs(
    runtime: Runtime, client: Any, shop: dict[str, str], rx: Receiver
) -> None:
    sub, _ = subscribe(runtime, rx.url(), ["order.created"])
    place(client, shop, order_body())
    [row] = outbox_rows(runtime, "order.created")
    event = {"id": row.id, "type": row.event_type, "payload": row.payload, "created_at": row.created_at}
    with runtime.engine.begin() as conn:
        assert queue_deliveries(conn, event) == 1
        assert queue_deliveries(conn, event) == 0
        assert queue_deliveries(conn, {**event, "type": "quote.created"}) == 0
    assert count(runtime, webhook_deliveries) == 1 and len(rows(runtime, jobs, kind="webhook")) == 1
    drain(runtime)  # the dispatcher's own fan-out finds it queued already
    assert len(rx.requests) == 1 and rx.requests[0].headers["webhook-id"] == f"msg_{row.id}_{sub.id}"


def test_a_delivery_queued_for_a_deleted_subscription_ends_without_a_request(
    runtime: Runtime, client: Any, shop: dict[str, str], rx: Receiver
) -> None:
    sub, _ = subscribe(runtime, rx.url(), ["order.created"])
    place(client, shop, order_body())
    from legato.workflow import engine

    engine.dispatch(runtime)
    assert store.delete_subscription(runtime.engine, sub.id)
    drain(runtime)
    [job] = rows(runtime, jobs, kind="webhook")
    assert job.state == "done" and job.result["skipped"] == "the subscription was deleted"
    assert rx.requests == [] and count(runtime, webhook_deliveries) == 0
