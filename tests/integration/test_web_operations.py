"""The operations board on both databases: backlog by stage and age, orders at risk of shipping late,
unshipped demand per SKU, held orders by the reason of their hold; every figure a hub link that
shows exactly its orders, and the board only for the roles that work it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from html import unescape
from typing import Any

import pytest
from api_helpers import order_body, place
from fastapi.testclient import TestClient
from sqlalchemy import update
from web_helpers import sign_in, web_client

from legato.bootstrap import Runtime
from legato.store import tables as t


@pytest.fixture
def web(runtime: Runtime) -> Iterator[TestClient]:
    with web_client(runtime) as c:
        yield c


def hub_numbers(web: TestClient, link: str) -> set[str]:
    r = web.get(unescape(link))
    assert r.status_code == 200 and "Some filters were not applied" not in r.text, link
    return set(re.findall(r'<tr data-order="(SO-\d+)"', r.text))


def move(
    client: TestClient, headers: dict[str, str], number: str, to: str, reason: str | None = None
) -> None:
    r = client.post(
        f"/api/v1/orders/{number}/transitions", json={"to": to, "reason": reason}, headers=headers
    )
    assert r.status_code == 200, r.text


def age(rt: Runtime, number: str, hours: int) -> None:
    at = datetime.now(UTC) - timedelta(hours=hours)
    with rt.engine.begin() as conn:
        conn.execute(update(t.orders).where(t.orders.c.id == int(number[3:])).values(updated_at=at))


def section(html: str, element_id: str) -> str:
    return html.split(f'id="{element_id}"')[1].split("</table>")[0]


@pytest.fixture
def floor(client: TestClient, shop: dict[str, str], runtime: Runtime) -> dict[str, Any]:
    """Two created orders, one processing for 3 days, three held (two for the same reason)."""
    n = {
        k: place(client, shop, order_body("WEB", ("TEA-100", q)))["number"]
        for k, q in (("new1", 1), ("new2", 2), ("slow", 3), ("held1", 4), ("held2", 5), ("held3", 6))
    }
    mug = place(client, shop, order_body("WEB", ("MUG-200", 7)))["number"]
    move(client, shop, mug, "processing")
    r = client.post(
        f"/api/v1/orders/{mug}/tracks", json={"track": "fulfilment", "to": "fulfilled"}, headers=shop
    )
    assert r.status_code == 200, r.text
    move(client, shop, n["slow"], "processing")
    age(runtime, n["slow"], 72 + 1)
    for key, reason in (("held1", "address check"), ("held2", "address check"), ("held3", "fraud screening")):
        move(client, shop, n[key], "on_hold", reason)
    age(runtime, n["held1"], 30)
    return {**n, "mug": mug}


def test_only_the_roles_that_work_the_floor_see_the_board(web: TestClient, runtime: Runtime) -> None:
    sign_in(web, runtime, "sales")
    assert web.get("/operations").status_code == 403
    assert 'href="/operations"' not in web.get("/orders").text
    web.cookies.clear()
    sign_in(web, runtime, "warehouse")
    r = web.get("/operations")
    assert r.status_code == 200 and 'href="/operations" aria-current="page"' in r.text
    assert "No order is on hold." in r.text and "Nothing waits to be shipped." in r.text


def test_backlog_counts_by_stage_and_age_link_to_exactly_their_orders(
    web: TestClient, runtime: Runtime, floor: dict[str, Any]
) -> None:
    sign_in(web, runtime, "viewer")
    backlog = section(web.get("/operations").text, "backlog")
    rows = dict(re.findall(r'<tr data-status="(\w+)">(.*?)</tr>', backlog, re.S))
    cells = {
        s: re.findall(
            r'<td class="num">(?:<a href="([^"]+)">(\d+)</a>|<span class="muted">(0)</span>)</td>', html
        )
        for s, html in rows.items()
    }
    counts = {s: [int(c[1] or c[2]) for c in v] for s, v in cells.items()}
    assert counts == {
        "pending_approval": [0, 0, 0, 0],
        "created": [2, 0, 0, 0],
        "on_hold": [3, 1, 1, 0],
        "processing": [2, 1, 1, 1],
    }
    assert hub_numbers(web, cells["created"][0][0]) == {floor["new1"], floor["new2"]}
    assert hub_numbers(web, cells["on_hold"][2][0]) == {floor["held1"]}
    assert hub_numbers(web, cells["processing"][3][0]) == {floor["slow"]}


def test_late_risk_follows_the_chosen_hours_and_names_a_bad_value(
    web: TestClient, runtime: Runtime, floor: dict[str, Any]
) -> None:
    sign_in(web, runtime, "viewer")
    html = web.get("/operations").text
    late = section(html, "late-orders")
    assert floor["slow"] in late and floor["mug"] not in late
    link = re.search(r'href="([^"]+)" id="late-count"><strong>1</strong>', html)
    assert link and hub_numbers(web, link.group(1)) == {floor["slow"]}
    assert 'id="late-orders"' not in web.get("/operations?late=100").text
    bad = web.get("/operations?late=soon").text
    assert 'id="late-error"' in bad and 'aria-invalid="true"' in bad and 'value="soon"' in bad


def test_unshipped_demand_per_sku_leaves_out_what_shipped(
    web: TestClient, runtime: Runtime, floor: dict[str, Any]
) -> None:
    sign_in(web, runtime, "viewer")
    html = web.get("/operations").text
    demand = section(html, "demand")
    tea = re.search(r'TEA-100</span>.*?<td class="num">21</td>(.*?)<a href="([^"]+)">6</a>', demand, re.S)
    assert tea, demand
    # nothing is reserved, shipped or backordered yet: all 21 units are unallocated, none in stock
    cells = re.findall(r'<td class="num">([^<]*)</td>', tea.group(1))
    assert cells == ["0", "0", "0", "21", "0"], cells
    assert hub_numbers(web, tea.group(2)) == {
        floor[k] for k in ("new1", "new2", "slow", "held1", "held2", "held3")
    }
    assert "MUG-200" not in demand  # fulfilled
    unfulfilled = re.search(r'href="([^"]+)" id="demand-unfulfilled"><strong>6</strong>', html)
    assert unfulfilled and len(hub_numbers(web, unfulfilled.group(1))) == 6


def test_held_orders_are_grouped_by_the_reason_of_their_hold(
    web: TestClient, runtime: Runtime, floor: dict[str, Any], client: TestClient, shop: dict[str, str]
) -> None:
    sign_in(web, runtime, "viewer")
    holds = section(web.get("/operations").text, "holds")
    rows = re.findall(r'<td class="reason">([^<]+)</td><td class="num">(\d+)</td>', holds)
    assert rows == [("address check", "2"), ("fraud screening", "1")]
    assert floor["held1"] in holds and floor["held3"] in holds
    move(client, shop, floor["held3"], "created", "released")
    move(client, shop, floor["held3"], "on_hold", "customer asked to wait")
    holds = section(web.get("/operations").text, "holds")
    assert "fraud screening" not in holds and "customer asked to wait" in holds
