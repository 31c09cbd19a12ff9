"""Usage billing over HTTP, on both databases: plans, runs and readings (JSON and CSV), the
worked example of docs/pricing/usage.md, and every error named by its path or its cell."""

from __future__ import annotations

from decimal import Decimal as D
from typing import Any

import pytest
from api_helpers import count, key_headers, paths, problem
from billing_helpers import IOT, catalogue, example, post, send_csv
from fastapi.testclient import TestClient

from legato.bootstrap import Runtime

PLAN = "/api/v1/usage-plans"
RUNS = "/api/v1/billing-runs"
READINGS = "/api/v1/usage-readings"
OCTOBER = {"start": "2026-10-01", "end": "2026-10-31"}


@pytest.fixture
def billing(client: TestClient, admin: dict[str, str]) -> dict[str, str]:
    """The documented catalogue and plan; the admin key's headers."""
    catalogue(client, admin)
    post(client, admin, PLAN, example("plan"))
    return admin


def test_the_documented_example_bills_132_hours_as_230_eur_once(
    client: TestClient, billing: dict[str, str]
) -> None:
    r = send_csv(client, billing, example("readings"))
    assert r.status_code == 201, r.text
    assert (r.json()["readings"], r.json()["new"], r.json()["state"]) == (5, 5, "processed")

    run = post(client, billing, RUNS, example("run"))
    assert (run["state"], run["orders_created"], run["orders_existing"], run["refused"]) == ("done", 1, 0, [])
    (bill,) = run["bills"]
    assert {k: bill[k] for k in example("bill")} == example("bill")
    order = client.get(f"/api/v1/orders/{bill['order']}", headers=billing).json()
    assert order["external_reference"] == "usage:FORKLIFT-2:2026-10-01:2026-10-31"
    assert (order["channel"], order["account"], order["currency"]) == ("RENTALS", "DOCKSIDE", "EUR")
    (line,) = order["lines"]
    assert (line["sku"], D(line["quantity"]), D(line["amount"])) == ("FORKLIFT-HIRE", 1, D("230.00"))
    assert line["detail"]["mechanism"] == "usage"
    assert line["detail"]["inputs"]["usage"] == "132"
    assert D(order["totals"]["grand_total"]) == D("230.00")
    assert set(order["tags"]) >= {"usage", "period:2026-10-01..2026-10-31", "plan:FORKLIFT-2"}

    again = post(client, billing, RUNS, example("run"))
    assert (again["orders_created"], again["orders_existing"]) == (0, 1)
    assert again["bills"][0]["order"] == bill["order"] and again["bills"][0]["created"] is False


# --- plans ---------------------------------------------------------------------------------


def test_a_plan_is_read_listed_filtered_and_changed(client: TestClient, billing: dict[str, str]) -> None:
    got = client.get(f"{PLAN}/FORKLIFT-2", headers=billing).json()
    fields = ("channel", "device_id", "metric", "account", "sku", "readings_channel", "active")
    assert {k: got[k] for k in fields} == {
        "channel": "RENTALS", "device_id": "forklift-2", "metric": "operating_hours", "account": "DOCKSIDE",
        "sku": "FORKLIFT-HIRE", "readings_channel": None, "active": True,
    }  # fmt: skip
    listed = client.get(PLAN, params={"channel": "RENTALS", "active": "true"}, headers=billing).json()
    assert [p["code"] for p in listed["items"]] == ["FORKLIFT-2"] and listed["next_cursor"] is None
    assert client.get(PLAN, params={"active": "false"}, headers=billing).json()["items"] == []

    r = client.patch(f"{PLAN}/FORKLIFT-2", json={"readings_channel": IOT, "active": False}, headers=billing)
    assert r.status_code == 200, r.text
    assert (r.json()["readings_channel"], r.json()["active"]) == (IOT, False)
    assert r.json()["created_at"] == got["created_at"]
    cleared = client.patch(f"{PLAN}/FORKLIFT-2", json={"readings_channel": None}, headers=billing).json()
    assert (cleared["readings_channel"], cleared["active"]) == (None, False)
    assert [
        p["code"] for p in client.get(PLAN, params={"active": "false"}, headers=billing).json()["items"]
    ] == ["FORKLIFT-2"]


def test_a_plan_refers_only_to_what_exists_and_each_bad_field_is_named(
    client: TestClient, billing: dict[str, str]
) -> None:
    bad = {**example("plan"), "code": "P2", "channel": "NOPE", "account": "NOBODY", "sku": "NONE",
           "readings_channel": "RENTALS"}  # fmt: skip
    body = problem(client.post(PLAN, json=bad, headers=billing), 422, "validation")
    assert paths(body) == ["$.channel", "$.readings_channel", "$.account", "$.sku"]
    assert [e["code"] for e in body["errors"]][:2] == ["unknown_channel", "not_an_iot_channel"]

    shape = {**example("plan"), "code": "P 2", "device_id": "fork lift", "metric": "", "colour": "red"}
    body = problem(client.post(PLAN, json=shape, headers=billing), 422, "validation")
    assert set(paths(body)) == {"$.code", "$.device_id", "$.metric", "$.colour"}

    post(client, billing, "/api/v1/channels", {"code": "SHOP", "name": "Shop", "type": "ecommerce",
         "currency": "EUR", "settings": {"match_keys": ["email"]}})  # fmt: skip
    not_by_code = {**example("plan"), "code": "P3", "channel": "SHOP"}
    body = problem(client.post(PLAN, json=not_by_code, headers=billing), 422, "validation")
    assert body["errors"][0]["code"] == "channel_not_matching_by_code" and paths(body) == ["$.channel"]

    dup = problem(client.post(PLAN, json=example("plan"), headers=billing), 409, "duplicate")
    assert "FORKLIFT-2" in dup["detail"]
    assert count_plans(client, billing) == 1


def count_plans(client: TestClient, headers: dict[str, str]) -> int:
    return len(client.get(PLAN, headers=headers).json()["items"])


def test_a_patch_refuses_nulls_bad_references_and_unknown_plans(
    client: TestClient, billing: dict[str, str]
) -> None:
    body = problem(client.patch(f"{PLAN}/FORKLIFT-2", json={"sku": None, "active": None}, headers=billing),
                   422, "validation")  # fmt: skip
    assert paths(body) == ["$.sku", "$.active"]
    body = problem(client.patch(f"{PLAN}/FORKLIFT-2", json={"account": "NOBODY"}, headers=billing), 422,
                   "validation")  # fmt: skip
    assert paths(body) == ["$.account"]
    assert client.get(f"{PLAN}/FORKLIFT-2", headers=billing).json()["account"] == "DOCKSIDE"
    problem(client.patch(f"{PLAN}/NOPE", json={"active": False}, headers=billing), 404, "not_found")
    problem(client.get(f"{PLAN}/NOPE", headers=billing), 404, "not_found")


def test_plans_need_catalog_write_and_runs_need_orders_write(
    client: TestClient, billing: dict[str, str], runtime: Runtime
) -> None:
    reader = key_headers(runtime, "reader", "orders:read")
    writer = key_headers(runtime, "writer", "orders:write")
    cataloguer = key_headers(runtime, "cataloguer", "catalog:write")
    plan = {**example("plan"), "code": "P2"}
    problem(client.post(PLAN, json=plan, headers=writer), 403, "forbidden")
    problem(client.patch(f"{PLAN}/FORKLIFT-2", json={"active": False}, headers=reader), 403, "forbidden")
    problem(client.post(RUNS, json=OCTOBER, headers=cataloguer), 403, "forbidden")
    problem(
        client.post(READINGS, json={"channel": IOT, "readings": []}, headers=cataloguer), 403, "forbidden"
    )
    problem(client.get(PLAN), 401, "unauthorized")
    assert client.post(PLAN, json=plan, headers=cataloguer).status_code == 201
    assert client.post(RUNS, json=OCTOBER, headers=writer).status_code == 201
    for path in (PLAN, f"{PLAN}/P2", RUNS, f"{RUNS}/1"):
        assert client.get(path, headers=reader).status_code == 200, path


# --- runs ----------------------------------------------------------------------------------


def test_runs_are_listed_newest_first_and_read_back_by_id(
    client: TestClient, billing: dict[str, str]
) -> None:
    assert send_csv(client, billing, example("readings")).status_code == 201
    first = post(client, billing, RUNS, OCTOBER)
    second = post(client, billing, RUNS, {"start": "2026-09-01", "end": "2026-09-30"})
    assert second["bills"][0]["usage"] == "0" and second["bills"][0]["readings"] == 1
    listed = client.get(RUNS, params={"limit": 1}, headers=billing).json()
    assert [r["id"] for r in listed["items"]] == [second["id"]]
    rest = client.get(RUNS, params={"cursor": listed["next_cursor"]}, headers=billing).json()
    assert [r["id"] for r in rest["items"]] == [first["id"]]
    got = client.get(f"{RUNS}/{first['id']}", headers=billing).json()
    assert got == first
    assert (got["start"], got["end"], got["channel"], got["created_by"]) == (
        "2026-10-01", "2026-10-31", None, "apikey:admin",
    )  # fmt: skip
    problem(client.get(f"{RUNS}/999", headers=billing), 404, "not_found")
    problem(client.get(f"{RUNS}/x", headers=billing), 422, "validation")


@pytest.mark.parametrize(
    ("body", "path", "code"),
    [
        ({"start": "2026-10-01", "end": "2099-10-31"}, "$.end", "period_not_over"),
        ({"start": "2026-10-31", "end": "2026-10-01"}, "$.end", "invalid"),
        ({"start": "2026-10-01T00:00:00Z", "end": "2026-10-31"}, "$.start", "value_error"),
        ({"start": "2026-02-30", "end": "2026-03-31"}, "$.start", "date_from_datetime_parsing"),
        ({"start": 20261001, "end": "2026-10-31"}, "$.start", "value_error"),
        ({**OCTOBER, "channel": "NOPE"}, "$.channel", "unknown_channel"),
        ({**OCTOBER, "until": "x"}, "$.until", "extra_forbidden"),
    ],
)
def test_a_run_refuses_a_bad_period_naming_the_field(
    client: TestClient, billing: dict[str, str], runtime: Runtime, body: dict[str, Any], path: str, code: str
) -> None:
    got = problem(client.post(RUNS, json=body, headers=billing), 422, "validation")
    assert paths(got) == [path]
    assert got["errors"][0]["code"] == code, got
    assert count(runtime, "billing_runs") == 0 and count(runtime, "orders") == 0


def test_a_run_for_one_channel_bills_only_the_plans_placed_on_it(
    client: TestClient, billing: dict[str, str]
) -> None:
    post(client, billing, "/api/v1/channels", {**example("channel"), "code": "LEASES", "name": "Leases"})
    post(client, billing, PLAN, {**example("plan"), "code": "LEASE-1", "channel": "LEASES"})
    run = post(client, billing, RUNS, {**OCTOBER, "channel": "LEASES"})
    assert (run["channel"], [b["plan"] for b in run["bills"]]) == ("LEASES", ["LEASE-1"])
    everything = post(client, billing, RUNS, OCTOBER)
    assert [(b["plan"], b["created"]) for b in everything["bills"]] == [
        ("FORKLIFT-2", True),
        ("LEASE-1", False),
    ]


def test_a_refused_plan_is_listed_with_its_field_paths_while_the_others_are_billed(
    client: TestClient, billing: dict[str, str]
) -> None:
    post(client, billing, "/api/v1/products", {"sku": "CRANE", "name": "Crane", "prices": {"GBP": "900"}})
    post(
        client, billing, PLAN, {**example("plan"), "code": "CRANE-1", "device_id": "crane-1", "sku": "CRANE"}
    )
    run = post(client, billing, RUNS, OCTOBER)
    assert [b["plan"] for b in run["bills"]] == ["FORKLIFT-2"]
    (refused,) = run["refused"]
    assert (refused["plan"], refused["code"]) == ("CRANE-1", "price_not_found")
    assert (
        refused["errors"][0]["path"] == "$.lines[0].sku" and refused["errors"][0]["pointer"] == "/lines/0/sku"
    )
    assert client.get(f"{RUNS}/{run['id']}", headers=billing).json()["refused"] == run["refused"]
