"""X12 850s posted to the real endpoint, on both databases: the orders with their lines and
addresses, the 997 of every group and the 855 of every confirmed order stored with growing
control numbers, re-deliveries, a partly bad interchange, cancellations and refusals."""

from __future__ import annotations

import hashlib
import hmac
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from api_helpers import count, problem
from fastapi.testclient import TestClient
from sqlalchemy import select

from legato.bootstrap import Runtime
from legato.intake.edi.x12 import read_interchange
from legato.store import documents, tables

SAMPLES = Path(__file__).parent.parent / "fixtures" / "edi" / "x12"
SECRET = "x12-harbor-3f9c2a71"


def signed(name: str, secret: str = SECRET) -> dict[str, Any]:
    body = (SAMPLES / name).read_bytes()
    sig = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {
        "content": body,
        "headers": {"Content-Type": "application/edi-x12", "X-Legato-Signature": f"sha256={sig}"},
    }


@pytest.fixture
def edi(client: TestClient, admin: dict[str, str]) -> dict[str, str]:
    """The catalogue the samples order from, and channel EDI-HARBOR (trusting the partner's
    prices, the vendor's item number as the SKU) as the worked example in docs/channels/x12.md."""

    def post(path: str, body: dict[str, Any]) -> None:
        r = client.post(path, json=body, headers=admin)
        assert r.status_code == 201, r.text

    for sku, price in (("TEA-100", "4.75"), ("MUG-200", "12.50"), ("POT-300", "42.00")):
        post("/api/v1/products", {"sku": sku, "name": sku.title(), "prices": {"USD": price, "AUD": price}})
    post("/api/v1/channels", {
        "code": "EDI-HARBOR", "name": "Harbor Outfitters (EDI)", "type": "b2b", "adapter": "edi-x12",
        "currency": "USD", "secrets": {"webhook_secret": SECRET},
        "settings": {"price_policy": "trust", "match_keys": ["code", "email"], "x12_item_qualifier": "VN"},
    })  # fmt: skip
    return admin


def channel_id(rt: Runtime, code: str) -> int:
    with rt.engine.connect() as conn:
        return int(
            conn.execute(select(tables.channels.c.id).where(tables.channels.c.code == code)).scalar_one()
        )


def docs(rt: Runtime, kind: str, code: str = "EDI-HARBOR") -> list[documents.Document]:
    return sorted(
        documents.listing(rt.engine, channel_id=channel_id(rt, code), kind=kind), key=lambda d: d.id
    )


def order(client: TestClient, headers: dict[str, str], number: str) -> dict[str, Any]:
    r = client.get(f"/api/v1/orders/{number}", headers=headers)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def lines(o: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    return [(ln["sku"], _n(ln["quantity"]), _n(ln["unit_price"]), ln["name"]) for ln in o["lines"]]


def _n(value: Any) -> str:
    return format(Decimal(str(value)).normalize(), "f")


def test_the_documented_850_becomes_an_order_with_its_997_and_855(
    client: TestClient, edi: dict[str, str], runtime: Runtime
) -> None:
    r = client.post("/intake/EDI-HARBOR", **signed("850-4010-harbor.edi"))
    assert r.status_code == 201, r.text
    result = r.json()
    assert result["state"] == "processed" and [o["created"] for o in result["orders"]] == [True]
    o = order(client, edi, result["orders"][0]["number"])
    assert (o["channel"], o["external_reference"], o["currency"], o["status"]) == (
        "EDI-HARBOR", "HR-4500012345", "USD", "created",
    )  # fmt: skip
    assert lines(o) == [
        ("TEA-100", "24", "4.5", "Breakfast tea, 100 bags"),
        ("MUG-200", "6", "12", "Stoneware mug, 350 ml"),
        ("POT-300", "2", "39.99", "Cast iron teapot, case of 4"),
    ]
    assert _n(o["totals"]["grand_total"]) == "259.98"
    assert (o["customer"]["name"], o["customer"]["email"]) == (
        "Harbor Outfitters Inc", "dana.whitfield@harbor.example",
    )  # fmt: skip
    assert o["shipping_address"] == {
        "name": "Receiving Dock 4", "company": "Harbor Outfitters DC 12", "line1": "1200 Commerce Way",
        "line2": "Building B", "city": "Worcester", "region": "MA", "postcode": "01608", "country": "US",
        "phone": "5085550199",
    }  # fmt: skip
    assert o["billing_address"]["line1"] == "PO Box 5500" and o["billing_address"]["city"] == "Boston"
    assert "delivery requested: 2024-05-15" in o["notes"] and "line 3: quantity 2 CA" in o["notes"]

    (ack,) = docs(runtime, "997")
    assert (ack.control_number, ack.filename, ack.inbox_id) == ("000000001", "997-HARBORRETAIL-4711.x12",
                                                                result["inbox_id"])  # fmt: skip
    assert b"AK1*PO*4711~AK2*850*0001~AK5*A~AK9*A*1*1*1~" in ack.body
    (confirmation,) = docs(runtime, "855")
    assert (confirmation.control_number, confirmation.order_id) == ("000000002", o["id"])
    assert f"BAK*00*AD*HR-4500012345*20240501****{o['number']}*".encode() in confirmation.body
    assert confirmation.body.count(b"ACK*IA*") == 3
    read_interchange(confirmation.body)  # both documents read back
    read_interchange(ack.body)


def test_a_re_sent_850_makes_no_new_order_but_a_new_997_with_the_next_control_number(
    client: TestClient, edi: dict[str, str], runtime: Runtime
) -> None:
    first = client.post("/intake/EDI-HARBOR", **signed("850-4010-harbor.edi"))
    again = client.post("/intake/EDI-HARBOR", **signed("850-4010-harbor.edi"))
    assert (first.status_code, again.status_code) == (201, 200), again.text
    assert again.json()["state"] == "duplicate"
    assert again.json()["orders"][0]["number"] == first.json()["orders"][0]["number"]
    assert count(runtime, "orders") == 1
    assert [d.control_number for d in docs(runtime, "997")] == ["000000001", "000000003"]
    assert len(docs(runtime, "855")) == 1  # acknowledged once


def test_5010_with_pipes_and_newlines_places_every_transaction_set(
    client: TestClient, edi: dict[str, str], runtime: Runtime
) -> None:
    r = client.post("/intake/EDI-HARBOR", **signed("850-5010-cedar-two-orders.edi"))
    assert r.status_code == 201, r.text
    first, second = (order(client, edi, o["number"]) for o in r.json()["orders"])
    assert (first["external_reference"], second["external_reference"]) == ("CP-77001", "CP-77002")
    assert [ln[:3] for ln in lines(first)] == [("TEA-100", "10", "4.8"), ("MUG-200", "4", "13.5")]
    assert lines(second)[0][:3] == ("POT-300", "1", "42")  # no price sent: the catalogue's
    assert (
        first["shipping_address"]["country"] == "AU"
        and first["customer"]["email"] == "orders@cedarpine.example"
    )
    assert "Deliver before 7am, kitchen door" in second["notes"]
    (ack,) = docs(runtime, "997")
    assert b"AK9|A|2|2|2\n" in ack.body and ack.body.startswith(b"ISA|00|")
    assert len(docs(runtime, "855")) == 2


def test_a_partly_bad_interchange_places_the_good_orders_and_quarantines_the_bad_one(
    client: TestClient, edi: dict[str, str], runtime: Runtime
) -> None:
    r = client.post("/intake/EDI-HARBOR", **signed("850-5010-maple-partly-bad.edi"))
    assert r.status_code == 201, r.text
    result = r.json()
    assert result["state"] == "quarantined"
    assert result["reason"] == "1 part(s) refused (MX-502); 2 order(s) placed"
    refs = [order(client, edi, o["number"])["external_reference"] for o in result["orders"]]
    assert refs == ["MX-501", "MX-503"]
    entry = client.get(f"/api/v1/inbox/{result['inbox_id']}", headers=edi).json()
    assert [(e["reference"], e["path"], e["code"]) for e in entry["errors"]] == [
        ("MX-502", "segment 14 BEG05", "invalid_date"),
        ("MX-502", "segment 16 PO106", "invalid_code"),
    ]
    assert entry["errors"][0]["message"] == (
        "segment 14 (BEG), element BEG05: '20241315' is not a date (CCYYMMDD): there is no month 13"
    )
    (ack,) = docs(runtime, "997")
    assert (
        b"AK2*850*0002~AK3*BEG*2**8~AK4*5*373*8*20241315~AK3*PO1*4*PO1*8~AK4*6*235*7*XX~AK5*R*5~" in ack.body
    )
    assert b"AK9*P*3*3*2~" in ack.body
    assert len(docs(runtime, "855")) == 2
    # a replay after nothing changed refuses the same part and keeps the two orders single
    again = client.post(f"/api/v1/inbox/{result['inbox_id']}/replay", headers=edi)
    assert again.status_code == 200, again.text
    assert again.json()["state"] == "quarantined" and count(runtime, "orders") == 2


def test_an_unreadable_interchange_is_quarantined_naming_the_segment(
    client: TestClient, edi: dict[str, str], runtime: Runtime
) -> None:
    r = client.post("/intake/EDI-HARBOR", **signed("broken-truncated.edi"))
    body = problem(r, 422, "unparseable")
    assert body["errors"][0]["path"] == "segment 11 CTT"  # a place in the EDI document, not a JSON path
    assert body["errors"][0]["pointer"] is None
    assert "the interchange ends after this segment without its IEA trailer" in body["detail"]
    assert count(runtime, "orders") == 0 and docs(runtime, "997") == []
    entry = client.get(f"/api/v1/inbox/{body['inbox_id']}", headers=edi).json()
    assert (entry["state"], entry["topic"], entry["delivery_id"]) == ("quarantined", "850", "000000301")


def test_an_unsigned_interchange_is_refused_and_kept(
    client: TestClient, edi: dict[str, str], runtime: Runtime
) -> None:
    r = client.post("/intake/EDI-HARBOR", **signed("850-4010-harbor.edi", secret="not-the-secret"))
    problem(r, 401, "signature_invalid")
    assert count(runtime, "orders") == 0 and count(runtime, "inbox", state="rejected") == 1


def test_an_order_held_for_review_gets_its_997_but_no_855_yet(
    client: TestClient, edi: dict[str, str], runtime: Runtime
) -> None:
    r = client.post("/api/v1/channels", headers=edi, json={
        "code": "EDI-REVIEW", "name": "Buyer part numbers", "type": "b2b", "adapter": "edi-x12",
        "currency": "USD", "secrets": {"webhook_secret": SECRET},
        "settings": {"price_policy": "trust", "x12_item_qualifier": "BP", "unknown_sku": "review"},
    })  # fmt: skip
    assert r.status_code == 201, r.text
    r = client.post("/intake/EDI-REVIEW", **signed("850-4010-harbor.edi"))
    assert r.status_code == 201, r.text
    o = order(client, edi, r.json()["orders"][0]["number"])
    assert o["status"] == "on_hold" and [ln["status"] for ln in o["lines"]] == ["review", "open", "review"]
    assert len(docs(runtime, "997", "EDI-REVIEW")) == 1 and docs(runtime, "855", "EDI-REVIEW") == []


def test_the_buyer_s_cancellation_cancels_the_order(
    client: TestClient, edi: dict[str, str], runtime: Runtime
) -> None:
    placed = client.post("/intake/EDI-HARBOR", **signed("850-4010-harbor.edi")).json()
    r = client.post("/intake/EDI-HARBOR", **signed("850-4010-harbor-cancel.edi"))
    assert r.status_code == 200, r.text
    assert (r.json()["state"], r.json()["reason"]) == ("processed", "cancelled")
    assert order(client, edi, placed["orders"][0]["number"])["status"] == "cancelled"
    assert [d.control_number for d in docs(runtime, "997")] == ["000000001", "000000003"]


def test_an_unknown_item_waits_in_quarantine_after_its_997_and_a_replay_after_the_fix_places_it(
    client: TestClient, edi: dict[str, str], runtime: Runtime
) -> None:
    channel: dict[str, Any] = {
        "code": "EDI-BP", "name": "Buyer part numbers", "type": "b2b", "adapter": "edi-x12",
        "currency": "USD", "secrets": {"webhook_secret": SECRET},
        "settings": {"price_policy": "trust", "x12_item_qualifier": "BP"},
    }  # fmt: skip
    assert client.post("/api/v1/channels", json=channel, headers=edi).status_code == 201
    r = client.post("/intake/EDI-BP", **signed("850-4010-harbor.edi"))
    body = problem(r, 422, "unknown_sku")
    assert [e["value"] for e in body["errors"]] == ["HB-88120", "HB-88311"]
    assert count(runtime, "orders") == 0
    assert len(docs(runtime, "997", "EDI-BP")) == 1  # the syntax was acknowledged before the business failed
    channel["settings"]["sku_map"] = {"HB-88120": "TEA-100", "HB-88311": "POT-300"}
    assert client.put("/api/v1/channels/EDI-BP", json=channel, headers=edi).status_code == 200
    again = client.post(f"/api/v1/inbox/{body['inbox_id']}/replay", headers=edi)
    assert again.status_code == 201, again.text
    o = order(client, edi, again.json()["orders"][0]["number"])
    assert [ln[0] for ln in lines(o)] == ["TEA-100", "MUG-200", "POT-300"]
    assert [d.control_number for d in docs(runtime, "997", "EDI-BP")] == ["000000001", "000000002"]
    assert [d.control_number for d in docs(runtime, "855", "EDI-BP")] == ["000000003"]
