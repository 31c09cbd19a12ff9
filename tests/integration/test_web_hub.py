"""The order hub (/orders) on both databases: every order from every channel, each filter, the
search, the sorts, the htmx fragment, saved views, CSV export and the quick view (pages and
query plans: test_web_hub_paging.py)."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from api_helpers import order_body, place
from fastapi.testclient import TestClient
from sqlalchemy import update
from web_helpers import page_token, sign_in, web_client

from legato.bootstrap import Runtime
from legato.store import tables as t

HTMX = {"HX-Request": "true", "HX-Target": "hub-results"}
_ROW = re.compile(r'<tr data-order="(SO-\d+)">')


@pytest.fixture
def web(runtime: Runtime) -> Iterator[TestClient]:
    with web_client(runtime) as c:
        yield c


def numbers(html: str) -> list[str]:
    return _ROW.findall(html)


@pytest.fixture
def orders(client: TestClient, shop: dict[str, str]) -> dict[str, dict[str, Any]]:
    """Six orders on three channels (GBP web shop, EUR trade portal, JPY marketplace), by reference."""

    def move(number: str, to: str, reason: str | None = None) -> None:
        body = {"to": to, **({"reason": reason} if reason else {})}
        assert client.post(f"/api/v1/orders/{number}/transitions", json=body, headers=shop).status_code == 200

    def track(number: str, name: str, to: str) -> None:
        body = {"track": name, "to": to}
        assert client.post(f"/api/v1/orders/{number}/tracks", json=body, headers=shop).status_code == 200

    def new(channel: str, ref: str, customer: dict[str, str], *lines: tuple[str, int]) -> dict[str, Any]:
        return place(client, shop, order_body(channel, *lines, external_reference=ref, customer=customer))

    alice = {"name": "Alice Archer", "email": "alice@example.com", "phone": "+44 20 7946 0001"}
    evil = {"name": '=HYPERLINK("http://evil")', "email": "eve@example.com"}
    japan = {
        "channel": "MKT",
        "external_reference": "MKT-9",
        "customer": {"name": "Chiyo Sato", "email": "chiyo@example.jp"},
        "lines": [{"sku": "MUG-200", "quantity": 3, "unit_price": "2100"}],
    }
    made = {
        "WEB-1001": new("WEB", "WEB-1001", alice, ("TEA-100", 2)),
        "WEB-1002": new("WEB", "WEB-1002", {"name": "Bob Brown", "email": "bob@example.com"}, ("MUG-200", 1)),
        "PO-77": new("B2B", "PO-77", {"code": "ACME"}, ("TEA-100", 10)),
        "PO-78": new("B2B", "PO-78", {"code": "ACME"}, ("POT-300", 1)),
        "MKT-9": place(client, shop, japan),
        "WEB-1003": new("WEB", "WEB-1003", evil, ("TEA-100", 1)),
    }  # fmt: skip
    move(made["WEB-1002"]["number"], "on_hold", "address check")
    track(made["PO-77"]["number"], "fulfilment", "fulfilled")
    track(made["PO-78"]["number"], "payment", "paid")
    move(made["MKT-9"]["number"], "processing")
    return made


def refs(made: dict[str, dict[str, Any]], html: str) -> set[str]:
    by_number = {o["number"]: ref for ref, o in made.items()}
    return {by_number[n] for n in numbers(html)}


def test_the_hub_lists_every_order_from_every_channel_with_tracks_total_and_age(
    web: TestClient, runtime: Runtime, orders: dict[str, dict[str, Any]]
) -> None:
    sign_in(web, runtime, "viewer", "vera")
    page = web.get("/orders")
    assert page.status_code == 200
    html = page.text
    assert numbers(html) == sorted((o["number"] for o in orders.values()), reverse=True)  # newest first
    mkt = html[html.index(f'data-order="{orders["MKT-9"]["number"]}"') :]
    row = mkt[: mkt.index("</tr>")]
    shown = ("MKT", "Marketplace", "Chiyo Sato", "chiyo@example.jp", "Processing", "Unpaid", "Unfulfilled",
             "Not invoiced", "6,300\u00a0JPY", "MKT-9", "0 min")  # fmt: skip
    for text_ in shown:
        assert text_ in row, text_
    b2b = html[html.index(f'data-order="{orders["PO-77"]["number"]}"') :]
    assert "B2B" in b2b[: b2b.index("</tr>")] and "Fulfilled" in b2b[: b2b.index("</tr>")]
    assert "EUR" in b2b[: b2b.index("</tr>")]
    for label in (
        "Status",
        "Channel",
        "Channel type",
        "Payment",
        "Fulfilment",
        "Invoice",
        "Currency",
        "Tier",
    ):
        assert f">{label}" in html, label
    assert '<label for="q">Search</label>' in html and '<label for="from">Created from</label>' in html


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("status=on_hold", {"WEB-1002"}),
        ("status=processing&status=on_hold", {"WEB-1002", "MKT-9"}),
        ("channel=B2B", {"PO-77", "PO-78"}),
        ("type=marketplace", {"MKT-9"}),
        ("type=ecommerce&type=marketplace", {"WEB-1001", "WEB-1002", "WEB-1003", "MKT-9"}),
        ("payment=paid", {"PO-78"}),
        ("fulfilment=fulfilled", {"PO-77"}),
        ("invoice=invoiced", set()),
        ("currency=jpy", {"MKT-9"}),
        ("tier=gold", {"PO-77", "PO-78"}),
        ("account=ACME", {"PO-77", "PO-78"}),
        ("sku=POT-300", {"PO-78"}),
        ("type=b2b&payment=unpaid&fulfilment=partially_fulfilled&fulfilment=fulfilled", {"PO-77"}),
        ("q=alice", {"WEB-1001"}),
        ("q=ALICE%40EXAMPLE", {"WEB-1001"}),
        ("q=7946+0001", {"WEB-1001"}),
        ("q=PO-7", {"PO-77", "PO-78"}),
        ("q=sato", {"MKT-9"}),
        ("q=100%25", set()),  # a % is a character, not a wildcard
        ("status=on_hold&q=alice", set()),
    ],
)
def test_each_filter_and_the_search_narrow_the_list(
    web: TestClient, runtime: Runtime, orders: dict[str, dict[str, Any]], query: str, expected: set[str]
) -> None:
    sign_in(web, runtime, "viewer", "vera")
    fragment = web.get(f"/orders?{query}", headers=HTMX)
    assert fragment.status_code == 200
    assert "<html" not in fragment.text  # htmx gets the results only
    assert refs(orders, fragment.text) == expected
    if expected:
        assert "No orders match this view." not in fragment.text
    full = web.get(f"/orders?{query}")
    assert refs(orders, full.text) == expected and "<html" in full.text


def test_an_htmx_update_puts_the_views_own_link_in_the_address_bar(
    web: TestClient, runtime: Runtime, orders: dict[str, dict[str, Any]]
) -> None:
    sign_in(web, runtime, "viewer", "vera")
    r = web.get("/orders?q=&status=on_hold&from=&to=&idle=&currency=gbp&sort=-created", headers=HTMX)
    assert r.headers["HX-Push-Url"] == "/orders?status=on_hold&currency=GBP"
    assert web.get("/orders?q=&sort=-created", headers=HTMX).headers["HX-Push-Url"] == "/orders"
    assert r.headers["Vary"].startswith("HX-Request")  # a cached fragment is never shown as the page


def test_the_search_finds_an_order_by_its_number(
    web: TestClient, runtime: Runtime, orders: dict[str, dict[str, Any]]
) -> None:
    sign_in(web, runtime, "viewer", "vera")
    number = orders["MKT-9"]["number"]
    for typed in (number, number.lower(), str(int(number[3:]))):
        assert refs(orders, web.get("/orders", params={"q": typed}).text) >= {"MKT-9"}


def test_the_date_range_and_idle_filters(
    web: TestClient, runtime: Runtime, orders: dict[str, dict[str, Any]]
) -> None:
    sign_in(web, runtime, "viewer", "vera")
    today = datetime.now(UTC).date()
    everything = set(orders)
    assert refs(orders, web.get(f"/orders?from={today}&to={today}").text) == everything
    assert refs(orders, web.get(f"/orders?from={today + timedelta(days=1)}").text) == set()
    assert refs(orders, web.get(f"/orders?to={today - timedelta(days=1)}").text) == set()
    assert refs(orders, web.get("/orders?status=on_hold&idle=24").text) == set()
    with runtime.engine.begin() as conn:  # the hold was two days ago
        conn.execute(
            update(t.orders)
            .where(t.orders.c.external_ref == "WEB-1002")
            .values(updated_at=datetime.now(UTC) - timedelta(days=2))
        )
    assert refs(orders, web.get("/orders?status=on_hold&idle=24").text) == {"WEB-1002"}


def test_bad_filter_values_are_named_next_to_their_control_not_dropped_silently(
    web: TestClient, runtime: Runtime, orders: dict[str, dict[str, Any]]
) -> None:
    sign_in(web, runtime, "viewer", "vera")
    r = web.get("/orders?status=bogus&status=on_hold&from=2026-13-45&idle=0&currency=EURO&sort=sideways")
    assert r.status_code == 200
    html = r.text
    assert 'id="from-error">&#39;2026-13-45&#39; is not a date (YYYY-MM-DD)</p>' in html
    assert 'aria-invalid="true" aria-describedby="idle-error"' in html
    assert "&#39;bogus&#39; is not a status value" in html and "&#39;EURO&#39; is not an ISO 4217" in html
    assert "&#39;sideways&#39; is not a sort" in html
    assert 'value="2026-13-45"' in html  # what was typed stays in the field
    assert refs(orders, html) == {"WEB-1002"}  # the valid part still applies
    later = web.get("/orders?from=2026-02-01&to=2026-01-01")
    assert "the end date is before the start date" in later.text
    short = web.get("/orders?q=al")
    assert "type at least 3 characters, or an order number" in short.text and 'value="al"' in short.text
    assert refs(orders, short.text) == set(orders)


def test_sorting_by_total_number_and_age(
    web: TestClient, runtime: Runtime, orders: dict[str, dict[str, Any]]
) -> None:
    sign_in(web, runtime, "viewer", "vera")
    totals = {o["number"]: Decimal(o["totals"]["grand_total"]) for o in orders.values()}
    by_total = sorted(totals, key=lambda n: (totals[n], n))
    assert numbers(web.get("/orders?sort=total").text) == by_total
    assert numbers(web.get("/orders?sort=-total").text) == by_total[::-1]
    assert numbers(web.get("/orders?sort=number").text) == sorted(totals)
    assert numbers(web.get("/orders?sort=created").text) == sorted(totals)
    assert numbers(web.get("/orders?sort=-number").text) == sorted(totals, reverse=True)


def test_the_csv_export_streams_the_current_view_and_defuses_formulas(
    web: TestClient, runtime: Runtime, orders: dict[str, dict[str, Any]]
) -> None:
    sign_in(web, runtime, "finance", "fin")
    r = web.get("/orders/export.csv?channel=WEB&sort=number")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/csv")
    assert re.match(r'attachment; filename="orders-\d{8}-\d{4}\.csv"', r.headers["content-disposition"])
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert [x["external_reference"] for x in rows] == ["WEB-1001", "WEB-1002", "WEB-1003"]
    first = rows[0]
    assert (first["number"], first["channel"], first["channel_type"], first["currency"]) == (
        orders["WEB-1001"]["number"], "WEB", "ecommerce", "GBP",
    )  # fmt: skip
    assert Decimal(first["grand_total"]) == Decimal(orders["WEB-1001"]["totals"]["grand_total"])
    assert rows[2]["customer_name"] == '\'=HYPERLINK("http://evil")'  # not a formula in a spreadsheet
    assert web.get("/orders/export.csv?status=bogus").status_code == 422


def test_saved_views_belong_to_their_user(web: TestClient, runtime: Runtime, orders: dict[str, Any]) -> None:
    sign_in(web, runtime, "sales", "sam")
    token = page_token(web)
    saved = web.post("/orders/views", data={"csrf_token": token, "name": " My  holds ",
                                            "query": "status=on_hold&sort=-total"})  # fmt: skip
    assert (saved.status_code, saved.headers["location"]) == (303, "/orders?status=on_hold&sort=-total")
    page = web.get(saved.headers["location"])
    assert "View “My holds” saved." in page.text
    assert (
        '<a class="view" href="/orders?status=on_hold&amp;sort=-total" aria-current="true">My holds</a>'
        in page.text
    )
    view_id = re.search(r'action="/orders/views/(\d+)/delete"', page.text)
    assert view_id
    refused = web.post("/orders/views", data={"csrf_token": token, "name": "", "query": ""})
    assert "View not saved: give the view a name." in web.get(refused.headers["location"]).text

    with web_client(runtime) as other:
        sign_in(other, runtime, "viewer", "vera")
        assert "My holds" not in other.get("/orders").text
        theirs = other.post(
            f"/orders/views/{view_id.group(1)}/delete", data={"csrf_token": page_token(other)}
        )
        assert theirs.status_code == 404
    deleted = web.post(f"/orders/views/{view_id.group(1)}/delete", data={"csrf_token": token})
    assert deleted.status_code == 303
    assert "My holds" not in web.get("/orders").text


def test_the_predefined_views_are_links_to_filtered_hubs(
    web: TestClient, runtime: Runtime, orders: dict[str, dict[str, Any]]
) -> None:
    sign_in(web, runtime, "viewer", "vera")
    html = web.get("/orders").text
    for name, href in (
        ("Pending approval &gt; 24 h", "/orders?status=pending_approval&amp;idle=24"),
        ("B2B unpaid but shipped",
         "/orders?type=b2b&amp;payment=unpaid&amp;fulfilment=partially_fulfilled&amp;fulfilment=fulfilled"),
        ("On hold", "/orders?status=on_hold"),
    ):  # fmt: skip
        assert f'<a class="view" href="{href}">{name}</a>' in html
    shipped = web.get("/orders?fulfilment=fulfilled&payment=unpaid&type=b2b&fulfilment=partially_fulfilled")
    assert 'aria-current="true">B2B unpaid but shipped</a>' in shipped.text  # the same view, any order


def test_the_documented_hub_links_open_their_views(
    web: TestClient, runtime: Runtime, orders: dict[str, dict[str, Any]]
) -> None:
    docs = (Path(__file__).resolve().parents[2] / "docs" / "control-tower.md").read_text(encoding="utf-8")
    links = re.findall(r"^- `(/orders\?[^`]+)`", docs, flags=re.M)
    assert len(links) >= 5
    sign_in(web, runtime, "viewer", "vera")
    for link in links:
        r = web.get(link)
        assert r.status_code == 200 and "Some filters were not applied" not in r.text, link
    assert refs(orders, web.get("/orders?q=alice%40example.com").text) == {"WEB-1001"}


def test_the_quick_view_shows_lines_customer_and_tracks(
    web: TestClient, runtime: Runtime, orders: dict[str, dict[str, Any]]
) -> None:
    sign_in(web, runtime, "viewer", "vera")
    number = orders["WEB-1001"]["number"]
    assert f'data-quick="/orders/{number}/quick"' in web.get("/orders").text
    r = web.get(f"/orders/{number}/quick", headers={"HX-Request": "true"})
    assert r.status_code == 200 and "<html" not in r.text
    for shown in ("TEA-100", "Alice Archer", "alice@example.com", "+442079460001", "Created", "Unpaid",
                  f'href="/orders/{number}"'):  # fmt: skip
        assert shown in r.text, shown
    assert "There is no order SO-999999" in web.get("/orders/SO-999999/quick").text
