"""The call_http action, on both databases, run by the real engine and runner against a REAL
HTTP server on 127.0.0.1: the documented workflows, templated URL/headers/body, the step's
Idempotency-Key (the same on a retry), 5xx/timeout/closed -> retried with backoff, 4xx and
unexpected answers -> dead at once on the order's timeline; and the checks at save time."""

from __future__ import annotations

import json
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
from legato.domain.errors import ValidationFailed
from legato.store import tables
from legato.store.workflow_tables import job_attempts, jobs, workflow_runs
from legato.workflow import definitions

DOC = Path(__file__).resolve().parents[2] / "docs" / "workflows" / "actions" / "call_http.md"


@pytest.fixture
def runtime(db_url: str) -> Iterator[Runtime]:
    rt = build(make_settings(db_url, webhooks_timeout_seconds=1.0, workflow_backoff_base_seconds=600))
    yield rt
    rt.close()


@pytest.fixture
def rx() -> Iterator[Receiver]:
    with receiving(default=201, answer='{"id": "SUP-9"}') as r:
        yield r


def doc_workflows(path: Path = DOC) -> list[dict[str, Any]]:
    return [yaml.safe_load(b) for b in re.findall(r"```yaml\n(.*?)```", path.read_text(), re.S)]


def save(rt: Runtime, doc: dict[str, Any]) -> None:
    definitions.save(rt, definitions.from_document(doc), "test")


def workflow(url: str, **params: Any) -> dict[str, Any]:
    return {
        "name": "call",
        "trigger": "order.created",
        "actions": [{"action": "call_http", "params": {"url": url, **params}}],
    }


def rows(rt: Runtime, table: Any, **where: Any) -> list[Any]:
    query = select(table).order_by(table.c.id)
    for column, value in where.items():
        query = query.where(table.c[column] == value)
    with rt.engine.connect() as conn:
        return list(conn.execute(query))


def test_the_documented_dropship_workflow_sends_the_rendered_request_with_the_step_key(
    runtime: Runtime, client: Any, shop: dict[str, str], rx: Receiver
) -> None:
    doc = doc_workflows()[0]
    params = doc["actions"][0]["params"]
    params["url"] = params["url"].replace("https://supplier.example", rx.base)
    save(runtime, doc)
    order = place(client, shop, order_body("WEB", ("TEA-100", 2), ("MUG-200", 1)))
    drain(runtime)

    [got] = rx.requests
    [run] = rows(runtime, workflow_runs)
    assert (got.method, got.path) == ("POST", f"/api/orders/{order['number']}")
    assert got.headers["idempotency-key"] == f"legato-run-{run.id}-step-0"
    assert got.headers["authorization"] == "Bearer 7c1d0e6f-demo-token"
    assert got.headers["x-legato-channel"] == "WEB" and got.headers["content-type"] == "application/json"
    body = got.json()
    assert body == {"reference": order["number"], "currency": "GBP", "total": body["total"], "ship_to": ""}
    assert body["total"] == order["totals"]["grand_total"]

    [job] = rows(runtime, jobs, run_id=run.id)
    assert (
        job.state == "done"
        and job.result["status"] == 201
        and json.loads(job.result["body"]) == {"id": "SUP-9"}
    )
    [attempt] = rows(runtime, job_attempts, job_id=job.id)
    assert attempt.request["url"] == rx.url(f"/api/orders/{order['number']}")
    assert attempt.request["idempotency_key"] == got.headers["idempotency-key"]
    notes = [e.reason for e in rows(runtime, tables.order_timeline, order_id=order["id"], kind="workflow")]
    assert notes == [f"POST {rx.url('/api/orders/' + order['number'])} answered 201"]


def test_the_documented_text_template_renders_one_entry_per_line_as_json(
    runtime: Runtime, client: Any, shop: dict[str, str], rx: Receiver
) -> None:
    doc = doc_workflows()[1]
    doc["actions"][0]["params"]["url"] = rx.url("/api/orders")
    save(runtime, doc)
    order = place(client, shop, order_body("WEB", ("TEA-100", 2), ("MUG-200", 1)))
    drain(runtime)
    [got] = rx.requests
    body = got.json()
    assert body["reference"] == order["number"]
    assert [(line["sku"], float(line["quantity"])) for line in body["lines"]] == [
        ("TEA-100", 2),
        ("MUG-200", 1),
    ]
    assert got.headers["idempotency-key"].startswith("legato-run-")


@pytest.mark.parametrize("failure", [500, 429, "timeout", "close"])
def test_a_transient_failure_is_retried_after_a_backoff_with_the_same_idempotency_key(
    runtime: Runtime, client: Any, shop: dict[str, str], rx: Receiver, failure: int | str
) -> None:
    save(runtime, workflow(rx.url("/orders"), body={"n": "{{ order.number }}"}))
    rx.script = [failure]
    place(client, shop, order_body())
    before = datetime.now(UTC)
    drain(runtime)
    [job] = rows(runtime, jobs)
    assert (job.state, job.attempts) == ("queued", 1) and job.run_at > before
    assert drain(runtime) == 0  # its backoff has not passed
    drain(runtime, now=datetime.now(UTC) + timedelta(hours=1))
    first, second = rx.requests
    assert first.headers["idempotency-key"] == second.headers["idempotency-key"]
    assert first.body == second.body
    [job] = rows(runtime, jobs)
    assert job.state == "done"
    outcomes = [
        (a.outcome, (a.response or {}).get("status")) for a in rows(runtime, job_attempts, job_id=job.id)
    ]
    assert outcomes == [("retry", failure if isinstance(failure, int) else None), ("done", 201)]


@pytest.mark.parametrize(
    ("answer", "params", "reason"),
    [
        (422, {}, 'answered 422: {"id": "SUP-9"}'),
        (302, {}, "answered 302"),
        (200, {"expect": [201]}, "answered 200"),
        (201, {"body": {"tier": "{{ account.tierr }}"}}, "UndefinedError"),
    ],
)
def test_an_answer_that_can_never_succeed_is_dead_at_once_on_the_orders_timeline(
    runtime: Runtime, client: Any, shop: dict[str, str], rx: Receiver, answer: int, params: dict[str, Any],
    reason: str,
) -> None:  # fmt: skip
    save(runtime, workflow(rx.url("/orders"), **params))
    rx.default = answer
    order = place(client, shop, order_body())
    drain(runtime)
    [job] = rows(runtime, jobs)
    assert (job.state, job.attempts) == ("dead", 1) and reason in job.last_error
    assert [r.state for r in rows(runtime, workflow_runs)] == ["dead"]
    dead = [e for e in rows(runtime, tables.order_timeline, order_id=order["id"]) if e.to_value == "dead"]
    assert len(dead) == 1 and reason in dead[0].reason and dead[0].actor == "rule:call"
    assert len(rx.requests) == (0 if "UndefinedError" in reason else 1)


def test_a_get_sends_no_body_and_a_custom_idempotency_header(
    runtime: Runtime, client: Any, shop: dict[str, str], rx: Receiver
) -> None:
    rx.default = 200
    save(runtime, workflow(rx.url("/stock?sku={{ order.lines[0].sku }}"), method="GET",
                           idempotency_header="X-Request-Id"))  # fmt: skip
    place(client, shop, order_body())
    drain(runtime)
    [got] = rx.requests
    assert (got.method, got.path, got.body) == ("GET", "/stock?sku=TEA-100", b"")
    assert got.headers["x-request-id"].startswith("legato-run-") and "idempotency-key" not in got.headers


def test_a_private_address_is_refused_when_private_networks_are_not_allowed(
    runtime: Runtime, client: Any, shop: dict[str, str], rx: Receiver
) -> None:
    from webhook_receiver import drain as run_all

    save(runtime, workflow(rx.url("/orders")))
    place(client, shop, order_body())
    strict = Runtime(
        runtime.settings.model_copy(update={"webhooks_allow_private": False}), runtime.engine, runtime.box
    )
    run_all(strict)
    [job] = rows(runtime, jobs)
    assert job.state == "dead" and "refused to call" in job.last_error and rx.requests == []


@pytest.mark.parametrize(
    ("params", "path", "message"),
    [
        ({"url": "ftp://x.example/a"}, "actions[0].params.url", "http:// or https://"),
        ({"url": "https://{{ host }}/a"}, "actions[0].params.url", "templates may follow the host"),
        ({"url": "http://169.254.169.254/latest"}, "actions[0].params.url", "metadata"),
        ({}, "actions[0].params.url", "the URL to call"),
        (
            {"url": "https://x.example/", "body": {"a": "{{ order.number "}},
            "actions[0].params.body.a",
            "template error at line 1",
        ),
        (
            {"url": "https://x.example/", "body": "{% for l in order.lines %}"},
            "actions[0].params.body",
            "line 1",
        ),
        (
            {"url": "https://x.example/", "method": "GET", "body": {"a": 1}},
            "actions[0].params.body",
            "no body",
        ),
        ({"url": "https://x.example/", "method": "FETCH"}, "actions[0].params.method", "one of GET"),
        ({"url": "https://x.example/", "expect": [200, "201"]}, "actions[0].params.expect", "HTTP statuses"),
        (
            {"url": "https://x.example/", "headers": {"Content-Length": "1"}},
            "actions[0].params.headers.Content-Length",
            "header name",
        ),
        (
            {"url": "https://x.example/", "idempotency_header": "bad header"},
            "actions[0].params.idempotency_header",
            "header name",
        ),
        ({"url": "https://x.example/", "retries": 3}, "actions[0].params.retries", "unknown parameter"),
    ],
)
def test_a_bad_step_is_refused_when_the_workflow_is_saved_with_its_path(
    params: dict[str, Any], path: str, message: str
) -> None:
    doc = {"name": "bad", "trigger": "order.created", "actions": [{"action": "call_http", "params": params}]}
    with pytest.raises(ValidationFailed) as caught:
        definitions.from_document(doc)
    issues = {i.path: i.message for i in caught.value.issues}
    assert path in issues and message in issues[path], issues


def test_deliver_webhook_cannot_be_a_workflow_step() -> None:
    doc = {
        "name": "bad",
        "trigger": "order.created",
        "actions": [{"action": "deliver_webhook", "params": {}}],
    }
    with pytest.raises(ValidationFailed) as caught:
        definitions.from_document(doc)
    assert any("send_webhook or call_http" in i.message for i in caught.value.issues)
