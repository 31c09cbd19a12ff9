"""/api/v1/jobs and /api/v1/workflow-runs on both databases: dead letters listed with their
attempts, an admin's retry, runs per order, and precise errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from api_helpers import key_headers, problem
from fastapi.testclient import TestClient
from tests.workflow_actions import order, register, shop, workflow

from legato.bootstrap import Runtime
from legato.workflow import engine, runner

W = "test-host:1:api"


@pytest.fixture(autouse=True)
def _actions(runtime: Runtime) -> None:
    register()
    shop(runtime)


def drain(rt: Runtime, now: datetime) -> None:
    while engine.dispatch(rt, now=now) + runner.run_due(rt, W, now=now):
        pass


def test_a_dead_job_is_listed_shown_with_its_attempts_and_retried_by_an_admin(
    client: TestClient, runtime: Runtime, admin: dict[str, str], reader: dict[str, str]
) -> None:
    workflow(runtime, "erp-push", "order.created", ("flaky", {"fail_times": 4}), ("noop", {"note": "pushed"}))
    oid = order(runtime, "API-DEAD")
    number = f"SO-{oid:06d}"
    now = datetime.now(UTC)
    for i in range(5):
        drain(runtime, now + timedelta(minutes=i))

    dead = client.get("/api/v1/jobs", params={"state": "dead"}, headers=reader).json()
    assert [(j["action"], j["order"], j["attempts"], j["max_attempts"]) for j in dead["items"]] == [
        ("flaky", number, 4, 4)
    ]
    job = dead["items"][0]
    assert job["idempotency_key"] == f"legato-run-{job['run_id']}-step-0"
    shown = client.get(f"/api/v1/jobs/{job['id']}", headers=reader).json()
    assert [a["outcome"] for a in shown["attempts_log"]] == ["retry", "retry", "retry", "dead"]
    assert shown["attempts_log"][0]["error"] == "the receiver answered 503 (attempt 1)"
    assert all(a["worker"] == W and a["duration_ms"] is not None for a in shown["attempts_log"])

    problem(client.post(f"/api/v1/jobs/{job['id']}/retry", headers=reader), 403, "forbidden")
    retried = client.post(f"/api/v1/jobs/{job['id']}/retry", headers=admin)
    assert retried.status_code == 200, retried.text
    assert (retried.json()["state"], retried.json()["max_attempts"]) == ("queued", 8)
    problem(client.post(f"/api/v1/jobs/{job['id']}/retry", headers=admin), 409, "conflict")
    drain(runtime, datetime.now(UTC))  # the fifth attempt succeeds, the run goes on

    runs = client.get("/api/v1/workflow-runs", params={"order": number}, headers=reader).json()["items"]
    assert [(r["workflow"], r["state"], r["order"]) for r in runs] == [("erp-push", "done", number)]
    run = client.get(f"/api/v1/workflow-runs/{runs[0]['id']}", headers=reader).json()
    assert [(j["step"], j["state"]) for j in run["jobs"]] == [(0, "done"), (1, "done")]
    assert run["event"]["type"] == "order.created" and run["event_id"] == run["event"]["id"]
    timeline = client.get(f"/api/v1/orders/{number}", headers=reader).json()["timeline"]
    workflow_lines = [(e["actor"], e["to"], e["reason"]) for e in timeline if e["kind"] == "workflow"]
    assert workflow_lines == [
        ("rule:erp-push", "dead", "the receiver answered 503 (attempt 4) (after 4 attempts)"),
        ("apikey:admin", "queued", f"job {job['id']} retried"),
        ("rule:erp-push", None, "succeeded at attempt 5"),
        ("rule:erp-push", None, "pushed"),
    ]


def test_the_lists_filter_and_page_and_a_waiting_job_shows_no_wake_time(
    client: TestClient, runtime: Runtime, reader: dict[str, str]
) -> None:
    workflow(runtime, "hold", "order.created", ("pause", {}))
    workflow(runtime, "log", "order.created", ("noop", {}))
    first, second = order(runtime, "PAGE-1"), order(runtime, "PAGE-2")
    drain(runtime, datetime.now(UTC))
    page = client.get("/api/v1/jobs", params={"limit": 3}, headers=reader).json()
    rest = client.get(
        "/api/v1/jobs", params={"limit": 3, "cursor": page["next_cursor"]}, headers=reader
    ).json()
    ids = [j["id"] for j in page["items"] + rest["items"]]
    assert ids == sorted(ids, reverse=True) and len(ids) == 4 and rest["next_cursor"] is None
    waiting = client.get(
        "/api/v1/jobs", params={"state": "waiting", "order": str(first)}, headers=reader
    ).json()
    assert [(j["action"], j["run_at"]) for j in waiting["items"]] == [("pause", None)]
    runs = client.get("/api/v1/workflow-runs", params={"state": "waiting"}, headers=reader).json()["items"]
    assert sorted(r["order_id"] for r in runs) == [first, second]
    by_run = client.get("/api/v1/jobs", params={"run": runs[0]["id"]}, headers=reader).json()["items"]
    assert [j["run_id"] for j in by_run] == [runs[0]["id"]]
    named = client.get("/api/v1/workflow-runs", params={"workflow": "log"}, headers=reader).json()["items"]
    assert {r["state"] for r in named} == {"done"} and len(named) == 2


def test_bad_requests_get_precise_problems(
    client: TestClient, runtime: Runtime, reader: dict[str, str]
) -> None:
    problem(client.get("/api/v1/jobs/999", headers=reader), 404, "not_found")
    problem(client.get("/api/v1/workflow-runs/999", headers=reader), 404, "not_found")
    bad_order = problem(
        client.get("/api/v1/jobs", params={"order": "XX-1"}, headers=reader), 422, "validation"
    )
    assert [e["path"] for e in bad_order["errors"]] == ["$.order"]
    problem(client.get("/api/v1/jobs", params={"state": "lost"}, headers=reader), 422, "validation")
    bad_cursor = problem(client.get("/api/v1/workflow-runs", params={"cursor": "nope"}, headers=reader), 422,
                         "validation")  # fmt: skip
    assert [(e["path"], e["code"]) for e in bad_cursor["errors"]] == [("$.cursor", "invalid_cursor")]
    problem(client.get("/api/v1/jobs"), 401, "unauthorized")
    writer = key_headers(runtime, "clerk", "orders:write")  # reads, but retrying needs admin
    problem(client.post("/api/v1/jobs/999/retry", headers=writer), 403, "forbidden")
    problem(
        client.post("/api/v1/jobs/999/retry", headers=key_headers(runtime, "ops", "admin")), 404, "not_found"
    )
