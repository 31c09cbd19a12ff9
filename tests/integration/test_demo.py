"""The demo data set loads through the services on both databases, and loads once."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import distinct, func, select

from legato.api.app import create_app
from legato.bootstrap import Runtime
from legato.demo import DemoSummary, demo_dataset, load_demo
from legato.domain.lifecycle import OrderStatus
from legato.store import tables as t
from legato.store.apikeys import create_key
from legato.store.queries import count_orders, reading


def _counts(rt: Runtime) -> dict[str, Any]:
    """What the database holds, by plain SQL counts."""
    o = t.orders

    def scalar(query: Any) -> Any:
        with reading(rt.engine) as conn:
            return conn.execute(query).scalar_one()

    with reading(rt.engine) as conn:
        statuses = dict(conn.execute(select(o.c.status, func.count()).group_by(o.c.status)).all())
        channel_types = set(conn.execute(select(t.channels.c.type).distinct()).scalars())
    return {
        "channels": scalar(select(func.count()).select_from(t.channels)),
        "channel_types": channel_types,
        "products": scalar(select(func.count()).select_from(t.products)),
        "pricelists": scalar(select(func.count()).select_from(t.pricelists)),
        "accounts": scalar(select(func.count()).select_from(t.accounts)),
        "accounts_with_pricelist": scalar(
            select(func.count()).select_from(t.accounts).where(t.accounts.c.pricelist_id.is_not(None))
        ),
        "orders": count_orders(rt.engine),
        "demo_orders": scalar(select(func.count()).select_from(o).where(o.c.external_ref.like("DEMO-%"))),
        "orders_from_quotes": scalar(select(func.count()).select_from(o).where(o.c.quote_id.is_not(None))),
        "statuses": statuses,
        "currencies": scalar(select(func.count(distinct(o.c.currency)))),
        "guest_orders": scalar(select(func.count()).select_from(o).where(o.c.account_id.is_(None))),
        "paid_orders": scalar(select(func.count()).select_from(o).where(o.c.payment_status == "paid")),
        "quotes": scalar(select(func.count()).select_from(t.quotes)),
        "converted_quotes": scalar(
            select(func.count()).select_from(t.quotes).where(t.quotes.c.status == "converted")
        ),
        "quote_statuses": scalar(select(func.count(distinct(t.quotes.c.status)))),
        "timeline": scalar(select(func.count()).select_from(t.order_timeline)),
        "outbox": scalar(select(func.count()).select_from(t.outbox)),
        "lines": scalar(select(func.count()).select_from(t.order_lines)),
    }


def test_the_demo_plan_is_the_same_on_every_run() -> None:
    assert repr(demo_dataset()) == repr(demo_dataset())


def test_the_demo_loads_a_realistic_data_set_once_however_often_it_runs(runtime: Runtime) -> None:
    calls: list[tuple[str, int, int]] = []
    first = load_demo(runtime, progress=lambda stage, done, total: calls.append((stage, done, total)))

    assert first == DemoSummary(channels=6, products=50, accounts=30, pricelists=5, orders_created=500,
                                orders_existing=0, quotes=10, quotes_created=10)  # fmt: skip
    c = _counts(runtime)
    assert c["channels"] >= 4 and len(c["channel_types"]) >= 4
    assert (c["products"], c["accounts"], c["pricelists"]) == (50, 30, 5)
    assert 0 < c["accounts_with_pricelist"] < 30
    assert c["demo_orders"] == 500
    assert c["orders"] == 500 + c["orders_from_quotes"]
    assert set(c["statuses"]) == {s.value for s in OrderStatus}, c["statuses"]
    assert c["currencies"] >= 3
    assert 0 < c["guest_orders"] < 500 and c["paid_orders"] > 0
    assert c["quotes"] == 10 and c["converted_quotes"] == c["orders_from_quotes"] > 0
    assert c["quote_statuses"] >= 4
    assert 500 <= c["lines"] <= 2500
    # every order went through the services: one created entry per order, one per later step
    assert c["timeline"] > c["orders"] and c["outbox"] > c["timeline"]
    # progress: every stage reported, ending at its total
    ends = {stage: (done, total) for stage, done, total in calls}
    assert set(ends) == {"channels", "products", "pricelists", "accounts", "orders", "quotes"}
    assert all(done == total for done, total in ends.values())
    assert ends["orders"] == (500, 500)

    again = load_demo(runtime)

    assert (again.orders_created, again.orders_existing, again.quotes_created) == (0, 500, 0)
    assert _counts(runtime) == c

    # the README's example order, posted to the loaded demo, gives the figures docs/pricing/README.md shows
    example = json.loads((Path(__file__).parents[2] / "docs" / "examples" / "order.json").read_text())
    key = create_key(runtime.engine, "docs", ["orders:write"])
    with TestClient(create_app(runtime)) as client:
        headers = {"Authorization": f"Bearer {key}"}
        placed = client.post("/api/v1/orders", json=example, headers=headers)
        assert placed.status_code == 201, placed.text
        order = placed.json()
        assert (order["account"], order["currency"]) == ("ALPENROSE", "EUR")
        assert [(ln["unit_price"], ln["price_source"]) for ln in order["lines"]] == [
            ("29.00", "contract:TRADE-EU-12:-12%"),
            ("92.36", "contract:TRADE-EU-12:-12%"),
        ]
        assert order["totals"] == {"subtotal": "208.36", "discount": "5.00", "shipping": "12.50",
                                   "tax": "2.63", "grand_total": "218.49", "points": "0.00"}  # fmt: skip
        again = client.post("/api/v1/orders", json=example, headers=headers)
        assert again.status_code == 200 and again.json()["id"] == order["id"]
