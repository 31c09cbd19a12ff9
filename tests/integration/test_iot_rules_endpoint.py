"""The replenishment rules API and a device's readings, on both databases: create, refuse
with field paths, list with cursors, change, re-arm by hand; scopes; readings pages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from api_helpers import key_headers, paths, problem
from fastapi.testclient import TestClient
from iot_helpers import CODE, catalogue, example, level, post, rule, signed

from legato.bootstrap import Runtime

RULES = "/api/v1/replenishment-rules"


@pytest.fixture
def sites(client: TestClient, admin: dict[str, str]) -> dict[str, str]:
    catalogue(client, admin)
    return admin


def test_a_rule_is_created_armed_and_read_back_as_sent(client: TestClient, sites: dict[str, str]) -> None:
    body = post(client, sites, RULES, example("rule-tank"))
    assert (body["code"], body["channel"], body["comparison"], body["quantity_mode"]) == (
        "TANK-7", CODE, "below", "fixed")  # fmt: skip
    assert body["state"] == {"armed": True, "last_reading_at": None, "breaches": 0, "open_order": None,
                             "last_order": None}  # fmt: skip
    assert rule(client, sites, "TANK-7") == body
    assert body["shipping_address"]["city"] == "Rotterdam"


def test_a_second_rule_with_the_same_code_is_a_409(client: TestClient, sites: dict[str, str]) -> None:
    post(client, sites, RULES, example("rule-tank"))
    problem(client.post(RULES, json=example("rule-tank"), headers=sites), 409, "duplicate")


@pytest.mark.parametrize(
    ("change", "where"),
    [
        ({"rearm": "10"}, ["$.rearm"]),
        ({"account": "NOBODY", "sku": "NOTHING"}, ["$.account", "$.sku"]),
        ({"channel": "NOPE"}, ["$.channel"]),
        ({"quantity": None}, ["$.quantity"]),
        ({"quantity_mode": "up_to_par"}, ["$.quantity", "$.par_level"]),
        ({"threshold": 20.5}, None),  # a JSON number is read exactly: accepted
        ({"threshold": "1e16"}, ["$.threshold"]),
        ({"device_id": "tank/7"}, ["$.device_id"]),
        ({"comparison": "under"}, ["$.comparison"]),
    ],
)
def test_a_rule_that_cannot_work_is_refused_naming_each_field(
    client: TestClient, sites: dict[str, str], change: dict[str, Any], where: list[str] | None
) -> None:
    r = client.post(RULES, json={**example("rule-tank"), **change}, headers=sites)
    if where is None:
        assert r.status_code == 201, r.text
        return
    assert paths(problem(r, 422, r.json()["code"])) == where


def test_a_rule_must_watch_an_iot_channel(client: TestClient, sites: dict[str, str]) -> None:
    post(
        client,
        sites,
        "/api/v1/channels",
        {"code": "WEB", "name": "Web", "type": "ecommerce", "currency": "EUR"},
    )
    p = problem(
        client.post(RULES, json={**example("rule-tank"), "channel": "WEB"}, headers=sites), 422, "validation"
    )
    assert p["errors"][0]["code"] == "not_an_iot_channel"


def test_rules_are_listed_newest_first_filtered_and_paged(client: TestClient, sites: dict[str, str]) -> None:
    for name in ("rule-tank", "rule-pallets", "rule-shelf"):
        post(client, sites, RULES, example(name))
    first = client.get(RULES, params={"limit": 2}, headers=sites).json()
    assert [r["code"] for r in first["items"]] == ["SHELF-12", "DOCK-3-PALLETS"]
    rest = client.get(RULES, params={"limit": 2, "cursor": first["next_cursor"]}, headers=sites).json()
    assert ([r["code"] for r in rest["items"]], rest["next_cursor"]) == (["TANK-7"], None)
    by_device = client.get(RULES, params={"device_id": "dock-3", "channel": CODE}, headers=sites).json()
    assert [r["code"] for r in by_device["items"]] == ["DOCK-3-PALLETS"]
    problem(client.get(RULES, params={"cursor": "bogus"}, headers=sites), 422, "validation")


def test_a_rule_is_changed_and_re_armed_by_hand(client: TestClient, sites: dict[str, str]) -> None:
    post(client, sites, RULES, example("rule-tank"))
    client.post(f"/intake/{CODE}", **signed(level("tank-7", 10)))
    assert rule(client, sites, "TANK-7")["state"]["armed"] is False

    change = {"threshold": "25", "armed": True, "shipping_address": None}
    r = client.patch(f"{RULES}/TANK-7", json=change, headers=sites)
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["threshold"], body["shipping_address"]) == ("25", None)
    assert (body["state"]["armed"], body["state"]["breaches"]) == (True, 1)
    assert body["state"]["open_order"] == body["state"]["last_order"] is not None
    assert body["state"]["last_reading_at"] is not None
    # watching another device: the last reading seen was of the old one
    moved = client.patch(f"{RULES}/TANK-7", json={"device_id": "tank-8"}, headers=sites).json()
    assert (moved["device_id"], moved["state"]["last_reading_at"]) == ("tank-8", None)


def test_a_change_that_breaks_the_rule_is_refused_and_nothing_changes(
    client: TestClient, sites: dict[str, str]
) -> None:
    post(client, sites, RULES, example("rule-tank"))
    for change, where in (({"rearm": "5"}, "$.rearm"), ({"threshold": None}, "$.threshold")):
        r = client.patch(f"{RULES}/TANK-7", json=change, headers=sites)
        assert paths(problem(r, 422, "validation")) == [where]
    assert rule(client, sites, "TANK-7")["rearm"] == "60"
    problem(client.patch(f"{RULES}/NOPE", json={"active": False}, headers=sites), 404, "not_found")
    problem(client.get(f"{RULES}/NOPE", headers=sites), 404, "not_found")


def test_writing_rules_needs_catalog_write_and_reading_them_orders_read(
    client: TestClient, sites: dict[str, str], runtime: Runtime
) -> None:
    reader = key_headers(runtime, "viewer", "orders:read")
    problem(client.post(RULES, json=example("rule-tank"), headers=reader), 403, "forbidden")
    post(client, key_headers(runtime, "planner", "catalog:write"), RULES, example("rule-tank"))
    assert client.get(f"{RULES}/TANK-7", headers=reader).status_code == 200
    problem(client.patch(f"{RULES}/TANK-7", json={"active": False}, headers=reader), 403, "forbidden")
    problem(client.get(RULES), 401, "unauthorized")


def test_a_devices_readings_are_paged_newest_first_and_filtered_by_time_and_metric(
    client: TestClient, sites: dict[str, str]
) -> None:
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    client.post(f"/intake/{CODE}", **signed(level("tank-7", 1, 2, 3, 4, 5, start=t0)))
    client.post(f"/intake/{CODE}", **signed(level("tank-7", 9, start=t0, metric="temperature")))
    url = "/api/v1/devices/tank-7/readings"
    seen, cursor = [], None
    while True:
        params = {"metric": "level", "limit": 2, **({"cursor": cursor} if cursor else {})}
        page = client.get(url, params=params, headers=sites).json()
        seen += [item["value"] for item in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == ["5", "4", "3", "2", "1"]
    window = {"from": (t0 + timedelta(minutes=1)).isoformat(), "to": (t0 + timedelta(minutes=2)).isoformat()}
    assert [i["value"] for i in client.get(url, params=window, headers=sites).json()["items"]] == ["3", "2"]
    everything = client.get(url, headers=sites).json()["items"]
    assert len(everything) == 6 and {i["channel"] for i in everything} == {CODE}
    naive = client.get(url, params={"from": "2026-11-01T00:00:00"}, headers=sites)
    assert paths(problem(naive, 422, "validation")) == ["$.from"]
    problem(client.get(url, params={"cursor": "bm90LWEtY3Vyc29y"}, headers=sites), 422, "validation")
    assert client.get("/api/v1/devices/nobody/readings", headers=sites).json()["items"] == []
