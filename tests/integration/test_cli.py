"""The `legato` command as an operator uses it, as a real process, on both databases."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

from fastapi.testclient import TestClient
from tests.conftest import TEST_SECRET

from legato.api.app import create_app
from legato.bootstrap import Runtime
from legato.domain.catalog import Channel, ChannelType, Product
from legato.domain.commands import LineDraft, OrderDraft, PlaceOrder
from legato.services.catalog import save_channel, save_product
from legato.services.orders import place_order


def legato(db_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEGATO_")}
    env.update(LEGATO_DATABASE_URL=db_url, LEGATO_SECRET_KEY=TEST_SECRET, COLUMNS="200")
    command = [sys.executable, "-m", "legato.cli", *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)


def _one_order(rt: Runtime) -> str:
    save_channel(rt.uow(), Channel("WEB", "Web", ChannelType.ECOMMERCE, "rest", "GBP"), create=True)
    save_product(rt.uow(), Product("TEA", "Tea", prices={"GBP": Decimal("4.50")}), create=True)
    draft = OrderDraft("WEB", (LineDraft("TEA", Decimal(2)),), external_reference="CLI-1")
    return place_order(rt.uow(), PlaceOrder(draft, "test")).order.number or ""


def test_orders_can_be_listed_shown_and_moved_from_the_command_line(runtime: Runtime, db_url: str) -> None:
    number = _one_order(runtime)

    listed = legato(db_url, "orders", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert [o["external_ref"] for o in json.loads(listed.stdout)["items"]] == ["CLI-1"]

    moved = legato(db_url, "orders", "transition", number, "on_hold", "--reason", "fraud check")
    assert moved.returncode == 0, moved.stderr
    assert "on_hold" in moved.stdout

    refused = legato(db_url, "orders", "transition", number, "completed")
    assert refused.returncode == 1
    assert "allowed: cancelled, created, voided" in refused.stderr

    shown = legato(db_url, "orders", "show", number, "--json")
    order = json.loads(shown.stdout)
    assert order["status"] == "on_hold" and order["held_from"] == "created"
    assert [(e["kind"], e["reason"]) for e in order["timeline"]][-1] == ("status_changed", "fraud check")
    assert order["timeline"][-1]["actor"].startswith("cli")


def test_an_api_key_made_on_the_command_line_works_with_exactly_its_scopes(
    runtime: Runtime, db_url: str
) -> None:
    made = legato(db_url, "apikey", "create", "--scope", "orders:read", "--name", "dashboard")
    assert made.returncode == 0, made.stderr
    key = made.stdout.strip()
    assert key.startswith("lgt_")
    with TestClient(create_app(runtime)) as client:
        headers = {"Authorization": f"Bearer {key}"}
        assert client.get("/api/v1/orders", headers=headers).status_code == 200
        denied = client.post("/api/v1/orders", headers=headers, json={"channel": "X", "lines": []})
        assert denied.status_code == 403 and denied.json()["required_scope"] == "orders:write"
    assert legato(db_url, "apikey", "revoke", "dashboard").returncode == 0
    with TestClient(create_app(runtime)) as client:
        assert client.get("/api/v1/orders", headers={"Authorization": f"Bearer {key}"}).status_code == 401


def test_an_order_is_placed_from_a_json_file_once_and_bad_lines_are_named(
    runtime: Runtime, db_url: str, tmp_path: Path
) -> None:
    _one_order(runtime)
    order = tmp_path / "order.json"
    order.write_text(
        json.dumps(
            {"channel": "WEB", "external_reference": "FILE-1", "lines": [{"sku": "TEA", "quantity": 3}]}
        )
    )
    first = legato(db_url, "orders", "create", str(order), "--json")
    assert first.returncode == 0, first.stderr
    placed = json.loads(first.stdout)
    assert (placed["external_reference"], placed["totals"]["grand_total"]) == ("FILE-1", "13.50")
    again = legato(db_url, "orders", "create", str(order))
    assert again.returncode == 0 and "already there" in again.stdout and placed["number"] in again.stdout

    order.write_text(
        json.dumps({"channel": "WEB", "lines": [{"sku": "TEA", "quantity": 0}, {"sku": "NOPE"}]})
    )
    invalid = legato(db_url, "orders", "create", str(order))
    assert invalid.returncode == 2
    assert "$.lines[0].quantity" in invalid.stderr and "$.lines[1].quantity" in invalid.stderr

    order.write_text(json.dumps({"channel": "WEB", "lines": [{"sku": "NOPE", "quantity": 1}]}))
    refused = legato(db_url, "orders", "create", str(order))
    assert refused.returncode == 1 and "$.lines[0].sku: no active product with SKU 'NOPE'" in refused.stderr


def test_an_unknown_scope_is_refused_with_the_list_of_scopes(db_url: str) -> None:
    made = legato(db_url, "apikey", "create", "--scope", "orders:delete")
    assert made.returncode == 2
    assert "orders:read" in made.stderr and "lgt_" not in made.stdout


def test_a_quarantined_delivery_is_listed_shown_and_replayed_from_the_command_line(
    runtime: Runtime, db_url: str
) -> None:
    from legato.domain.catalog import ChannelSettings
    from legato.domain.errors import LegatoError
    from legato.intake.pipeline import receive
    from legato.services.catalog import save_channel as save

    _one_order(runtime)
    channel = Channel("ERP", "ERP", ChannelType.INTEGRATION, "rest", "GBP", secrets={"webhook_secret": "s"})
    save(runtime.uow(), channel, create=True)
    body = json.dumps(
        {"channel": "ERP", "external_reference": "Q-1", "lines": [{"sku": "A-7", "quantity": 1}]}
    )
    sig = hmac.new(b"s", body.encode(), hashlib.sha256).hexdigest()
    try:
        receive(
            runtime,
            "ERP",
            method="POST",
            path="/intake/ERP",
            query={},
            body=body.encode(),
            headers={"x-legato-signature": f"sha256={sig}"},
            source="test",
        )
    except LegatoError as exc:
        entry = exc.extra["inbox_id"]
    listed = legato(db_url, "inbox", "list", "--quarantined")
    assert listed.returncode == 0 and "A-7" in listed.stdout
    shown = json.loads(legato(db_url, "inbox", "show", str(entry)).stdout)
    assert shown["state"] == "quarantined" and json.loads(shown["body"])["external_reference"] == "Q-1"
    assert legato(db_url, "inbox", "replay", str(entry)).returncode == 1  # still unknown
    mapped = Channel(
        "ERP",
        "ERP",
        ChannelType.INTEGRATION,
        "rest",
        "GBP",
        ChannelSettings(extra={"sku_map": {"A-7": "TEA"}}),
    )
    save_channel(runtime.uow(), mapped, create=False)
    replayed = legato(db_url, "inbox", "replay", str(entry))
    assert replayed.returncode == 0 and "processed" in replayed.stdout
