"""The documented dropship workflow (docs/fulfilment/dropship.md), run by the real engine and runner
on both databases against a REAL HTTP server on 127.0.0.1 standing in for the supplier: a mixed
order's dropship leg (and only it) is sent as the documented JSON, the warehouse leg stays with
the warehouse, and the supplier's confirmation and dispatch notice come back through the API."""

from __future__ import annotations

import re
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from api_helpers import key_headers, outbox_rows
from fulfilment_helpers import fos, level, order, order_row, stocked
from sqlalchemy import select
from tests.conftest import make_settings
from webhook_receiver import Receiver, drain, receiving

from legato.bootstrap import Runtime, build
from legato.store.workflow_tables import workflow_runs
from legato.workflow import definitions

DOC = Path(__file__).resolve().parents[2] / "docs" / "fulfilment" / "dropship.md"


@pytest.fixture
def runtime(db_url: str) -> Iterator[Runtime]:
    rt = build(make_settings(db_url, webhooks_timeout_seconds=1.0, workflow_backoff_base_seconds=600))
    yield rt
    rt.close()


@pytest.fixture
def supplier() -> Iterator[Receiver]:
    with receiving(default=201, answer='{"supplier_order": "ACME-555"}') as r:
        yield r


def documented_workflow(base: str) -> dict[str, Any]:
    [block] = re.findall(r"```yaml\n(.*?)```", DOC.read_text(), re.S)
    doc: dict[str, Any] = yaml.safe_load(block)
    params = doc["actions"][0]["params"]
    params["url"] = params["url"].replace("https://acme.example", base)
    return doc


def test_the_documented_workflow_sends_the_dropship_leg_and_the_supplier_answers_through_the_api(
    runtime: Runtime, client: Any, shop: dict[str, str], supplier: Receiver
) -> None:
    stocked(runtime)
    definitions.save(runtime, definitions.from_document(documented_workflow(supplier.base)), "test")
    oid = order(client, shop, ("TEA-100", 1), ("POT-300", 2))
    r = client.post(f"/api/v1/orders/{oid}/allocate", json={}, headers=shop)  # allocates and splits
    assert r.status_code == 200, r.text
    drain(runtime)

    warehouse, dropship = fos(runtime, oid)
    assert (warehouse.kind, dropship.kind) == ("ship", "dropship")
    [sent] = supplier.requests  # the warehouse's leg is not the supplier's business
    assert (sent.method, sent.path) == ("POST", "/api/dropship/orders")
    assert sent.headers["authorization"] == "Bearer acme-demo-token"
    assert sent.headers["idempotency-key"].startswith("legato-run-")
    number = f"SO-{oid:06d}-F2"
    assert sent.headers["x-fulfilment-order"] == number
    body = sent.json()
    [created] = [e.payload["fulfilment_order"] for e in outbox_rows(runtime, "fulfilment.created")
                 if e.payload["fulfilment_order"]["kind"] == "dropship"]  # fmt: skip
    assert body == created
    assert (body["number"], body["location"], body["vendor"]) == (number, "SUP-ACME", "Acme Supplies")
    assert [(ln["sku"], ln["supplier_sku"], ln["quantity"]) for ln in body["lines"]] == [
        ("POT-300", "AC-POT-3", "2")
    ]
    assert body["delivery_address"]["city"] == "Leeds"
    with runtime.engine.connect() as conn:
        runs = list(conn.execute(select(workflow_runs.c.state)))
    assert [r.state for r in runs] == ["done"]

    url = f"/api/v1/fulfilment-orders/{number}/events"
    acme = key_headers(runtime, "acme", "fulfilment:write")  # the supplier's own key, as documented
    confirm = {"status": "released", "event_id": "acme-confirm-7781", "external_ref": "ACME-555"}
    assert client.post(url, json=confirm, headers=acme).json()["applied"] is True
    assert order_row(runtime, oid).status == "processing"
    parcel = {
        "carrier": "UPS",
        "number": "1Z999AA10123456784",
        "url": "https://ups.example/1Z999AA10123456784",
    }
    notice = {"status": "dispatched", "event_id": "acme-ship-7781", "tracking": [parcel]}
    assert client.post(url, json=notice, headers=acme).json()["status"] == "dispatched"
    assert client.post(url, json=notice, headers=acme).json()["duplicate"] is True  # re-sent: harmless
    # the supplier's key moves its legs, never the orders themselves
    denied = client.post(f"/api/v1/orders/{oid}/transitions", json={"to": "cancelled"}, headers=acme)
    assert denied.status_code == 403
    got = client.get(url.removesuffix("/events"), headers=shop).json()
    assert (got["status"], got["external_ref"], got["tracking"]) == ("dispatched", "ACME-555", [parcel])
    assert order_row(runtime, oid).fulfilment_status == "partially_fulfilled"  # the warehouse leg waits
    assert level(runtime, "WH-LDN", "TEA-100") == (Decimal(10), Decimal(1))  # untouched by the dropship
    drain(runtime)
    assert len(supplier.requests) == 1  # status changes are not fulfilment.created: nothing re-sent
