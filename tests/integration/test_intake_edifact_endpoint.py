"""EDIFACT ORDERS through the real endpoint, on both databases: orders placed with their lines,
addresses and customer, a CONTRL stored per interchange with increasing control numbers,
re-deliveries, cancellations, and a partly bad interchange quarantined naming the bad message."""

from __future__ import annotations

import hashlib
import hmac
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from api_helpers import count, problem
from fastapi.testclient import TestClient

from legato.bootstrap import Runtime
from legato.intake.edi.edifact import read_interchange
from legato.store import documents

FIXTURES = Path(__file__).parent.parent / "fixtures" / "edi" / "edifact"
SECRET = "edi-9c1e2f5a7b3d"
GLN = "5412345000013"


def post(client: TestClient, name: str | bytes, channel: str = "EDI-BE", secret: str = SECRET) -> Any:
    body = name if isinstance(name, bytes) else (FIXTURES / name).read_bytes()
    sig = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    headers = {"Content-Type": "application/edifact", "X-Legato-Signature": f"sha256={sig}"}
    return client.post(f"/intake/{channel}", content=body, headers=headers)


@pytest.fixture
def edi(client: TestClient, admin: dict[str, str]) -> dict[str, str]:
    """Channel EDI-BE (GTINs mapped to SKUs, prices trusted, customers by GLN), channel EDI-SA
    (the supplier's article numbers are the SKUs), two products and the buyer's account."""

    def create(path: str, body: dict[str, Any]) -> None:
        r = client.post(path, json=body, headers=admin)
        assert r.status_code == 201, r.text

    for sku in ("TEA-100", "MUG-200"):
        create("/api/v1/products", {"sku": sku, "name": sku.title(), "prices": {"EUR": "9.00"}})
    create("/api/v1/accounts", {"code": "SUPERSTORE", "name": "Superstore NV", "currency": "EUR",
                                "properties": {"gln": GLN}})  # fmt: skip
    common = {"price_policy": "trust", "match_keys": ["property:gln"], "on_no_match": "guest"}
    gtins = {"4000862141404": "TEA-100", "4000862141411": "MUG-200", "4000862141428": "MUG-200"}
    for code, extra in (("EDI-BE", {"sku_map": gtins, "edifact_sender_id": "4012345000009"}),
                        ("EDI-SA", {"edifact_item_id": "SA"})):  # fmt: skip
        create("/api/v1/channels", {
            "code": code, "name": f"EDIFACT {code}", "type": "b2b", "adapter": "edifact", "currency": "EUR",
            "secrets": {"webhook_secret": SECRET}, "settings": {**common, **extra},
        })  # fmt: skip
    return admin


def order(client: TestClient, headers: dict[str, str], number: str) -> dict[str, Any]:
    r = client.get(f"/api/v1/orders/{number}", headers=headers)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def entry(client: TestClient, headers: dict[str, str], inbox_id: int) -> dict[str, Any]:
    r = client.get(f"/api/v1/inbox/{inbox_id}", headers=headers)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def contrls(rt: Runtime) -> list[documents.Document]:
    return sorted(documents.listing(rt.engine, kind="CONTRL"), key=lambda d: d.id)


def test_an_eancom_order_is_placed_with_its_lines_addresses_and_customer_and_a_contrl_stored(
    client: TestClient, edi: dict[str, str], runtime: Runtime
) -> None:
    r = post(client, "orders_d96a_eancom.edi")
    assert r.status_code == 201, r.text
    result = r.json()
    assert result["state"] == "processed" and [o["created"] for o in result["orders"]] == [True]
    placed = order(client, edi, result["orders"][0]["number"])
    assert (placed["channel"], placed["external_reference"], placed["currency"]) == (
        "EDI-BE",
        "PO-128576",
        "EUR",
    )
    assert placed["account"] == "SUPERSTORE"
    lines = [(ln["sku"], Decimal(str(ln["quantity"])), Decimal(str(ln["unit_price"])), ln["name"])
             for ln in placed["lines"]]  # fmt: skip
    assert lines == [("TEA-100", 48, Decimal("2.10"), "Green tea, 100 bags"),
                     ("MUG-200", 12, Decimal("6.75"), "Stoneware mug")]  # fmt: skip
    assert Decimal(str(placed["totals"]["subtotal"])) == Decimal("181.80")  # = MOA+79
    assert placed["shipping_address"] == {
        "company": "Superstore Vilvoorde DC", "line1": "Industrieweg 5", "line2": "Dock 3",
        "city": "Vilvoorde", "postcode": "1800", "country": "BE",
    }  # fmt: skip
    assert placed["billing_address"]["company"] == "Superstore Finance NV"
    assert "delivery requested 2024-03-20 10:00" in placed["notes"]
    inbox = entry(client, edi, result["inbox_id"])
    assert (inbox["topic"], inbox["delivery_id"], inbox["state"]) == ("ORDERS", "00000000000778", "processed")
    [doc] = contrls(runtime)
    assert (doc.inbox_id, doc.control_number, doc.filename) == (
        result["inbox_id"], "1", "CONTRL-5412345000013-00000000000778.edi")  # fmt: skip
    back = read_interchange(doc.body)
    assert (back.sender, back.recipient, back.control_reference) == ("4012345000009", GLN, "1")
    assert [s.tag for s in back.messages[0].segments] == ["UNH", "UCI", "UCM", "UNT"]
    assert back.messages[0].segments[2].get(3) == "7"


def test_a_redelivery_creates_nothing_and_each_contrl_takes_the_next_control_number(
    client: TestClient, edi: dict[str, str], runtime: Runtime
) -> None:
    first = post(client, "orders_d96a_eancom.edi")
    again = post(client, "orders_d96a_eancom.edi")
    assert first.status_code == 201 and again.status_code == 200, again.text
    assert again.json()["state"] == "duplicate"
    assert again.json()["orders"][0]["number"] == first.json()["orders"][0]["number"]
    assert count(runtime, "orders", external_ref="PO-128576") == 1
    post(client, "orders_d01b_unoc_no_una.edi")
    assert [d.control_number for d in contrls(runtime)] == ["1", "2", "3"]
    assert [read_interchange(d.body).control_reference for d in contrls(runtime)] == ["1", "2", "3"]


def test_a_d01b_interchange_in_latin_1_places_both_messages(client: TestClient, edi: dict[str, str]) -> None:
    r = post(client, "orders_d01b_unoc_no_una.edi")
    assert r.status_code == 201, r.text
    placed = [order(client, edi, o["number"]) for o in r.json()["orders"]]
    assert [p["external_reference"] for p in placed] == ["4501", "4502"]
    assert placed[0]["shipping_address"]["city"] == "München"
    assert placed[0]["customer"]["name"] == "Bäckerei Müller GmbH"
    assert [(ln["sku"], Decimal(str(ln["quantity"]))) for ln in placed[0]["lines"]] == [
        ("TEA-100", 10), ("MUG-200", 4)]  # fmt: skip
    assert Decimal(str(placed[1]["lines"][0]["unit_price"])) == Decimal("9.00")  # no PRI: the catalogue


def test_the_channel_can_take_the_suppliers_article_number_as_the_sku(
    client: TestClient, edi: dict[str, str]
) -> None:
    r = post(client, "orders_d96a_eancom.edi", channel="EDI-SA")
    assert r.status_code == 201, r.text
    assert [ln["sku"] for ln in order(client, edi, r.json()["orders"][0]["number"])["lines"]] == [
        "TEA-100",
        "MUG-200",
    ]


def test_a_partly_bad_interchange_places_the_good_message_and_quarantines_naming_the_bad_one(
    client: TestClient, edi: dict[str, str], runtime: Runtime
) -> None:
    r = post(client, "broken_qty_not_number.edi")
    assert r.status_code == 201, r.text
    result = r.json()
    assert result["state"] == "quarantined"
    assert result["reason"] == "1 part(s) refused (B-701); 1 order(s) placed"
    assert order(client, edi, result["orders"][0]["number"])["external_reference"] == "B-700"
    inbox = entry(client, edi, result["inbox_id"])
    assert inbox["state"] == "quarantined"
    assert inbox["errors"] == [{
        "path": "message Q2, segment 11 (QTY), element 1 component 2",
        "message": "segment 11 (QTY), element 1 component 2: quantity 'ten' is not a number",
        "code": "invalid_value", "reference": "B-701", "value": "ten",
    }]  # fmt: skip
    [doc] = contrls(runtime)
    assert b"UCM+Q1+ORDERS:D:96A:UN:EAN008+7'UCM+Q2+ORDERS:D:96A:UN:EAN008+4'UCS+11'UCD+12+1:2'" in doc.body
    replayed = client.post(f"/api/v1/inbox/{result['inbox_id']}/replay", headers=edi)
    assert replayed.status_code == 200 and replayed.json()["state"] == "quarantined"
    assert count(runtime, "orders", external_ref="B-700") == 1
    assert count(runtime, "orders", external_ref="B-701") == 0


def test_a_rejected_interchange_places_nothing_and_its_contrl_says_why(
    client: TestClient, edi: dict[str, str], runtime: Runtime
) -> None:
    r = post(client, "broken_unz_count.edi")
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "quarantined" and r.json()["orders"] == []
    assert count(runtime, "orders") == 0
    [doc] = contrls(runtime)
    assert b"UCI+BRK2+5412345000013:14+4012345000009:14+4+29+UNZ+1'" in doc.body


def test_an_unreadable_interchange_is_refused_precisely_and_gets_no_contrl(
    client: TestClient, edi: dict[str, str], runtime: Runtime
) -> None:
    body = problem(post(client, "broken_truncated.edi"), 422, "unparseable")
    assert body["errors"][0]["path"] == "interchange, segment 7"  # a place in the EDIFACT document
    assert "truncated" in body["errors"][0]["message"]
    assert entry(client, edi, body["inbox_id"])["state"] == "quarantined"
    body = problem(post(client, "broken_not_utf8.edi"), 422, "unparseable")
    assert body["errors"][0]["message"].startswith("segment 4 (NAD): byte 0xE4")
    assert contrls(runtime) == []
    assert problem(post(client, "orders_d96a_eancom.edi", secret="wrong"), 401, "signature_invalid")


def test_a_cancellation_cancels_the_order_and_a_copy_changes_nothing(
    client: TestClient, edi: dict[str, str]
) -> None:
    number = post(client, "orders_d96a_eancom.edi").json()["orders"][0]["number"]
    r = post(client, "orders_cancel.edi")
    assert r.status_code == 200, r.text
    assert order(client, edi, number)["status"] == "cancelled"


def test_groups_place_each_order_and_a_provisional_one_awaits_approval(
    client: TestClient, edi: dict[str, str]
) -> None:
    r = post(client, "orders_groups.edi")
    assert r.status_code == 201, r.text
    statuses = [order(client, edi, o["number"])["status"] for o in r.json()["orders"]]
    assert statuses == ["created", "pending_approval", "created"]
