"""The examples of docs/channels/iot.md, run as written, on both databases: the channel, the
three rules, the readings that place three orders, and the usage figure for billing."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from itertools import pairwise
from typing import Any

from fastapi.testclient import TestClient
from iot_helpers import CODE, catalogue, example, orders, post, rule, signed

from legato.bootstrap import Runtime
from legato.store import iot as store
from legato.store.queries import reading


def test_the_documented_rules_and_readings_place_the_documented_orders(
    client: TestClient, admin: dict[str, str]
) -> None:
    catalogue(client, admin)
    for name in ("rule-tank", "rule-pallets", "rule-shelf"):
        post(client, admin, "/api/v1/replenishment-rules", example(name))

    r = client.post(f"/intake/{CODE}", **signed(example("readings")))
    assert r.status_code == 201, r.text
    assert r.json()["state"] == "processed"

    placed = orders(client, admin)
    summary = [
        (o["external_reference"], o["lines"][0]["sku"], Decimal(o["lines"][0]["quantity"])) for o in placed
    ]
    assert sorted(summary) == [
        ("iot:DOCK-3-PALLETS:1", "PALLET-EUR", 20),
        ("iot:SHELF-12:1", "GLOVES-BOX", 21),
        ("iot:TANK-7:1", "DIESEL-L", 1000),
    ]
    tank = next(o for o in placed if o["external_reference"] == "iot:TANK-7:1")
    assert tank["shipping_address"] == example("rule-tank")["shipping_address"]
    assert tank["account"] == "ACME" and tank["channel"] == CODE
    assert set(tank["tags"]) == {"iot", "device:tank-7"}
    assert "tank-7 reported level 12.5 %" in tank["notes"]
    assert tank["timeline"][0]["actor"] == "iot-rule:TANK-7"
    state = rule(client, admin, "TANK-7")["state"]
    assert (state["armed"], state["breaches"], state["open_order"]) == (False, 1, tank["number"])


def test_the_documented_usage_readings_give_the_documented_november_usage(
    client: TestClient, admin: dict[str, str], runtime: Runtime
) -> None:
    catalogue(client, admin)
    r = client.post(f"/intake/{CODE}", **signed(example("usage")))
    assert r.status_code == 200, r.text
    assert r.json()["reason"].startswith("4 reading(s): 4 new")

    def usage(start: datetime, end: datetime) -> Decimal:
        with reading(runtime.engine) as conn:
            return store.usage_between(conn, "forklift-2", "operating_hours", start, end)

    nov, dec = datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC)
    assert usage(nov, dec) == 18
    # consecutive periods add up: no step billed twice, none lost at the boundary
    cuts = [datetime(2026, 10, 1, tzinfo=UTC), nov, datetime(2026, 11, 11, tzinfo=UTC), dec]
    parts = [usage(a, b) for a, b in pairwise(cuts)]
    assert parts == [0, 10, 8] and sum(parts) == usage(cuts[0], cuts[-1])


def test_the_documented_channel_settings_are_kept_as_written(
    client: TestClient, admin: dict[str, str]
) -> None:
    catalogue(client, admin)
    body: dict[str, Any] = client.get(f"/api/v1/channels/{CODE}", headers=admin).json()
    assert body["adapter"] == "iot"
    assert body["settings"]["mqtt_topic"] == "legato/+/readings"
