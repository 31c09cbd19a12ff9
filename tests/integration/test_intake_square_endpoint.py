"""Square POS webhooks through the real endpoint, on both databases, with RetrieveOrder
answered by a real HTTP server on loopback: paid till orders, re-deliveries, signatures,
cancellations, quarantine and replay."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from api_helpers import count, problem
from fastapi.testclient import TestClient

from legato.bootstrap import Runtime

FIXTURES = Path(__file__).parent.parent / "fixtures" / "intake" / "square"
SIGNATURE_KEY = "sq-signature-key-Zx81"
TOKEN = "EAAAl-test-access-token"
NOTIFICATION_URL = "https://legato.example/intake/POS"
POS_ORDER = "eA3vssLHKJrv9H0IdJCM3gNqfdcZY"


def fixture(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    return doc


class Square:
    """GET /v2/orders/{id} on 127.0.0.1, answering only the right token and a Square-Version."""

    def __init__(self) -> None:
        self.orders: dict[str, dict[str, Any]] = {}
        self.calls = 0
        state = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                state.calls += 1
                order_id = self.path.removeprefix("/v2/orders/")
                if self.headers.get("Authorization") != f"Bearer {TOKEN}" or not self.headers.get(
                    "Square-Version"
                ):
                    status, body = (
                        401,
                        {"errors": [{"category": "AUTHENTICATION_ERROR", "code": "UNAUTHORIZED"}]},
                    )
                elif order_id in state.orders:
                    status, body = 200, {"order": state.orders[order_id]}
                else:
                    err = {
                        "category": "INVALID_REQUEST_ERROR",
                        "code": "NOT_FOUND",
                        "detail": "no such order",
                    }
                    status, body = 404, {"errors": [err]}
                raw = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture
def square() -> Iterator[Square]:
    s = Square()
    s.orders[POS_ORDER] = fixture("retrieve_order_pos_paid.json")["order"]
    thread = threading.Thread(target=s.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield s
    s.server.shutdown()
    s.server.server_close()
    thread.join(5)


@pytest.fixture
def pos(client: TestClient, admin: dict[str, str], square: Square) -> dict[str, str]:
    """Channel POS: a Square till (retail, USD) whose SKU map knows the catalogue ids."""

    def post(path: str, body: dict[str, Any]) -> None:
        r = client.post(path, json=body, headers=admin)
        assert r.status_code == 201, r.text

    for sku in ("LATTE-L", "CUSTOM", "TEA-100"):
        post("/api/v1/products", {"sku": sku, "name": sku.title(), "prices": {"USD": "1.00"}})
    post("/api/v1/channels", {
        "code": "POS", "name": "Till, New York", "type": "retail", "adapter": "pos", "currency": "USD",
        "secrets": {"signature_key": SIGNATURE_KEY, "access_token": TOKEN},
        "settings": {
            "price_policy": "trust", "notification_url": NOTIFICATION_URL, "square_base_url": square.url,
            "square_version": "2025-01-23",
            "sku_map": {"W62UWFY35CWMYGVWK6TWJDNI": "LATTE-L", "custom": "CUSTOM"},
        },
    })  # fmt: skip
    return admin


def event(body: dict[str, Any] | bytes, key: str = SIGNATURE_KEY) -> dict[str, Any]:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    signature = base64.b64encode(
        hmac.new(key.encode(), NOTIFICATION_URL.encode() + raw, hashlib.sha256).digest()
    )
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "Square Connect v2",
        "square-environment": "Production",
        "x-square-hmacsha256-signature": signature.decode(),
    }
    return {"content": raw, "headers": headers}


def created(order_id: str = POS_ORDER) -> dict[str, Any]:
    doc = fixture("event_order_created.json")
    doc["data"]["id"] = doc["data"]["object"]["order_created"]["order_id"] = order_id
    return doc


def _order(client: TestClient, headers: dict[str, str], number: str) -> dict[str, Any]:
    r = client.get(f"/api/v1/orders/{number}", headers=headers)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def test_a_till_order_is_fetched_placed_exactly_and_ends_paid_with_the_till_tags(
    client: TestClient, pos: dict[str, str], square: Square
) -> None:
    r = client.post("/intake/POS", **event(created()))
    assert r.status_code == 201, r.text
    assert square.calls == 1
    result = r.json()
    order = _order(client, pos, result["orders"][0]["number"])
    assert (order["channel"], order["external_reference"], order["currency"]) == ("POS", POS_ORDER, "USD")
    keys = ("quantity", "unit_price", "tax_rate", "total")
    assert [(ln["sku"], ln["name"], *(Decimal(ln[k]) for k in keys)) for ln in order["lines"]] == [
        ("LATTE-L", "Latte (Large)", 2, Decimal("4.50"), Decimal("0.08875"), Decimal("9.80")),
        ("CUSTOM", "Custom Amount", 1, Decimal("3.00"), Decimal("0.08875"), Decimal("3.27")),
    ]  # fmt: skip
    assert Decimal(order["totals"]["grand_total"]) == Decimal("13.07")  # Square's total_money: 1307 cents
    assert Decimal(order["totals"]["tax"]) == Decimal("1.07")
    assert order["payment_status"] == "paid"
    assert "pos" in order["tags"] and "location:FPYCBCHYMXFK1" in order["tags"]
    entry = client.get(f"/api/v1/inbox/{result['inbox_id']}", headers=pos).json()
    assert (entry["topic"], entry["delivery_id"]) == ("order.created", "116038d3-2948-439f-8679-fc86dbf80f69")


def test_a_redelivery_makes_one_order(client: TestClient, pos: dict[str, str], runtime: Runtime) -> None:
    request = event(created())
    assert client.post("/intake/POS", **request).status_code == 201
    again = client.post("/intake/POS", **request)
    assert again.status_code == 200 and again.json()["state"] == "duplicate"
    assert count(runtime, "orders") == 1


def test_an_update_alone_places_a_till_order_that_announced_no_creation(
    client: TestClient, pos: dict[str, str], runtime: Runtime
) -> None:
    r = client.post("/intake/POS", **event(fixture("event_order_updated.json")))
    assert r.status_code == 201, r.text
    assert _order(client, pos, r.json()["orders"][0]["number"])["payment_status"] == "paid"
    again = client.post("/intake/POS", **event(fixture("event_order_updated.json")))
    assert again.status_code == 200 and count(runtime, "orders") == 1


def test_a_canceled_update_cancels_the_order(client: TestClient, pos: dict[str, str]) -> None:
    number = client.post("/intake/POS", **event(created())).json()["orders"][0]["number"]
    r = client.post("/intake/POS", **event(fixture("event_order_updated_canceled.json")))
    assert r.status_code == 200, r.text
    assert _order(client, pos, number)["status"] == "cancelled"


def test_a_wrong_signature_is_401_and_kept_as_rejected(
    client: TestClient, pos: dict[str, str], runtime: Runtime, square: Square
) -> None:
    p = problem(client.post("/intake/POS", **event(created(), key="guess")), 401, "signature_invalid")
    rejected = client.get("/api/v1/inbox?state=rejected", headers=pos).json()["items"]
    assert [e["id"] for e in rejected] == [p["inbox_id"]]
    assert count(runtime, "orders") == 0 and square.calls == 0


def test_an_order_square_cannot_find_is_quarantined_then_replayed_once_it_can(
    client: TestClient, pos: dict[str, str], runtime: Runtime, square: Square
) -> None:
    r = client.post("/intake/POS", **event(created("LATEqRtY7uI9oP1aS3dF5gH7jZY")))
    assert r.status_code == 202, r.text  # stored, quarantined: a 2xx spares Square's 72 hours of retries
    p = r.json()
    assert [(e["path"], e["code"]) for e in p["errors"]] == [("$.data.id", "fetch_failed")]
    entry = client.get(f"/api/v1/inbox/{p['inbox_id']}", headers=pos).json()
    assert entry["state"] == "quarantined" and "NOT_FOUND" in entry["reason"]
    assert count(runtime, "orders") == 0

    order = dict(square.orders[POS_ORDER], id="LATEqRtY7uI9oP1aS3dF5gH7jZY")
    square.orders[order["id"]] = order  # Square can answer now
    replayed = client.post(f"/api/v1/inbox/{p['inbox_id']}/replay", headers=pos)
    assert replayed.status_code == 201, replayed.text
    assert count(runtime, "orders") == 1


def test_a_bad_order_is_quarantined_with_its_field_and_makes_no_order(
    client: TestClient, pos: dict[str, str], runtime: Runtime
) -> None:
    body = fixture("event_order_created_embedded.json")
    body["data"]["object"]["order"]["line_items"][0]["quantity"] = "lots"
    r = client.post("/intake/POS", **event(body))
    assert r.status_code == 202 and r.json()["state"] == "quarantined", r.text
    path = "$.data.object.order.line_items[0].quantity"
    assert [e["path"] for e in r.json()["errors"]] == [path]
    entry = client.get(f"/api/v1/inbox/{r.json()['inbox_id']}", headers=pos).json()
    assert entry["state"] == "quarantined" and entry["errors"][0]["path"] == path
    assert count(runtime, "orders") == 0


def test_truncated_json_is_quarantined_at_the_root(
    client: TestClient, pos: dict[str, str], runtime: Runtime
) -> None:
    raw = json.dumps(created()).encode()[:120]
    r = client.post("/intake/POS", **event(raw))
    assert r.status_code == 202 and [e["path"] for e in r.json()["errors"]] == ["$"]
    assert count(runtime, "orders") == 0


def test_a_draft_is_kept_as_ignored(client: TestClient, pos: dict[str, str], runtime: Runtime) -> None:
    r = client.post("/intake/POS", **event(fixture("event_order_created_draft.json")))
    assert r.status_code == 200 and r.json()["state"] == "ignored"
    assert count(runtime, "orders") == 0
