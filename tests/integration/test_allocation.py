"""Allocation in the store on both databases: reservations, backorders, click & collect, dropship,
release, idempotency, the backorder fill and its sequence, the retry of a deadlocked transaction,
and the API."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, insert, select, text
from tests.integration.alloc_helpers import (
    NOW,
    D,
    account,
    allocs,
    balanced,
    channel,
    later,
    level,
    levels,
    location,
    order,
    product,
    receive,
    writing,
)
from tests.integration.alloc_helpers import waiting as backordered

from legato.bootstrap import Runtime
from legato.domain.errors import Conflict
from legato.store import tables as t
from legato.store.allocation import allocate_order, in_transaction, release_order
from legato.store.atp import atp
from legato.store.backorders import fill, waiting
from legato.store.inventory_tables import stock_movements, supplier_items


def _events(conn: Connection, kind: str) -> list[Any]:
    return list(conn.execute(select(t.outbox).where(t.outbox.c.event_type == kind).order_by(t.outbox.c.id)))


def _timeline(conn: Connection, oid: int) -> list[str]:
    tl = t.order_timeline
    return [r.kind for r in conn.execute(select(tl.c.kind).where(tl.c.order_id == oid).order_by(tl.c.id))]


def test_an_allocation_reserves_stock_and_records_it_on_the_order(runtime: Runtime) -> None:
    with writing(runtime.engine) as conn:
        ch = channel(conn)
        wh = location(conn, "WH1")
        receive(conn, wh, "A", 5)
        oid = order(conn, ch, [("A", 3)])
        res = allocate_order(conn, oid, at=NOW, actor="test")
    assert res.allocations == [(1, wh, "A", D(3))] and res.backordered == []
    with runtime.engine.connect() as conn:
        assert level(conn, wh, "A") == (D(5), D(3))
        assert allocs(conn, oid) == [(1, wh, "A", D(3), "single_location")]
        assert _timeline(conn, oid) == ["allocated"]
        (event,) = _events(conn, "order.allocated")
        assert (event.aggregate_type, event.aggregate_id) == ("order", oid)
        assert event.payload["allocations"][0] == {
            "line_no": 1, "location": "WH1", "location_id": wh, "sku": "A", "quantity": "3"
        }  # fmt: skip
        assert balanced(conn)


def test_what_no_location_has_is_backordered(runtime: Runtime) -> None:
    with writing(runtime.engine) as conn:
        ch = channel(conn)
        wh1, wh2 = location(conn, "WH1", 5), location(conn, "WH2", 1)
        receive(conn, wh1, "A", 3)
        receive(conn, wh2, "A", 2)
        oid = order(conn, ch, [("A", 7), ("B", 1)])
        res = allocate_order(conn, oid, at=NOW, actor="test", strategy="priority")
    assert res.allocations == [(1, wh1, "A", D(3)), (1, wh2, "A", D(2))]
    assert res.backordered == [(1, "A", D(2)), (2, "B", D(1))]
    with runtime.engine.connect() as conn:
        assert backordered(conn, oid) == {1: D(2), 2: D(1)}
        assert _timeline(conn, oid) == ["allocated", "backordered"]
        (event,) = _events(conn, "order.backordered")
        assert event.payload["lines"] == [
            {"line_no": 1, "sku": "A", "quantity": "2"}, {"line_no": 2, "sku": "B", "quantity": "1"}
        ]  # fmt: skip


def test_a_second_allocation_of_the_same_order_changes_nothing(runtime: Runtime) -> None:
    with writing(runtime.engine) as conn:
        ch = channel(conn)
        wh = location(conn, "WH1")
        receive(conn, wh, "A", 2)
        oid = order(conn, ch, [("A", 3)])
        allocate_order(conn, oid, at=NOW, actor="test")
    with writing(runtime.engine) as conn:
        again = allocate_order(conn, oid, at=NOW, actor="test")
        moves = conn.execute(select(stock_movements.c.id)).all()
    assert (again.allocations, again.backordered) == ([], [])
    with runtime.engine.connect() as conn:
        assert len(moves) == 2  # the receipt and the one reservation
        assert level(conn, wh, "A") == (D(2), D(2))
        assert backordered(conn, oid) == {1: D(1)}
        assert _timeline(conn, oid) == ["allocated", "backordered"]


def test_the_restriction_filter_keeps_out_locations_that_may_not_serve_the_order(runtime: Runtime) -> None:
    with writing(runtime.engine) as conn:
        ch = channel(conn, "WEB")
        pos_only = location(conn, "POS1", 9, channels=["POS"])
        france = location(conn, "FR1", 8, regions=["FR"])
        excluded = location(conn, "EX1", 7, atp_rules={"WEB": {"excluded": True}})
        shop = location(conn, "SHOP1", 6, ships=False, pickup=True)
        held = location(conn, "HELD", 5, safety_stock=D(1), atp_rules={"WEB": {"safety_stock": "2"}})
        ok = location(conn, "OK", 0)
        for loc in (pos_only, france, excluded, shop, held, ok):
            receive(conn, loc, "A", 5)
        # the same rule as the availability API (store.atp): only HELD (5 - 1 - 2) and OK may serve
        assert {k: q for k, q in atp(conn, ["A"], channel="WEB", region="GB")["A"].items() if q} == {
            held: D(2), ok: D(5)
        }  # fmt: skip
        oid = order(conn, ch, [("A", 4)], shipping_address={"country": "GB"})
        res = allocate_order(conn, oid, at=NOW, actor="test", strategy="priority")
    assert res.allocations == [(1, held, "A", D(2)), (1, ok, "A", D(2))]


def test_a_click_and_collect_order_is_allocated_from_its_pickup_store_only(runtime: Runtime) -> None:
    with writing(runtime.engine) as conn:
        ch = channel(conn)
        wh = location(conn, "WH1", 9)
        shop = location(conn, "SHOP1", 0, ships=False, pickup=True)
        receive(conn, wh, "A", 10)
        receive(conn, shop, "A", 1)
        oid = order(conn, ch, [("A", 2)], shipping_address={"country": "GB", "pickup_location": "SHOP1"})
        res = allocate_order(conn, oid, at=NOW, actor="test")
    assert res.allocations == [(1, shop, "A", D(1))] and res.backordered == [(1, "A", D(1))]
    with runtime.engine.connect() as conn:
        (w,) = waiting(conn, ["A"])
        assert (w.order_id, w.location_id) == (oid, shop)
    with writing(runtime.engine) as conn:  # stock at the warehouse does not fill a pickup backorder
        receive(conn, wh, "A", 5)
        assert fill(conn, skus=["A"], at=later(1), actor="test") == []
        receive(conn, shop, "A", 1)
        assert fill(conn, skus=["A"], at=later(2), actor="test") == [oid]
    with runtime.engine.connect() as conn:
        assert backordered(conn, oid) == {}


def test_dropship_skus_go_to_their_supplier_without_a_reservation(runtime: Runtime) -> None:
    with writing(runtime.engine) as conn:
        ch = channel(conn)
        wh = location(conn, "WH1")
        sup = location(conn, "ACME", 0, kind="supplier")
        conn.execute(insert(supplier_items).values(location_id=sup, sku="DS", supplier_sku="X-1"))
        receive(conn, wh, "A", 5)
        oid = order(conn, ch, [("A", 1), ("DS", 3)])
        res = allocate_order(conn, oid, at=NOW, actor="test")
    assert sorted(res.allocations) == [(1, wh, "A", D(1)), (2, sup, "DS", D(3))] and res.backordered == []
    with runtime.engine.connect() as conn:
        assert (2, sup, "DS", D(3), "dropship") in allocs(conn, oid)
        kinds = [r.kind for r in conn.execute(select(stock_movements).where(stock_movements.c.sku == "DS"))]
        assert kinds == []


def test_release_gives_the_units_back_and_drops_the_backorders(runtime: Runtime) -> None:
    with writing(runtime.engine) as conn:
        ch = channel(conn)
        wh = location(conn, "WH1")
        receive(conn, wh, "A", 4)
        receive(conn, wh, "B", 4)
        oid = order(conn, ch, [("A", 3), ("B", 6)])
        allocate_order(conn, oid, at=NOW, actor="test")
    with writing(runtime.engine) as conn:
        assert release_order(
            conn, oid, at=later(1), actor="test", line_nos=[2], reason="line cancelled"
        ) == D(4)
        assert level(conn, wh, "B") == (D(4), D(0)) and level(conn, wh, "A") == (D(4), D(3))
        assert backordered(conn, oid) == {}
        assert release_order(conn, oid, at=later(2), actor="test") == D(3)
        assert release_order(conn, oid, at=later(3), actor="test") == D(0)
    with runtime.engine.connect() as conn:
        assert level(conn, wh, "A") == (D(4), D(0))
        assert all(q == 0 for *_, q, _s in allocs(conn, oid))
        assert balanced(conn)
        assert levels(conn) == {(wh, "A"): (D(4), D(0)), (wh, "B"): (D(4), D(0))}
        assert _timeline(conn, oid)[-2:] == ["released", "released"]


def test_a_final_order_is_not_allocated(runtime: Runtime) -> None:
    with writing(runtime.engine) as conn:
        oid = order(conn, channel(conn), [("A", 1)], status="cancelled")
        with pytest.raises(Conflict):
            allocate_order(conn, oid, at=NOW, actor="test")


def _three_waiting(conn: Connection, partial: bool) -> tuple[int, list[int]]:
    ch = channel(conn, "WEB", {"partial_shipment": partial})
    wh = location(conn, "WH1")
    oids = [order(conn, ch, [("A", 4)], created_at=later(i)) for i in range(3)]
    for oid in oids:
        allocate_order(conn, oid, at=NOW, actor="test")
    return wh, oids


@pytest.mark.parametrize("partial", [True, False])
def test_a_receipt_of_10_against_3_waiting_orders_of_4(runtime: Runtime, partial: bool) -> None:
    with writing(runtime.engine) as conn:
        wh, oids = _three_waiting(conn, partial)
        receive(conn, wh, "A", 10)
        filled = fill(conn, skus=["A"], at=later(10), actor="receipt")
    with runtime.engine.connect() as conn:
        assert [backordered(conn, oid) for oid in oids[:2]] == [{}, {}]
        if partial:  # the first two whole, 2 of the third
            assert filled == oids
            assert backordered(conn, oids[2]) == {1: D(2)}
            assert level(conn, wh, "A") == (D(10), D(10))
        else:  # the third waits whole
            assert filled == oids[:2]
            assert backordered(conn, oids[2]) == {1: D(4)}
            assert level(conn, wh, "A") == (D(10), D(8))
        fos = conn.execute(select(t.metadata.tables["fulfilment_orders"].c.order_id)).scalars().all()
        assert sorted(set(fos)) == sorted(filled)
        assert _timeline(conn, oids[0])[:2] == ["backordered", "allocated"]


def test_backorders_fill_by_priority_then_tier_then_age(runtime: Runtime) -> None:
    with writing(runtime.engine) as conn:
        ch = channel(conn)
        wh = location(conn, "WH1")
        gold, silver = account(conn, "G", "gold"), account(conn, "S", "silver")
        old_silver = order(conn, ch, [("A", 1)], account_id=silver, created_at=later(0))
        new_gold = order(conn, ch, [("A", 1)], account_id=gold, created_at=later(5))
        old_gold = order(conn, ch, [("A", 1)], account_id=gold, created_at=later(1))
        urgent = order(conn, ch, [("A", 1)], priority=10, created_at=later(9))
        for oid in (old_silver, new_gold, old_gold, urgent):
            allocate_order(conn, oid, at=NOW, actor="test")
        seq = [w.order_id for w in waiting(conn, ["A"], tier_rank=["gold", "silver"])]
        assert seq == [urgent, old_gold, new_gold, old_silver]
        by_age = [w.order_id for w in waiting(conn, ["A"], sequence=["age"])]
        assert by_age == [old_silver, old_gold, new_gold, urgent]
        receive(conn, wh, "A", 2)
        assert fill(conn, skus=["A"], at=later(20), actor="test", tier_rank=["gold", "silver"]) == [
            urgent, old_gold
        ]  # fmt: skip


def test_a_deadlocked_or_serialization_failed_transaction_is_run_again(runtime: Runtime) -> None:
    if runtime.engine.dialect.name != "postgresql":
        pytest.skip("SQLite serialises writers: there is no deadlock to retry")
    attempts: list[int] = []

    def work(conn: Connection) -> str:
        attempts.append(1)
        if len(attempts) < 3:  # PostgreSQL itself aborts the transaction: SQLSTATE 40001, then 40P01
            code = "40001" if len(attempts) == 1 else "40P01"
            conn.execute(text(f"DO $$ BEGIN RAISE EXCEPTION 'boom' USING ERRCODE = '{code}'; END $$"))
        return "done"

    assert in_transaction(runtime.engine, work) == "done" and len(attempts) == 3

    def never(conn: Connection) -> None:
        conn.execute(text("DO $$ BEGIN RAISE EXCEPTION 'boom' USING ERRCODE = '40001'; END $$"))

    with pytest.raises(Exception, match="boom"):
        in_transaction(runtime.engine, never, attempts=2)


def test_the_allocation_api(client: TestClient, admin: dict[str, str], runtime: Runtime) -> None:
    with writing(runtime.engine) as conn:
        ch = channel(conn, "WEB", {"allocation": {"strategy": "priority"}})
        wh = location(conn, "WH1")
        product(conn, "A")
        receive(conn, wh, "A", 2)
        receive(conn, wh, "B", 1)
        oid = order(conn, ch, [("A", 3)])
        other = order(conn, ch, [("B", 1)])
    bad = client.post(f"/api/v1/orders/{oid}/allocate", json={"strategy": "cheapest"}, headers=admin)
    assert bad.status_code == 422 and bad.json()["errors"][0]["path"] == "$.strategy", bad.text
    r = client.post(f"/api/v1/orders/SO-{oid:06d}/allocate", headers=admin)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["strategy"] == "priority"
    assert body["allocated"] == [{"line_no": 1, "location_id": wh, "sku": "A", "quantity": "2"}]
    assert body["backordered"] == [{"line_no": 1, "sku": "A", "quantity": "1"}]
    assert len(body["fulfilment_orders"]) == 1
    r = client.post(f"/api/v1/orders/{other}/allocate", json={"strategy": "nearest"}, headers=admin)
    assert r.json()["note"] == "the ship-to address has no coordinates: allocated by location priority"
    r = client.get(f"/api/v1/orders/{oid}/allocations", headers=admin)
    assert r.status_code == 200
    assert [(a["location"], a["quantity"], a["strategy"]) for a in r.json()["allocations"]] == [
        ("WH1", "2", "priority")
    ]  # fmt: skip
    assert r.json()["backorders"] == [{"line_no": 1, "sku": "A", "quantity": "1"}]
    r = client.get("/api/v1/backorders", params={"sku": "A"}, headers=admin)
    assert [(w["order"], w["line_no"], w["quantity"]) for w in r.json()["items"]] == [
        (f"SO-{oid:06d}", 1, "1")
    ]
    assert client.get("/api/v1/backorders", params={"sku": "B"}, headers=admin).json()["items"] == []
    assert client.get("/api/v1/orders/999999/allocations", headers=admin).status_code == 404
    assert client.post("/api/v1/orders/999999/allocate", headers=admin).status_code == 404


def test_a_change_postgresql_aborts_to_break_a_deadlock_answers_503_and_retry(runtime: Runtime) -> None:
    """When PostgreSQL picks a request's transaction as a deadlock's victim (SQLSTATE 40P01) and
    nothing retried it, the API says "send it again" (503, Retry-After), not "internal error"."""
    if runtime.engine.dialect.name != "postgresql":
        pytest.skip("SQLite serialises writers: no transaction is a deadlock's victim")
    from fastapi import FastAPI

    from legato.api.problems import install

    app = FastAPI()
    install(app)

    @app.post("/change")
    def change() -> None:
        with runtime.engine.begin() as conn:  # PostgreSQL itself aborts it, as a deadlock victim
            conn.execute(text("DO $$ BEGIN RAISE EXCEPTION 'deadlock' USING ERRCODE = '40P01'; END $$"))

    @app.post("/broken")
    def broken() -> None:
        with runtime.engine.begin() as conn:
            conn.execute(text("SELECT * FROM no_such_table"))

    with TestClient(app, raise_server_exceptions=False) as c:
        r = c.post("/change")
        assert (r.status_code, r.headers["retry-after"], r.json()["code"]) == (503, "1", "retry")
        assert "nothing was written" in r.json()["detail"]
        other = c.post("/broken")  # any other database error stays an internal error
        assert (other.status_code, other.json()["code"]) == (500, "internal")
