"""The dashboard on both databases: figures by channel, status, tier and product for a date range and
a currency view, summed exactly, each a link to the hub that shows exactly those orders; sales
today moving when an order is placed; the orders at risk; the charts' data embedded as JSON."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from html import unescape
from typing import Any

import pytest
from api_helpers import order_body, place
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Column, Integer, MetaData, Table, create_engine, insert, select, update
from web_helpers import sign_in, web_client

from legato.bootstrap import Runtime
from legato.store import dashboard as q
from legato.store import tables as t
from legato.store.types import Dec


@pytest.fixture
def web(runtime: Runtime) -> Iterator[TestClient]:
    with web_client(runtime) as c:
        yield c


def hub_numbers(web: TestClient, link: str, *, attribute: bool = True) -> set[str]:
    """The order numbers the hub lists at ``link`` (one page: these tests have few orders);
    ``attribute``: the link as written in an HTML attribute (escaped)."""
    r = web.get(unescape(link) if attribute else link)
    assert r.status_code == 200, r.text
    assert "Some filters were not applied" not in r.text, link
    return set(re.findall(r'<tr data-order="(SO-\d+)"', r.text))


def link_of(html: str, element_id: str) -> str:
    found = re.search(rf'href="([^"]+)"[^>]*id="{element_id}"|id="{element_id}"[^>]*href="([^"]+)"', html)
    assert found, element_id
    return found.group(1) or found.group(2)


def charts(html: str) -> dict[str, Any]:
    found = re.search(r'<script type="application/json" id="dashboard-data">(.*?)</script>', html, re.S)
    assert found
    return json.loads(found.group(1))  # type: ignore[no-any-return]


def set_order(rt: Runtime, order_id: int, **values: Any) -> None:
    with rt.engine.begin() as conn:
        conn.execute(update(t.orders).where(t.orders.c.id == order_id).values(**values))


@pytest.fixture
def orders(client: TestClient, shop: dict[str, str]) -> dict[str, str]:
    """Today: two WEB orders in GBP (one cancelled), one B2B in EUR for the gold account ACME."""
    numbers = {
        "web1": place(client, shop, order_body("WEB", ("TEA-100", 3)))["number"],  # 13.50 GBP
        "web2": place(client, shop, order_body("WEB", ("MUG-200", 1)))["number"],  # 12.00 GBP
        "b2b": place(client, shop, order_body("B2B", ("TEA-100", 10), customer={"code": "ACME"}))["number"],
    }
    r = client.post(f"/api/v1/orders/{numbers['web2']}/transitions", json={"to": "cancelled"}, headers=shop)
    assert r.status_code == 200, r.text
    return numbers


def test_every_role_sees_the_dashboard_and_each_figure_links_to_exactly_its_orders(
    web: TestClient, runtime: Runtime, orders: dict[str, str]
) -> None:
    sign_in(web, runtime, "viewer")
    r = web.get("/")
    assert r.status_code == 200 and 'href="/" aria-current="page"' in r.text
    html = r.text
    assert re.search(r'data-figure="today-orders">3<', html)
    assert "13.50\u00a0GBP" in html and "40.00\u00a0EUR" in html  # revenue: the cancelled order is not a sale
    table = html.split('id="by-channel"')[1].split("</table>")[0]
    links = dict(re.findall(r'<tr><td>(\w+) <span.*?<a href="([^"]+)">\d+</a>', table, re.S))
    assert hub_numbers(web, links["WEB"]) == {orders["web1"], orders["web2"]}
    assert hub_numbers(web, links["B2B"]) == {orders["b2b"]}
    revenue = re.findall(r'<a href="([^"]+)">13.50\u00a0GBP</a>', table)
    assert hub_numbers(web, revenue[0]) == {orders["web1"]}  # sales only: not the cancelled one
    status = html.split('id="by-status"')[1].split("</table>")[0]
    cancelled = re.search(r"Cancelled</span></td><td class=\"num\"><a href=\"([^\"]+)\">1</a>", status)
    assert cancelled and hub_numbers(web, cancelled.group(1)) == {orders["web2"]}
    tier = html.split('id="by-tier"')[1].split("</table>")[0]
    gold = re.search(r"<td>gold</td>\s*<td class=\"num\"><a href=\"([^\"]+)\">1</a>", tier)
    assert gold and hub_numbers(web, gold.group(1)) == {orders["b2b"]} and "40.00\u00a0EUR" in tier
    products = html.split('id="top-products"')[1].split("</table>")[0]
    assert (
        products.index("TEA-100") < products.index("MUG-200")
        if "MUG-200" in products
        else "TEA-100" in products
    )
    tea = re.search(
        r'TEA-100</span>.*?<td class="num">13</td>\s*<td class="num"><a href="([^"]+)">2</a>', products, re.S
    )
    assert tea and hub_numbers(web, tea.group(1)) == {orders["web1"], orders["b2b"]}


def test_the_currency_view_shows_only_orders_in_that_currency_with_revenue_charts(
    web: TestClient, runtime: Runtime, orders: dict[str, str]
) -> None:
    sign_in(web, runtime, "viewer")
    html = web.get("/?currency=gbp").text
    assert (
        'id="range-orders">2<' in html and "EUR" not in html.split('id="by-channel"')[1].split("</table>")[0]
    )
    data = charts(html)
    assert data["revenue"]["labels"] == ["WEB"] and data["revenue"]["values"] == ["13.50"]
    assert hub_numbers(web, data["revenue"]["links"][0], attribute=False) == {orders["web1"]}
    assert hub_numbers(web, data["channels"]["links"][0], attribute=False) == {orders["web1"], orders["web2"]}
    all_view = charts(web.get("/").text)
    assert "revenue" not in all_view and set(all_view["channels"]["labels"]) == {"WEB", "B2B"}


def test_sales_today_move_when_an_order_is_placed_and_a_past_range_leaves_them_out(
    web: TestClient, runtime: Runtime, orders: dict[str, str], client: TestClient, shop: dict[str, str]
) -> None:
    sign_in(web, runtime, "viewer")
    assert re.search(r'data-figure="today-orders">3<', web.get("/").text)
    place(client, shop, order_body("WEB", ("TEA-100", 1)))
    html = web.get("/").text
    assert re.search(r'data-figure="today-orders">4<', html) and "18.00\u00a0GBP" in html
    yesterday = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()
    past = web.get(f"/?from={yesterday}&to={yesterday}").text
    assert 'id="range-orders">0<' in past and re.search(r'data-figure="today-orders">4<', past)
    assert "No orders in this range." in past


def test_bad_dates_and_currencies_are_named_next_to_their_field(web: TestClient, runtime: Runtime) -> None:
    sign_in(web, runtime, "viewer")
    html = web.get("/?from=2026-13-01&to=yesterday&currency=XYZ1").text
    assert 'id="dash-from-error"' in html and "is not a date" in html
    assert 'id="dash-to-error"' in html and 'id="dash-currency-error"' in html
    backwards = web.get("/?from=2026-11-20&to=2026-11-01").text
    assert "the end date is before the start date" in backwards
    assert "at most 366 days" in web.get("/?from=2020-01-01&to=2026-01-01").text


def test_orders_at_risk_held_too_long_waiting_too_long_and_unpaid_past_terms(
    web: TestClient, runtime: Runtime, client: TestClient, shop: dict[str, str]
) -> None:
    r = client.post(
        "/api/v1/accounts",
        json={"code": "SLOW", "name": "Slow Payer", "email": "ap@slow.example", "payment_terms": "net30"},
        headers=shop,
    )
    assert r.status_code == 201, r.text
    held = place(client, shop, order_body("WEB", ("TEA-100", 1), status="on_hold"))
    waiting = place(client, shop, order_body("WEB", ("TEA-100", 1), status="pending_approval"))
    late = place(client, shop, order_body("WEB", ("TEA-100", 1), customer={"email": "ap@slow.example"}))
    fresh = place(client, shop, order_body("WEB", ("TEA-100", 1), customer={"email": "ap@slow.example"}))
    long_ago = datetime.now(UTC) - timedelta(days=40)
    for number in (held["number"], waiting["number"], late["number"]):
        set_order(runtime, int(number[3:]), updated_at=long_ago, created_at=long_ago)
    sign_in(web, runtime, "viewer")
    html = web.get("/").text
    assert hub_numbers(web, link_of(html, "risk-held")) == {held["number"]}
    assert hub_numbers(web, link_of(html, "risk-waiting")) == {waiting["number"]}
    assert 'id="risk-overdue">1<' in html
    overdue = html.split('id="overdue"')[1].split("</table>")[0]
    assert late["number"] in overdue and fresh["number"] not in overdue and "net30" in overdue
    set_order(runtime, int(late["number"][3:]), payment_status="paid")
    assert 'id="risk-overdue">0<' in web.get("/").text


def test_net_terms_are_read_from_the_accounts_terms() -> None:
    assert [q.terms_days(x) for x in ("net30", "NET 60", "net-14", "prepaid", None, "net", "netx")] == [
        30,
        60,
        14,
        None,
        None,
        None,
        None,
    ]


_engine = create_engine("sqlite://")
_amounts = Table("amounts", MetaData(), Column("id", Integer, primary_key=True), Column("v", Dec()))
_amounts.create(_engine)
_money = st.decimals(min_value=Decimal("-1e12"), max_value=Decimal("1e12"), places=6, allow_nan=False)


@settings(max_examples=60, deadline=None)
@given(st.lists(_money, max_size=30))
def test_money_is_summed_exactly_on_sqlite(values: list[Decimal]) -> None:
    """SQLite's own SUM would add binary floats; the dashboard's sum adds Decimals."""
    with _engine.begin() as conn:
        conn.execute(_amounts.delete())
        if values:
            conn.execute(insert(_amounts), [{"v": v} for v in values])
    with q.aggregating(_engine) as conn:
        total = conn.execute(select(q.dec_sum(conn, _amounts.c.v))).scalar_one()
    assert total == sum(values, Decimal(0))
