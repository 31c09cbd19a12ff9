"""Sensor readings pushed to POST /intake/{code} (signed), on both databases: a breach places
one tagged order; duplicates, out-of-order readings and unknown devices change nothing;
re-arming, open orders, refusals and replays behave as docs/channels/iot.md says; readings
arriving at once for one rule place one order."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from api_helpers import count, problem
from fastapi.testclient import TestClient
from iot_helpers import CODE, catalogue, example, level, orders, post, rule, signed

from legato.bootstrap import Runtime

T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)


@pytest.fixture
def tank(client: TestClient, admin: dict[str, str]) -> dict[str, str]:
    """The documented channel and tank rule: tank-7's level below 20 orders 1000 DIESEL-L for
    ACME, re-armed at 60."""
    catalogue(client, admin)
    post(client, admin, "/api/v1/replenishment-rules", example("rule-tank"))
    return admin


def push(client: TestClient, body: Any, status: int = 200) -> dict[str, Any]:
    r = client.post(f"/intake/{CODE}", **signed(body))
    assert r.status_code == status, r.text
    return r.json()  # type: ignore[no-any-return]


def readings(client: TestClient, headers: dict[str, str], device: str = "tank-7") -> list[Any]:
    r = client.get(f"/api/v1/devices/{device}/readings", headers=headers)
    assert r.status_code == 200, r.text
    return [(x["metric"], Decimal(x["value"])) for x in r.json()["items"]]


def test_a_signed_breach_stores_the_reading_and_places_one_tagged_order(
    client: TestClient, tank: dict[str, str], runtime: Runtime
) -> None:
    out = push(client, level("tank-7", 64, "12.5", start=T0), 201)
    assert out["state"] == "processed" and len(out["orders"]) == 1 and out["orders"][0]["created"]
    [order] = orders(client, tank)
    assert order["number"] == out["orders"][0]["number"]
    assert order["external_reference"] == "iot:TANK-7:1"
    assert set(order["tags"]) == {"iot", "device:tank-7"}
    assert [(ln["sku"], Decimal(ln["quantity"])) for ln in order["lines"]] == [("DIESEL-L", 1000)]
    assert order["inbox_id"] == out["inbox_id"]
    assert readings(client, tank) == [("level", Decimal("12.5")), ("level", 64)]
    entry = client.get(f"/api/v1/inbox/{out['inbox_id']}", headers=tank).json()
    assert (entry["state"], entry["adapter"], entry["topic"]) == ("processed", "iot", "readings")


def test_the_same_delivery_twice_stores_each_reading_once_and_orders_once(
    client: TestClient, tank: dict[str, str], runtime: Runtime
) -> None:
    body = level("tank-7", 64, 10, start=T0)
    push(client, body, 201)
    again = push(client, body, 200)
    assert (again["state"], again["orders"]) == ("duplicate", [])
    assert count(runtime, "sensor_readings") == 2 and count(runtime, "orders") == 1
    assert count(runtime, "inbox") == 2  # every delivery is kept


def test_a_late_reading_is_stored_but_moves_nothing(
    client: TestClient, tank: dict[str, str], runtime: Runtime
) -> None:
    push(client, level("tank-7", 50, 70, start=T0))  # 08:00 50, 08:01 70
    late = {
        "device_id": "tank-7",
        "readings": [{"metric": "level", "value": "5", "at": (T0 + timedelta(seconds=30)).isoformat()}],
    }
    assert push(client, late)["orders"] == []
    assert count(runtime, "sensor_readings") == 3 and count(runtime, "orders") == 0
    state = rule(client, tank, "TANK-7")["state"]
    assert state["armed"] and datetime.fromisoformat(state["last_reading_at"]) == T0 + timedelta(minutes=1)


def test_readings_of_a_device_without_a_rule_are_stored_and_ignored(
    client: TestClient, tank: dict[str, str], runtime: Runtime
) -> None:
    out = push(client, level("pump-9", 1, 2, start=T0, metric="pressure"))
    assert out["state"] == "processed" and out["orders"] == []
    assert "no rule for pump-9/pressure" in out["reason"]
    assert readings(client, tank, "pump-9") == [("pressure", 2), ("pressure", 1)]


def test_hysteresis_and_the_open_order_guard_from_breach_to_second_order(
    client: TestClient, tank: dict[str, str], runtime: Runtime
) -> None:
    push(client, level("tank-7", 30, 15, 12, 25, 18, start=T0), 201)  # one breach, in band, no re-arm
    assert [o["external_reference"] for o in orders(client, tank)] == ["iot:TANK-7:1"]
    # re-armed at 60, but the first order is still open: a new breach orders nothing
    out = push(client, level("tank-7", 65, 10, start=T0 + timedelta(minutes=10)))
    assert "1 breach(es) while the rule's last order is open" in out["reason"]
    assert count(runtime, "orders") == 1
    first = orders(client, tank)[0]["number"]
    r = client.post(f"/api/v1/orders/{first}/transitions", json={"to": "cancelled"}, headers=tank)
    assert r.status_code == 200, r.text
    assert rule(client, tank, "TANK-7")["state"]["open_order"] is None
    push(client, level("tank-7", 9, start=T0 + timedelta(minutes=20)), 201)  # still armed: orders
    assert [o["external_reference"] for o in orders(client, tank)] == ["iot:TANK-7:1", "iot:TANK-7:2"]
    state = rule(client, tank, "TANK-7")["state"]
    assert (state["armed"], state["breaches"]) == (False, 2)


def test_a_non_numeric_value_is_refused_at_its_path_and_the_other_readings_are_kept(
    client: TestClient, tank: dict[str, str], runtime: Runtime
) -> None:
    body = level("tank-7", 64, "empty", 50, start=T0)
    out = push(client, body)
    assert out["state"] == "quarantined"
    entry = client.get(f"/api/v1/inbox/{out['inbox_id']}", headers=tank).json()
    assert [(e["path"], e["code"]) for e in entry["errors"]] == [("$.readings[1].value", "not_a_number")]
    assert readings(client, tank) == [("level", 50), ("level", 64)]


def test_a_body_with_nothing_readable_is_a_422_naming_each_field(
    client: TestClient, tank: dict[str, str]
) -> None:
    body = {"device_id": "tank-7", "readings": [{"metric": "level", "value": "x", "at": "yesterday"}]}
    p = problem(client.post(f"/intake/{CODE}", **signed(body)), 422, "unparseable")
    assert [e["path"] for e in p["errors"]] == ["$.readings[0].value", "$.readings[0].at"]
    assert p["inbox_id"]


def test_a_bad_signature_is_401_and_nothing_is_recorded(
    client: TestClient, tank: dict[str, str], runtime: Runtime
) -> None:
    problem(
        client.post(f"/intake/{CODE}", **signed(level("tank-7", 1), secret="wrong")), 401, "signature_invalid"
    )
    assert count(runtime, "sensor_readings") == 0 and count(runtime, "inbox", state="rejected") == 1


def diesel(**prices: str) -> dict[str, Any]:
    return {"sku": "DIESEL-L", "name": "Diesel", "prices": prices}


def test_a_breach_whose_order_cannot_be_placed_waits_in_quarantine_and_a_replay_orders(
    client: TestClient, tank: dict[str, str], runtime: Runtime
) -> None:
    # the product loses its EUR price: the order cannot be priced
    r = client.put("/api/v1/products/DIESEL-L", json=diesel(GBP="1.20"), headers=tank)
    assert r.status_code == 200, r.text
    out = push(client, level("tank-7", 64, 10, start=T0))
    assert out["state"] == "quarantined" and out["orders"] == []
    entry = client.get(f"/api/v1/inbox/{out['inbox_id']}", headers=tank).json()
    assert entry["errors"][0]["code"] == "price_not_found"
    assert entry["errors"][0]["reference"].startswith("tank-7/level at ")
    assert readings(client, tank) == [("level", 64)]  # the breach is not recorded: the rule stays armed
    assert rule(client, tank, "TANK-7")["state"]["armed"]

    r = client.put("/api/v1/products/DIESEL-L", json=diesel(EUR="1.45"), headers=tank)
    assert r.status_code == 200, r.text
    replayed = client.post(f"/api/v1/inbox/{out['inbox_id']}/replay", headers=tank)
    assert replayed.status_code == 201, replayed.text
    assert [o["external_reference"] for o in orders(client, tank)] == ["iot:TANK-7:1"]
    assert count(runtime, "sensor_readings") == 2


def test_up_to_par_orders_what_brings_the_shelf_back(client: TestClient, tank: dict[str, str]) -> None:
    post(client, tank, "/api/v1/replenishment-rules", example("rule-shelf"))
    push(client, level("shelf-12", 10, "2.5", start=T0, metric="units"), 201)
    [order] = orders(client, tank)
    assert (order["lines"][0]["sku"], Decimal(order["lines"][0]["quantity"])) == ("GLOVES-BOX", 22)


def test_readings_arriving_at_once_for_one_rule_place_one_order(
    client: TestClient, tank: dict[str, str], runtime: Runtime
) -> None:
    """Eight gateways report different breach readings of tank-7 at the same moment."""
    bodies = [level("tank-7", 5 + i, start=T0 + timedelta(seconds=i)) for i in range(8)]
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda b: client.post(f"/intake/{CODE}", **signed(b)), bodies))
    assert sorted(a.status_code for a in answers) == [200] * 7 + [201], [a.text for a in answers]
    assert count(runtime, "orders") == 1 and count(runtime, "sensor_readings") == 8
    state = rule(client, tank, "TANK-7")["state"]
    assert (state["armed"], state["breaches"]) == (False, 1)
