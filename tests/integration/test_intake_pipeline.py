"""The intake pipeline through the real endpoint, on both databases, with the signed
canonical (``rest``) channel: inbox first, verify, parse, enrich, create; quarantine and
replay; concurrent re-deliveries; a crash between the inbox and the order."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from api_helpers import count, problem
from fastapi.testclient import TestClient
from tests.conftest import TEST_SECRET

from legato.bootstrap import Runtime

SECRET = "rest-channel-secret"


def signed(body: dict[str, Any] | bytes) -> tuple[bytes, dict[str, str]]:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    sig = hmac.new(SECRET.encode(), raw, hashlib.sha256).hexdigest()
    return raw, {"Content-Type": "application/json", "X-Legato-Signature": f"sha256={sig}"}


@pytest.fixture
def erp(client: TestClient, shop: dict[str, str]) -> dict[str, str]:
    """A signed REST channel ERP (GBP) whose SKU map knows the ERP's article numbers."""
    r = client.post(
        "/api/v1/channels",
        headers=shop,
        json={
            "code": "ERP",
            "name": "ERP push",
            "type": "integration",
            "adapter": "rest",
            "currency": "GBP",
            "secrets": {"webhook_secret": SECRET},
            "settings": {"sku_map": {"ART-0001": "TEA-100", "ART-0002": "MUG-200"}},
        },
    )
    assert r.status_code == 201, r.text
    return shop


def order(ref: str = "ERP-1", *lines: tuple[str, int]) -> dict[str, Any]:
    items = [{"sku": s, "quantity": q} for s, q in (lines or (("ART-0001", 2), ("ART-0002", 1)))]
    return {
        "channel": "ERP",
        "external_reference": ref,
        "customer": {"email": "buyer@acme.example"},
        "lines": items,
    }


def test_a_signed_delivery_is_stored_mapped_and_placed_once(
    client: TestClient, erp: dict[str, str], runtime: Runtime
) -> None:
    raw, headers = signed(order())
    first = client.post("/intake/ERP", content=raw, headers=headers)
    assert first.status_code == 201, first.text
    result = first.json()
    assert result["state"] == "processed" and result["orders"][0]["created"] is True
    number = result["orders"][0]["number"]
    got = client.get(f"/api/v1/orders/{number}", headers=erp).json()
    assert [(ln["sku"], ln["quantity"]) for ln in got["lines"]] == [("TEA-100", "2"), ("MUG-200", "1")]
    assert got["inbox_id"] == result["inbox_id"] and got["timeline"][0]["actor"] == "channel:ERP"
    entry = client.get(f"/api/v1/inbox/{result['inbox_id']}", headers=erp).json()
    assert entry["state"] == "processed" and entry["order_id"] == got["id"]
    assert entry["body"] == raw.decode() and "x-legato-signature" in entry["headers"]

    again = client.post("/intake/ERP", content=raw, headers=headers)
    assert again.status_code == 200 and again.json()["state"] == "duplicate"
    assert count(runtime, "orders") == 1 and count(runtime, "inbox") == 2


def test_a_bad_or_missing_signature_is_401_and_kept_as_rejected(
    client: TestClient, erp: dict[str, str], runtime: Runtime
) -> None:
    raw, _ = signed(order())
    for headers in ({"X-Legato-Signature": "sha256=" + "0" * 64}, {}):
        p = problem(client.post("/intake/ERP", content=raw, headers=headers), 401, "signature_invalid")
        assert p["inbox_id"] > 0
    rejected = client.get("/api/v1/inbox?state=rejected", headers=erp).json()["items"]
    assert len(rejected) == 2 and count(runtime, "orders") == 0


def test_an_unknown_channel_is_404_and_the_delivery_is_still_kept(
    client: TestClient, erp: dict[str, str]
) -> None:
    problem(client.post("/intake/NOPE", content=b"{}"), 404, "not_found")
    kept = client.get("/api/v1/inbox?channel=NOPE", headers=erp).json()["items"]
    assert [(e["state"], e["size"]) for e in kept] == [("rejected", 2)]


@pytest.mark.parametrize(
    ("body", "path"),
    [
        (b'{"channel": "ERP", "lines": [', "$"),
        (json.dumps({"channel": "ERP", "lines": [{"sku": "ART-0001"}]}).encode(), "$.lines[0].quantity"),
        (
            json.dumps({"channel": "ERP", "lines": [{"sku": "ART-0001", "quantity": 10**9}]}).encode(),
            "$.lines[0].quantity",
        ),
        (
            json.dumps(
                {"channel": "ERP", "currency": "XXQ", "lines": [{"sku": "ART-0001", "quantity": 1}]}
            ).encode(),
            "$.currency",
        ),
        (
            json.dumps({"channel": "ERP", "lines": [{"sku": "GHOST", "quantity": 1}]}).encode(),
            "$.lines[0].sku",
        ),
    ],
)
def test_bad_input_is_quarantined_with_its_field_and_makes_no_order(
    client: TestClient, erp: dict[str, str], runtime: Runtime, body: bytes, path: str
) -> None:
    raw, headers = signed(body)
    r = client.post("/intake/ERP", content=raw, headers=headers)
    assert r.status_code == 422, r.text
    p = r.json()
    assert path in [e["path"] for e in p["errors"]], p
    entry = client.get(f"/api/v1/inbox/{p['inbox_id']}", headers=erp).json()
    assert entry["state"] == "quarantined" and entry["body"] == raw.decode() and entry["errors"]
    assert count(runtime, "orders") == 0 and count(runtime, "order_lines") == 0


def test_a_quarantined_delivery_is_replayed_once_the_mapping_is_fixed(
    client: TestClient, erp: dict[str, str], runtime: Runtime
) -> None:
    raw, headers = signed(order("ERP-9", ("ART-0009", 3)))
    p = client.post("/intake/ERP", content=raw, headers=headers).json()
    assert p["code"] == "unknown_sku" and "ART-0009" in p["detail"]
    channel = client.get("/api/v1/channels/ERP", headers=erp).json()
    channel["settings"]["sku_map"]["ART-0009"] = "POT-300"
    channel.pop("secrets")
    assert client.put("/api/v1/channels/ERP", headers=erp, json=channel).status_code == 200
    replayed = client.post(f"/api/v1/inbox/{p['inbox_id']}/replay", headers=erp)
    assert replayed.status_code == 201, replayed.text
    assert count(runtime, "orders") == 1
    again = client.post(f"/api/v1/inbox/{p['inbox_id']}/replay", headers=erp)
    problem(again, 409, "illegal_transition")


def test_an_unknown_sku_can_be_kept_as_a_line_for_review_on_a_held_order(
    client: TestClient, erp: dict[str, str]
) -> None:
    channel = client.get("/api/v1/channels/ERP", headers=erp).json()
    channel["settings"]["unknown_sku"] = "review"
    channel.pop("secrets")
    assert client.put("/api/v1/channels/ERP", headers=erp, json=channel).status_code == 200
    raw, headers = signed(order("ERP-R", ("ART-0001", 1), ("MYSTERY-7", 2)))
    r = client.post("/intake/ERP", content=raw, headers=headers)
    assert r.status_code == 201, r.text
    got = client.get(f"/api/v1/orders/{r.json()['orders'][0]['number']}", headers=erp).json()
    assert got["status"] == "on_hold" and "MYSTERY-7" in got["timeline"][0]["reason"]
    review = [ln for ln in got["lines"] if ln["status"] == "review"]
    assert [(ln["sku"], ln["quantity"], ln["price_source"]) for ln in review] == [
        ("MYSTERY-7", "2", "unmapped")
    ]


def test_five_concurrent_redeliveries_make_exactly_one_order(
    client: TestClient, erp: dict[str, str], runtime: Runtime
) -> None:
    raw, headers = signed(order("ERP-RACE"))
    with ThreadPoolExecutor(5) as pool:
        codes = sorted(
            pool.map(lambda _: client.post("/intake/ERP", content=raw, headers=headers).status_code, range(5))
        )
    assert codes == [200, 200, 200, 200, 201]
    assert count(runtime, "orders") == 1 and count(runtime, "inbox") == 5


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve(db_url: str, port: int, **env: str) -> subprocess.Popen[bytes]:
    e = {k: v for k, v in os.environ.items() if not k.startswith("LEGATO_")}
    e.update(LEGATO_DATABASE_URL=db_url, LEGATO_SECRET_KEY=TEST_SECRET, LEGATO_LOG_LEVEL="WARNING", **env)
    proc = subprocess.Popen(
        [sys.executable, "-m", "legato.cli", "serve", "--port", str(port)],
        env=e,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.TransportError:
            time.sleep(0.2)
    proc.kill()
    raise AssertionError("legato serve did not start")


def test_a_crash_after_the_inbox_write_is_recovered_at_restart_and_the_order_made_once(
    client: TestClient, erp: dict[str, str], runtime: Runtime, db_url: str, tmp_path: Path
) -> None:
    port = _port()
    raw, headers = signed(order("ERP-CRASH"))
    proc = _serve(db_url, port, LEGATO_FAULT="crash_after_inbox")
    try:
        with pytest.raises(httpx.TransportError):  # the process dies before it answers
            httpx.post(f"http://127.0.0.1:{port}/intake/ERP", content=raw, headers=headers, timeout=10)
        assert proc.wait(timeout=10) == 137
    finally:
        proc.kill()
    assert count(runtime, "inbox") == 1 and count(runtime, "orders") == 0
    proc = _serve(db_url, port)  # a normal start recovers what the crash left
    try:
        deadline = time.monotonic() + 20
        while count(runtime, "orders") == 0 and time.monotonic() < deadline:
            time.sleep(0.2)
        # the platform retries the delivery too: still one order
        again = httpx.post(f"http://127.0.0.1:{port}/intake/ERP", content=raw, headers=headers, timeout=10)
        assert again.status_code == 200, again.text
    finally:
        proc.terminate()
        proc.wait(timeout=15)
    assert count(runtime, "orders") == 1
    states = client.get("/api/v1/inbox", headers=erp).json()["items"]
    assert sorted(e["state"] for e in states) == ["duplicate", "processed"]


def test_the_canonical_api_keeps_its_raw_body_in_the_inbox(client: TestClient, erp: dict[str, str]) -> None:
    r = client.post("/api/v1/orders", headers=erp, json={**order("API-1", ("TEA-100", 1)), "channel": "WEB"})
    assert r.status_code == 201, r.text
    entry = client.get(f"/api/v1/inbox/{r.json()['inbox_id']}", headers=erp).json()
    assert entry["adapter"] == "rest" and json.loads(entry["body"])["external_reference"] == "API-1"
    assert "authorization" not in entry["headers"]  # credentials are never stored
