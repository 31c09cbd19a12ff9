"""The order actions, each run directly with a real StepContext (a real run and job) on both
databases: what they do to the order, what the timeline says, and how they refuse."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from api_helpers import order_body, place
from fastapi.testclient import TestClient
from wf_order_helpers import approval_rows, run, status, step, timeline

from legato.bootstrap import Runtime
from legato.domain.commands import TransitionOrder
from legato.domain.errors import Conflict, ValidationFailed
from legato.services.orders import transition_order
from legato.store.approvals import decide
from legato.workflow.actions import Fail, check_action
from legato.workflow.model import parse


def _order(client: TestClient, shop: dict[str, str], qty: int = 2, channel: str = "WEB", **extra: Any) -> int:
    return int(place(client, shop, order_body(channel, ("TEA-100", qty), **extra))["id"])


def _move(rt: Runtime, order_id: int, *to: str) -> None:
    for target in to:
        transition_order(rt.uow(), TransitionOrder(order_id, target, "apikey:ops"))


# --- set_status ----------------------------------------------------------------------------


def test_set_status_moves_the_order_as_the_rule_with_its_reason(
    client: TestClient, shop: dict[str, str], runtime: Runtime
) -> None:
    oid = _order(client, shop)
    ctx = step(runtime, oid, "set_status", workflow="auto-process")
    result = run(ctx, {"to": "processing", "reason": "paid at the till"})
    assert result.outcome == "done" and status(runtime, oid) == "processing"
    last = timeline(runtime, oid)[-1]
    assert (last.actor, last.kind, last.from_value, last.to_value, last.reason) == (
        "rule:auto-process", "status_changed", "created", "processing", "paid at the till",
    )  # fmt: skip
    again = run(ctx, {"to": "processing"})  # a retry after a crash that committed the move
    assert again.outcome == "done" and again.output["changed"] is False
    assert len(timeline(runtime, oid)) == 2


def test_set_status_to_a_status_the_lifecycle_forbids_fails_with_its_message(
    client: TestClient, shop: dict[str, str], runtime: Runtime
) -> None:
    oid = _order(client, shop)
    _move(runtime, oid, "cancelled")
    with pytest.raises(
        Fail, match=r"cancelled is final; no transition leaves it \(allowed from cancelled: none"
    ):
        run(step(runtime, oid, "set_status"), {"to": "processing"})
    assert status(runtime, oid) == "cancelled"


def test_set_status_parameters_are_refused_at_save_time_with_their_paths() -> None:
    with pytest.raises(ValidationFailed) as bad:
        parse({"name": "bad", "trigger": "order.created",
               "actions": [{"action": "set_status", "params": {"to": "shipped", "why": "x"}}]})  # fmt: skip
    got = {(i.path, i.code) for i in bad.value.issues}
    assert got == {("actions[0].params.to", "invalid_status"), ("actions[0].params.why", "unknown_field")}
    with pytest.raises(ValidationFailed) as missing:
        check_action("set_status", {}, "actions[2]")
    assert [i.path for i in missing.value.issues] == ["actions[2].params.to"]


def test_an_order_action_on_an_event_about_no_order_fails_clearly(runtime: Runtime) -> None:
    ctx = step(runtime, None, "set_status")
    with pytest.raises(Fail, match="not about an order"):
        run(ctx, {"to": "processing"})


# --- tags, priority, fields ----------------------------------------------------------------


def test_add_tag_keeps_a_tag_once_and_remove_tag_takes_it_off(
    client: TestClient, shop: dict[str, str], runtime: Runtime
) -> None:
    oid = _order(client, shop, tags=["web"])
    ctx = step(runtime, oid, "add_tag", workflow="tagger")
    assert run(ctx, {"tag": "vip"}).output == {"tags": ["web", "vip"], "changed": True}
    assert run(ctx, {"tag": "vip"}).output == {"tags": ["web", "vip"], "changed": False}
    removed = run(step(runtime, oid, "remove_tag", workflow="tagger"), {"tag": "web"})
    assert removed.output == {"tags": ["vip"], "changed": True}
    edits = [e for e in timeline(runtime, oid) if e.kind == "edited"]
    assert [(e.actor, e.data) for e in edits] == [("rule:tagger", {"fields": ["tags"]})] * 2


def test_tagging_a_final_order_fails_but_a_tag_it_has_already_is_done(
    client: TestClient, shop: dict[str, str], runtime: Runtime
) -> None:
    oid = _order(client, shop, tags=["web"])
    _move(runtime, oid, "cancelled")
    assert run(step(runtime, oid, "add_tag"), {"tag": "web"}).outcome == "done"
    with pytest.raises(Fail, match="final order cannot be edited"):
        run(step(runtime, oid, "add_tag"), {"tag": "late"})


def test_set_priority_and_set_field_edit_the_order_through_the_service(
    client: TestClient, shop: dict[str, str], runtime: Runtime
) -> None:
    oid = _order(client, shop)
    run(step(runtime, oid, "set_priority", workflow="rush"), {"priority": 50, "reason": "gold customer"})
    address = {"name": "Returns desk", "line1": "1 Dock Road", "city": "Leeds", "country": "GB"}
    run(step(runtime, oid, "set_field", workflow="rush"), {"field": "shipping_address", "value": address})
    run(step(runtime, oid, "set_field", workflow="rush"), {"field": "notes", "value": "call first"})
    run(step(runtime, oid, "set_field", workflow="rush"), {"field": "tags", "value": ["a", "b", "a"]})
    got = client.get(f"/api/v1/orders/{oid}", headers=shop).json()
    assert (got["priority"], got["notes"], got["tags"]) == (50, "call first", ["a", "b"])
    assert got["shipping_address"] == address
    edits = [e for e in timeline(runtime, oid) if e.kind == "edited"]
    assert [e.data["fields"] for e in edits] == [["priority"], ["shipping_address"], ["notes"], ["tags"]]
    assert edits[0].reason == "gold customer" and {e.actor for e in edits} == {"rule:rush"}


@pytest.mark.parametrize(
    ("params", "path", "code"),
    [
        ({"field": "status", "value": "processing"}, "actions[0].params.field", "not_editable"),
        ({"field": "currency", "value": "EUR"}, "actions[0].params.field", "not_editable"),
        ({"field": "priority", "value": 5000}, "actions[0].params.value", "invalid"),
        ({"field": "notes"}, "actions[0].params.value", "required"),
        ({"field": "tags", "value": ["ok", ""]}, "actions[0].params.value[1]", "invalid"),
        (
            {"field": "billing_address", "value": {"country": "Britain"}},
            "actions[0].params.value.country",
            "invalid",
        ),
        (
            {"field": "billing_address", "value": {"street": "x"}},
            "actions[0].params.value.street",
            "unknown_field",
        ),
    ],
)
def test_set_field_refuses_fields_that_cannot_be_edited_and_bad_values_at_save_time(
    params: dict[str, Any], path: str, code: str
) -> None:
    with pytest.raises(ValidationFailed) as bad:
        check_action("set_field", params, "actions[0]")
    assert [(i.path, i.code) for i in bad.value.issues] == [(path, code)]


# --- require_approval ----------------------------------------------------------------------


def test_require_approval_parks_a_created_order_and_asks_once(
    client: TestClient, shop: dict[str, str], runtime: Runtime
) -> None:
    oid = _order(client, shop, qty=1200)
    ctx = step(runtime, oid, "require_approval", workflow="high-value-approval")
    first = run(ctx, {"reason": "order over 5,000"})
    assert (first.outcome, first.wake_at, first.note) == ("wait", None, None)
    assert status(runtime, oid) == "pending_approval"
    (row,) = approval_rows(runtime, oid)
    assert (row.state, row.role, row.reason, row.job_id) == (
        "pending",
        "approver",
        "order over 5,000",
        row.job_id,
    )
    assert first.output == {"approval_id": row.id, "parked": "pending_approval"}
    last = timeline(runtime, oid)[-1]
    assert (last.actor, last.to_value) == ("rule:high-value-approval", "pending_approval")
    assert last.reason == f"awaiting approval #{row.id} (approver): order over 5,000"
    assert run(ctx, {}).outcome == "wait" and len(approval_rows(runtime, oid)) == 1  # a retry asks no more


def test_an_accepted_approval_returns_the_order_to_created_and_the_step_is_done(
    client: TestClient, shop: dict[str, str], runtime: Runtime
) -> None:
    oid = _order(client, shop)
    ctx = step(runtime, oid, "require_approval")
    run(ctx, {})
    (row,) = approval_rows(runtime, oid)
    decided = decide(runtime.uow(), row.id, accept=True, actor="apikey:alice", note="fine")
    assert (decided.changed, decided.order_status, decided.approval.state) == (True, "created", "accepted")
    last = timeline(runtime, oid)[-1]
    assert (last.actor, last.from_value, last.to_value, last.reason) == (
        "apikey:alice", "pending_approval", "created", f"approval #{row.id} accepted: fine",
    )  # fmt: skip
    again = run(ctx, {})
    assert (again.outcome, again.output["decided_by"]) == ("done", "apikey:alice")


def test_a_processing_order_is_held_for_approval_and_released_back_on_accept(
    client: TestClient, shop: dict[str, str], runtime: Runtime
) -> None:
    oid = _order(client, shop)
    _move(runtime, oid, "processing")
    run(step(runtime, oid, "require_approval"), {"role": "finance"})
    assert status(runtime, oid) == "on_hold"
    (row,) = approval_rows(runtime, oid)
    decide(runtime.uow(), row.id, accept=True, actor="apikey:fin", note=None)
    assert status(runtime, oid) == "processing"


def test_an_order_held_for_another_reason_stays_held_when_its_approval_is_accepted(
    client: TestClient, shop: dict[str, str], runtime: Runtime
) -> None:
    oid = _order(client, shop)
    _move(runtime, oid, "on_hold")
    result = run(step(runtime, oid, "require_approval"), {})
    (row,) = approval_rows(runtime, oid)
    assert result.note == f"approval #{row.id} requested (approver); the order stays on_hold"
    decide(runtime.uow(), row.id, accept=True, actor="apikey:alice", note=None)
    assert status(runtime, oid) == "on_hold"
    last = timeline(runtime, oid)[-1]
    assert (last.kind, last.actor, last.to_value) == ("approval", "apikey:alice", "accepted")


def test_a_rejected_approval_cancels_the_order_and_stops_the_run(
    client: TestClient, shop: dict[str, str], runtime: Runtime
) -> None:
    oid = _order(client, shop)
    ctx = step(runtime, oid, "require_approval")
    run(ctx, {})
    (row,) = approval_rows(runtime, oid)
    decide(runtime.uow(), row.id, accept=False, actor="apikey:bob", note="customer on stop list")
    assert status(runtime, oid) == "cancelled"
    assert timeline(runtime, oid)[-1].reason == f"approval #{row.id} rejected: customer on stop list"
    assert run(ctx, {}).outcome == "stop"


def test_require_approval_on_a_final_order_fails(
    client: TestClient, shop: dict[str, str], runtime: Runtime
) -> None:
    oid = _order(client, shop)
    _move(runtime, oid, "voided")
    with pytest.raises(Fail, match="nothing to approve"):
        run(step(runtime, oid, "require_approval"), {})
    assert approval_rows(runtime, oid) == []


# --- wait ----------------------------------------------------------------------------------


def test_wait_for_a_duration_parks_the_step_until_then_and_is_done_after(
    client: TestClient, shop: dict[str, str], runtime: Runtime
) -> None:
    start = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    ctx = step(runtime, None, "wait", at=start)
    first = run(ctx, {"for": "1h30m"})
    assert (first.outcome, first.wake_at) == ("wait", start + timedelta(minutes=90))
    assert run(ctx, {"for": "1h30m"}, at=start + timedelta(minutes=89)).wake_at == start + timedelta(
        minutes=90
    )
    assert run(ctx, {"for": "1h30m"}, at=start + timedelta(minutes=90)).outcome == "done"


def test_wait_until_a_time_of_day_in_a_zone(runtime: Runtime) -> None:
    start = datetime(2026, 7, 1, 16, 30, tzinfo=UTC)  # 17:30 in London (BST)
    ctx = step(runtime, None, "wait", at=start)
    params = {"until": "18:00", "timezone": "Europe/London"}
    assert run(ctx, params).wake_at == datetime(2026, 7, 1, 17, 0, tzinfo=UTC)
    late = step(runtime, None, "wait", at=datetime(2026, 7, 1, 17, 0, tzinfo=UTC))  # 18:00 sharp: tomorrow's
    assert run(late, params).wake_at == datetime(2026, 7, 2, 17, 0, tzinfo=UTC)


def test_a_definition_using_every_order_action_saves() -> None:
    doc = {
        "name": "all-order-actions", "trigger": "order.created",
        "actions": [
            {"action": "require_approval", "params": {"reason": "big"}},
            {"action": "add_tag", "params": {"tag": "approved"}},
            {"action": "remove_tag", "params": {"tag": "new"}},
            {"action": "set_priority", "params": {"priority": 10}},
            {"action": "set_field", "params": {"field": "notes", "value": None}},
            {"action": "validate_before_erp", "params": {"checks": ["customer_exists"]}},
            {"action": "wait", "params": {"for": "15m"}},
            {"action": "set_status", "params": {"to": "processing"}},
        ],
    }  # fmt: skip
    assert [s.action for s in parse(doc).steps][-1] == "set_status"


def test_concurrent_decisions_on_one_approval_record_exactly_one(
    client: TestClient, shop: dict[str, str], runtime: Runtime
) -> None:
    oid = _order(client, shop)
    run(step(runtime, oid, "require_approval"), {})
    (row,) = approval_rows(runtime, oid)
    gate = threading.Barrier(6)

    def one(accept: bool) -> str:
        gate.wait()
        try:
            decided = decide(runtime.uow(), row.id, accept=accept, actor=f"apikey:{accept}", note="race")
        except Conflict:
            return "conflict"
        return "changed" if decided.changed else "repeat"

    with ThreadPoolExecutor(6) as pool:
        outcomes = list(pool.map(one, [True, False] * 3))
    assert outcomes.count("changed") == 1
    (final,) = approval_rows(runtime, oid)
    winner = final.state == "accepted"
    assert outcomes.count("repeat") == 2 and outcomes.count("conflict") == 3
    assert status(runtime, oid) == ("created" if winner else "cancelled")
    decisions = [e for e in timeline(runtime, oid) if (e.reason or "").startswith(f"approval #{row.id} ")]
    assert [e.actor for e in decisions] == [f"apikey:{winner}"]
