"""A partial cancellation through the API, on both databases: the lines stay on the order marked
cancelled, the totals drop them, their reserved stock is released and they leave their open
fulfilment orders in the same commit; a repeat changes nothing; unknown lines, shipped lines,
every line, and a final order are refused with a precise problem."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from fulfilment_helpers import allocate, assert_ledger_balanced, event, fos, level, order, stocked
from sqlalchemy import select

from legato.bootstrap import Runtime
from legato.store.inventory_tables import fulfilment_lines
from legato.store.tables import order_lines


@pytest.fixture
def wh(runtime: Runtime, shop: dict[str, str]) -> dict[str, str]:
    stocked(runtime)  # WH-LDN: 10 TEA-100; WH-MAN: 5 MUG-200
    return shop


def cancel(client: Any, h: dict[str, str], oid: int, lines: list[Any], reason: str | None = None) -> Any:
    return client.post(
        f"/api/v1/orders/{oid}/lines/cancel", json={"lines": lines, "reason": reason}, headers=h
    )


def test_cancelling_a_line_drops_it_from_the_totals_releases_its_stock_and_takes_it_off_its_leg(
    runtime: Runtime, client: Any, wh: dict[str, str]
) -> None:
    oid = order(client, wh, ("TEA-100", 2), ("MUG-200", 1))
    before = client.get(f"/api/v1/orders/{oid}", headers=wh).json()
    ldn, man = allocate(runtime, oid)
    r = cancel(client, wh, oid, [2], "customer changed their mind")
    assert r.status_code == 200, r.text
    body = r.json()
    assert [ln["status"] for ln in body["lines"]] == ["open", "cancelled"]
    mug = before["lines"][1]
    assert Decimal(body["totals"]["grand_total"]) == Decimal(before["totals"]["grand_total"]) - Decimal(
        mug["total"]
    )
    assert level(runtime, "WH-MAN", "MUG-200") == (Decimal(5), Decimal(0))
    assert level(runtime, "WH-LDN", "TEA-100") == (Decimal(10), Decimal(2))
    legs = {f.id: f for f in fos(runtime, oid)}
    assert (legs[ldn].status, legs[man].status) == ("created", "cancelled")
    [entry] = [e for e in body["timeline"] if e["kind"] == "lines_cancelled"]
    assert (entry["reason"], entry["data"]) == ("customer changed their mind", {"lines": [2]})
    again = cancel(client, wh, oid, [2])
    assert again.status_code == 200 and again.json()["totals"] == body["totals"]  # a repeat changes nothing
    with runtime.engine.connect() as conn:
        assert [
            r.status for r in conn.execute(select(order_lines.c.status).order_by(order_lines.c.line_no))
        ] == [
            "open",
            "cancelled",
        ]
        assert conn.execute(select(fulfilment_lines.c.sku)).scalars().all().count("MUG-200") == 1
    assert_ledger_balanced(runtime)


def test_unknown_lines_shipped_lines_every_line_and_final_orders_are_refused(
    runtime: Runtime, client: Any, wh: dict[str, str]
) -> None:
    oid = order(client, wh, ("TEA-100", 2), ("MUG-200", 1))
    unknown = cancel(client, wh, oid, [1, 7])
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["path"] == "$.lines[1]" and "no line 7" in unknown.json()["detail"]
    assert cancel(client, wh, oid, []).status_code == 422
    assert cancel(client, wh, oid, ["two"]).status_code == 422
    every = cancel(client, wh, oid, [1, 2])
    assert every.status_code == 409 and "cancel the order instead" in every.json()["detail"]
    _, man = allocate(runtime, oid)
    event(runtime, man, "dispatched")
    shipped = cancel(client, wh, oid, [2])
    assert shipped.status_code == 409 and "shipped units" in shipped.json()["detail"]
    assert (
        client.get(f"/api/v1/orders/{oid}", headers=wh).json()["lines"][1]["status"] == "open"
    )  # rolled back
    done = client.post(f"/api/v1/orders/{oid}/transitions", json={"to": "cancelled"}, headers=wh)
    assert done.status_code == 200, done.text
    final = cancel(client, wh, oid, [1])
    assert final.status_code == 409 and "cannot be cancelled" in final.json()["detail"]
    assert_ledger_balanced(runtime)
