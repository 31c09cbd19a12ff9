"""The ERP payload (version 1) against its JSON Schema, on real orders of both databases and on
generated ones; its CSV form; the destinations setting as documented, and how it refuses."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from api_helpers import order_body, place
from erp_servers import PAYLOAD_SCHEMA, SCHEMA_FILE
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st

from legato.bootstrap import Runtime
from legato.domain.errors import ValidationFailed
from legato.domain.money import minor_units
from legato.domain.order import OrderLine, SalesOrder, compute_totals, price_line
from legato.workflow.actions import Fail
from legato.workflow.actions._erp import payloads
from legato.workflow.outbound.erp import parse_destinations, resolve
from legato.workflow.outbound.payload import CSV_COLUMNS, order_payload, to_csv

DOC = SCHEMA_FILE.parent / "erp.md"
DECIMAL = re.compile(r"^-?[0-9]+(\.[0-9]+)?$")


def doc_block(name: str) -> str:
    """The code block under ``<!-- erp:NAME -->`` in docs/workflows/erp.md."""
    match = re.search(rf"<!-- erp:{name} -->\n```\w*\n(.*?)```", DOC.read_text(), re.S)
    assert match, f"docs/workflows/erp.md has no example {name!r}"
    return match.group(1)


def errors(doc: Any) -> list[str]:
    return [f"{e.instance_path}: {e.message}" for e in PAYLOAD_SCHEMA.iter_errors(doc)]


def _orders(client: TestClient, shop: dict[str, str]) -> list[int]:
    address = {"name": "Goods In", "line1": "12 Dock Road", "city": "Rotterdam", "country": "NL"}
    extra = {"external_reference": "PO-1", "shipping_address": address, "tags": ["trade"], "notes": "gate 4"}
    b2b = order_body("B2B", ("TEA-100", 3), ("MUG-200", 1), customer={"code": "ACME"}, **extra)
    b2b["lines"][1]["discount"] = "1.40"
    jpy = order_body("MKT", ("TEA-100", 2), external_reference="JP-9", customer={"email": "k@example.jp"})
    return [int(place(client, shop, b)["id"]) for b in (b2b, jpy)]


def test_real_orders_make_payloads_that_match_the_schema_with_exact_decimal_strings(
    client: TestClient, shop: dict[str, str], runtime: Runtime
) -> None:
    b2b, jpy = payloads(runtime, _orders(client, shop), datetime.now(UTC))
    assert errors(b2b) == [] and errors(jpy) == []
    assert b2b["version"] == "1" and b2b["number"] == "SO-000001" and b2b["external_reference"] == "PO-1"
    assert b2b["channel"] == {"code": "B2B", "type": "b2b", "name": "Trade portal"}
    assert b2b["account"] == {"code": "ACME", "erp_ref": "ERP-77", "name": "Acme Trading",
                              "email": "buyer@acme.example"}  # fmt: skip
    tea, mug = b2b["lines"]
    assert (tea["sku"], tea["quantity"], tea["unit_price"], tea["total"]) == ("TEA-100", "3", "4.00", "12.00")
    assert (mug["discount"], mug["amount"]) == ("1.40", mug["unit_price"])  # 1 x the contract price
    assert Decimal(b2b["totals"]["grand_total"]) == Decimal(tea["total"]) + Decimal(mug["total"])
    assert b2b["tracks"] == {"payment": "unpaid", "fulfilment": "unfulfilled", "invoice": "not_invoiced"}
    assert (b2b["tags"], b2b["notes"], b2b["shipping_address"]["city"]) == (["trade"], "gate 4", "Rotterdam")
    assert jpy["currency"] == "JPY" and jpy["lines"][0]["unit_price"] == "800" and jpy["account"] is None
    assert jpy["customer"]["email"] == "k@example.jp"


def test_the_documented_payload_matches_the_schema_and_the_shape_orders_really_have(
    client: TestClient, shop: dict[str, str], runtime: Runtime
) -> None:
    documented = json.loads(doc_block("payload"))
    assert errors(documented) == []
    real = payloads(runtime, _orders(client, shop)[:1], datetime.now(UTC))[0]
    assert documented.keys() == real.keys()
    for key in ("channel", "account", "customer", "totals", "tracks"):
        assert documented[key].keys() == real[key].keys(), key
    assert documented["lines"][0].keys() == real["lines"][0].keys()


def test_the_schema_is_valid_draft_2020_12_and_refuses_drift() -> None:
    schema = json.loads(SCHEMA_FILE.read_text())
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    import jsonschema_rs

    assert jsonschema_rs.meta.is_valid(schema)
    doc = json.loads(doc_block("payload"))
    assert any("unit_price" in e for e in errors({**doc, "lines": [{**doc["lines"][0], "unit_price": 4.0}]}))
    assert errors({**doc, "surprise": 1})  # a field the schema does not name is drift: refused
    assert errors({k: v for k, v in doc.items() if k != "currency"})


MONEY = {"EUR": 2, "JPY": 0, "KWD": 3}


@st.composite
def orders(draw: st.DrawFn) -> SalesOrder:
    currency = draw(st.sampled_from(sorted(MONEY)))
    lines = []
    for n in range(1, draw(st.integers(1, 4)) + 1):
        qty = draw(st.decimals(Decimal("0.001"), Decimal("10000"), places=3))
        price = draw(st.decimals(Decimal("0"), Decimal("99999"), places=draw(st.integers(0, 4))))
        rate = draw(st.sampled_from([Decimal("0"), Decimal("0.05"), Decimal("0.2"), Decimal("0.175")]))
        line = OrderLine(n, f"SKU-{n}", f"Item {n}", qty, price, "product", tax_rate=rate)
        priced = price_line(line, currency)
        discount = draw(st.decimals(Decimal("0"), priced.amount, places=minor_units(currency)))
        lines.append(price_line(OrderLine(n, f"SKU-{n}", f"Item {n}", qty, price, "product",
                                          discount=discount, tax_rate=rate), currency))  # fmt: skip
    shipping = draw(st.decimals(Decimal("0"), Decimal("100"), places=minor_units(currency)))
    return SalesOrder(channel_code="WEB", currency=currency, lines=lines, id=draw(st.integers(1, 10**7)),
                      totals=compute_totals(lines, currency, shipping), shipping=shipping,
                      created_at=datetime(2026, 3, 2, 9, 14, tzinfo=UTC))  # fmt: skip


@settings(max_examples=150, deadline=None)
@given(orders())
def test_every_amount_in_a_payload_is_the_exact_decimal_with_at_least_the_minor_unit(
    order: SalesOrder,
) -> None:
    p = order_payload(order, None, None)
    assert errors(p) == []
    digits = MONEY[order.currency]
    for line, source in zip(p["lines"], order.lines, strict=True):
        for key in ("unit_price", "amount", "discount", "tax", "total"):
            text = line[key]
            assert DECIMAL.match(text) and Decimal(text) == getattr(source, key)
            assert len(text.partition(".")[2]) >= digits
        assert Decimal(line["quantity"]) == source.quantity and Decimal(line["tax_rate"]) == source.tax_rate
    assert Decimal(p["totals"]["grand_total"]) == order.totals.grand_total
    assert sum(Decimal(ln["total"]) for ln in p["lines"]) + Decimal(p["totals"]["shipping"]) == Decimal(
        p["totals"]["grand_total"]
    )


def test_the_csv_form_has_the_documented_columns_and_one_row_per_line(
    client: TestClient, shop: dict[str, str], runtime: Runtime
) -> None:
    docs = payloads(runtime, _orders(client, shop), datetime.now(UTC))
    rows = list(csv.reader(io.StringIO(to_csv(docs).decode("utf-8"))))
    assert tuple(rows[0]) == CSV_COLUMNS == tuple(doc_block("csv-columns").strip().split(","))
    assert len(rows) == 1 + 3  # two lines of the B2B order, one of the JPY order
    first = dict(zip(rows[0], rows[1], strict=True))
    assert (first["number"], first["account_erp_ref"], first["sku"], first["quantity"]) == (
        "SO-000001", "ERP-77", "TEA-100", "3",
    )  # fmt: skip
    assert dict(zip(rows[0], rows[3], strict=True))["unit_price"] == "800"


def test_the_documented_destinations_are_valid_with_their_defaults() -> None:
    dests = parse_destinations(json.loads(doc_block("destinations")))
    assert {n: d.kind for n, d in dests.items()} == {"main": "http", "drop": "file", "partner": "sftp",
                                                     "odoo": "odoo"}  # fmt: skip
    assert dests["partner"].options["port"] == 22 and dests["partner"].options["timeout"] == 30
    assert dests["main"].options["reference_pointer"] == "/data/id"
    assert dests["drop"].options["format"] == "csv"


def test_a_bad_destinations_setting_names_each_problem_by_its_path() -> None:
    with pytest.raises(ValidationFailed) as bad:
        parse_destinations({
            "a": {"kind": "http", "timeout": 2.5, "urll": "https://x"},
            "b": {"kind": "ftp"},
            "c": {"kind": "sftp", "host": "h", "username": "u", "host_key": "ssh-ed25519 AAAA"},
            "d": {"kind": "file", "dir": "/tmp/x", "format": "xml"},
            "e": {"kind": "odoo", "url": "ftp://odoo", "db": "x", "username": "u", "password": "p"},
        })  # fmt: skip
    got = {(i.path, i.code) for i in bad.value.issues}
    assert got == {
        ("erp_destinations.a.timeout", "invalid"), ("erp_destinations.a.urll", "unknown_field"),
        ("erp_destinations.a.url", "required"), ("erp_destinations.b.kind", "invalid"),
        ("erp_destinations.c.host_key", "invalid_host_key"), ("erp_destinations.c.password", "required"),
        ("erp_destinations.d.format", "invalid"), ("erp_destinations.e.url", "invalid"),
    }  # fmt: skip


def test_a_secret_written_as_an_environment_reference_is_read_when_used(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    dest = parse_destinations({"m": {"kind": "http", "url": "https://erp.example/o",
                                     "headers": {"Authorization": "${ERP_TEST_TOKEN}"}}})["m"]  # fmt: skip
    monkeypatch.delenv("ERP_TEST_TOKEN", raising=False)
    with pytest.raises(Fail, match=r"ERP_TEST_TOKEN \(m\.headers\.Authorization\) is not set"):
        dest.value("headers")
    monkeypatch.setenv("ERP_TEST_TOKEN", "Bearer abc")
    assert dest.value("headers") == {"Authorization": "Bearer abc"}
    assert resolve("plain ${NOT} text", "x") == "plain ${NOT} text"  # only a whole ${NAME} is a reference


def test_the_documented_workflows_and_steps_are_valid_definitions() -> None:
    import yaml

    from legato.workflow.model import parse

    docs = [yaml.safe_load(doc_block(name)) for name in ("batch-workflow", "realtime-workflow")]
    for page in ("push_to_erp", "push_batch_to_erp", "create_erp_customer"):
        text = (DOC.parent / "actions" / f"{page}.md").read_text()
        for block in re.findall(r"```yaml\n(.*?)```", text, re.S):
            doc = yaml.safe_load(block)
            docs.append(
                doc if isinstance(doc, dict) else {"name": page, "trigger": "order.created", "actions": doc}
            )
    assert len(docs) == 5
    parsed = [parse(d) for d in docs]
    assert [s.action for s in parsed[0].steps] == ["push_batch_to_erp"] and parsed[0].trigger.at is not None
    assert [s.action for s in parsed[1].steps] == ["create_erp_customer", "push_to_erp"]


def test_a_destination_is_checked_alone_so_a_mistake_in_another_does_not_stop_it() -> None:
    from legato.workflow.outbound.erp import destination

    raw = {"good": {"kind": "file", "dir": "/tmp/erp"}, "broken": {"kind": "http"}}
    assert destination(raw, "good").options == {"dir": "/tmp/erp", "format": "json"}
    with pytest.raises(ValidationFailed, match="url is required"):
        destination(raw, "broken")
    with pytest.raises(ValidationFailed, match="no ERP destination 'nope'; known: broken, good"):
        destination(raw, "nope")
