"""The inventory API on both databases: locations and supplier items, receipts, adjustments and
returns with their ledger, the stock file, and available to promise under each ATP rule."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from api_helpers import count, key_headers, order_body, outbox_rows, paths, place, problem
from fastapi.testclient import TestClient

from legato.bootstrap import Runtime
from legato.demo import demo_dataset
from legato.demo.stock import load_stock, opening_stock
from legato.services.catalog import save_channel, save_product
from legato.store.allocation import allocate_order
from legato.store.db import write_lock

D = Decimal
DOCS = Path(__file__).resolve().parents[2] / "docs"


def _location(code: str, kind: str = "warehouse", **kw: Any) -> dict[str, Any]:
    return {"code": code, "name": f"{code} site", "kind": kind, **kw}


def _post(client: TestClient, headers: dict[str, str], path: str, body: dict[str, Any]) -> dict[str, Any]:
    r = client.post(path, json=body, headers=headers)
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def _receive(
    client: TestClient, h: dict[str, str], loc: str, sku: str, qty: str, **kw: Any
) -> dict[str, Any]:
    return _post(client, h, "/api/v1/stock/receipts", {"location": loc, "sku": sku, "quantity": qty, **kw})


def test_a_location_is_created_read_listed_and_replaced_by_its_code(
    client: TestClient, shop: dict[str, str]
) -> None:
    body = _location(
        "WH-LON", latitude="51.507400", longitude="-0.127800", priority=5, channels=["WEB"],
        regions=["gb", "IE"], safety_stock="2", atp_rules={"B2B": {"safety_stock": "1", "excluded": True}},
        address={"city": "London", "country": "GB"},
    )  # fmt: skip
    made = _post(client, shop, "/api/v1/locations", body)
    assert (made["kind"], made["regions"], made["ships"], made["pickup"]) == (
        "warehouse",
        ["GB", "IE"],
        True,
        False,
    )
    assert D(made["latitude"]) == D("51.5074") and D(made["safety_stock"]) == 2
    assert made["atp_rules"] == {"B2B": {"safety_stock": "1", "excluded": True}}
    _post(client, shop, "/api/v1/locations", _location("STORE-1", "store", pickup=True))

    got = client.get("/api/v1/locations/STORE-1", headers=shop).json()
    assert (got["ships"], got["pickup"]) == (False, True)  # a store sells in person: it does not ship
    first = client.get("/api/v1/locations?limit=1", headers=shop).json()
    second = client.get(f"/api/v1/locations?limit=1&cursor={first['next_cursor']}", headers=shop).json()
    assert [x["code"] for x in first["items"] + second["items"]] == ["WH-LON", "STORE-1"]
    assert second["next_cursor"] is None
    stores = client.get("/api/v1/locations?kind=store", headers=shop).json()["items"]
    assert [x["code"] for x in stores] == ["STORE-1"]

    r = client.put("/api/v1/locations/WH-LON", json={**body, "priority": 9, "active": False}, headers=shop)
    assert r.status_code == 200, r.text
    assert (r.json()["priority"], r.json()["active"], r.json()["id"]) == (9, False, made["id"])
    problem(client.put("/api/v1/locations/NOPE", json=_location("NOPE"), headers=shop), 404, "not_found")
    problem(client.post("/api/v1/locations", json=body, headers=shop), 409, "duplicate")


def test_a_bad_location_is_refused_with_every_field_named(client: TestClient, shop: dict[str, str]) -> None:
    bad = _location("BAD", latitude="91", channels=["WEB", "NOPE"], regions=["GB", "XX"],
                    atp_rules={"GHOST": {"excluded": True}})  # fmt: skip
    body = problem(client.post("/api/v1/locations", json=bad, headers=shop), 422, "validation")
    assert "$.latitude" in paths(body)
    fixed = {**bad, "latitude": "51.5", "longitude": "0"}
    body = problem(client.post("/api/v1/locations", json=fixed, headers=shop), 422, "validation")
    assert sorted(paths(body)) == ["$.atp_rules.GHOST", "$.channels[1]", "$.regions[1]"]
    neg = _location("NEG", safety_stock="-1", kind="depot")
    assert {"$.safety_stock", "$.kind"} <= set(paths(problem(
        client.post("/api/v1/locations", json=neg, headers=shop), 422, "validation")))  # fmt: skip
    mismatch = client.put("/api/v1/locations/BAD", json=_location("OTHER"), headers=shop)
    assert paths(problem(mismatch, 422, "validation")) == ["$.code"]


def test_supplier_items_belong_to_suppliers_only(client: TestClient, shop: dict[str, str]) -> None:
    _post(client, shop, "/api/v1/locations", _location("ACME-DS", "supplier"))
    _post(client, shop, "/api/v1/locations", _location("WH-1"))
    item = {"supplier_sku": "A-POT", "cost": "20.50", "currency": "EUR"}
    r = client.put("/api/v1/locations/ACME-DS/supplier-items/POT-300", json=item, headers=shop)
    assert r.status_code == 200, r.text
    assert r.json() == {"location": "ACME-DS", "sku": "POT-300", "supplier_sku": "A-POT", "cost": "20.50",
                        "currency": "EUR"}  # fmt: skip
    listed = client.get("/api/v1/locations/ACME-DS/supplier-items", headers=shop).json()["items"]
    assert [i["sku"] for i in listed] == ["POT-300"]

    wrong = client.put("/api/v1/locations/WH-1/supplier-items/POT-300", json=item, headers=shop)
    assert paths(problem(wrong, 422, "validation")) == ["$.location"]
    ghost = client.put("/api/v1/locations/ACME-DS/supplier-items/GHOST", json=item, headers=shop)
    assert paths(problem(ghost, 422, "unknown_sku")) == ["$.sku"]
    assert client.delete("/api/v1/locations/ACME-DS/supplier-items/POT-300", headers=shop).status_code == 204
    again = client.delete("/api/v1/locations/ACME-DS/supplier-items/POT-300", headers=shop)
    problem(again, 404, "not_found")
    # a supplier keeps no stock of its own
    refused = client.post("/api/v1/stock/receipts", json={"location": "ACME-DS", "sku": "POT-300",
                                                          "quantity": "1"}, headers=shop)  # fmt: skip
    assert paths(problem(refused, 422, "validation")) == ["$.location"]


def test_receipts_adjustments_and_returns_move_the_levels_and_write_the_ledger(
    client: TestClient, shop: dict[str, str], runtime: Runtime
) -> None:
    _post(client, shop, "/api/v1/locations", _location("WH-1"))
    got = _receive(client, shop, "WH-1", "TEA-100", "10", unit_cost="1.20", reference="PO-1")
    assert (D(got["on_hand"]), D(got["available"]), got["replayed"]) == (10, 10, False)
    adj = {"location": "WH-1", "sku": "TEA-100", "quantity": "-3", "reason": "damaged in transit"}
    assert D(_post(client, shop, "/api/v1/stock/adjustments", adj)["on_hand"]) == 7
    ret = {"location": "WH-1", "sku": "TEA-100", "quantity": "1", "reference": "RMA-9"}
    assert D(_post(client, shop, "/api/v1/stock/returns", ret)["on_hand"]) == 8

    levels = client.get("/api/v1/stock?sku=TEA-100", headers=shop).json()["items"]
    assert [(x["location"], D(x["on_hand"]), D(x["reserved"]), D(x["available"])) for x in levels] == [
        ("WH-1", 8, 0, 8)
    ]
    page = client.get("/api/v1/stock/movements?sku=TEA-100&location=WH-1&limit=2", headers=shop).json()
    rest = client.get(f"/api/v1/stock/movements?limit=2&cursor={page['next_cursor']}", headers=shop).json()
    ledger = page["items"] + rest["items"]
    assert [(m["kind"], D(m["on_hand_delta"])) for m in ledger] == [("return", 1), ("adjustment", -3),
                                                                     ("receipt", 10)]  # fmt: skip
    assert ledger[1]["reason"] == "damaged in transit" and D(ledger[1]["unit_cost"]) == D("1.20")  # FIFO cost
    assert rest["next_cursor"] is None and ledger[2]["actor"].startswith("apikey:")
    events = outbox_rows(runtime, "stock.received")
    assert [(e.aggregate_type, e.payload["kind"], e.payload["sku"]) for e in events] == [
        ("stock", "receipt", "TEA-100"), ("stock", "return", "TEA-100")]  # fmt: skip


def test_a_receipt_sent_again_with_its_idempotency_key_is_applied_once(
    client: TestClient, shop: dict[str, str], runtime: Runtime
) -> None:
    _post(client, shop, "/api/v1/locations", _location("WH-1"))
    body = {"location": "WH-1", "sku": "MUG-200", "quantity": "5"}
    headers = {**shop, "Idempotency-Key": "delivery-77"}
    first = client.post("/api/v1/stock/receipts", json=body, headers=headers)
    again = client.post("/api/v1/stock/receipts", json=body, headers=headers)
    assert (first.status_code, again.status_code) == (201, 201)
    assert count(runtime, "stock_movements", kind="receipt") == 1
    assert D(client.get("/api/v1/stock?sku=MUG-200", headers=shop).json()["items"][0]["on_hand"]) == 5


def test_an_adjustment_cannot_take_on_hand_below_what_is_reserved(
    client: TestClient, shop: dict[str, str], runtime: Runtime
) -> None:
    _post(client, shop, "/api/v1/locations", _location("WH-1"))
    _receive(client, shop, "WH-1", "TEA-100", "5")
    order = place(client, shop, order_body("WEB", ("TEA-100", 3)))
    at = datetime.now(UTC)
    with write_lock(runtime.engine), runtime.engine.begin() as conn:
        allocate_order(conn, order["id"], at=at, actor="test")
    adj = {"location": "WH-1", "sku": "TEA-100", "quantity": "-3", "reason": "count"}
    problem(client.post("/api/v1/stock/adjustments", json=adj, headers=shop), 409, "insufficient_stock")
    ok = _post(client, shop, "/api/v1/stock/adjustments", {**adj, "quantity": "-2"})
    assert (D(ok["on_hand"]), D(ok["reserved"]), D(ok["available"])) == (3, 3, 0)


def test_a_receipt_fills_waiting_backorders_in_its_own_transaction(
    client: TestClient, shop: dict[str, str], runtime: Runtime
) -> None:
    _post(client, shop, "/api/v1/locations", _location("WH-1"))
    order = place(client, shop, order_body("WEB", ("TEA-100", 4)))
    with write_lock(runtime.engine), runtime.engine.begin() as conn:
        result = allocate_order(conn, order["id"], at=datetime.now(UTC), actor="test")
    assert [(sku, qty) for _, sku, qty in result.backordered] == [("TEA-100", 4)]
    got = _receive(client, shop, "WH-1", "TEA-100", "10")
    assert got["filled_orders"] == [order["id"]]
    assert (D(got["on_hand"]), D(got["reserved"])) == (10, 4)
    assert count(runtime, "backorders") == 0
    assert outbox_rows(runtime, "stock.received")[0].payload["filled_orders"] == [order["id"]]


def test_receipts_name_the_bad_field(client: TestClient, shop: dict[str, str], runtime: Runtime) -> None:
    _post(client, shop, "/api/v1/locations", _location("WH-1"))
    for body, status, code, where in (
        ({"location": "NOPE", "sku": "TEA-100", "quantity": "1"}, 422, "validation", "$.location"),
        ({"location": "WH-1", "sku": "GHOST", "quantity": "1"}, 422, "unknown_sku", "$.sku"),
        ({"location": "WH-1", "sku": "TEA-100", "quantity": "0"}, 422, "validation", "$.quantity"),
        ({"location": "WH-1", "sku": "TEA-100", "quantity": "1", "unit_cost": "-1"}, 422, "validation",
         "$.unit_cost"),
    ):  # fmt: skip
        assert paths(
            problem(client.post("/api/v1/stock/receipts", json=body, headers=shop), status, code)
        ) == [where]
    no_reason = {"location": "WH-1", "sku": "TEA-100", "quantity": "1"}
    assert "$.reason" in paths(problem(client.post("/api/v1/stock/adjustments", json=no_reason, headers=shop),
                                       422, "validation"))  # fmt: skip
    reader = key_headers(runtime, "reader", "orders:read")
    body = {"location": "WH-1", "sku": "TEA-100", "quantity": "1"}
    problem(client.post("/api/v1/stock/receipts", json=body, headers=reader), 403, "forbidden")
    assert client.get("/api/v1/stock", headers=reader).status_code == 200
    assert count(runtime, "stock_movements") == 0


def test_the_documented_stock_file_imports_and_a_bad_file_changes_nothing(
    client: TestClient, shop: dict[str, str], runtime: Runtime
) -> None:
    for code in ("WH-LON", "WH-MAN"):
        _post(client, shop, "/api/v1/locations", _location(code))
    csv_headers = {**shop, "Content-Type": "text/csv"}
    example = (DOCS / "examples" / "stock.csv").read_text()
    r = client.post("/api/v1/stock/import", content=example, headers=csv_headers)
    assert r.status_code == 200, r.text
    rows = len(example.strip().splitlines()) - 1
    assert r.json() == {"mode": "receive", "rows": rows, "applied": rows, "replayed": 0, "unchanged": 0,
                        "filled_orders": []}  # fmt: skip
    again = client.post("/api/v1/stock/import", content=example, headers=csv_headers).json()
    assert (again["applied"], again["replayed"]) == (0, rows)  # each row has its reference: applied once
    before = count(runtime, "stock_movements")

    bad = "location,sku,quantity,unit_cost,reference\nWH-LON,TEA-100,4,,C-1\nWH-LON,GHOST,x,-1,C-1\n"
    body = problem(client.post("/api/v1/stock/import", content=bad, headers=csv_headers), 422, "validation")
    assert paths(body) == ["row 3, column C (quantity)", "row 3, column D (unit_cost)"]
    body = problem(client.post("/api/v1/stock/import", content=bad.replace(",x,-1,", ",1,,"),
                               headers=csv_headers), 422, "validation")  # fmt: skip
    assert paths(body) == ["row 3, column B (sku)"]
    assert count(runtime, "stock_movements") == before  # all or nothing

    counted = "location,sku,quantity\nWH-LON,TEA-100,3\nWH-LON,MUG-200,0\nWH-MAN,POT-300,12\n"
    done = client.post("/api/v1/stock/import?mode=set", content=counted, headers=csv_headers).json()
    assert (done["mode"], done["applied"], done["unchanged"]) == ("set", 2, 1)
    levels = {(x["location"], x["sku"]): D(x["on_hand"])
              for x in client.get("/api/v1/stock", headers=shop).json()["items"]}  # fmt: skip
    assert levels[("WH-LON", "TEA-100")] == 3 and levels[("WH-LON", "MUG-200")] == 0


def test_availability_holds_back_safety_stock_and_leaves_out_what_does_not_serve(
    client: TestClient, shop: dict[str, str]
) -> None:
    _post(client, shop, "/api/v1/locations", _location("WH-A", safety_stock="1",
                                                       atp_rules={"B2B": {"safety_stock": "2"}}))  # fmt: skip
    _post(
        client,
        shop,
        "/api/v1/locations",
        _location("WH-B", regions=["DE"], atp_rules={"WEB": {"excluded": True}}),
    )
    _post(client, shop, "/api/v1/locations", _location("SHOP-1", "store", pickup=True))
    _post(client, shop, "/api/v1/locations", _location("WH-C", channels=["MKT"]))
    for loc, qty in (("WH-A", "10"), ("WH-B", "7"), ("SHOP-1", "5"), ("WH-C", "4")):
        _receive(client, shop, loc, "TEA-100", qty)
    _receive(client, shop, "WH-A", "MUG-200", "1")  # all of it held back as safety stock

    def atp(query: str) -> dict[str, Any]:
        r = client.get(f"/api/v1/availability?{query}", headers=shop)
        assert r.status_code == 200, r.text
        return {i["sku"]: (D(i["available"]), {x["location"]: D(x["available"]) for x in i["locations"]})
                for i in r.json()["items"]}  # fmt: skip

    # no channel: every shipping location (the store does not ship), less the location's safety stock
    assert atp("sku=TEA-100&sku=MUG-200&sku=NONE") == {
        "TEA-100": (D(9 + 7 + 4), {"WH-A": 9, "WH-B": 7, "WH-C": 4}),
        "MUG-200": (D(0), {"WH-A": 0}),
        "NONE": (D(0), {}),
    }
    assert atp("sku=TEA-100&channel=WEB")["TEA-100"] == (D(9), {"WH-A": 9})  # WH-B excluded, WH-C MKT only
    assert atp("sku=TEA-100&channel=B2B")["TEA-100"] == (D(7 + 7), {"WH-A": 7, "WH-B": 7})
    assert atp("sku=TEA-100&channel=B2B&region=fr")["TEA-100"] == (D(7), {"WH-A": 7})  # WH-B ships to DE
    problem(client.get("/api/v1/availability", headers=shop), 422, "validation")


def test_the_demo_locations_and_opening_stock_load_once(client: TestClient, runtime: Runtime) -> None:
    data = demo_dataset()
    for channel in data.channels:
        save_channel(runtime.uow(), channel, create=True)
    for product in data.products:
        save_product(runtime.uow(), product, create=True)
    planned = opening_stock(data.products)
    assert load_stock(runtime, data.products) == len(planned)
    assert load_stock(runtime, data.products) == 0  # every opening receipt has its key
    headers = key_headers(runtime, "demo", "orders:read")
    kinds = {x["code"]: (x["kind"], x["ships"], x["pickup"])
             for x in client.get("/api/v1/locations", headers=headers).json()["items"]}  # fmt: skip
    assert kinds == {"WH-LON": ("warehouse", True, False), "WH-RTM": ("warehouse", True, False),
                     "STORE-LDN": ("store", False, True), "DS-SOUND": ("supplier", True, False)}  # fmt: skip
    dropship = client.get("/api/v1/locations/DS-SOUND/supplier-items", headers=headers).json()["items"]
    assert {i["sku"] for i in dropship} == {"AUD-TT-BLT", "AUD-SPK-BK"}
    sku, store_qty = next((s, q) for loc, s, q, _ in planned if loc == "STORE-LDN")
    ship = client.get(f"/api/v1/availability?sku={sku}", headers=headers).json()["items"][0]
    assert "STORE-LDN" not in {x["location"] for x in ship["locations"]}  # the store does not ship
    on_hand = {
        x["location"]: D(x["on_hand"])
        for x in client.get(f"/api/v1/stock?sku={sku}", headers=headers).json()["items"]
    }
    assert on_hand["STORE-LDN"] == store_qty


def test_the_documented_location_gives_the_documented_availability(
    client: TestClient, shop: dict[str, str]
) -> None:
    body = json.loads((DOCS / "examples" / "location.json").read_text())
    made = _post(client, shop, "/api/v1/locations", body)
    _receive(client, shop, "WH-LON", "TEA-100", "10")
    r = client.get("/api/v1/availability?sku=TEA-100&sku=MUG-200&channel=WEB&region=GB", headers=shop)
    assert r.json() == {"channel": "WEB", "region": "GB", "items": [
        {"sku": "TEA-100", "available": "7", "locations": [{"location": "WH-LON", "location_id": made["id"],
                                                            "available": "7"}]},
        {"sku": "MUG-200", "available": "0", "locations": []}]}  # fmt: skip
    assert client.get("/api/v1/availability?sku=TEA-100", headers=shop).json()["items"][0]["available"] == "8"
    assert client.get("/api/v1/availability?sku=TEA-100&channel=MKT", headers=shop).json()["items"][0] == {
        "sku": "TEA-100", "available": "0", "locations": []}  # fmt: skip
    assert client.get("/api/v1/availability?sku=TEA-100&region=DE", headers=shop).json()["items"][0][
        "locations"] == []  # fmt: skip
