"""Customer matching through HTTP: by the channel's keys, guests, rejection, new accounts."""

from __future__ import annotations

from api_helpers import count, order_body, outbox, paths, place, problem
from fastapi.testclient import TestClient

from legato.bootstrap import Runtime


def _account(client: TestClient, headers: dict[str, str], code: str, **fields: str) -> None:
    r = client.post("/api/v1/accounts", headers=headers, json={"code": code, "name": f"{code} Ltd", **fields})
    assert r.status_code == 201, r.text


def test_a_customer_is_matched_by_email_code_erp_ref_or_phone_digits(
    client: TestClient, shop: dict[str, str]
) -> None:
    _account(client, shop, "PHONE1", phone="+44 20 7946 0018", currency="GBP")
    cases = [
        ("WEB", {"email": "  BUYER@Acme.EXAMPLE "}, "ACME"),  # email, any case
        ("B2B", {"code": "ACME"}, "ACME"),
        ("B2B", {"erp_ref": "ERP-77"}, "ACME"),
        ("WEB", {"phone": "+44 (20) 7946-0018"}, "PHONE1"),
        ("WEB", {"phone": "0044 20 7946 0018"}, "PHONE1"),
        ("WEB", {"email": "someone@else.example", "code": "ACME"}, "ACME"),  # the first key that matches wins
    ]
    for channel, customer, expected in cases:
        order = place(client, shop, order_body(channel, customer=customer))
        assert order["account"] == expected, (channel, customer)
    acme = place(
        client, shop, order_body("WEB", customer={"email": "Buyer@acme.example", "name": "Typed Name"})
    )
    # the order records the account's details, in the account's currency
    assert acme["customer"] == {
        "name": "Acme Trading",
        "email": "buyer@acme.example",
        "phone": None,
        "code": "ACME",
        "erp_ref": "ERP-77",
    }
    assert acme["currency"] == "EUR"
    listed = client.get("/api/v1/orders", params={"account": "PHONE1"}, headers=shop).json()["items"]
    assert len(listed) == 2


def test_a_channel_matches_only_by_its_own_keys(client: TestClient, shop: dict[str, str]) -> None:
    # WEB matches by email, code, phone: not by ERP reference
    order = place(client, shop, order_body("WEB", customer={"erp_ref": "ERP-77", "name": "Anon"}))
    assert order["account"] is None


def test_a_b2b_channel_refuses_a_customer_it_cannot_match(
    client: TestClient, shop: dict[str, str], runtime: Runtime
) -> None:
    for customer in ({"code": "NOBODY"}, {"email": "stranger@example.com"}, None):
        body = order_body("B2B", **({"customer": customer} if customer else {}))
        p = problem(client.post("/api/v1/orders", headers=shop, json=body), 422, "customer_not_matched")
        assert paths(p) == ["$.customer"]
        assert "code, email, erp_ref" in p["detail"]
    assert count(runtime, "orders") == 0 and sum(outbox(runtime).values()) == 0


def test_a_guest_order_keeps_the_customer_name_and_email(client: TestClient, shop: dict[str, str]) -> None:
    order = place(
        client,
        shop,
        order_body(
            "WEB", customer={"name": "Jo Bloggs", "email": "Jo@Example.COM", "phone": "+44 7700 900123"}
        ),
    )
    assert order["account"] is None
    assert order["customer"] == {
        "name": "Jo Bloggs",
        "email": "jo@example.com",
        "phone": "+447700900123",
        "code": None,
        "erp_ref": None,
    }
    got = client.get(f"/api/v1/orders/{order['number']}", headers=shop).json()
    assert got["customer"] == order["customer"]
    summary = client.get("/api/v1/orders", headers=shop).json()["items"][0]
    assert (summary["customer_name"], summary["customer_email"], summary["account"]) == (
        "Jo Bloggs",
        "jo@example.com",
        None,
    )


def test_a_key_shared_by_two_accounts_matches_neither(client: TestClient, shop: dict[str, str]) -> None:
    _account(client, shop, "TWIN-A", phone="+44 1632 960000")
    _account(client, shop, "TWIN-B", phone="+44 1632 960000")
    order = place(client, shop, order_body("WEB", customer={"phone": "+441632960000", "name": "Which twin"}))
    assert order["account"] is None
    assert order["customer"]["name"] == "Which twin"


def test_a_channel_that_creates_accounts_creates_one_per_new_customer(
    client: TestClient, shop: dict[str, str], runtime: Runtime
) -> None:
    r = client.post(
        "/api/v1/channels",
        headers=shop,
        json={
            "code": "SIGNUP",
            "name": "Sign-up shop",
            "type": "ecommerce",
            "currency": "USD",
            "settings": {"match_keys": ["email"], "on_no_match": "create"},
        },
    )
    assert r.status_code == 201, r.text
    before = count(runtime, "accounts")
    first = place(
        client,
        shop,
        order_body("SIGNUP", customer={"name": "Ann Lee", "email": "Ann@Example.com", "phone": "555 0100"}),
    )
    code = first["account"]
    assert code and code.startswith("C-")
    assert count(runtime, "accounts") == before + 1
    account = client.get(f"/api/v1/accounts/{code}", headers=shop).json()
    assert (account["name"], account["email"], account["phone"], account["currency"]) == (
        "Ann Lee",
        "ann@example.com",
        "5550100",
        "USD",
    )
    assert first["currency"] == "USD"

    again = place(client, shop, order_body("SIGNUP", customer={"email": "ann@EXAMPLE.com"}))
    assert again["account"] == code
    assert count(runtime, "accounts") == before + 1

    nameless = place(client, shop, order_body("SIGNUP", customer={"name": "No contact details"}))
    assert nameless["account"] is None
    assert count(runtime, "accounts") == before + 1


def test_an_order_on_an_unknown_or_inactive_channel_is_refused(
    client: TestClient, shop: dict[str, str]
) -> None:
    p = problem(client.post("/api/v1/orders", headers=shop, json=order_body("NOPE")), 422, "validation")
    assert [(e["path"], e["code"]) for e in p["errors"]] == [("$.channel", "unknown_channel")]
    client.post(
        "/api/v1/channels",
        headers=shop,
        json={"code": "OLD", "name": "Closed shop", "type": "retail", "currency": "GBP", "active": False},
    )
    p = problem(client.post("/api/v1/orders", headers=shop, json=order_body("OLD")), 422, "validation")
    assert [(e["path"], e["code"]) for e in p["errors"]] == [("$.channel", "inactive_channel")]
