"""POST /api/v1/usage-readings on both databases: meter readings as JSON or CSV, stored in the
inbox first, recorded once each, seen by the replenishment rules; every bad reading named by
its JSON path or its CSV row and column, and none recorded while one is bad."""

from __future__ import annotations

from typing import Any

import pytest
from api_helpers import count, paths, problem
from billing_helpers import IOT, catalogue, csv_of, post, send_csv
from fastapi.testclient import TestClient

from legato.bootstrap import Runtime

READINGS = "/api/v1/usage-readings"
AT = "2026-10-10T18:00:00Z"


@pytest.fixture
def admin_iot(client: TestClient, admin: dict[str, str]) -> dict[str, str]:
    catalogue(client, admin)
    return admin


def _json(*readings: dict[str, Any], channel: str | None = IOT) -> dict[str, Any]:
    return {**({"channel": channel} if channel else {}), "readings": list(readings)}


def _one(value: Any = "1062", at: Any = AT, **extra: Any) -> dict[str, Any]:
    return {"device_id": "forklift-2", "metric": "operating_hours", "value": value, "at": at, **extra}


def test_json_readings_are_kept_in_the_inbox_stored_once_and_a_repeat_is_a_duplicate(
    client: TestClient, admin_iot: dict[str, str], runtime: Runtime
) -> None:
    body = _json(_one(), _one("1121", "2026-10-20T20:00:00+02:00", unit="h"))
    r = client.post(READINGS, json=body, headers=admin_iot)
    assert r.status_code == 201, r.text
    out = r.json()
    assert (out["state"], out["readings"], out["new"], out["orders"], out["refused"]) == (
        "processed", 2, 2, [], [],
    )  # fmt: skip
    entry = client.get(f"/api/v1/inbox/{out['inbox_id']}", headers=admin_iot).json()
    assert (entry["channel"], entry["adapter"], entry["state"]) == (IOT, "usage-readings", "processed")
    assert "authorization" not in entry["headers"] and entry["body"] == r.request.content.decode()

    again = client.post(READINGS, json=body, headers=admin_iot)
    assert again.status_code == 200, again.text
    assert (again.json()["state"], again.json()["new"]) == ("duplicate", 0)
    assert count(runtime, "sensor_readings") == 2 and count(runtime, "inbox") == 2
    readings = client.get("/api/v1/devices/forklift-2/readings", headers=admin_iot).json()["items"]
    assert [(x["value"], x["at"], x["unit"]) for x in readings] == [
        ("1121", "2026-10-20T18:00:00Z", "h"), ("1062", "2026-10-10T18:00:00Z", None),
    ]  # fmt: skip


def test_csv_readings_are_recorded_with_the_channel_named_in_the_query(
    client: TestClient, admin_iot: dict[str, str], runtime: Runtime
) -> None:
    body = (
        b"\xef\xbb\xbfDevice_ID;metric;value;at\r\nforklift-2;operating_hours;1062;"
        + AT.encode()
        + b"\r\n\r\n"
    )
    r = send_csv(client, admin_iot, body)  # a spreadsheet's export: BOM, semicolons, CRLF, a blank line
    assert r.status_code == 201, r.text
    assert (r.json()["readings"], r.json()["new"]) == (1, 1)
    assert count(runtime, "sensor_readings") == 1


def test_bad_json_readings_are_named_by_path_none_is_recorded_and_the_body_is_quarantined(
    client: TestClient, admin_iot: dict[str, str], runtime: Runtime
) -> None:
    body = _json(
        _one(),
        _one("ten"),
        _one(at="2026-10-10T18:00:00"),
        _one(at="2099-01-01T00:00:00Z"),
        _one(12.5, colour="red"),
        {"device_id": "fork lift", "metric": "operating_hours", "value": True},
    )
    got = problem(client.post(READINGS, json=body, headers=admin_iot), 422, "unparseable")
    assert paths(got) == [
        "$.readings[1].value", "$.readings[2].at", "$.readings[3].at", "$.readings[4].colour",
        "$.readings[5].device_id", "$.readings[5].value", "$.readings[5].at",
    ]  # fmt: skip
    assert [e["code"] for e in got["errors"]][:3] == ["not_a_number", "invalid", "future"]
    assert count(runtime, "sensor_readings") == 0
    entry = client.get(f"/api/v1/inbox/{got['inbox_id']}", headers=admin_iot).json()
    assert entry["state"] == "quarantined" and len(entry["errors"]) == 7

    empty = problem(client.post(READINGS, json=_json(), headers=admin_iot), 422, "unparseable")
    assert paths(empty) == ["$.readings"]
    odd = problem(
        client.post(READINGS, json={**_json(_one()), "when": 1}, headers=admin_iot), 422, "unparseable"
    )
    assert paths(odd) == ["$.when"]
    broken = client.post(READINGS, content=b'{"channel": "IOT-SITES", "readings": [', headers={
        **admin_iot, "Content-Type": "application/json"})  # fmt: skip
    assert paths(problem(broken, 422, "validation")) == ["$.channel"]  # the body names no channel it can read
    deep = client.post(READINGS, params={"channel": IOT}, content=b"[" * 100_000, headers={
        **admin_iot, "Content-Type": "application/json"})  # fmt: skip
    assert paths(problem(deep, 422, "unparseable")) == ["$"]


def test_csv_errors_are_named_by_row_and_column_and_nothing_is_recorded(
    client: TestClient, admin_iot: dict[str, str], runtime: Runtime
) -> None:
    body = csv_of(
        ("forklift-2", "operating_hours", "1062", AT),
        ("forklift-2", "operating_hours", "ten", AT),
        ("forklift-2", "", "1121", "20/10/2026"),
    )
    got = problem(send_csv(client, admin_iot, body), 422, "unparseable")
    assert paths(got) == ["row 3/C (value)", "row 4/B (metric)", "row 4/D (at)"]
    assert got["errors"][0]["pointer"] is None and got["problems"] == 3
    assert count(runtime, "sensor_readings") == 0

    header = problem(send_csv(client, admin_iot, b"device,metric,value\nx,y,1\n"), 422, "unparseable")
    assert paths(header) == ["header/A (device)", "row 1 (header)"]
    assert header["errors"][1]["message"] == "missing column(s): device_id, at"
    extra = problem(send_csv(client, admin_iot, csv_of(("forklift-2", "m", "1", AT)) + b"a,b,1,2,3\n"), 422,
                    "unparseable")  # fmt: skip
    assert paths(extra) == ["row 3"]
    quoted = problem(
        send_csv(client, admin_iot, b'device_id,metric,value,at\n"x,m,1,2\n'), 422, "unparseable"
    )
    assert paths(quoted) == ["row 2"]
    assert paths(problem(send_csv(client, admin_iot, b""), 422, "unparseable")) == ["$"]
    assert paths(problem(send_csv(client, admin_iot, b"\xff\xfe"), 422, "unparseable")) == ["$"]


@pytest.mark.parametrize(
    ("channel", "code"),
    [("RENTALS", "not_an_iot_channel"), ("NOPE", "unknown_channel"), (None, "required")],
)
def test_readings_are_taken_only_for_an_iot_channel(
    client: TestClient, admin_iot: dict[str, str], runtime: Runtime, channel: str | None, code: str
) -> None:
    got = problem(
        client.post(READINGS, json=_json(_one(), channel=channel), headers=admin_iot), 422, "validation"
    )
    assert (paths(got), got["errors"][0]["code"]) == (["$.channel"], code)
    entry = client.get(f"/api/v1/inbox/{got['inbox_id']}", headers=admin_iot).json()
    assert entry["state"] == "quarantined"
    assert count(runtime, "sensor_readings") == 0


def test_the_query_and_the_body_must_name_the_same_channel_and_the_media_type_must_be_known(
    client: TestClient, admin_iot: dict[str, str], runtime: Runtime
) -> None:
    r = client.post(READINGS, params={"channel": IOT}, json=_json(_one(), channel="OTHER"), headers=admin_iot)
    assert paths(problem(r, 422, "unparseable")) == ["$.channel"]
    text = client.post(READINGS, content=b"x", headers={**admin_iot, "Content-Type": "text/plain"})
    problem(text, 415, "unsupported_media_type")
    assert count(runtime, "inbox") == 1  # the mismatch is kept; a body of no known type is not read at all


def _rule(client: TestClient, headers: dict[str, str]) -> None:
    rule = {"code": "TANK-7", "channel": IOT, "device_id": "tank-7", "metric": "level",
            "comparison": "below", "threshold": "20", "rearm": "60", "account": "DOCKSIDE",
            "sku": "DIESEL-L", "quantity": "1000"}  # fmt: skip
    post(client, headers, "/api/v1/replenishment-rules", rule)


def test_the_replenishment_rules_see_readings_sent_here(
    client: TestClient, admin_iot: dict[str, str]
) -> None:
    post(
        client,
        admin_iot,
        "/api/v1/products",
        {"sku": "DIESEL-L", "name": "Diesel", "prices": {"EUR": "1.45"}},
    )
    _rule(client, admin_iot)
    reading = {"device_id": "tank-7", "metric": "level", "value": "12.5", "at": AT}
    r = client.post(READINGS, json=_json(reading), headers=admin_iot)
    assert r.status_code == 201, r.text
    (order,) = r.json()["orders"]
    assert order["created"] is True
    placed = client.get(f"/api/v1/orders/{order['number']}", headers=admin_iot).json()
    assert (placed["external_reference"], placed["account"]) == ("iot:TANK-7:1", "DOCKSIDE")


def _refused_by_a_rule(client: TestClient, headers: dict[str, str]) -> dict[str, Any]:
    """A reading whose replenishment order cannot be placed (no EUR price): refused, not stored."""
    post(
        client, headers, "/api/v1/products", {"sku": "DIESEL-L", "name": "Diesel", "prices": {"GBP": "1.25"}}
    )
    _rule(client, headers)
    r = client.post(READINGS, json=_json({"device_id": "tank-7", "metric": "level", "value": "5", "at": AT},
                                         _one()), headers=headers)  # fmt: skip
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def test_a_reading_whose_replenishment_order_is_refused_quarantines_the_body_and_keeps_the_rest(
    client: TestClient, admin_iot: dict[str, str], runtime: Runtime
) -> None:
    out = _refused_by_a_rule(client, admin_iot)
    assert (out["state"], out["readings"], out["new"], out["orders"]) == ("quarantined", 2, 1, [])
    (refused,) = out["refused"]
    assert refused["reference"].startswith("tank-7/level")
    assert refused["errors"][0]["code"] == "price_not_found"
    assert count(runtime, "sensor_readings") == 1
    entry = client.get(f"/api/v1/inbox/{out['inbox_id']}", headers=admin_iot).json()
    assert entry["state"] == "quarantined" and entry["errors"][0]["reference"] == refused["reference"]


def test_a_quarantined_body_is_replayed_after_the_fix(
    client: TestClient, admin_iot: dict[str, str], runtime: Runtime
) -> None:
    out = _refused_by_a_rule(client, admin_iot)
    fixed = {"sku": "DIESEL-L", "name": "Diesel", "prices": {"EUR": "1.45"}}
    assert client.put("/api/v1/products/DIESEL-L", json=fixed, headers=admin_iot).status_code == 200
    r = client.post(f"/api/v1/inbox/{out['inbox_id']}/replay", headers=admin_iot)
    assert r.status_code == 201, r.text
    assert count(runtime, "sensor_readings") == 2 and count(runtime, "orders") == 1
