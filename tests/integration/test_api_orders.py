"""Orders through HTTP: create, read, the lifecycle, the tracks, edits; timeline and outbox."""

from __future__ import annotations

import pytest
from api_helpers import count, key_headers, order_body, outbox, outbox_rows, paths, place, problem
from fastapi.testclient import TestClient

from legato.bootstrap import Runtime
from legato.store.repositories import SqlOutbox

FINAL = ("completed", "cancelled", "voided")
ALL_STATUSES = ("pending_approval", "created", "on_hold", "processing", "completed", "cancelled", "voided")


@pytest.fixture
def ops(runtime: Runtime, shop: dict[str, str]) -> dict[str, str]:
    """An orders:write key called ops-bot: its actor is ``apikey:ops-bot``."""
    return key_headers(runtime, "ops-bot", "orders:write")


def _move(
    client: TestClient, headers: dict[str, str], number: str, to: str, reason: str | None = None
) -> dict:
    r = client.post(
        f"/api/v1/orders/{number}/transitions", json={"to": to, "reason": reason}, headers=headers
    )
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def test_a_placed_order_is_stored_with_its_timeline_and_one_outbox_event(
    client: TestClient, ops: dict[str, str], runtime: Runtime
) -> None:
    body = order_body(
        "WEB",
        ("TEA-100", 2),
        ("MUG-200", "1.5"),
        external_reference="WEB-1001",
        customer={"name": "Jo Bloggs", "email": "jo@example.com"},
        priority=5,
        tags=["gift"],
        notes="leave by the door",
        shipping="3.95",
        shipping_tax_rate="0.2",
        shipping_address={"name": "Jo Bloggs", "line1": "1 High St", "city": "York", "country": "GB"},
    )
    r = client.post("/api/v1/orders", json=body, headers=ops)
    assert r.status_code == 201, r.text
    order = r.json()
    assert r.headers["location"] == f"/api/v1/orders/{order['number']}"
    assert order["number"] == f"SO-{order['id']:06d}"
    assert (order["channel"], order["external_reference"], order["currency"]) == ("WEB", "WEB-1001", "GBP")
    assert (order["status"], order["held_from"]) == ("created", None)
    assert (order["payment_status"], order["fulfilment_status"], order["invoice_status"]) == (
        "unpaid",
        "unfulfilled",
        "not_invoiced",
    )
    assert [(ln["line_no"], ln["sku"], ln["amount"]) for ln in order["lines"]] == [
        (1, "TEA-100", "9.00"),
        (2, "MUG-200", "18.00"),
    ]
    assert order["totals"] == {
        "subtotal": "27.00",
        "discount": "0.00",
        "shipping": "3.95",
        "tax": "0.79",
        "grand_total": "31.74",
        "points": "0.00",
    }
    assert order["allowed_transitions"] == [
        "cancelled",
        "on_hold",
        "pending_approval",
        "processing",
        "voided",
    ]
    assert [(e["kind"], e["actor"], e["to"]) for e in order["timeline"]] == [
        ("created", "apikey:ops-bot", "created")
    ]

    got = client.get(f"/api/v1/orders/{order['number']}", headers=ops).json()
    assert got["id"] == order["id"] and got["priority"] == 5 and got["tags"] == ["gift"]
    assert got["shipping_address"]["city"] == "York"
    assert got["customer"]["name"] == "Jo Bloggs"
    assert outbox(runtime) == {"order.created": 1}
    event = outbox_rows(runtime, "order.created")[0]
    assert (event.aggregate_type, event.aggregate_id) == ("order", order["id"])
    assert event.payload["number"] == order["number"] and event.payload["external_reference"] == "WEB-1001"


def test_an_order_is_found_by_number_by_id_and_in_lower_case(client: TestClient, ops: dict[str, str]) -> None:
    order = place(client, ops, order_body())
    for ref in (order["number"], str(order["id"]), order["number"].lower()):
        r = client.get(f"/api/v1/orders/{ref}", headers=ops)
        assert r.status_code == 200, ref
        assert r.json()["id"] == order["id"]
    for ref in ("SO-999999", "Q-000001", "abc", "99999999999999999999"):
        problem(client.get(f"/api/v1/orders/{ref}", headers=ops), 404, "not_found")


def test_an_order_may_start_pending_approval_or_on_hold_but_not_further_on(
    client: TestClient, ops: dict[str, str]
) -> None:
    pending = place(client, ops, order_body(status="pending_approval"))
    assert pending["status"] == "pending_approval"
    held = place(client, ops, order_body(status="on_hold"))
    assert (held["status"], held["held_from"], held["allowed_transitions"]) == (
        "on_hold",
        "created",
        ["cancelled", "created", "voided"],
    )
    r = client.post("/api/v1/orders", json=order_body(status="processing"), headers=ops)
    assert paths(problem(r, 422, "validation")) == ["$.status"]


def test_a_held_order_is_released_back_to_the_status_it_was_held_from(
    client: TestClient, ops: dict[str, str]
) -> None:
    order = place(client, ops, order_body())
    _move(client, ops, order["number"], "processing")
    held = _move(client, ops, order["number"], "on_hold", "address check")
    assert (held["status"], held["held_from"]) == ("on_hold", "processing")
    assert held["allowed_transitions"] == ["cancelled", "processing"]

    wrong = client.post(f"/api/v1/orders/{order['number']}/transitions", json={"to": "created"}, headers=ops)
    p = problem(wrong, 409, "illegal_transition")
    assert (p["allowed"], p["current"], p["requested"]) == (["cancelled", "processing"], "on_hold", "created")

    released = _move(client, ops, order["number"], "processing", "address confirmed")
    assert (released["status"], released["held_from"]) == ("processing", None)


def test_an_illegal_transition_is_a_409_naming_the_allowed_targets_and_changes_nothing(
    client: TestClient, ops: dict[str, str], runtime: Runtime
) -> None:
    order = place(client, ops, order_body())
    r = client.post(f"/api/v1/orders/{order['number']}/transitions", json={"to": "completed"}, headers=ops)
    p = problem(r, 409, "illegal_transition")
    assert p["allowed"] == ["cancelled", "on_hold", "pending_approval", "processing", "voided"]
    assert (p["current"], p["requested"]) == ("created", "completed")
    assert client.get(f"/api/v1/orders/{order['number']}", headers=ops).json()["status"] == "created"
    assert count(runtime, "order_timeline") == 1
    assert outbox(runtime) == {"order.created": 1}


def test_a_final_status_refuses_every_transition_and_every_edit(
    client: TestClient, ops: dict[str, str], runtime: Runtime
) -> None:
    for final in FINAL:
        order = place(client, ops, order_body())
        if final == "completed":
            _move(client, ops, order["number"], "processing")
        done = _move(client, ops, order["number"], final)
        assert done["allowed_transitions"] == []
        events = sum(outbox(runtime).values())
        for target in ALL_STATUSES:
            r = client.post(f"/api/v1/orders/{order['number']}/transitions", json={"to": target}, headers=ops)
            p = problem(r, 409, "illegal_transition")
            assert p["allowed"] == [] and p["current"] == final
        r = client.patch(f"/api/v1/orders/{order['number']}", json={"priority": 9}, headers=ops)
        problem(r, 409, "conflict")
        assert sum(outbox(runtime).values()) == events
        assert client.get(f"/api/v1/orders/{order['number']}", headers=ops).json()["status"] == final


def test_an_unknown_status_is_a_422_and_an_unknown_order_a_404(
    client: TestClient, ops: dict[str, str]
) -> None:
    order = place(client, ops, order_body())
    r = client.post(f"/api/v1/orders/{order['number']}/transitions", json={"to": "shipped"}, headers=ops)
    assert paths(problem(r, 422, "validation")) == ["$.to"]
    r = client.post("/api/v1/orders/SO-999999/transitions", json={"to": "processing"}, headers=ops)
    problem(r, 404, "not_found")


def test_every_change_is_on_the_timeline_with_its_actor_and_reason_and_in_the_outbox(
    client: TestClient, ops: dict[str, str], runtime: Runtime
) -> None:
    order = place(client, ops, order_body())
    n = order["number"]
    _move(client, ops, n, "on_hold", "fraud check")
    _move(client, ops, n, "created", "fraud check passed")
    _move(client, ops, n, "processing", "picked")
    r = client.post(
        f"/api/v1/orders/{n}/tracks", json={"track": "payment", "to": "paid", "reason": "card"}, headers=ops
    )
    assert r.status_code == 200, r.text
    r = client.patch(
        f"/api/v1/orders/{n}", json={"priority": 3, "notes": "VIP", "reason": "called in"}, headers=ops
    )
    assert r.status_code == 200, r.text
    _move(client, ops, n, "completed", "delivered")

    timeline = client.get(f"/api/v1/orders/{n}", headers=ops).json()["timeline"]
    assert [(e["kind"], e["from"], e["to"], e["reason"]) for e in timeline] == [
        ("created", None, "created", None),
        ("status_changed", "created", "on_hold", "fraud check"),
        ("status_changed", "on_hold", "created", "fraud check passed"),
        ("status_changed", "created", "processing", "picked"),
        ("track_changed", "unpaid", "paid", "card"),
        ("edited", None, None, "called in"),
        ("status_changed", "processing", "completed", "delivered"),
    ]
    assert {e["actor"] for e in timeline} == {"apikey:ops-bot"}
    assert timeline[4]["data"] == {"track": "payment"}
    assert timeline[5]["data"] == {"fields": ["notes", "priority"]}
    assert count(runtime, "order_timeline", order_id=order["id"]) == 7
    assert outbox(runtime) == {
        "order.created": 1,
        "order.status_changed": 4,
        "order.track_changed": 1,
        "payment.received": 1,  # beside the track change: the order became paid
        "order.updated": 1,
    }
    changes = [e.payload for e in outbox_rows(runtime, "order.status_changed")]
    assert [(c["from"], c["to"], c["reason"], c["actor"]) for c in changes][-1] == (
        "processing",
        "completed",
        "delivered",
        "apikey:ops-bot",
    )
    assert all(e.aggregate_id == order["id"] for e in outbox_rows(runtime, "order.status_changed"))


def test_the_tracks_move_independently_of_the_lifecycle_and_of_each_other(
    client: TestClient, ops: dict[str, str], runtime: Runtime
) -> None:
    order = place(client, ops, order_body("B2B", customer={"code": "ACME"}))
    n = order["number"]
    for track, to in (("fulfilment", "fulfilled"), ("invoice", "invoiced"), ("payment", "partially_paid")):
        r = client.post(f"/api/v1/orders/{n}/tracks", json={"track": track, "to": to}, headers=ops)
        assert r.status_code == 200, r.text
    got = client.get(f"/api/v1/orders/{n}", headers=ops).json()
    assert (got["status"], got["payment_status"], got["fulfilment_status"], got["invoice_status"]) == (
        "created",
        "partially_paid",
        "fulfilled",
        "invoiced",
    )
    assert outbox(runtime)["order.track_changed"] == 3
    payloads = [e.payload for e in outbox_rows(runtime, "order.track_changed")]
    assert [(p["track"], p["from"], p["to"]) for p in payloads] == [
        ("fulfilment", "unfulfilled", "fulfilled"),
        ("invoice", "not_invoiced", "invoiced"),
        ("payment", "unpaid", "partially_paid"),
    ]


def test_setting_a_track_to_its_current_value_writes_nothing(
    client: TestClient, ops: dict[str, str], runtime: Runtime
) -> None:
    order = place(client, ops, order_body())
    r = client.post(
        f"/api/v1/orders/{order['number']}/tracks", json={"track": "payment", "to": "unpaid"}, headers=ops
    )
    assert r.status_code == 200, r.text
    assert len(r.json()["timeline"]) == 1
    assert outbox(runtime) == {"order.created": 1}


def test_a_track_value_of_another_track_is_a_422_on_to(client: TestClient, ops: dict[str, str]) -> None:
    order = place(client, ops, order_body())
    r = client.post(
        f"/api/v1/orders/{order['number']}/tracks", json={"track": "payment", "to": "fulfilled"}, headers=ops
    )
    p = problem(r, 422, "validation")
    assert paths(p) == ["$.to"] and p["errors"][0]["code"] == "invalid_status"
    r = client.post(
        f"/api/v1/orders/{order['number']}/tracks", json={"track": "shipping", "to": "paid"}, headers=ops
    )
    assert "$.track" in paths(problem(r, 422, "validation"))


def test_an_edit_changes_only_the_fields_sent_and_records_which(
    client: TestClient, ops: dict[str, str], runtime: Runtime
) -> None:
    order = place(
        client,
        ops,
        order_body(priority=1, tags=["a"], notes="first", billing_address={"city": "Leeds", "country": "GB"}),
    )
    r = client.patch(
        f"/api/v1/orders/{order['number']}",
        headers=ops,
        json={"tags": ["a", "b"], "shipping_address": {"line1": "2 Low St", "city": "Hull", "country": "GB"}},
    )
    assert r.status_code == 200, r.text
    edited = r.json()
    assert (edited["priority"], edited["notes"], edited["tags"]) == (1, "first", ["a", "b"])
    assert edited["billing_address"] == {"city": "Leeds", "country": "GB"}
    assert edited["shipping_address"] == {"line1": "2 Low St", "city": "Hull", "country": "GB"}
    assert edited["timeline"][-1]["data"] == {"fields": ["shipping_address", "tags"]}
    assert [e.payload["fields"] for e in outbox_rows(runtime, "order.updated")] == [
        ["shipping_address", "tags"]
    ]

    same = client.patch(
        f"/api/v1/orders/{order['number']}", headers=ops, json={"priority": 1, "notes": "first"}
    )
    assert same.status_code == 200
    assert outbox(runtime) == {"order.created": 1, "order.updated": 1}
    assert count(runtime, "order_timeline", order_id=order["id"]) == 2


def test_an_edit_may_not_touch_the_status_lines_or_money(client: TestClient, ops: dict[str, str]) -> None:
    order = place(client, ops, order_body())
    for field, value in (("status", "processing"), ("lines", []), ("currency", "EUR"), ("grand_total", "1")):
        r = client.patch(f"/api/v1/orders/{order['number']}", json={field: value}, headers=ops)
        assert paths(problem(r, 422, "validation")) == [f"$.{field}"]
    assert (
        client.get(f"/api/v1/orders/{order['number']}", headers=ops).json()["timeline"][-1]["kind"]
        == "created"
    )


def test_a_change_whose_outbox_event_cannot_be_written_is_not_stored_either(
    client: TestClient, ops: dict[str, str], runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    order = place(client, ops, order_body())
    written = (count(runtime, "orders"), count(runtime, "order_lines"), count(runtime, "order_timeline"))

    def broken(*_: object, **__: object) -> None:
        raise RuntimeError("outbox unavailable")

    monkeypatch.setattr(SqlOutbox, "add", broken)
    assert (
        client.post("/api/v1/orders", json=order_body("WEB", ("TEA-100", 1)), headers=ops).status_code == 500
    )
    r = client.post(f"/api/v1/orders/{order['number']}/transitions", json={"to": "processing"}, headers=ops)
    assert r.status_code == 500
    monkeypatch.undo()
    assert (
        count(runtime, "orders"),
        count(runtime, "order_lines"),
        count(runtime, "order_timeline"),
    ) == written
    assert client.get(f"/api/v1/orders/{order['number']}", headers=ops).json()["status"] == "created"
    assert outbox(runtime) == {"order.created": 1}
