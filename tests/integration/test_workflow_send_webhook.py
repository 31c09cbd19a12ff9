"""The send_webhook action, on both databases, run by the real engine and runner against a
REAL receiver on 127.0.0.1 that verifies each message with standardwebhooks: the documented
workflow, the default data, the stable webhook-id, and the outcomes without a secret and on
410 Gone."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from api_helpers import order_body, place
from sqlalchemy import select
from tests.conftest import make_settings
from webhook_receiver import Receiver, drain, receiving

from legato.bootstrap import Runtime, build
from legato.store import tables
from legato.store.webhooks import new_secret
from legato.store.workflow_tables import jobs, workflow_runs
from legato.workflow import definitions

DOC = Path(__file__).resolve().parents[2] / "docs" / "workflows" / "actions" / "send_webhook.md"
SECRET = new_secret()


@pytest.fixture
def runtime(db_url: str) -> Iterator[Runtime]:
    settings = make_settings(db_url, webhooks_signing_secret=SECRET, workflow_backoff_base_seconds=600)
    rt = build(settings)
    yield rt
    rt.close()


@pytest.fixture
def rx() -> Iterator[Receiver]:
    with receiving() as r:
        yield r


def blocks(kind: str) -> list[str]:
    return re.findall(rf"```{kind}\n(.*?)```", DOC.read_text(), re.S)


def save(rt: Runtime, doc: dict[str, Any]) -> None:
    definitions.save(rt, definitions.from_document(doc), "test")


def rows(rt: Runtime, table: Any, **where: Any) -> list[Any]:
    query = select(table).order_by(table.c.id)
    for column, value in where.items():
        query = query.where(table.c[column] == value)
    with rt.engine.connect() as conn:
        return list(conn.execute(query))


def test_the_documented_workflow_sends_a_message_the_receiver_verifies(
    runtime: Runtime, client: Any, shop: dict[str, str], rx: Receiver
) -> None:
    doc = yaml.safe_load(blocks("yaml")[0])
    doc["actions"][0]["params"]["url"] = rx.url()
    save(runtime, doc)
    order = place(client, shop, order_body())
    r = client.post(f"/api/v1/orders/{order['number']}/transitions", json={"to": "processing"}, headers=shop)
    assert r.status_code == 200, r.text
    drain(runtime)

    [got] = rx.requests
    payload = got.verified(SECRET)
    documented = yaml.safe_load(blocks("json")[0])
    assert payload.keys() == documented.keys() and payload["type"] == documented["type"]
    assert payload["data"] == {"number": order["number"], "status": "processing", "channel": "WEB"}
    [run] = rows(runtime, workflow_runs)
    assert got.headers["webhook-id"] == f"legato-run-{run.id}-step-0"
    [job] = rows(runtime, jobs, run_id=run.id)
    assert job.state == "done" and job.result["status"] == 200
    notes = [e.reason for e in rows(runtime, tables.order_timeline, order_id=order["id"], kind="workflow")]
    assert notes == [f"webhook order.ready_to_pick sent to {rx.url()} (200)"]


def test_without_data_the_message_carries_the_events_payload_and_a_retry_keeps_its_id(
    runtime: Runtime, client: Any, shop: dict[str, str], rx: Receiver
) -> None:
    save(runtime, {"name": "feed", "trigger": "order.created",
                   "actions": [{"action": "send_webhook", "params": {"url": rx.url()}}]})  # fmt: skip
    rx.script = ["close"]
    order = place(client, shop, order_body(external_reference="SW-1"))
    drain(runtime)
    drain(runtime, now=datetime.now(UTC) + timedelta(hours=1))
    first, second = rx.requests
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    payload = second.verified(SECRET)
    assert payload["type"] == "order.created"
    assert payload["data"]["number"] == order["number"] and payload["data"]["external_reference"] == "SW-1"
    assert [j.state for j in rows(runtime, jobs)] == ["done"]


@pytest.mark.parametrize(("secret", "answer", "reason"), [(None, 200, "LEGATO_WEBHOOKS_SIGNING_SECRET"),
                                                          (SECRET, 410, "the receiver is gone")])  # fmt: skip
def test_no_secret_or_a_410_is_dead_at_once(
    runtime: Runtime, client: Any, shop: dict[str, str], rx: Receiver, secret: str | None, answer: int,
    reason: str,
) -> None:  # fmt: skip
    rt = Runtime(
        runtime.settings.model_copy(update={"webhooks_signing_secret": secret}), runtime.engine, runtime.box
    )
    save(rt, {"name": "feed", "trigger": "order.created",
              "actions": [{"action": "send_webhook", "params": {"url": rx.url()}}]})  # fmt: skip
    rx.default = answer
    place(client, shop, order_body())
    drain(rt)
    [job] = rows(rt, jobs)
    assert (job.state, job.attempts) == ("dead", 1) and reason in job.last_error
    assert len(rx.requests) == (1 if secret else 0)


def test_a_bad_step_is_refused_when_saved() -> None:
    from legato.domain.errors import ValidationFailed

    doc = {"name": "bad", "trigger": "order.created", "actions": [
        {"action": "send_webhook", "params": {"url": "https://x.example/{{ a }}", "event": "has space",
                                              "data": {"n": "{{ order.number"}}}]}  # fmt: skip
    with pytest.raises(ValidationFailed) as caught:
        definitions.from_document(doc)
    assert {i.path for i in caught.value.issues} == {
        "actions[0].params.url",
        "actions[0].params.event",
        "actions[0].params.data.n",
    }
