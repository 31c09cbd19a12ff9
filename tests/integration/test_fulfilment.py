"""Fulfilment orders in the store, on both databases: created per location and per supplier,
moved by idempotent events that ship the stock, rolled up to the order (its fulfilment track,
processing, automatic completion), held, released and cancelled, and cancelled with the order."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from api_helpers import outbox_rows
from fulfilment_helpers import (
    ACTOR,
    allocate,
    assert_ledger_balanced,
    event,
    fos,
    level,
    now,
    order,
    order_row,
    pickup_at,
    stocked,
)
from sqlalchemy import select

from legato.bootstrap import Runtime
from legato.domain.errors import IllegalTransition
from legato.store import fulfilment as fs
from legato.store import stock
from legato.store.allocation import allocate_order, in_transaction
from legato.store.db import write_lock
from legato.store.fulfilment_cancel import SqlFulfilment
from legato.store.inventory_tables import (
    allocations,
    backorders,
    fulfilment_events,
    fulfilment_lines,
    stock_movements,
)


@pytest.fixture
def wh(runtime: Runtime, shop: dict[str, str]) -> dict[str, str]:
    stocked(runtime)
    return shop


def rows(rt: Runtime, query: Any) -> list[Any]:
    with rt.engine.connect() as conn:
        return list(conn.execute(query))


def test_an_order_split_over_two_warehouses_gets_one_fo_per_location(
    runtime: Runtime, client: Any, wh: dict[str, str]
) -> None:
    oid = order(client, wh, ("TEA-100", 2), ("MUG-200", 1))
    ids = allocate(runtime, oid)
    legs = fos(runtime, oid)
    assert [(f.id, f.seq, f.location, f.kind, f.status) for f in legs] == [
        (ids[0], 1, "WH-LDN", "ship", "created"),
        (ids[1], 2, "WH-MAN", "ship", "created"),
    ]
    lines = rows(runtime, select(fulfilment_lines).order_by(fulfilment_lines.c.fulfilment_order_id))
    assert [(ln.fulfilment_order_id, ln.order_line_no, ln.sku, ln.quantity) for ln in lines] == [
        (ids[0], 1, "TEA-100", Decimal(2)),
        (ids[1], 2, "MUG-200", Decimal(1)),
    ]
    linked = rows(
        runtime, select(allocations.c.line_no, allocations.c.fulfilment_order_id).order_by("line_no")
    )
    assert [tuple(r) for r in linked] == [(1, ids[0]), (2, ids[1])]
    created = [r.payload for r in outbox_rows(runtime, "fulfilment.created")]
    number = f"SO-{oid:06d}"
    assert [p["fulfilment_order"]["number"] for p in created] == [f"{number}-F1", f"{number}-F2"]
    first = created[0]["fulfilment_order"]
    assert (first["order_number"], first["location"], first["kind"], first["channel"]) == (
        number, "WH-LDN", "ship", "WEB"
    )  # fmt: skip
    assert first["lines"] == [{"line_no": 1, "order_line_no": 1, "sku": "TEA-100", "supplier_sku": None,
                               "name": "Tea-100", "quantity": "2", "shipped": "0"}]  # fmt: skip
    assert first["delivery_address"]["city"] == "Leeds"
    with write_lock(runtime.engine), runtime.engine.begin() as conn:
        assert fs.create_for_order(conn, oid, at=now(), actor=ACTOR) == []  # nothing left to group


def test_a_mixed_order_sends_warehouse_lines_to_the_warehouse_and_dropship_lines_to_the_supplier(
    runtime: Runtime, client: Any, wh: dict[str, str]
) -> None:
    oid = order(client, wh, ("TEA-100", 1), ("POT-300", 2))
    ship_id, drop_id = allocate(runtime, oid)
    legs = {f.id: f for f in fos(runtime, oid)}
    assert (legs[drop_id].location, legs[drop_id].kind, legs[drop_id].vendor) == (
        "SUP-ACME",
        "dropship",
        "Acme Supplies",
    )
    assert (legs[ship_id].location, legs[ship_id].kind) == ("WH-LDN", "ship")
    drop_doc = next(
        r.payload["fulfilment_order"] for r in outbox_rows(runtime, "fulfilment.created")
        if r.payload["fulfilment_order"]["id"] == drop_id
    )  # fmt: skip
    assert [(ln["sku"], ln["supplier_sku"], ln["quantity"]) for ln in drop_doc["lines"]] == [
        ("POT-300", "AC-POT-3", "2")
    ]
    movements_before = len(rows(runtime, select(stock_movements)))
    event(runtime, drop_id, "released", key="acme-1", external_ref="ACME-555")
    event(runtime, drop_id, "dispatched", key="acme-2", tracking=[{"carrier": "UPS", "number": "1Z9"}])
    assert len(rows(runtime, select(stock_movements))) == movements_before  # the supplier's stock, not ours
    assert order_row(runtime, oid).fulfilment_status == "partially_fulfilled"
    event(runtime, ship_id, "dispatched", key="wh-1")
    assert level(runtime, "WH-LDN", "TEA-100") == (Decimal(9), Decimal(0))
    assert order_row(runtime, oid).fulfilment_status == "fulfilled"
    event(runtime, drop_id, "delivered", key="acme-3")
    assert order_row(runtime, oid).status == "processing"
    event(runtime, ship_id, "delivered", key="wh-2")
    assert order_row(runtime, oid).status == "completed"
    drop = fos(runtime, oid)[1]
    assert (drop.external_ref, drop.tracking) == ("ACME-555", [{"carrier": "UPS", "number": "1Z9"}])
    assert_ledger_balanced(runtime)


def test_an_event_applies_once_per_event_id(runtime: Runtime, client: Any, wh: dict[str, str]) -> None:
    oid = order(client, wh, ("TEA-100", 3))
    [fo] = allocate(runtime, oid)
    first = event(runtime, fo, "dispatched", key="evt-77")
    again = event(runtime, fo, "dispatched", key="evt-77")
    assert (first.applied, again.applied, again.duplicate) == (True, False, True)
    shipments = rows(runtime, select(stock_movements).where(stock_movements.c.kind == "shipment"))
    assert [(m.on_hand_delta, m.reserved_delta, m.fulfilment_order_id) for m in shipments] == [
        (Decimal(-3), Decimal(-3), fo)
    ]
    assert level(runtime, "WH-LDN", "TEA-100") == (Decimal(7), Decimal(0))
    assert [e.key for e in rows(runtime, select(fulfilment_events))] == ["evt-77"]
    assert len(outbox_rows(runtime, "fulfilment.status_changed")) == 1
    assert_ledger_balanced(runtime)


def test_the_fos_roll_up_to_the_order_which_completes_when_every_fo_has_closed(
    runtime: Runtime, client: Any, wh: dict[str, str]
) -> None:
    oid = order(client, wh, ("TEA-100", 2), ("MUG-200", 1))
    ldn, man = allocate(runtime, oid)
    assert (order_row(runtime, oid).status, order_row(runtime, oid).fulfilment_status) == (
        "created",
        "unfulfilled",
    )
    event(runtime, ldn, "released")
    assert order_row(runtime, oid).status == "processing"
    event(runtime, ldn, "dispatched")
    assert order_row(runtime, oid).fulfilment_status == "partially_fulfilled"
    event(runtime, man, "picking")
    event(runtime, man, "dispatched")
    assert order_row(runtime, oid).fulfilment_status == "fulfilled"
    event(runtime, ldn, "delivered")
    assert order_row(runtime, oid).status == "processing"  # one leg still on its way
    event(runtime, man, "delivered")
    assert order_row(runtime, oid).status == "completed"
    moves = [(r.payload["from"], r.payload["to"]) for r in outbox_rows(runtime, "order.status_changed")]
    assert moves == [("created", "processing"), ("processing", "completed")]
    tracks = [(r.payload["from"], r.payload["to"]) for r in outbox_rows(runtime, "order.track_changed")]
    assert tracks == [("unfulfilled", "partially_fulfilled"), ("partially_fulfilled", "fulfilled")]
    assert len(outbox_rows(runtime, "fulfilment.status_changed")) == 6
    assert_ledger_balanced(runtime)


def test_a_backordered_order_is_not_complete_while_units_wait(
    runtime: Runtime, client: Any, wh: dict[str, str]
) -> None:
    oid = order(client, wh, ("TEA-100", 12))  # 10 at WH-LDN, 2 wait (the store does not ship)
    [fo] = allocate(runtime, oid)
    event(runtime, fo, "dispatched")
    event(runtime, fo, "delivered")
    row = order_row(runtime, oid)
    assert (row.status, row.fulfilment_status) == ("processing", "partially_fulfilled")
    stock.receive(runtime.engine, "WH-LDN", "TEA-100", Decimal(5), actor=ACTOR)  # fills the backorder
    second = [f for f in fos(runtime, oid) if f.id != fo]
    assert [(f.seq, f.location) for f in second] == [(2, "WH-LDN")]
    event(runtime, second[0].id, "dispatched")
    event(runtime, second[0].id, "delivered")
    assert (order_row(runtime, oid).status, order_row(runtime, oid).fulfilment_status) == (
        "completed",
        "fulfilled",
    )
    assert_ledger_balanced(runtime)


def test_a_pickup_fo_is_collected_at_the_store_and_never_dispatched(
    runtime: Runtime, client: Any, wh: dict[str, str]
) -> None:
    oid = order(client, wh, ("TEA-100", 2))
    pickup_at(runtime, oid, "STORE-LDS")
    [fo] = allocate(runtime, oid)
    [leg] = fos(runtime, oid)
    assert (leg.location, leg.kind) == ("STORE-LDS", "pickup")
    with pytest.raises(IllegalTransition, match="collected at the store, never dispatched"):
        event(runtime, fo, "dispatched")
    event(runtime, fo, "packed")
    event(runtime, fo, "collected")
    assert level(runtime, "STORE-LDS", "TEA-100") == (Decimal(1), Decimal(0))
    row = order_row(runtime, oid)
    assert (row.status, row.fulfilment_status) == ("completed", "fulfilled")
    assert_ledger_balanced(runtime)


def test_hold_release_and_cancel_and_a_dispatched_fo_refuses_both(
    runtime: Runtime, client: Any, wh: dict[str, str]
) -> None:
    oid = order(client, wh, ("TEA-100", 2), ("MUG-200", 1))
    ldn, man = allocate(runtime, oid)
    event(runtime, ldn, "picking")
    with write_lock(runtime.engine), runtime.engine.begin() as conn:
        held = fs.hold(conn, ldn, "customer asked to wait", at=now(), actor=ACTOR)
    assert (held.from_status, held.status) == ("picking", "on_hold")
    [leg] = [f for f in fos(runtime, oid) if f.id == ldn]
    assert (leg.status, leg.held_from, leg.reason) == ("on_hold", "picking", "customer asked to wait")
    with write_lock(runtime.engine), runtime.engine.begin() as conn:
        assert fs.release(conn, ldn, at=now(), actor=ACTOR).status == "picking"
        fs.hold(conn, ldn, "quality flag", at=now(), actor=ACTOR)
        fs.cancel(conn, ldn, "damaged stock", at=now(), actor=ACTOR)
    assert level(runtime, "WH-LDN", "TEA-100") == (Decimal(10), Decimal(0))  # its reservation went back
    event(runtime, man, "dispatched")
    for attempt in (fs.hold, fs.cancel):
        with (
            pytest.raises(IllegalTransition, match=r"already dispatched.*neither held nor cancelled"),
            write_lock(runtime.engine),
            runtime.engine.begin() as conn,
        ):
            attempt(conn, man, "too late", at=now(), actor=ACTOR)
    assert [f.status for f in fos(runtime, oid)] == ["cancelled", "dispatched"]
    assert_ledger_balanced(runtime)


def test_cancelling_an_order_releases_its_reservations_and_cancels_its_open_fos(
    runtime: Runtime, client: Any, wh: dict[str, str]
) -> None:
    oid = order(client, wh, ("TEA-100", 12), ("MUG-200", 1))  # TEA: 10 reserved, 2 backordered
    ldn, man = allocate(runtime, oid)
    event(runtime, man, "dispatched")
    assert rows(runtime, select(backorders))
    r = client.post(
        f"/api/v1/orders/{oid}/transitions", json={"to": "cancelled", "reason": "fraud"}, headers=wh
    )
    assert r.status_code == 200, r.text
    assert [(f.id, f.status, f.reason) for f in fos(runtime, oid)] == [
        (ldn, "cancelled", "fraud"),
        (man, "dispatched", None),
    ]
    assert level(runtime, "WH-LDN", "TEA-100") == (Decimal(10), Decimal(0))
    assert level(runtime, "WH-MAN", "MUG-200") == (Decimal(4), Decimal(0))  # shipped before: stays shipped
    assert rows(runtime, select(backorders)) == []
    assert_ledger_balanced(runtime)


def test_units_a_cancellation_frees_go_to_the_order_waiting_for_them(
    runtime: Runtime, client: Any, wh: dict[str, str]
) -> None:
    first = order(client, wh, ("TEA-100", 10))  # takes all 10 at WH-LDN
    second = order(client, wh, ("TEA-100", 4))  # waits for 4
    allocate(runtime, first)
    assert allocate(runtime, second) == []
    assert [(b.order_id, b.quantity) for b in rows(runtime, select(backorders))] == [(second, Decimal(4))]
    r = client.post(
        f"/api/v1/orders/{first}/transitions", json={"to": "cancelled", "reason": "customer"}, headers=wh
    )
    assert r.status_code == 200, r.text
    assert rows(runtime, select(backorders)) == []  # filled by the freed units, in the same commit
    [leg] = fos(runtime, second)
    assert (leg.location, leg.status) == ("WH-LDN", "created")
    assert level(runtime, "WH-LDN", "TEA-100") == (Decimal(10), Decimal(4))
    assert_ledger_balanced(runtime)


def test_units_a_cancelled_fo_frees_go_to_the_order_waiting_for_them(
    runtime: Runtime, client: Any, wh: dict[str, str]
) -> None:
    first = order(client, wh, ("TEA-100", 10))
    second = order(client, wh, ("TEA-100", 3))
    [leg] = allocate(runtime, first)
    allocate(runtime, second)
    with write_lock(runtime.engine), runtime.engine.begin() as conn:
        fs.cancel(conn, leg, "damaged in the warehouse", at=now(), actor=ACTOR)
    [waiting_leg] = fos(runtime, second)
    assert (waiting_leg.location, waiting_leg.status) == ("WH-LDN", "created")
    assert rows(runtime, select(backorders)) == []
    assert level(runtime, "WH-LDN", "TEA-100") == (Decimal(10), Decimal(3))
    assert_ledger_balanced(runtime)


def test_cancelled_lines_leave_their_fo_and_an_fo_left_empty_is_cancelled(
    runtime: Runtime, client: Any, wh: dict[str, str]
) -> None:
    stock.receive(runtime.engine, "WH-LDN", "MUG-200", Decimal(4), actor=ACTOR)
    oid = order(client, wh, ("TEA-100", 2), ("MUG-200", 1))
    [_] = allocate(runtime, oid)  # one location has both
    with write_lock(runtime.engine), runtime.engine.begin() as conn:
        SqlFulfilment(conn).lines_cancelled(oid, [2], now(), ACTOR, "out of fashion")
    assert level(runtime, "WH-LDN", "MUG-200") == (Decimal(4), Decimal(0))
    assert level(runtime, "WH-LDN", "TEA-100") == (Decimal(10), Decimal(2))
    lines = rows(
        runtime, select(fulfilment_lines.c.order_line_no, fulfilment_lines.c.quantity).order_by("line_no")
    )
    assert [tuple(r) for r in lines] == [(1, Decimal(2)), (2, Decimal(0))]
    assert fos(runtime, oid)[0].status == "created"
    with write_lock(runtime.engine), runtime.engine.begin() as conn:
        SqlFulfilment(conn).lines_cancelled(oid, [1], now(), ACTOR, None)
    assert fos(runtime, oid)[0].status == "cancelled"
    assert level(runtime, "WH-LDN", "TEA-100") == (Decimal(10), Decimal(0))
    assert_ledger_balanced(runtime)


def test_fulfilment_orders_created_by_many_at_once_are_created_once(
    runtime: Runtime, client: Any, wh: dict[str, str]
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    oid = order(client, wh, ("TEA-100", 2), ("POT-300", 1))  # a warehouse leg and a dropship leg
    in_transaction(runtime.engine, lambda c: allocate_order(c, oid, at=now(), actor=ACTOR))

    def create(_: int) -> list[int]:
        return in_transaction(runtime.engine, lambda c: fs.create_for_order(c, oid, at=now(), actor=ACTOR))

    with ThreadPoolExecutor(6) as pool:
        made = [fo for ids in pool.map(create, range(6)) for fo in ids]
    assert len(made) == 2 and sorted(made) == sorted(f.id for f in fos(runtime, oid))
