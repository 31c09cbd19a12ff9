"""The order core's happy path through HTTP, on both databases."""

from __future__ import annotations

from fastapi.testclient import TestClient


def test_a_contracted_customer_gets_contract_prices_and_the_order_is_retrievable(
    client: TestClient, shop: dict[str, str]
) -> None:
    r = client.post(
        "/api/v1/orders",
        headers=shop,
        json={
            "channel": "B2B",
            "external_reference": "PO-1",
            "customer": {"code": "ACME"},
            "lines": [{"sku": "TEA-100", "quantity": 10}, {"sku": "MUG-200", "quantity": 2}],
        },
    )
    assert r.status_code == 201, r.text
    order = r.json()
    assert order["currency"] == "EUR"
    assert [ln["price_source"] for ln in order["lines"]] == ["contract:ACME-2026", "contract:ACME-2026:-10%"]
    assert order["totals"]["grand_total"] == "65.02"  # 10 x 4.00 + 2 x 12.51
    got = client.get(f"/api/v1/orders/{order['number']}", headers=shop).json()
    assert got["timeline"][0]["kind"] == "created"
