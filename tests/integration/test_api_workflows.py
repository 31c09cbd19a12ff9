"""/api/v1/workflows on both databases: definitions and versions, enable/disable, the live check,
the dry run, scopes, and problem+json errors that point into the definition."""

from __future__ import annotations

import json
from typing import Any

import pytest
from api_helpers import count, key_headers, order_body, paths, place, problem
from fastapi.testclient import TestClient

from legato.bootstrap import Runtime

BASE = "/api/v1/workflows"


def definition(name: str = "big-orders", **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "description": "tag and move big orders",
        "trigger": "order.created",
        "condition": "order.total > 10",
        "priority": 10,
        "actions": [
            {"action": "add_tag", "params": {"tag": "big"}},
            {"action": "set_status", "params": {"to": "processing", "reason": "big order"}},
        ],
        **extra,
    }


@pytest.fixture
def editor(runtime: Runtime) -> dict[str, str]:
    return key_headers(runtime, "rules-editor", "workflows:write")


def test_a_workflow_is_created_read_listed_and_versioned_by_put(
    client: TestClient, editor: dict[str, str], reader: dict[str, str], runtime: Runtime
) -> None:
    r = client.post(BASE, json=definition(), headers=editor)
    assert r.status_code == 201, r.text
    created = r.json()
    assert (created["outcome"], created["version"], created["active"]) == ("created", 1, True)
    assert created["trigger_description"] == "order.created"
    assert (created["fired"], created["failed"], created["last_fired_at"]) == (0, 0, None)

    same = client.put(f"{BASE}/big-orders", json=definition(), headers=editor)
    assert (same.status_code, same.json()["outcome"], same.json()["version"]) == (200, "unchanged", 1)

    edited = client.put(f"{BASE}/big-orders", json=definition(condition="order.total > 20"), headers=editor)
    assert (edited.status_code, edited.json()["outcome"], edited.json()["version"]) == (200, "updated", 2)

    fresh = client.put(
        f"{BASE}/scheduled",
        headers=editor,
        json={"trigger": {"schedule": "18:00"}, "actions": [{"action": "add_tag", "params": {"tag": "x"}}]},
    )
    assert fresh.status_code == 201, fresh.text
    assert (fresh.json()["name"], fresh.json()["trigger"]) == ("scheduled", {"schedule": "18:00"})
    assert fresh.json()["trigger_description"] == "every day at 18:00 UTC"

    one = client.get(f"{BASE}/big-orders", headers=reader).json()
    assert (one["version"], one["condition"], one["priority"]) == (2, "order.total > 20", 10)
    listed = client.get(BASE, headers=reader).json()["items"]
    assert [(w["name"], w["version"]) for w in listed] == [("big-orders", 2), ("scheduled", 1)]

    versions = client.get(f"{BASE}/big-orders/versions", headers=reader).json()["items"]
    assert [(v["version"], v["current"], v["created_by"]) for v in versions] == [
        (1, False, "apikey:rules-editor"),
        (2, True, "apikey:rules-editor"),
    ]
    first = client.get(f"{BASE}/big-orders/versions/1", headers=reader).json()
    assert (first["current"], first["definition"]["condition"]) == (False, "order.total > 10")
    assert count(runtime, "workflow_versions") == 3


def test_enable_and_disable_make_no_version(
    client: TestClient, editor: dict[str, str], runtime: Runtime
) -> None:
    client.post(BASE, json=definition(), headers=editor)
    off = client.post(f"{BASE}/big-orders/disable", headers=editor)
    assert (off.status_code, off.json()["active"], off.json()["version"]) == (200, False, 1)
    assert client.post(f"{BASE}/big-orders/disable", headers=editor).json()["active"] is False
    on = client.post(f"{BASE}/big-orders/enable", headers=editor)
    assert (on.status_code, on.json()["active"]) == (200, True)
    assert count(runtime, "workflow_versions") == 1


def test_errors_point_into_the_definition(client: TestClient, editor: dict[str, str]) -> None:
    bad = definition(condition="order.total > 10 &&\n  order.totl < 99")
    bad["actions"][1]["params"]["to"] = "shipped"
    bad["actions"].append({"action": "no_such_action"})
    bad["actions"][0]["params"]["weight"] = 0.5
    body = problem(client.post(BASE, json=bad, headers=editor), 422, "validation")
    assert paths(body) == [
        "$.actions[0].params.weight",
        "$.actions[1].params.to",
        "$.actions[2].action",
        "$.condition",
    ]
    condition = next(e for e in body["errors"] if e["path"] == "$.condition")
    assert condition["code"] == "invalid_condition" and "at line 2 column 9" in condition["message"]
    assert condition["pointer"] == "/condition"
    weight = next(e for e in body["errors"] if e["path"] == "$.actions[0].params.weight")
    assert weight["pointer"] == "/actions/0/params/weight"

    for body_, path in (
        ({**definition(), "trigger": "order.exploded"}, "$.trigger"),
        ({**definition(), "priority": 1.5}, "$.priority"),
        ({**definition(), "colour": "red"}, "$.colour"),
        ({**definition(), "actions": []}, "$.actions"),
        ({**definition(), "trigger": {"every": "10s"}}, "$.trigger.every"),
        (
            {
                **definition(),
                "actions": [
                    {
                        "action": "call_http",
                        "params": {"url": "https://erp.example/orders", "body": {"amount": 12.5}},
                    }
                ],
            },
            "$.actions[0].params.body.amount",
        ),
    ):
        assert path in paths(problem(client.post(BASE, json=body_, headers=editor), 422, "validation"))
    mismatch = problem(client.put(f"{BASE}/other", json=definition(), headers=editor), 422, "validation")
    assert paths(mismatch) == ["$.name"]
    assert client.post(BASE, json=[1, 2], headers=editor).status_code == 422


def test_text_and_nesting_no_database_can_keep_are_refused_not_a_server_error(
    client: TestClient, editor: dict[str, str], runtime: Runtime
) -> None:
    """PostgreSQL's JSONB refuses NUL characters and unpaired surrogates; deep nesting would
    exhaust the checks' recursion: each is a 422 naming the place, on both databases."""
    deep = "[" * 300 + "]" * 300
    bodies = {
        "$.description": '{"description": "a\\u0000b"}',
        "$.actions[0].params.body": '{"actions": [{"action": "call_http", "params": {'
        '"url": "https://erp.example/a", "body": {"k\\udc00": 1}}}]}',
        "$.actions[0].params.body[0]": '{"actions": [{"action": "call_http", "params": {'
        f'"url": "https://erp.example/a", "body": [{deep}]}}}}]}}',
    }
    for path, extra in bodies.items():
        sent = json.dumps(definition())[:-1] + ", " + extra[1:]  # the definition with these fields
        for url in (BASE, f"{BASE}/check"):
            r = client.post(url, content=sent, headers={**editor, "Content-Type": "application/json"})
            assert any(p.startswith(path) for p in paths(problem(r, 422, "validation"))), (path, r.text)
    assert count(runtime, "workflows") == 0


def test_missing_names_and_versions_are_404_and_a_taken_name_is_409(
    client: TestClient, editor: dict[str, str], reader: dict[str, str]
) -> None:
    problem(client.get(f"{BASE}/nobody", headers=reader), 404, "not_found")
    problem(client.get(f"{BASE}/nobody/versions", headers=reader), 404, "not_found")
    problem(client.get(f"{BASE}/nobody/versions/1", headers=reader), 404, "not_found")
    problem(client.post(f"{BASE}/nobody/enable", headers=editor), 404, "not_found")
    problem(client.post(f"{BASE}/nobody/disable", headers=editor), 404, "not_found")
    client.post(BASE, json=definition(), headers=editor)
    problem(client.get(f"{BASE}/big-orders/versions/2", headers=reader), 404, "not_found")
    taken = problem(client.post(BASE, json=definition(), headers=editor), 409, "duplicate")
    assert "PUT /api/v1/workflows/big-orders" in taken["detail"]
    problem(client.get(f"{BASE}/Not%20A%20Name", headers=reader), 422, "validation")


def test_reading_needs_orders_read_and_writing_workflows_write_or_admin(
    client: TestClient, reader: dict[str, str], writer: dict[str, str], admin: dict[str, str]
) -> None:
    problem(client.get(BASE), 401, "unauthorized")
    denied = problem(client.post(BASE, json=definition(), headers=reader), 403, "forbidden")
    assert denied["required_scope"] == "workflows:write"
    problem(client.put(f"{BASE}/big-orders", json=definition(), headers=writer), 403, "forbidden")
    assert client.post(BASE, json=definition(), headers=admin).status_code == 201
    problem(client.post(f"{BASE}/big-orders/disable", headers=reader), 403, "forbidden")
    assert client.get(BASE, headers=reader).status_code == 200


def test_the_check_validates_without_saving_and_says_what_saving_would_do(
    client: TestClient, editor: dict[str, str], reader: dict[str, str], runtime: Runtime
) -> None:
    r = client.post(f"{BASE}/check", json=definition(), headers=reader)
    assert r.status_code == 200, r.text
    assert (r.json()["valid"], r.json()["outcome"], r.json()["version"]) == (True, "created", 1)
    assert count(runtime, "workflows") == 0
    client.post(BASE, json=definition(), headers=editor)
    again = client.post(f"{BASE}/check", json=definition(priority=11), headers=reader).json()
    assert (again["outcome"], again["version"], again["definition"]["priority"]) == ("updated", 2, 11)
    bad = problem(
        client.post(f"{BASE}/check", json=definition(condition="order.total >"), headers=reader),
        422,
        "validation",
    )
    assert paths(bad) == ["$.condition"] and "line 1 column" in bad["errors"][0]["message"]
    assert count(runtime, "workflow_versions") == 1


def test_the_dry_run_says_what_would_run_and_runs_nothing(
    client: TestClient, shop: dict[str, str], editor: dict[str, str], reader: dict[str, str], runtime: Runtime
) -> None:
    number = place(client, shop, order_body("WEB", ("MUG-200", 2)))["number"]  # 24.00 GBP
    client.post(BASE, json=definition(), headers=editor)
    client.post(BASE, json=definition("huge", condition="order.total > 5000", priority=20), headers=editor)
    before = (count(runtime, "workflow_runs"), count(runtime, "jobs"), count(runtime, "order_timeline"))

    r = client.post(f"{BASE}/dry-run", json={"order": number}, headers=reader)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["order"] == number and out["matched"] == ["big-orders"]
    assert [(w["name"], w["reason"]) for w in out["workflows"]] == [
        ("huge", "condition_false"),
        ("big-orders", "matched"),
    ]
    assert out["workflows"][1]["actions"][1] == {
        "action": "set_status",
        "params": {"to": "processing", "reason": "big order"},
    }
    assert out["event"]["type"] == "order.created" and out["event_source"] == "outbox"
    assert out["context"]["order"]["number"] == number
    assert (
        count(runtime, "workflow_runs"),
        count(runtime, "jobs"),
        count(runtime, "order_timeline"),
    ) == before

    one = client.post(
        f"{BASE}/dry-run",
        headers=reader,
        json={
            "order": number,
            "event": "order.status_changed",
            "name": "huge",
            "payload": {"to": "processing"},
        },
    )
    assert [(w["name"], w["reason"]) for w in one.json()["workflows"]] == [("huge", "other_trigger")]
    assert one.json()["event_source"] == "made up"

    problem(client.post(f"{BASE}/dry-run", json={"order": "SO-999999"}, headers=reader), 404, "not_found")
    problem(client.post(f"{BASE}/dry-run", json={"order": "nope"}, headers=reader), 404, "not_found")
    problem(
        client.post(f"{BASE}/dry-run", json={"order": number, "name": "nobody"}, headers=reader),
        404,
        "not_found",
    )
    wrong = problem(
        client.post(f"{BASE}/dry-run", json={"order": number, "event": "x.y"}, headers=reader),
        422,
        "validation",
    )
    assert paths(wrong) == ["$.event"]
    floats = {
        "order": number,
        "payload": {"value": 1.5, "deep": [[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]},
    }
    body = problem(client.post(f"{BASE}/dry-run", json=floats, headers=reader), 422, "validation")
    assert paths(body)[0] == "$.payload.value" and paths(body)[1].startswith("$.payload.deep[0]")
