"""push_to_erp and create_erp_customer against a real HTTP ERP on loopback (both databases):
what the ERP receives, what Legato records, and what a 500, a timeout, a dropped connection
or a 4xx does; and the same push end to end through the engine."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from api_helpers import order_body, place
from erp_servers import TOKEN, ErpServer, Fault, again, exported, run, step, timeline, with_destinations
from fastapi.testclient import TestClient
from sqlalchemy import select

from legato.bootstrap import Runtime
from legato.store.workflow_tables import jobs
from legato.workflow import definitions, engine, runner
from legato.workflow.actions import Fail, Retry
from legato.workflow.model import parse


@pytest.fixture
def erp() -> Iterator[ErpServer]:
    server = ErpServer().start()
    server.delay = 1.0
    yield server
    server.stop()


@pytest.fixture
def rt(runtime: Runtime, erp: ErpServer) -> Runtime:
    main = {"kind": "http", "url": f"{erp.url}/orders", "customers_url": f"{erp.url}/customers",
            "headers": {"Authorization": f"Bearer {TOKEN}"}, "reference_pointer": "/data/id",
            "timeout": "0.5"}  # fmt: skip
    header = {**main, "reference_header": "X-Erp-Order"}
    wrong = {**main, "headers": {"Authorization": "Bearer nope"}}
    return with_destinations(runtime, main=main, by_header=header, wrong_token=wrong)


def _order(client: TestClient, shop: dict[str, str], customer: str = "ACME") -> int:
    body = order_body("B2B", ("TEA-100", 3), customer={"code": customer}, external_reference=f"PO-{customer}")
    return int(place(client, shop, body)["id"])


def test_an_order_is_pushed_once_with_its_key_and_the_erps_number_is_recorded_and_on_the_timeline(
    client: TestClient, shop: dict[str, str], rt: Runtime, erp: ErpServer
) -> None:
    oid = _order(client, shop)
    ctx = step(rt, "push_to_erp", oid)
    result = run(ctx, "push_to_erp", {"destination": "main"})
    assert result.outcome == "done" and result.output["erp_reference"] == "ERP-1001"
    [seen] = erp.requests
    assert seen.path == "/orders" and seen.headers["idempotency-key"] == ctx.idempotency_key
    assert (
        seen.headers["authorization"] == f"Bearer {TOKEN}"
        and seen.headers["content-type"] == "application/json"
    )
    assert seen.body["number"] == "SO-000001" and seen.body["account"]["erp_ref"] == "ERP-77"
    [row] = exported(rt)
    assert (row.order_id, row.destination, row.kind, row.erp_reference, row.batch) == (
        oid, "main", "http", "ERP-1001", None,
    )  # fmt: skip
    assert row.response["status"] == 201 and row.job_id is not None and row.payload_version == "1"
    [entry] = timeline(rt, oid, "erp_exported")
    assert (
        entry.actor == "rule:erp-push" and entry.reason == "exported to main (http): ERP reference ERP-1001"
    )
    # the same step again, and another workflow's step: the order is not sent a second time
    assert run(again(ctx), "push_to_erp", {"destination": "main"}).output["skipped"] == "already exported"
    other = run(step(rt, "push_to_erp", oid, workflow="erp-push-2"), "push_to_erp", {"destination": "main"})
    assert other.output == {"destination": "main", "skipped": "already exported", "erp_reference": "ERP-1001",
                            "exported_at": row.exported_at.isoformat()}  # fmt: skip
    assert len(erp.requests) == 1 and len(erp.orders) == 1 and len(timeline(rt, oid, "erp_exported")) == 1


def test_the_erps_number_can_come_from_a_response_header(
    client: TestClient, shop: dict[str, str], rt: Runtime, erp: ErpServer
) -> None:
    oid = _order(client, shop)
    result = run(step(rt, "push_to_erp", oid), "push_to_erp", {"destination": "by_header"})
    assert result.output["erp_reference"] == "ERP-1001" and exported(rt)[0].erp_reference == "ERP-1001"


@pytest.mark.parametrize("fault", ["500", "timeout", "close"])
def test_a_failed_attempt_is_retried_under_the_same_key_and_makes_one_erp_order(
    client: TestClient, shop: dict[str, str], rt: Runtime, erp: ErpServer, fault: str
) -> None:
    oid = _order(client, shop)
    erp.faults.append(Fault(fault))
    ctx = step(rt, "push_to_erp", oid)
    with pytest.raises(Retry, match="answered 500" if fault == "500" else "no answer|closed"):
        run(ctx, "push_to_erp", {"destination": "main"})
    [claim] = exported(rt)  # claimed for this step, not exported yet
    assert claim.erp_reference is None and claim.response == {"pending": ctx.idempotency_key}
    assert timeline(rt, oid, "erp_exported") == []
    # 500: nothing was made; timeout / close: the ERP made the order but the answer was lost
    assert len(erp.orders) == (0 if fault == "500" else 1)
    result = run(again(ctx), "push_to_erp", {"destination": "main"})
    assert result.output["erp_reference"] == "ERP-1001" and len(erp.orders) == 1
    keys = {r.headers["idempotency-key"] for r in erp.requests}
    assert len(erp.requests) == 2 and keys == {ctx.idempotency_key}
    assert exported(rt)[0].erp_reference == "ERP-1001"


def test_a_refusal_fails_the_step_at_once_and_gives_the_order_back(
    client: TestClient, shop: dict[str, str], rt: Runtime, erp: ErpServer
) -> None:
    oid = _order(client, shop)
    with pytest.raises(Fail, match="answered 401"):
        run(step(rt, "push_to_erp", oid), "push_to_erp", {"destination": "wrong_token"})
    erp.faults.append(Fault("400"))
    with pytest.raises(Fail, match=r"answered 400: .*injected 400"):
        run(step(rt, "push_to_erp", oid, workflow="erp-2"), "push_to_erp", {"destination": "main"})
    assert exported(rt) == [] and erp.orders == {}
    # fixed: a later push takes the order
    assert (
        run(step(rt, "push_to_erp", oid, workflow="erp-3"), "push_to_erp", {"destination": "main"}).output[
            "erp_reference"
        ]
        == "ERP-1001"
    )


def test_the_last_attempt_gives_the_order_back_for_a_later_push(
    client: TestClient, shop: dict[str, str], rt: Runtime, erp: ErpServer
) -> None:
    oid = _order(client, shop)
    erp.faults += [Fault("500"), Fault("500")]
    ctx = step(rt, "push_to_erp", oid)
    with pytest.raises(Retry):
        run(ctx, "push_to_erp", {"destination": "main"})
    assert len(exported(rt)) == 1
    with pytest.raises(Retry):
        run(again(ctx, attempt=10), "push_to_erp", {"destination": "main"})
    assert exported(rt) == []


def test_an_order_held_by_another_step_waits_for_it(
    client: TestClient, shop: dict[str, str], rt: Runtime, erp: ErpServer
) -> None:
    oid = _order(client, shop)
    erp.faults.append(Fault("500"))
    first = step(rt, "push_to_erp", oid)
    with pytest.raises(Retry):
        run(first, "push_to_erp", {"destination": "main"})
    with pytest.raises(Retry, match=f"being exported to main by another step \\({first.idempotency_key}\\)"):
        run(step(rt, "push_to_erp", oid, workflow="erp-2"), "push_to_erp", {"destination": "main"})
    assert len(erp.requests) == 1


def test_unknown_destinations_and_events_without_an_order_fail_clearly(rt: Runtime) -> None:
    with pytest.raises(Fail, match="no ERP destination 'nope'; known: by_header, main, wrong_token"):
        run(step(rt, "push_to_erp", 1), "push_to_erp", {"destination": "nope"})
    with pytest.raises(Fail, match="needs an order event"):
        run(step(rt, "push_to_erp", None, event_type="schedule"), "push_to_erp", {"destination": "main"})


def test_a_new_customer_is_created_in_the_erp_and_its_reference_kept_on_the_account(
    client: TestClient, shop: dict[str, str], rt: Runtime, erp: ErpServer
) -> None:
    account = {"code": "NEWCO", "name": "New Co", "email": "buyer@newco.example", "currency": "EUR"}
    r = client.post("/api/v1/accounts", headers=shop, json=account)
    assert r.status_code == 201, r.text
    oid = _order(client, shop, "NEWCO")
    ctx = step(rt, "create_erp_customer", oid)
    result = run(ctx, "create_erp_customer", {"destination": "main"})
    assert result.output["erp_ref"] == "CUST-1"
    [seen] = erp.requests
    assert seen.path == "/customers" and seen.headers["idempotency-key"] == ctx.idempotency_key
    assert (seen.body["code"], seen.body["name"], seen.body["email"]) == (
        "NEWCO",
        "New Co",
        "buyer@newco.example",
    )
    assert client.get("/api/v1/accounts/NEWCO", headers=shop).json()["erp_ref"] == "CUST-1"
    [entry] = timeline(rt, oid, "erp_customer")
    assert entry.reason == "customer NEWCO created in the ERP main: reference CUST-1"
    # known now: the next run sends nothing, and the order's payload carries the reference
    assert run(again(ctx), "create_erp_customer", {"destination": "main"}).output["skipped"]
    run(step(rt, "push_to_erp", oid), "push_to_erp", {"destination": "main"})
    assert erp.requests[-1].body["account"]["erp_ref"] == "CUST-1" and len(erp.customers) == 1


def test_an_account_already_known_or_a_guest_order_sends_no_customer(
    client: TestClient, shop: dict[str, str], rt: Runtime, erp: ErpServer
) -> None:
    known = run(
        step(rt, "create_erp_customer", _order(client, shop)), "create_erp_customer", {"destination": "main"}
    )
    assert known.output == {"skipped": "the account already has an ERP reference", "erp_ref": "ERP-77"}
    guest = int(
        place(client, shop, order_body("WEB", ("TEA-100", 1), customer={"email": "g@example.com"}))["id"]
    )
    out = run(
        step(rt, "create_erp_customer", guest, workflow="g"), "create_erp_customer", {"destination": "main"}
    )
    assert out.output["skipped"].startswith("the order has no customer account") and erp.requests == []


def test_through_the_engine_an_order_created_is_pushed_after_a_500_with_backoff(
    client: TestClient, shop: dict[str, str], rt: Runtime, erp: ErpServer
) -> None:
    doc = {"name": "erp-realtime", "trigger": "order.created",
           "actions": [{"action": "push_to_erp", "params": {"destination": "main"}}]}  # fmt: skip
    definitions.save(rt, parse(doc), "test")
    oid = _order(client, shop)
    erp.faults.append(Fault("500"))
    assert engine.dispatch(rt) >= 1
    assert runner.run_due(rt, "w1") == 1
    [job] = _jobs(rt, oid)
    assert job.state == "queued" and job.attempts == 1 and "answered 500" in job.last_error
    runner.run_due(rt, "w1", now=job.run_at + timedelta(seconds=1))
    [job] = _jobs(rt, oid)
    assert job.state == "done" and job.result["erp_reference"] == "ERP-1001"
    assert len(erp.orders) == 1 and {r.headers["idempotency-key"] for r in erp.requests} == {
        job.idempotency_key
    }
    assert exported(rt)[0].job_id == job.id


def _jobs(rt: Runtime, order_id: int) -> list[Any]:
    with rt.engine.connect() as conn:
        return list(conn.execute(select(jobs).where(jobs.c.order_id == order_id, jobs.c.kind == "step")))
