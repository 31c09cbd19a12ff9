"""Quotes through HTTP: create, read, list, move, and convert into an order with one call."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from api_helpers import count, order_body, outbox, outbox_rows, paths, problem, same
from fastapi.testclient import TestClient

from legato.bootstrap import Runtime


def _quote(client: TestClient, headers: dict[str, str], **extra: Any) -> dict[str, Any]:
    body = order_body("B2B", ("TEA-100", 10), ("MUG-200", 2), customer={"code": "ACME"}, **extra)
    r = client.post("/api/v1/quotes", json=body, headers=headers)
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def _move(client: TestClient, headers: dict[str, str], number: str, to: str) -> dict[str, Any]:
    r = client.post(
        f"/api/v1/quotes/{number}/transitions", json={"to": to, "reason": f"to {to}"}, headers=headers
    )
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def test_a_quote_is_priced_like_an_order_and_read_by_number_or_id(
    client: TestClient, shop: dict[str, str], runtime: Runtime
) -> None:
    quote = _quote(client, shop, valid_until="2099-12-31", notes="for the spring range")
    assert quote["number"] == f"Q-{quote['id']:06d}"
    assert (quote["status"], quote["account"], quote["currency"]) == ("draft", "ACME", "EUR")
    assert [ln["price_source"] for ln in quote["lines"]] == ["contract:ACME-2026", "contract:ACME-2026:-10%"]
    assert quote["totals"]["grand_total"] == "65.02"
    assert (quote["order_id"], quote["order_number"], quote["valid_until"]) == (None, None, "2099-12-31")
    for ref in (quote["number"], str(quote["id"]), quote["number"].lower()):
        got = client.get(f"/api/v1/quotes/{ref}", headers=shop)
        assert got.status_code == 200 and got.json()["id"] == quote["id"]
    problem(client.get("/api/v1/quotes/Q-999999", headers=shop), 404, "not_found")
    assert count(runtime, "orders") == 0
    assert outbox(runtime) == {"quote.created": 1}


def test_a_quote_is_refused_for_the_same_reasons_as_an_order(
    client: TestClient, shop: dict[str, str]
) -> None:
    r = client.post(
        "/api/v1/quotes", headers=shop, json=order_body("B2B", ("TEA-100", 1), customer={"code": "X"})
    )
    problem(r, 422, "customer_not_matched")
    r = client.post("/api/v1/quotes", headers=shop, json=order_body("MKT", ("POT-300", 1)))
    assert paths(problem(r, 422, "price_not_found")) == ["$.lines[0].sku"]
    r = client.post(
        "/api/v1/quotes", headers=shop, json=order_body("WEB", external_reference="not-for-quotes")
    )
    assert paths(problem(r, 422, "validation")) == ["$.external_reference"]


def test_quotes_are_listed_newest_first_with_a_cursor_and_a_status_filter(
    client: TestClient, shop: dict[str, str]
) -> None:
    numbers = [_quote(client, shop)["number"] for _ in range(5)]
    _move(client, shop, numbers[1], "sent")
    _move(client, shop, numbers[3], "sent")
    seen: list[str] = []
    cursor = None
    while True:
        page = client.get(
            "/api/v1/quotes", params={"limit": 2, **({"cursor": cursor} if cursor else {})}, headers=shop
        ).json()
        seen += [q["number"] for q in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == numbers[::-1]
    sent = client.get("/api/v1/quotes", params={"status": "sent"}, headers=shop).json()["items"]
    assert [q["number"] for q in sent] == [numbers[3], numbers[1]]
    assert {(q["channel"], q["account"], q["currency"], q["status"]) for q in sent} == {
        ("B2B", "ACME", "EUR", "sent")
    }


def test_an_accepted_quote_converts_into_an_order_with_the_same_lines_and_prices(
    client: TestClient, shop: dict[str, str], runtime: Runtime
) -> None:
    quote = _quote(client, shop, shipping="5", billing_address={"company": "Acme", "country": "DE"})
    _move(client, shop, quote["number"], "sent")
    _move(client, shop, quote["number"], "accepted")
    r = client.post(f"/api/v1/quotes/{quote['number']}/convert", headers=shop)
    assert r.status_code == 201, r.text
    converted, order = r.json()["quote"], r.json()["order"]
    assert (converted["status"], converted["order_id"], converted["order_number"]) == (
        "converted",
        order["id"],
        order["number"],
    )
    assert order["quote_id"] == quote["id"]
    assert (order["channel"], order["account"], order["currency"], order["status"]) == (
        "B2B",
        "ACME",
        "EUR",
        "created",
    )
    keep = ("sku", "quantity", "unit_price", "price_source", "amount", "total")
    # by value: the scale of decimals read back on PostgreSQL is checked in test_api_pricing
    assert same(
        [{k: ln[k] for k in keep} for ln in order["lines"]],
        [{k: ln[k] for k in keep} for ln in quote["lines"]],
    )
    assert same(order["totals"], quote["totals"])
    assert order["billing_address"] == {"company": "Acme", "country": "DE"}
    assert order["timeline"][0]["kind"] == "created"
    assert order["timeline"][0]["reason"] == f"converted from quote {quote['number']}"

    got = client.get(f"/api/v1/quotes/{quote['number']}", headers=shop).json()
    assert (got["status"], got["order_number"]) == ("converted", order["number"])
    assert client.get(f"/api/v1/orders/{order['number']}", headers=shop).json()["quote_id"] == quote["id"]
    assert outbox(runtime) == {
        "quote.created": 1,
        "quote.status_changed": 3,
        "quote.accepted": 1,
        "quote.converted": 1,
        "order.created": 1,
    }
    (event,) = outbox_rows(runtime, "quote.converted")
    assert (event.aggregate_id, event.payload["order_id"]) == (quote["id"], order["id"])


def test_a_quote_converts_once_and_only_once_accepted(
    client: TestClient, shop: dict[str, str], runtime: Runtime
) -> None:
    draft = _quote(client, shop)
    p = problem(
        client.post(f"/api/v1/quotes/{draft['number']}/convert", headers=shop), 409, "illegal_transition"
    )
    assert p["allowed"] == ["accepted", "declined", "expired", "sent"]
    _move(client, shop, draft["number"], "accepted")
    first = client.post(f"/api/v1/quotes/{draft['number']}/convert", headers=shop)
    assert first.status_code == 201
    again = client.post(f"/api/v1/quotes/{draft['number']}/convert", headers=shop)
    p = problem(again, 409, "illegal_transition")
    assert p["order_id"] == first.json()["order"]["id"]
    assert count(runtime, "orders") == 1
    problem(client.post("/api/v1/quotes/Q-999999/convert", headers=shop), 404, "not_found")


def test_an_accepted_quote_past_its_validity_expires_instead_of_converting(
    client: TestClient, shop: dict[str, str], runtime: Runtime
) -> None:
    quote = _quote(client, shop, valid_until=(date.today() - timedelta(days=2)).isoformat())
    _move(client, shop, quote["number"], "accepted")
    p = problem(
        client.post(f"/api/v1/quotes/{quote['number']}/convert", headers=shop), 409, "illegal_transition"
    )
    assert p["current"] == "expired"
    assert client.get(f"/api/v1/quotes/{quote['number']}", headers=shop).json()["status"] == "expired"
    assert count(runtime, "orders") == 0
    assert outbox(runtime)["quote.status_changed"] == 2  # accepted, then expired by the system


def test_quote_transitions_follow_the_quote_table(client: TestClient, shop: dict[str, str]) -> None:
    quote = _quote(client, shop)
    sent = _move(client, shop, quote["number"], "sent")
    assert sent["status"] == "sent"
    assert _move(client, shop, quote["number"], "draft")["status"] == "draft"
    _move(client, shop, quote["number"], "declined")
    r = client.post(f"/api/v1/quotes/{quote['number']}/transitions", json={"to": "accepted"}, headers=shop)
    p = problem(r, 409, "illegal_transition")
    assert (p["allowed"], p["current"], p["requested"]) == ([], "declined", "accepted")
    r = client.post(f"/api/v1/quotes/{quote['number']}/transitions", json={"to": "converted"}, headers=shop)
    assert paths(problem(r, 422, "validation")) == ["$.to"]
