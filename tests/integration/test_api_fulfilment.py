"""The fulfilment-order endpoints, on both databases: create from allocations, list (filters,
cursor), read (lines, events, tracking), the warehouse's JSON event and CSV feed (idempotent by
event id; a bad row named by row and column while the others apply), hold/release/cancel and
the 409 for a dispatched FO."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from api_helpers import problem
from fulfilment_helpers import level, order, order_row, stocked

from legato.bootstrap import Runtime


@pytest.fixture
def wh(runtime: Runtime, shop: dict[str, str]) -> dict[str, str]:
    stocked(runtime)
    return shop


def allocated(client: Any, h: dict[str, str], *lines: tuple[str, Any]) -> int:
    oid = order(client, h, *lines)
    r = client.post(f"/api/v1/orders/{oid}/allocate", json={"create_fulfilment": False}, headers=h)
    assert r.status_code == 200, r.text
    return oid


def created(client: Any, h: dict[str, str], oid: int) -> list[dict[str, Any]]:
    r = client.post(f"/api/v1/orders/SO-{oid:06d}/fulfilment-orders", headers=h)
    assert r.status_code == 201, r.text
    return r.json()["items"]  # type: ignore[no-any-return]


def test_an_orders_fos_are_created_from_its_allocations_once_and_read_back(
    client: Any, wh: dict[str, str]
) -> None:
    oid = allocated(client, wh, ("TEA-100", 2), ("POT-300", 1))
    items = created(client, wh, oid)
    number = f"SO-{oid:06d}"
    assert [(f["number"], f["location"], f["kind"]) for f in items] == [
        (f"{number}-F1", "WH-LDN", "ship"),
        (f"{number}-F2", "SUP-ACME", "dropship"),
    ]
    again = client.post(f"/api/v1/orders/{oid}/fulfilment-orders", headers=wh)
    assert (again.status_code, again.json()["created"]) == (200, [])
    listed = client.get(f"/api/v1/orders/{number}/fulfilment-orders", headers=wh).json()
    assert [f["id"] for f in listed] == [f["id"] for f in items]
    one = client.get(f"/api/v1/fulfilment-orders/{number}-F2", headers=wh)
    assert one.status_code == 200, one.text
    body = one.json()
    assert (body["vendor"], body["lines"][0]["supplier_sku"], body["events"]) == (
        "Acme Supplies",
        "AC-POT-3",
        [],
    )
    assert (
        client.get(f"/api/v1/fulfilment-orders/{items[1]['id']}", headers=wh).json()["number"]
        == f"{number}-F2"
    )
    problem(client.get(f"/api/v1/fulfilment-orders/{number}-F9", headers=wh), 404, "not_found")
    problem(client.get("/api/v1/orders/999999/fulfilment-orders", headers=wh), 404, "not_found")


def test_the_list_filters_by_status_and_location_and_pages_with_a_cursor(
    client: Any, wh: dict[str, str]
) -> None:
    for _ in range(3):
        created(client, wh, allocated(client, wh, ("TEA-100", 1), ("MUG-200", 1)))
    page = client.get("/api/v1/fulfilment-orders", params={"limit": 4}, headers=wh).json()
    rest = client.get(
        "/api/v1/fulfilment-orders", params={"limit": 4, "cursor": page["next_cursor"]}, headers=wh
    )
    ids = [f["id"] for f in page["items"] + rest.json()["items"]]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == 6 and rest.json()["next_cursor"] is None
    man = client.get("/api/v1/fulfilment-orders", params={"location": "WH-MAN"}, headers=wh).json()["items"]
    assert {f["location"] for f in man} == {"WH-MAN"} and len(man) == 3
    client.post(f"/api/v1/fulfilment-orders/{man[0]['id']}/events", json={"status": "released"}, headers=wh)
    released = client.get("/api/v1/fulfilment-orders", params={"status": "released"}, headers=wh).json()[
        "items"
    ]
    assert [f["id"] for f in released] == [man[0]["id"]]
    problem(
        client.get("/api/v1/fulfilment-orders", params={"status": "shipped"}, headers=wh), 422, "validation"
    )


def test_a_json_event_applies_once_per_event_id_and_rolls_up(
    runtime: Runtime, client: Any, wh: dict[str, str]
) -> None:
    oid = allocated(client, wh, ("TEA-100", 2))
    [fo] = created(client, wh, oid)
    url = f"/api/v1/fulfilment-orders/{fo['number']}/events"
    parcel = {"carrier": "DPD", "number": "15501234", "url": "https://track.example/15501234"}
    sent = {"status": "dispatched", "event_id": "WMS-881", "external_ref": "PICK-42", "tracking": [parcel]}
    first = client.post(url, json=sent, headers=wh)
    assert first.status_code == 200, first.text
    assert first.json() == {"fulfilment_order": fo["number"], "from": "created", "status": "dispatched",
                            "applied": True, "duplicate": False}  # fmt: skip
    again = client.post(url, json=sent, headers=wh).json()
    assert (again["applied"], again["duplicate"]) == (False, True)
    assert level(runtime, "WH-LDN", "TEA-100") == (Decimal(8), Decimal(0))
    detail = client.get(f"/api/v1/fulfilment-orders/{fo['id']}", headers=wh).json()
    assert detail["tracking"] == [sent["tracking"][0]] and detail["external_ref"] == "PICK-42"
    assert [(e["from"], e["to"], e["event_id"], e["source"]) for e in detail["events"]] == [
        ("created", "dispatched", "WMS-881", "api")
    ]
    assert order_row(runtime, oid).fulfilment_status == "fulfilled"
    client.post(url, json={"status": "delivered", "event_id": "WMS-882"}, headers=wh)
    assert order_row(runtime, oid).status == "completed"
    bad = problem(client.post(url, json={"status": "teleported"}, headers=wh), 422, "validation")
    assert bad["errors"][0]["path"] == "$.status"


def test_hold_release_cancel_and_a_dispatched_fo_answers_409_saying_why(
    runtime: Runtime, client: Any, wh: dict[str, str]
) -> None:
    ldn, man = created(client, wh, allocated(client, wh, ("TEA-100", 2), ("MUG-200", 1)))
    base = "/api/v1/fulfilment-orders"
    held = client.post(f"{base}/{ldn['id']}/hold", json={"reason": "return-pattern flag"}, headers=wh)
    assert (held.status_code, held.json()["status"]) == (200, "on_hold"), held.text
    got = client.get(f"{base}/{ldn['id']}", headers=wh).json()
    assert (got["held_from"], got["reason"]) == ("created", "return-pattern flag")
    assert client.post(f"{base}/{ldn['id']}/release", json={}, headers=wh).json()["status"] == "created"
    problem(client.post(f"{base}/{ldn['id']}/release", json={}, headers=wh), 409, "illegal_transition")
    assert (
        client.post(f"{base}/{ldn['id']}/cancel", json={"reason": "customer"}, headers=wh).json()["status"]
        == "cancelled"
    )
    assert level(runtime, "WH-LDN", "TEA-100") == (Decimal(10), Decimal(0))
    client.post(f"{base}/{man['id']}/events", json={"status": "dispatched"}, headers=wh)
    for action in ("hold", "cancel"):
        p = problem(
            client.post(f"{base}/{man['id']}/{action}", json={"reason": "x"}, headers=wh),
            409,
            "illegal_transition",
        )
        assert "already dispatched" in p["detail"] and "neither held nor cancelled" in p["detail"]


def test_the_csv_feed_applies_each_valid_row_and_names_a_bad_one_by_row_and_column(
    runtime: Runtime, client: Any, wh: dict[str, str]
) -> None:
    ldn, man = created(client, wh, allocated(client, wh, ("TEA-100", 2), ("MUG-200", 1)))
    feed = (
        "fulfilment_order,status,event_id,carrier,tracking_number,reason\n"
        f"{ldn['number']},picking,E1,,,\n"
        f"{ldn['number']},shipped,E2,,,\n"
        f"{man['number']},dispatched,E3,Royal Mail,RM123GB,\n"
        "SO-999999-F1,released,E4,,,\n"
        f"{man['number']},on_hold,E5,,,too late\n"
        f"{ldn['number']},picking,E1,,,\n"
    )
    r = client.post(
        "/api/v1/fulfilment-orders/events", content=feed, headers={**wh, "Content-Type": "text/csv"}
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert [(x["row"], x["outcome"]) for x in body["results"]] == [
        (2, "applied"), (3, "refused"), (4, "applied"), (5, "refused"), (6, "refused"), (7, "duplicate"),
    ]  # fmt: skip
    assert (body["applied"], body["refused"]) == (2, 3)
    errors = {x["row"]: x["errors"][0] for x in body["results"] if x["errors"]}
    assert errors[3]["path"] == "row 3, column B (status)" and errors[3]["code"] == "invalid_status"
    assert errors[5]["path"] == "row 5, column A (fulfilment_order)" and errors[5]["code"] == "not_found"
    assert errors[6]["path"] == "row 6, column B (status)" and "already dispatched" in errors[6]["message"]
    detail = client.get(f"/api/v1/fulfilment-orders/{man['id']}", headers=wh).json()
    assert detail["tracking"] == [{"carrier": "Royal Mail", "number": "RM123GB"}]
    assert detail["events"][0]["source"] == "csv"
    assert level(runtime, "WH-MAN", "MUG-200") == (Decimal(4), Decimal(0))
    bad = client.post("/api/v1/fulfilment-orders/events", content="order,state\nx,y\n",
                      headers={**wh, "Content-Type": "text/csv"})  # fmt: skip
    assert problem(bad, 422, "validation")["errors"][0]["path"] == "row 1"
    problem(
        client.post("/api/v1/fulfilment-orders/events", json={}, headers=wh), 415, "unsupported_media_type"
    )


def test_reading_needs_orders_read_and_writing_orders_write(
    client: Any, wh: dict[str, str], reader: dict[str, str]
) -> None:
    [fo] = created(client, wh, allocated(client, wh, ("TEA-100", 1)))
    assert client.get(f"/api/v1/fulfilment-orders/{fo['id']}", headers=reader).status_code == 200
    problem(
        client.post(f"/api/v1/fulfilment-orders/{fo['id']}/hold", json={}, headers=reader), 403, "forbidden"
    )
    problem(client.get("/api/v1/fulfilment-orders"), 401, "unauthorized")


def test_the_documented_csv_feed_gives_the_documented_answer(client: Any, wh: dict[str, str]) -> None:
    text = (Path(__file__).resolve().parents[2] / "docs" / "fulfilment" / "README.md").read_text()
    feed = re.findall(r"```csv\n(.*?)```", text, re.S)[0]
    documented = json.loads(re.findall(r"```json\n(.*?)```", text, re.S)[0].replace(", ...", ""))
    oid = allocated(client, wh, ("TEA-100", 1), ("MUG-200", 1))
    assert [f["number"] for f in created(client, wh, oid)] == ["SO-000001-F1", "SO-000001-F2"]
    r = client.post(
        "/api/v1/fulfilment-orders/events", content=feed, headers={**wh, "Content-Type": "text/csv"}
    )
    got = r.json()
    assert (got["applied"], got["refused"]) == (documented["applied"], documented["refused"])
    for have, want in zip(got["results"], documented["results"], strict=True):
        assert {k: have[k] for k in ("row", "fulfilment_order", "outcome", "status")} == {
            k: want[k] for k in ("row", "fulfilment_order", "outcome", "status")
        }
        assert [(e["path"], e["code"]) for e in have["errors"]] == [
            (e["path"], e["code"]) for e in want["errors"]
        ]
        for e, w in zip(have["errors"], want["errors"], strict=True):
            assert e["message"].startswith(w["message"].split("...")[0].rstrip(" ."))
