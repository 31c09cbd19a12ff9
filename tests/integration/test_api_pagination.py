"""Listing orders: stable keyset pages while orders arrive, and every filter."""

from __future__ import annotations

import queue
import threading
from datetime import datetime, timedelta, timezone
from typing import Any

from api_helpers import order_body, place, problem
from fastapi.testclient import TestClient


def _all_pages(client: TestClient, headers: dict[str, str], **params: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    for _ in range(100):
        page = client.get(
            "/api/v1/orders", params={**params, **({"cursor": cursor} if cursor else {})}, headers=headers
        )
        assert page.status_code == 200, page.text
        items += page.json()["items"]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            return items
    raise AssertionError("the cursor never ended")


def _numbers(client: TestClient, headers: dict[str, str], **params: Any) -> list[str]:
    return [o["number"] for o in _all_pages(client, headers, **params)]


def test_pages_never_repeat_or_skip_an_order_while_new_orders_arrive(
    client: TestClient, shop: dict[str, str]
) -> None:
    before = [place(client, shop, order_body())["id"] for _ in range(20)]
    requests: queue.Queue[int | None] = queue.Queue()
    done: queue.Queue[list[int]] = queue.Queue()

    def writer() -> None:  # another thread, with its own client, inserting between page fetches
        with TestClient(client.app) as own:
            while (n := requests.get()) is not None:
                done.put([place(own, shop, order_body("MKT"))["id"] for _ in range(n)])

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        seen: list[int] = []
        inserted: list[int] = []
        cursor = None
        pages = 0
        while True:
            params: dict[str, Any] = {"limit": 7, **({"cursor": cursor} if cursor else {})}
            page = client.get("/api/v1/orders", params=params, headers=shop).json()
            pages += 1
            seen += [o["id"] for o in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
            requests.put(3)
            inserted += done.get(timeout=30)
    finally:
        requests.put(None)
        thread.join(30)
    assert pages == 3 and len(inserted) == 6
    assert len(seen) == len(set(seen)), "an order appeared twice"
    assert seen == sorted(before, reverse=True)  # newest first, each one exactly once
    fresh = client.get("/api/v1/orders", params={"limit": 6}, headers=shop).json()["items"]
    assert sorted(o["id"] for o in fresh) == sorted(inserted)  # the new ones head the next listing


def test_the_page_size_is_bounded(client: TestClient, shop: dict[str, str]) -> None:
    for limit in (0, 201, -1):
        p = problem(client.get("/api/v1/orders", params={"limit": limit}, headers=shop), 422, "validation")
        assert p["errors"][0]["path"] == "limit" and p["errors"][0]["in"] == "query"
    problem(client.get("/api/v1/orders", params={"cursor": "not-a-cursor"}, headers=shop), 422, "validation")


def test_orders_are_filtered_by_status_channel_and_account(client: TestClient, shop: dict[str, str]) -> None:
    web = [place(client, shop, order_body("WEB"))["number"] for _ in range(3)]
    mkt = place(client, shop, order_body("MKT"))["number"]
    acme = [place(client, shop, order_body("B2B", customer={"code": "ACME"}))["number"] for _ in range(2)]
    for number in (web[0], acme[1]):
        r = client.post(f"/api/v1/orders/{number}/transitions", json={"to": "processing"}, headers=shop)
        assert r.status_code == 200
    assert _numbers(client, shop, status="processing", limit=1) == [acme[1], web[0]]
    assert _numbers(client, shop, channel="WEB", limit=2) == web[::-1]
    assert _numbers(client, shop, channel="MKT") == [mkt]
    assert _numbers(client, shop, account="ACME") == acme[::-1]
    assert _numbers(client, shop, channel="WEB", status="created") == [web[2], web[1]]
    assert _numbers(client, shop, channel="NOPE") == []
    summary = _all_pages(client, shop, channel="B2B")[0]
    assert (summary["channel"], summary["channel_type"], summary["account"]) == ("B2B", "b2b", "ACME")
    p = problem(client.get("/api/v1/orders", params={"status": "lost"}, headers=shop), 422, "validation")
    assert p["errors"][0]["path"] == "status"


def test_orders_are_filtered_by_creation_time_from_inclusive_to_exclusive(
    client: TestClient, shop: dict[str, str]
) -> None:
    orders = [place(client, shop, order_body()) for _ in range(3)]
    at = [o["created_at"] for o in orders]
    n = [o["number"] for o in orders]
    assert _numbers(client, shop, created_from=at[1]) == [n[2], n[1]]
    assert _numbers(client, shop, created_to=at[1]) == [n[0]]
    assert _numbers(client, shop, created_from=at[1], created_to=at[2]) == [n[1]]
    # the same instant in another zone is the same instant
    india = timezone(timedelta(hours=5, minutes=30))
    local = datetime.fromisoformat(at[1].replace("Z", "+00:00")).astimezone(india).isoformat()
    assert local.endswith("+05:30")
    assert _numbers(client, shop, created_from=local) == [n[2], n[1]]
    assert (
        _numbers(client, shop, created_from="2000-01-01T00:00:00Z", created_to="2000-01-02T00:00:00Z") == []
    )
    p = problem(
        client.get("/api/v1/orders", params={"created_from": "yesterday"}, headers=shop), 422, "validation"
    )
    assert p["errors"][0]["path"] == "created_from"


def test_a_creation_time_without_a_zone_is_not_a_server_error(
    client: TestClient, shop: dict[str, str]
) -> None:
    order = place(client, shop, order_body())
    r = client.get("/api/v1/orders", params={"created_from": "2020-01-01T00:00:00"}, headers=shop)
    assert r.status_code in (200, 422), r.text
    if r.status_code == 200:  # read as UTC
        assert [o["number"] for o in r.json()["items"]] == [order["number"]]
    else:
        assert problem(r, 422, "validation")["errors"][0]["path"] == "created_from"


def test_q_finds_orders_by_number_external_reference_customer_name_or_email(
    client: TestClient, shop: dict[str, str]
) -> None:
    jo = place(
        client,
        shop,
        order_body(
            external_reference="PO-7781", customer={"name": "Jo Bloggs", "email": "jo@bloggs.example"}
        ),
    )
    ann = place(
        client,
        shop,
        order_body(
            external_reference="PO-9900", customer={"name": "Ann Other", "email": "ann@other.example"}
        ),
    )
    acme = place(client, shop, order_body("B2B", customer={"code": "ACME"}))
    assert _numbers(client, shop, q=ann["number"]) == [ann["number"]]
    assert _numbers(client, shop, q=ann["number"].lower()) == [ann["number"]]
    assert _numbers(client, shop, q="7781") == [jo["number"]]
    assert _numbers(client, shop, q="PO-") == [ann["number"], jo["number"]]
    assert _numbers(client, shop, q="bloggs") == [jo["number"]]  # name and email, any case
    assert _numbers(client, shop, q="ANN OTHER") == [ann["number"]]
    assert _numbers(client, shop, q="@other.EXAMPLE") == [ann["number"]]
    assert _numbers(client, shop, q="Acme Trading") == [acme["number"]]  # the matched account's name
    assert _numbers(client, shop, q="  7781  ") == [jo["number"]]
    assert _numbers(client, shop, q="nobody") == []


def test_q_treats_percent_and_underscore_literally(client: TestClient, shop: dict[str, str]) -> None:
    pct = place(client, shop, order_body(external_reference="100%-OFF"))
    place(client, shop, order_body(external_reference="1000-OFF"))
    under = place(client, shop, order_body(external_reference="A_B", customer={"name": "Under_Score"}))
    place(client, shop, order_body(external_reference="AXB", customer={"name": "UnderXScore"}))
    assert _numbers(client, shop, q="100%") == [pct["number"]]
    assert _numbers(client, shop, q="%") == [pct["number"]]
    assert _numbers(client, shop, q="A_B") == [under["number"]]
    assert _numbers(client, shop, q="under_score") == [under["number"]]
    assert _numbers(client, shop, q="_") == [under["number"]]
