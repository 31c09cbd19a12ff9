"""Approvals through the API and the engine: a workflow parks a big order for approval, an
approver key decides, the run goes on or stops. Both databases."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from api_helpers import key_headers, order_body, place, problem
from fastapi.testclient import TestClient
from sqlalchemy import select

from legato.bootstrap import Runtime
from legato.store.workflow_tables import workflow_runs
from legato.workflow import engine, runner

PAGE = Path(__file__).resolve().parents[2] / "docs" / "workflows" / "actions" / "require_approval.md"


def _page_block(kind: str) -> str:
    found = re.search(rf"```{kind}\n(.*?)```", PAGE.read_text(), re.S)
    assert found is not None
    return found.group(1)


def drain(rt: Runtime) -> None:
    """Dispatch events and run due jobs until nothing is left to do, as a worker would."""
    worker = runner.worker_id()
    for _ in range(50):
        if engine.dispatch(rt) + runner.run_due(rt, worker) == 0:
            return
    raise AssertionError("the engine did not settle")


def runs(rt: Runtime, order_id: int) -> list[Any]:
    with rt.engine.connect() as conn:
        return list(conn.execute(select(workflow_runs).where(workflow_runs.c.order_id == order_id)))


@pytest.fixture
def gated(client: TestClient, shop: dict[str, str], runtime: Runtime) -> dict[str, str]:
    """The page's workflow saved: orders over 5,000 wait for approval, then go to processing."""
    r = client.post("/api/v1/workflows", json=yaml.safe_load(_page_block("yaml")), headers=shop)
    assert r.status_code == 201, r.text
    return shop


def _big_order(client: TestClient, headers: dict[str, str], rt: Runtime) -> tuple[dict[str, Any], int]:
    """An order of 7,998.00 GBP, dispatched and run to its approval; (order, approval id)."""
    order = place(client, headers, order_body("WEB", ("POT-300", 200)))
    drain(rt)
    pending = client.get(f"/api/v1/approvals?state=pending&order={order['number']}", headers=headers).json()
    (approval,) = pending["items"]
    return order, int(approval["id"])


def test_a_big_order_waits_for_an_approver_and_proceeds_when_accepted(
    client: TestClient, gated: dict[str, str], runtime: Runtime
) -> None:
    small = place(client, gated, order_body("WEB", ("TEA-100", 2)))
    order, aid = _big_order(client, gated, runtime)
    assert runs(runtime, small["id"]) == []
    got = client.get(f"/api/v1/orders/{order['number']}", headers=gated).json()
    assert got["status"] == "pending_approval"
    (run,) = runs(runtime, order["id"])
    assert run.state == "waiting"

    reader = key_headers(runtime, "dashboard", "orders:read")
    problem(client.post(f"/api/v1/approvals/{aid}/accept", json={}, headers=reader), 403, "forbidden")
    writer = key_headers(runtime, "ops", "orders:write")
    problem(client.post(f"/api/v1/approvals/{aid}/accept", headers=writer), 403, "forbidden")

    alice = key_headers(runtime, "alice", "approver")
    r = client.post(f"/api/v1/approvals/{aid}/accept", json={"note": "checked with sales"}, headers=alice)
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["state"], body["decided_by"], body["note"], body["order_status"]) == (
        "accepted", "apikey:alice", "checked with sales", "created",
    )  # fmt: skip
    drain(runtime)
    got = client.get(f"/api/v1/orders/{order['number']}", headers=gated).json()
    assert (got["status"], got["tags"]) == ("processing", ["approved"])
    (run,) = runs(runtime, order["id"])
    assert (run.state, run.step) == ("done", 2)
    moves = [
        (e["actor"], e.get("from"), e.get("to")) for e in got["timeline"] if e["kind"] == "status_changed"
    ]
    assert moves == [
        ("rule:approve-big-orders", "created", "pending_approval"),
        ("apikey:alice", "pending_approval", "created"),
        ("rule:approve-big-orders", "created", "processing"),
    ]


def test_a_rejected_order_is_cancelled_with_the_note_and_its_run_stops(
    client: TestClient, gated: dict[str, str], runtime: Runtime
) -> None:
    order, aid = _big_order(client, gated, runtime)
    bob = key_headers(runtime, "bob", "approver")
    r = client.post(f"/api/v1/approvals/{aid}/reject", json={"note": "customer on stop list"}, headers=bob)
    assert (r.status_code, r.json()["state"], r.json()["order_status"]) == (200, "rejected", "cancelled")
    drain(runtime)
    got = client.get(f"/api/v1/orders/{order['number']}", headers=gated).json()
    assert got["status"] == "cancelled" and got["tags"] == []
    last = got["timeline"][-1]
    assert (last["actor"], last["reason"]) == (
        "apikey:bob",
        f"approval #{aid} rejected: customer on stop list",
    )
    (run,) = runs(runtime, order["id"])
    assert run.state == "stopped"


def test_a_decision_is_repeatable_but_not_reversible(
    client: TestClient, gated: dict[str, str], runtime: Runtime
) -> None:
    _, aid = _big_order(client, gated, runtime)
    alice = key_headers(runtime, "alice", "approver")
    first = client.post(f"/api/v1/approvals/{aid}/accept", headers=alice)
    again = client.post(f"/api/v1/approvals/{aid}/accept", json={"note": "twice"}, headers=gated)
    assert (first.status_code, again.status_code) == (200, 200)
    assert again.json() == first.json()  # the first decision stands, note and decider included
    body = problem(client.post(f"/api/v1/approvals/{aid}/reject", json={"note": "no"}, headers=alice), 409,
                   "conflict")  # fmt: skip
    assert body["detail"] == f"approval #{aid} was already accepted by apikey:alice"


def test_rejecting_needs_a_note(client: TestClient, gated: dict[str, str], runtime: Runtime) -> None:
    _, aid = _big_order(client, gated, runtime)
    for body in ({}, {"note": "  "}):
        got = problem(
            client.post(f"/api/v1/approvals/{aid}/reject", json=body, headers=gated), 422, "validation"
        )
        assert [e["path"] for e in got["errors"]] == ["$.note"]
    got = problem(client.post(f"/api/v1/approvals/{aid}/accept", json={"nope": 1}, headers=gated), 422,
                  "validation")  # fmt: skip
    assert [e["path"] for e in got["errors"]] == ["$.nope"]
    assert client.get(f"/api/v1/approvals/{aid}", headers=gated).json()["state"] == "pending"


def test_approvals_are_listed_oldest_first_by_state_order_and_role_with_a_cursor(
    client: TestClient, gated: dict[str, str], runtime: Runtime
) -> None:
    ids = [_big_order(client, gated, runtime)[1] for _ in range(3)]
    reader = key_headers(runtime, "dashboard", "orders:read")
    page = client.get("/api/v1/approvals?state=pending&limit=2", headers=reader).json()
    assert [a["id"] for a in page["items"]] == ids[:2]
    rest = client.get(f"/api/v1/approvals?state=pending&limit=2&cursor={page['next_cursor']}", headers=reader)
    assert ([a["id"] for a in rest.json()["items"]], rest.json()["next_cursor"]) == (ids[2:], None)
    assert client.get("/api/v1/approvals?role=finance", headers=reader).json()["items"] == []
    assert client.get("/api/v1/approvals?state=accepted", headers=reader).json()["items"] == []
    one = client.get(f"/api/v1/approvals/{ids[0]}", headers=reader).json()
    assert (one["role"], one["reason"], one["state"]) == ("approver", "order over 5,000", "pending")
    problem(client.get("/api/v1/approvals/999999", headers=reader), 404, "not_found")
    problem(client.post("/api/v1/approvals/999999/accept", headers=gated), 404, "not_found")
    bad = problem(client.get("/api/v1/approvals?order=nonsense", headers=reader), 422, "validation")
    assert [e["path"] for e in bad["errors"]] == ["$.order"]
    problem(client.get("/api/v1/approvals?state=maybe", headers=reader), 422, "validation")
    problem(client.get("/api/v1/approvals"), 401, "unauthorized")


def test_the_page_shows_the_answer_as_the_api_gives_it(
    client: TestClient, gated: dict[str, str], runtime: Runtime
) -> None:
    _, aid = _big_order(client, gated, runtime)
    r = client.post(f"/api/v1/approvals/{aid}/accept", json={"note": "checked with sales"}, headers=gated)
    documented = json.loads(_page_block("json"))
    assert list(r.json()) == list(documented)
    assert {k: r.json()[k] for k in ("role", "reason", "state", "note")} == {
        k: documented[k] for k in ("role", "reason", "state", "note")
    }


@pytest.mark.slow  # a fresh interpreter imports the CLI: seconds on a busy machine
def test_legato_apikey_create_makes_an_approver_key(
    client: TestClient, gated: dict[str, str], runtime: Runtime, db_url: str
) -> None:
    _, aid = _big_order(client, gated, runtime)
    env = {**os.environ, "LEGATO_DATABASE_URL": db_url, "LEGATO_ENVIRONMENT": "test",
           "LEGATO_SECRET_KEY": runtime.settings.secret_key, "LEGATO_LOG_JSON": "false"}  # fmt: skip
    cli = [sys.executable, "-m", "legato.cli", "apikey", "create", "--scope", "approver", "--name", "carol"]
    out = subprocess.run(cli, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert out.returncode == 0, out.stderr
    key = out.stdout.strip().splitlines()[-1]
    r = client.post(f"/api/v1/approvals/{aid}/accept", headers={"Authorization": f"Bearer {key}"})
    assert (r.status_code, r.json()["decided_by"]) == (200, "apikey:carol")
