"""build_context on both databases: an order with its account, lines and products, as the
documented schema says, in a few statements; the account's open balance and newness; guests;
status changes; quotes. And the documented conditions evaluated on what it builds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from api_helpers import outbox_rows, place
from fastapi.testclient import TestClient

from legato.bootstrap import Runtime
from legato.domain.errors import NotFound
from legato.store.db import recording_statements
from legato.workflow.conditions import compile_condition
from legato.workflow.context import Context, build_context, context_schema

H = dict[str, str]


def conforms(value: Any, node: dict[str, Any], path: str) -> None:
    """``value`` has the documented shape of ``node`` (money as Decimal, times aware)."""
    kind = node["type"]
    expected = {"int": int, "string": str, "bool": bool, "timestamp": datetime, "list": list, "map": dict}
    if kind == "double":
        assert isinstance(value, Decimal | float) and not isinstance(value, bool), (path, value)
    elif kind in expected:
        assert isinstance(value, expected[kind]), (path, value)
    if kind == "timestamp":
        assert value.tzinfo is not None, path
    if kind == "list":
        for i, item in enumerate(value):
            conforms(item, node["items"], f"{path}[{i}]")
    if kind == "map" and "fields" in node:
        fields = node["fields"]
        extra = set(value) - set(fields)
        assert not extra or "values" in node, (path, extra)
        for name, child in fields.items():
            if name in value:
                conforms(value[name], child, f"{path}.{name}")
            else:
                assert child.get("optional") or not value, f"{path}.{name} is missing"


def check_shape(ctx: dict[str, Any], trigger: str) -> None:
    schema = context_schema(trigger)
    assert set(ctx) == set(schema), (set(ctx), set(schema))
    for name, node in schema.items():
        conforms(ctx[name], node, name)


def event(rt: Runtime, event_type: str, index: int = -1) -> dict[str, Any]:
    row = outbox_rows(rt, event_type)[index]
    return {
        "id": row.id,
        "type": row.event_type,
        "aggregate_type": row.aggregate_type,
        "aggregate_id": row.aggregate_id,
        "payload": row.payload,
    }


def context(rt: Runtime, ev: dict[str, Any], now: datetime | None = None) -> Context:
    with rt.engine.connect() as conn:
        return build_context(conn, ev, now=now)


@pytest.fixture
def world(client: TestClient, admin: H) -> H:
    """A trade channel and a web shop, two products with tags and categories, a gold account."""

    def post(path: str, body: dict[str, Any]) -> None:
        r = client.post(path, json=body, headers=admin)
        assert r.status_code == 201, r.text

    post(
        "/api/v1/channels",
        {
            "code": "B2B-EU",
            "name": "Trade",
            "type": "b2b",
            "adapter": "portal",
            "currency": "EUR",
            "settings": {"match_keys": ["code"], "on_no_match": "reject"},
        },
    )
    post("/api/v1/channels", {"code": "WEB", "name": "Shop", "type": "ecommerce", "currency": "EUR"})
    post(
        "/api/v1/products",
        {
            "sku": "DRILL-18V",
            "name": "Cordless drill 18 V",
            "prices": {"EUR": "149.00"},
            "category": "tools",
            "tags": ["power-tools"],
        },
    )
    post(
        "/api/v1/products",
        {
            "sku": "GLASS-SET-6",
            "name": "Glass set",
            "prices": {"EUR": "34.45"},
            "category": "kitchen",
            "tags": ["fragile", "kitchen"],
        },
    )
    post(
        "/api/v1/accounts",
        {
            "code": "ACME-DE",
            "name": "Acme Werkzeuge GmbH",
            "currency": "EUR",
            "tier": "gold",
            "region": "EU",
            "erp_ref": "C-10442",
            "credit_limit": "10000.00",
            "payment_terms": "net30",
            "properties": {"segment": "wholesale"},
        },
    )
    return admin


def trade_order(client: TestClient, h: H, ref: str, *lines: tuple[str, int], **extra: Any) -> dict[str, Any]:
    body = {
        "channel": "B2B-EU",
        "customer": {"code": "ACME-DE"},
        "external_reference": ref,
        "lines": [{"sku": s, "quantity": q} for s, q in lines],
        **extra,
    }
    return place(client, h, body)


def test_an_order_event_has_the_documented_context_in_three_statements(
    runtime: Runtime, client: TestClient, world: H
) -> None:
    first = trade_order(client, world, "PO-1", ("DRILL-18V", 2))  # open, unpaid: in the open balance
    paid = trade_order(client, world, "PO-2", ("DRILL-18V", 1))
    cancelled = trade_order(client, world, "PO-3", ("DRILL-18V", 3))
    for path, body in (
        (f"/api/v1/orders/{paid['number']}/tracks", {"track": "payment", "to": "paid"}),
        (f"/api/v1/orders/{cancelled['number']}/transitions", {"to": "cancelled"}),
    ):
        assert client.post(path, json=body, headers=world).status_code == 200
    order = trade_order(
        client,
        world,
        "PO-7781",
        ("DRILL-18V", 25),
        ("GLASS-SET-6", 40),
        shipping_address={
            "name": "Goods In",
            "line1": "1 Platz",
            "city": "München",
            "postcode": "80331",
            "country": "DE",
            "region": "BY",
        },
        tags=["trade"],
        priority=1,
    )
    now, created = datetime.now(UTC), event(runtime, "order.created")
    with recording_statements(runtime.engine) as statements:
        ctx = context(runtime, created, now)
    queries = [q for q in statements if not q.startswith("BEGIN")]  # SQLite's BEGIN IMMEDIATE
    assert len(queries) == 3, queries  # order + channel + account, lines + products, open balance

    check_shape(ctx, "order.created")
    o = ctx["order"]
    assert {
        k: o[k] for k in ("id", "number", "status", "currency", "tags", "priority", "external_reference")
    } == {
        "id": order["id"],
        "number": order["number"],
        "status": "created",
        "currency": "EUR",
        "tags": ["trade"],
        "priority": 1,
        "external_reference": "PO-7781",
    }
    assert o["channel"] == {"code": "B2B-EU", "type": "b2b", "adapter": "portal"}
    assert o["total"] == Decimal(order["totals"]["grand_total"]) and o["subtotal"] == Decimal("5103.00")
    assert [
        (ln["sku"], ln["quantity"], ln["unit_price"], ln["tags"], ln["category"]) for ln in o["lines"]
    ] == [
        ("DRILL-18V", 25, Decimal("149.00"), ["power-tools"], "tools"),
        ("GLASS-SET-6", 40, Decimal("34.45"), ["fragile", "kitchen"], "kitchen"),
    ]
    assert o["shipping_address"] == {"country": "DE", "region": "BY", "city": "München", "postcode": "80331"}
    assert "billing_address" not in o
    assert o["tracks"] == {"payment": "unpaid", "fulfilment": "unfulfilled", "invoice": "not_invoiced"}
    assert o["created_at"] <= now and 0 <= o["age_hours"] < 0.1
    assert ctx["account"] == {
        "code": "ACME-DE",
        "name": "Acme Werkzeuge GmbH",
        "tier": "gold",
        "region": "EU",
        "currency": "EUR",
        "erp_ref": "C-10442",
        "payment_terms": "net30",
        "credit_limit": Decimal("10000.00"),
        "open_balance": Decimal(first["totals"]["grand_total"]),
        "properties": {"segment": "wholesale"},
        "is_new": True,  # created just now
    }
    assert ctx["event"] == {
        "type": "order.created",
        "id": ctx["event"]["id"],
        "order_id": order["id"],
        "number": order["number"],
        "channel": "B2B-EU",
        "status": "created",
        "currency": "EUR",
        "grand_total": Decimal(order["totals"]["grand_total"]),
        "account": "ACME-DE",
        "external_reference": "PO-7781",
    }
    assert ctx["now"] == now and ctx["today"]["hour"] == now.hour

    for expr, expected in [
        ("order.total > 5000", True),
        ('order.lines.exists(l, "fragile" in l.tags)', True),
        ("order.channel.type == 'b2b' && account.open_balance + order.total > account.credit_limit", False),
        ("account.open_balance + order.total == 5401.0", True),  # 298.00 open + 5,103.00 (no tax set up)
        ("has(account.code) && !has(account.erp_ref)", False),
        ("has(order.shipping_address) && order.shipping_address.country in ['CH', 'NO', 'GB']", False),
        ("account.properties.segment == 'wholesale' && event.grand_total == order.total", True),
    ]:
        assert compile_condition(expr, "order.created").evaluate(ctx) is expected, expr


def test_an_account_is_new_for_a_day_or_for_its_first_order(
    runtime: Runtime, client: TestClient, world: H
) -> None:
    trade_order(client, world, "PO-1", ("DRILL-18V", 1))
    trade_order(client, world, "PO-2", ("DRILL-18V", 1))
    later = datetime.now(UTC) + timedelta(days=2)
    first, second = event(runtime, "order.created", 0), event(runtime, "order.created", 1)
    assert context(runtime, first, later)["account"]["is_new"] is True  # its first order
    assert context(runtime, second, later)["account"]["is_new"] is False
    assert context(runtime, second)["account"]["is_new"] is True  # the account is a day old at most
    # the first order's balance leaves itself out and counts the second (open, unpaid)
    assert context(runtime, first)["account"]["open_balance"] == Decimal("149.00")
    assert context(runtime, first, later)["order"]["age_hours"] >= 47.9


def test_a_guest_order_has_an_empty_account_and_no_optional_fields(
    runtime: Runtime, client: TestClient, world: H
) -> None:
    place(
        client,
        world,
        {
            "channel": "WEB",
            "customer": {"email": "guest@example.com"},
            "lines": [{"sku": "GLASS-SET-6", "quantity": 1}],
        },
    )
    ctx = context(runtime, event(runtime, "order.created"))
    check_shape(ctx, "order.created")
    assert ctx["account"] == {}
    assert not {"external_reference", "shipping_address", "billing_address"} & set(ctx["order"])
    assert ctx["order"]["channel"]["type"] == "ecommerce"
    assert compile_condition("has(account.code) && account.is_new", "order.created").evaluate(ctx) is False
    assert (
        compile_condition("account.tier == 'gold'", "order.created").matches(ctx) is False
    )  # error: no match


def test_a_status_change_shows_from_to_and_reason(runtime: Runtime, client: TestClient, world: H) -> None:
    order = trade_order(client, world, "PO-9", ("DRILL-18V", 1))
    r = client.post(
        f"/api/v1/orders/{order['number']}/transitions",
        json={"to": "on_hold", "reason": "check"},
        headers=world,
    )
    assert r.status_code == 200, r.text
    ctx = context(runtime, event(runtime, "order.status_changed"))
    check_shape(ctx, "order.status_changed")
    assert ctx["order"]["status"] == "on_hold"
    assert {k: ctx["event"][k] for k in ("from", "to", "reason")} == {
        "from": "created",
        "to": "on_hold",
        "reason": "check",
    }
    assert ctx["event"]["actor"].startswith("apikey:")
    assert compile_condition(
        'event.to == "on_hold" && event.from == "created"', "order.status_changed"
    ).evaluate(ctx)


def test_quote_events_show_the_quote_and_a_conversion_shows_the_new_order_too(
    runtime: Runtime, client: TestClient, world: H
) -> None:
    r = client.post(
        "/api/v1/quotes",
        headers=world,
        json={
            "channel": "B2B-EU",
            "customer": {"code": "ACME-DE"},
            "valid_until": "2099-12-31",
            "lines": [{"sku": "DRILL-18V", "quantity": 100}],
        },
    )
    assert r.status_code == 201, r.text
    quote = r.json()
    ctx = context(runtime, event(runtime, "quote.created"))
    check_shape(ctx, "quote.created")
    assert ctx["quote"]["number"] == quote["number"] and ctx["quote"]["valid_until"] == "2099-12-31"
    assert (
        ctx["quote"]["total"] == Decimal(quote["totals"]["grand_total"])
        and ctx["account"]["code"] == "ACME-DE"
    )
    assert compile_condition("quote.total > 10000.0 && account.tier == 'gold'", "quote.created").evaluate(ctx)
    for to in ("accepted",):
        assert client.post(
            f"/api/v1/quotes/{quote['number']}/transitions", json={"to": to}, headers=world
        ).is_success
    assert client.post(f"/api/v1/quotes/{quote['number']}/convert", headers=world).status_code == 201
    ctx = context(runtime, event(runtime, "quote.converted"))
    check_shape(ctx, "quote.converted")
    assert ctx["order"]["id"] == ctx["quote"]["order_id"] == ctx["event"]["order_id"]
    assert ctx["order"]["total"] == ctx["quote"]["total"]


def test_an_event_naming_a_missing_order_is_not_found_and_others_need_no_order(runtime: Runtime) -> None:
    with pytest.raises(NotFound):
        context(
            runtime, {"type": "order.created", "aggregate_type": "order", "aggregate_id": 999, "payload": {}}
        )
    ctx = context(runtime, {"type": "schedule", "payload": {"slot": "2026-11-23T18:00:00+00:00"}})
    check_shape(ctx, "schedule")
    assert ctx["event"] == {"type": "schedule", "slot": datetime(2026, 11, 23, 18, tzinfo=UTC)}
