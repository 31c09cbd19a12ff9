"""WhatsApp orders through the real endpoint, on both databases, with the confirmation
sent to a real local HTTP server that checks each call as the Cloud API would."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.integration.api_helpers import count, problem

from legato.bootstrap import Runtime

FIXTURES = Path(__file__).parents[1] / "fixtures" / "intake" / "whatsapp"
APP_SECRET = "7c1f0e9d2b4a6c8e0f1a3b5d7e9f1a2b"
VERIFY_TOKEN = "meatyhamhock"
ACCESS_TOKEN = "EAAJB-test-access-token"
API_VERSION = "v21.0"
PHONE_NUMBER_ID = "106540352242922"  # the business number the fixtures were sent to
ORDER_ID = "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQUFERjg0NDEzNDdFODU3MUMxMAA="
ITEMS = "$.entry[0].changes[0].value.messages[0].order.product_items"
SENT_ID = "wamid.HBgLMTY1MDU1NTEyMzQVAgARGBJDT05GSVJNQVRJT04wMDEA"


# --- a stand-in for graph.facebook.com ------------------------------------------------------


@dataclass
class CloudApi:
    """Answers POST /{version}/{phone_number_id}/messages as documented; anything that the
    Cloud API would refuse gets a Graph error (400/401/404) and is recorded as refused."""

    url: str = ""
    received: list[dict[str, Any]] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)

    def check(self, path: str, headers: dict[str, str], body: bytes) -> str | None:
        if path != f"/{API_VERSION}/{PHONE_NUMBER_ID}/messages":
            return f"unknown path {path}"
        if headers.get("authorization") != f"Bearer {ACCESS_TOKEN}":
            return "invalid OAuth access token"
        if not headers.get("content-type", "").startswith("application/json"):
            return "the body must be JSON"
        try:
            msg = json.loads(body)
        except ValueError:
            return "the body is not JSON"
        expected = {"messaging_product", "recipient_type", "to", "type", "text", "context"}
        if not isinstance(msg, dict) or not set(msg) <= expected:
            return f"unexpected parameters {sorted(set(msg) - expected) if isinstance(msg, dict) else msg}"
        if msg.get("messaging_product") != "whatsapp" or msg.get("recipient_type") != "individual":
            return "messaging_product must be whatsapp, recipient_type individual"
        if not isinstance(msg.get("to"), str) or not msg["to"].lstrip("+").isdigit():
            return "to must be a phone number"
        text = msg.get("text")
        if msg.get("type") != "text" or not isinstance(text, dict) or set(text) - {"body", "preview_url"}:
            return "type must be text with a text object"
        if not isinstance(text.get("body"), str) or not 0 < len(text["body"]) <= 4096:
            return "text.body must be 1 to 4096 characters"
        if "context" in msg and not str(msg["context"].get("message_id", "")).startswith("wamid."):
            return "context.message_id must be a wamid"
        return None


@pytest.fixture
def cloud_api() -> Iterator[CloudApi]:
    api = CloudApi()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            headers = {k.lower(): v for k, v in self.headers.items()}
            fault = api.check(self.path, headers, body)
            answer: dict[str, Any]
            if fault is None:
                msg = json.loads(body)
                api.received.append({"path": self.path, "headers": headers, "json": msg})
                status, answer = (
                    200,
                    {
                        "messaging_product": "whatsapp",
                        "contacts": [{"input": msg["to"], "wa_id": msg["to"].lstrip("+")}],
                        "messages": [{"id": SENT_ID}],
                    },
                )
            else:
                api.refused.append(fault)
                status = 401 if "OAuth" in fault else 404 if "path" in fault else 400
                answer = {"error": {"message": fault, "type": "OAuthException", "code": 100}}
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:  # keep the test output quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    api.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield api
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


# --- the shop: a WhatsApp channel, a product, a customer known by phone ---------------------


@pytest.fixture
def whatsapp(client: TestClient, admin: dict[str, str], cloud_api: CloudApi) -> dict[str, str]:
    def post(path: str, body: dict[str, Any]) -> None:
        r = client.post(path, json=body, headers=admin)
        assert r.status_code == 201, r.text

    post(
        "/api/v1/channels",
        {
            "code": "WA",
            "name": "WhatsApp shop",
            "type": "ecommerce",
            "adapter": "whatsapp",
            "currency": "USD",
            "settings": {
                "match_keys": ["phone"],
                "sku_map": {"di9ozbzfi4": "TEA-100"},
                "graph_base_url": cloud_api.url,
                "api_version": API_VERSION,
            },
            "secrets": {"app_secret": APP_SECRET, "verify_token": VERIFY_TOKEN, "access_token": ACCESS_TOKEN},
        },
    )
    post("/api/v1/products", {"sku": "TEA-100", "name": "Tea", "prices": {"USD": "7.99"}})
    post(
        "/api/v1/accounts",
        {"code": "SHEENA", "name": "Sheena Nelson", "phone": "+1 (650) 555-1234", "currency": "USD"},
    )
    return admin


def raw(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def deliver(client: TestClient, body: bytes, signature: str | None = None) -> Any:
    """POST a delivery as Meta does: signed with the app secret unless ``signature`` is
    given ("" sends none)."""
    if signature is None:
        signature = "sha256=" + hmac.new(APP_SECRET.encode(), body, hashlib.sha256).hexdigest()
    headers = {"Content-Type": "application/json"}
    if signature:
        headers["X-Hub-Signature-256"] = signature
    return client.post("/intake/WA", content=body, headers=headers)


def entries(client: TestClient, headers: dict[str, str], state: str) -> list[dict[str, Any]]:
    r = client.get("/api/v1/inbox", params={"channel": "WA", "state": state}, headers=headers)
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["items"]
    return items


def entry(client: TestClient, headers: dict[str, str], entry_id: int) -> dict[str, Any]:
    r = client.get(f"/api/v1/inbox/{entry_id}", headers=headers)
    assert r.status_code == 200, r.text
    found: dict[str, Any] = r.json()
    return found


# --- the tests ------------------------------------------------------------------------------


def test_meta_verifies_the_webhook_with_a_get_and_gets_the_challenge_back(
    client: TestClient, whatsapp: dict[str, str]
) -> None:
    query = {"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1158201444"}
    r = client.get("/intake/WA", params=query)
    assert r.status_code == 200
    assert r.text == "1158201444"
    assert r.headers["content-type"].startswith("text/plain")

    r = client.get("/intake/WA", params={**query, "hub.verify_token": "guess"})
    assert r.status_code == 403
    assert "1158201444" not in r.text


def test_an_order_message_places_one_order_for_the_account_matched_by_phone_and_confirms_it_once(
    client: TestClient, whatsapp: dict[str, str], cloud_api: CloudApi, runtime: Runtime
) -> None:
    r = deliver(client, raw("order.json"))
    assert r.status_code == 201, r.text
    result = r.json()
    assert result["state"] == "processed"
    [placed] = result["orders"]
    assert placed["created"] is True

    order = client.get(f"/api/v1/orders/{placed['id']}", headers=whatsapp).json()
    assert order["channel"] == "WA"
    assert order["external_reference"] == ORDER_ID
    assert order["account"] == "SHEENA"
    assert order["currency"] == "USD"
    assert [(ln["sku"], Decimal(str(ln["quantity"]))) for ln in order["lines"]] == [("TEA-100", Decimal(2))]
    assert Decimal(str(order["totals"]["grand_total"])) == Decimal("15.98")
    assert set(order["tags"]) >= {"whatsapp", "catalog:194836987003835"}
    assert order["notes"] == "Love these!"
    assert order["inbox_id"] == result["inbox_id"]

    assert cloud_api.refused == []
    [call] = cloud_api.received
    assert call["path"] == f"/{API_VERSION}/{PHONE_NUMBER_ID}/messages"
    assert call["headers"]["authorization"] == f"Bearer {ACCESS_TOKEN}"
    assert call["json"] == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": "16505551234",
        "context": {"message_id": ORDER_ID},
        "type": "text",
        "text": {"body": f"Thank you! Your order {order['number']} is confirmed: 15.98 USD."},
    }

    stored = entry(client, whatsapp, result["inbox_id"])
    assert stored["state"] == "processed"
    assert stored["topic"] == "messages" and stored["delivery_id"] == ORDER_ID
    assert stored["body"] == raw("order.json").decode()
    assert stored["ack"]["status"] == 200
    assert SENT_ID in stored["ack"]["body"]
    assert count(runtime, "orders") == 1


def test_a_re_delivery_creates_nothing_and_sends_no_second_message(
    client: TestClient, whatsapp: dict[str, str], cloud_api: CloudApi, runtime: Runtime
) -> None:
    first = deliver(client, raw("order.json"))
    assert first.status_code == 201, first.text
    again = deliver(client, raw("order.json"))
    assert again.status_code == 200, again.text
    assert again.json()["state"] == "duplicate"
    assert [o["id"] for o in again.json()["orders"]] == [first.json()["orders"][0]["id"]]
    assert again.json()["orders"][0]["created"] is False
    assert count(runtime, "orders") == 1
    assert len(cloud_api.received) == 1
    assert entry(client, whatsapp, again.json()["inbox_id"])["ack"] is None


@pytest.mark.parametrize("fixture", ["status.json", "text.json", "image.json"])
def test_statuses_and_other_messages_are_stored_and_ignored(
    client: TestClient, whatsapp: dict[str, str], cloud_api: CloudApi, runtime: Runtime, fixture: str
) -> None:
    r = deliver(client, raw(fixture))
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "ignored"
    assert r.json()["orders"] == []
    stored = entry(client, whatsapp, r.json()["inbox_id"])
    assert stored["state"] == "ignored"
    assert stored["body"] == raw(fixture).decode()
    assert count(runtime, "orders") == 0
    assert cloud_api.received == []


@pytest.mark.parametrize(
    "signature",
    ["sha256=" + "0" * 64, "sha256=" + hmac.new(b"another secret", b"x", hashlib.sha256).hexdigest(), ""],
    ids=["wrong", "other-secret", "missing"],
)
def test_a_wrong_or_missing_signature_is_refused_and_kept_as_rejected(
    client: TestClient, whatsapp: dict[str, str], cloud_api: CloudApi, runtime: Runtime, signature: str
) -> None:
    r = deliver(client, raw("order.json"), signature=signature)
    problem(r, 401, "signature_invalid")
    [kept] = entries(client, whatsapp, "rejected")
    assert entry(client, whatsapp, kept["id"])["body"] == raw("order.json").decode()
    assert count(runtime, "orders") == 0
    assert cloud_api.received == []


@pytest.mark.parametrize(
    ("fixture", "path"),
    [
        ("order_missing_quantity.json", f"{ITEMS}[1].quantity"),
        ("order_unknown_currency.json", f"{ITEMS}[0].currency"),
        ("order_mixed_currencies.json", f"{ITEMS}[1].currency"),
        ("order_missing_items.json", ITEMS),
    ],
)
def test_a_bad_payload_is_quarantined_with_its_reason_and_path(
    client: TestClient,
    whatsapp: dict[str, str],
    cloud_api: CloudApi,
    runtime: Runtime,
    fixture: str,
    path: str,
) -> None:
    r = deliver(client, raw(fixture))
    assert r.status_code == 200, r.text  # Meta retries anything but 200; the body names the problem
    body = r.json()
    assert (body["state"], body["code"]) == ("quarantined", "unparseable")
    assert [e["path"] for e in body["errors"]] == [path]
    [kept] = entries(client, whatsapp, "quarantined")
    stored = entry(client, whatsapp, kept["id"])
    assert stored["reason"]
    assert [e["path"] for e in stored["errors"]] == [path]
    assert stored["body"] == raw(fixture).decode()
    assert count(runtime, "orders") == 0
    assert cloud_api.received == []


def test_a_truncated_payload_is_quarantined_at_the_root(
    client: TestClient, whatsapp: dict[str, str], runtime: Runtime
) -> None:
    cut = raw("order.json")[:300]
    r = deliver(client, cut)
    body = r.json()
    assert (r.status_code, body["state"], body["code"]) == (200, "quarantined", "unparseable")
    assert [e["path"] for e in body["errors"]] == ["$"]
    [kept] = entries(client, whatsapp, "quarantined")
    assert entry(client, whatsapp, kept["id"])["body"] == cut.decode()
    assert count(runtime, "orders") == 0
