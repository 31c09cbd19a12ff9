"""Quotes in the control tower on both databases: the list by status, a quote's page, its moves
offered only when its status allows and the role may (and refused by the server otherwise), and
conversion into an order with one click."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from api_helpers import count
from fastapi.testclient import TestClient
from web_helpers import page_token, sign_in, web_client

from legato.bootstrap import Runtime
from legato.domain.quote import QUOTE_TRANSITIONS, QuoteStatus
from legato.store import queries
from legato.web.pages.quotes import MOVES


@pytest.fixture
def web(runtime: Runtime) -> Iterator[TestClient]:
    with web_client(runtime) as c:
        yield c


def make_quote(client: TestClient, headers: dict[str, str], **extra: Any) -> str:
    body = {
        "channel": "B2B",
        "customer": {"code": "ACME"},
        "lines": [{"sku": "TEA-100", "quantity": 5}],
        **extra,
    }
    r = client.post("/api/v1/quotes", json=body, headers=headers)
    assert r.status_code == 201, r.text
    return str(r.json()["number"])


def post(web: TestClient, path: str) -> Any:
    return web.post(path, data={"csrf_token": page_token(web, "/quotes")})


def test_the_list_filters_by_status_and_names_a_bad_one(
    web: TestClient, runtime: Runtime, client: TestClient, shop: dict[str, str]
) -> None:
    first, second = make_quote(client, shop), make_quote(client, shop)
    sign_in(web, runtime, "viewer")
    web.post(
        f"/quotes/{second}/move/sent", data={"csrf_token": page_token(web, "/quotes")}
    )  # refused: viewer
    page = web.get("/quotes")
    assert (
        page.status_code == 200
        and f'href="/quotes/{first}"' in page.text
        and f'href="/quotes/{second}"' in page.text
    )
    assert "20.00\u00a0EUR" in page.text  # 5 x 4.00 on ACME's contract
    drafts = web.get("/quotes?status=draft").text
    assert f'href="/quotes/{first}"' in drafts
    assert "No quotes sent" in web.get("/quotes?status=sent").text
    bad = web.get("/quotes?status=lost")
    assert bad.status_code == 200 and "&#39;lost&#39; is not a quote status" in bad.text
    assert "the cursor is not one" in web.get("/quotes?cursor=%%%").text


def test_a_viewer_sees_the_quote_but_no_moves_and_the_server_refuses_them(
    web: TestClient, runtime: Runtime, client: TestClient, shop: dict[str, str]
) -> None:
    number = make_quote(client, shop)
    sign_in(web, runtime, "viewer")
    page = web.get(f"/quotes/{number}")
    assert (
        page.status_code == 200
        and "TEA-100" in page.text
        and "contract <strong>ACME-2026</strong>" in page.text
    )
    assert "/move/" not in page.text and "/convert" not in page.text
    assert post(web, f"/quotes/{number}/move/sent").status_code == 403
    assert post(web, f"/quotes/{number}/convert").status_code == 403
    assert web.get("/quotes/Q-999999").status_code == 404


def test_send_accept_and_convert_into_an_order_linked_both_ways(
    web: TestClient, runtime: Runtime, client: TestClient, shop: dict[str, str]
) -> None:
    number = make_quote(client, shop)
    sign_in(web, runtime, "sales", "sal")
    page = web.get(f"/quotes/{number}").text
    offered = {to for to in MOVES if f'/move/{to}"' in page}
    assert offered == {s.value for s in QUOTE_TRANSITIONS[QuoteStatus.DRAFT]} & set(MOVES)
    assert post(web, f"/quotes/{number}/move/sent").status_code == 303
    assert post(web, f"/quotes/{number}/move/accepted").status_code == 303
    page = web.get(f"/quotes/{number}").text
    assert "Convert into an order" in page and "/move/sent" not in page
    r = post(web, f"/quotes/{number}/convert")
    assert r.status_code == 303 and r.headers["location"] == "/orders/SO-000001"
    quote = queries.get_quote(runtime.engine, int(number.split("-")[1]))
    order = queries.get_order(runtime.engine, 1)
    assert quote is not None and quote.status is QuoteStatus.CONVERTED and quote.order_id == 1
    assert order is not None and order.quote_id == quote.id and order.timeline[0].actor == "user:sal"
    assert 'href="/orders/SO-000001"' in web.get(f"/quotes/{number}").text
    again = post(web, f"/quotes/{number}/convert")
    assert again.status_code == 409 and "already converted" in again.text
    assert count(runtime, "orders") == 1


def test_one_click_accepts_and_converts_a_sent_quote(
    web: TestClient, runtime: Runtime, client: TestClient, shop: dict[str, str]
) -> None:
    number = make_quote(client, shop)
    sign_in(web, runtime, "sales")
    post(web, f"/quotes/{number}/move/sent")
    assert "Accept and convert into an order" in web.get(f"/quotes/{number}").text
    r = post(web, f"/quotes/{number}/convert")
    assert r.status_code == 303 and r.headers["location"].startswith("/orders/SO-")


def test_a_declined_quote_offers_nothing_and_refuses_every_move(
    web: TestClient, runtime: Runtime, client: TestClient, shop: dict[str, str]
) -> None:
    number = make_quote(client, shop)
    sign_in(web, runtime, "admin")
    assert post(web, f"/quotes/{number}/move/declined").status_code == 303
    page = web.get(f"/quotes/{number}").text
    assert "/move/" not in page and "/convert" not in page
    for to in ("sent", "accepted", "converted", "nonsense"):
        r = post(web, f"/quotes/{number}/move/{to}")
        assert r.status_code == 409, to
    assert post(web, f"/quotes/{number}/convert").status_code == 409
    assert count(runtime, "orders") == 0
