"""Odoo through its external JSON-RPC API, against a real JSON-RPC server on loopback that
refuses any call Odoo would (both databases): sale.order with partner and lines, found again
by client_order_ref on a retry; refusals dead-letter; batches go order by order."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest
from api_helpers import order_body, place
from erp_servers import Fault, OdooServer, again, exported, run, step, timeline, with_destinations
from fastapi.testclient import TestClient

from legato.bootstrap import Runtime
from legato.workflow.actions import Fail, Retry


@pytest.fixture
def odoo() -> Iterator[OdooServer]:
    server = OdooServer().start()
    server.delay = 1.0
    for sku in ("TEA-100", "MUG-200"):
        server.add_product(sku)
    yield server
    server.stop()


@pytest.fixture
def rt(runtime: Runtime, odoo: OdooServer) -> Runtime:
    main = {"kind": "odoo", "url": odoo.url, "db": odoo.db, "username": odoo.login, "api_key": odoo.api_key,
            "timeout": "0.5"}  # fmt: skip
    return with_destinations(runtime, odoo=main, bad_key={**main, "api_key": "wrong"})


def _order(client: TestClient, shop: dict[str, str], *lines: tuple[str, int], ref: str = "PO-1") -> int:
    body = order_body("B2B", *(lines or (("TEA-100", 3),)), customer={"code": "ACME"}, external_reference=ref)
    body["lines"][0]["discount"] = "1.20"
    body["billing_address"] = {"line1": "1 Quay", "city": "Rotterdam", "postcode": "3011 AA", "country": "NL"}
    return int(place(client, shop, body)["id"])


def test_an_order_becomes_a_sale_order_with_its_partner_and_lines_and_its_name_is_recorded(
    client: TestClient, shop: dict[str, str], rt: Runtime, odoo: OdooServer
) -> None:
    oid = _order(client, shop, ("TEA-100", 3), ("MUG-200", 2))
    result = run(step(rt, "push_to_erp", oid), "push_to_erp", {"destination": "odoo"})
    [(so_id, so)] = odoo.sale_orders.items()
    assert result.output["erp_reference"] == so["name"] == f"S{so_id:05d}"
    assert so["client_order_ref"] == "SO-000001" and so["origin"] == "Legato B2B"
    partner = odoo.partners[so["partner_id"]]
    assert partner == {"id": so["partner_id"], "name": "Acme Trading", "email": "buyer@acme.example",
                       "ref": "ACME", "street": "1 Quay", "city": "Rotterdam", "zip": "3011 AA"}  # fmt: skip
    tea, mug = (cmd[2] for cmd in so["order_line"])
    assert (tea["product_uom_qty"], tea["price_unit"], tea["discount"]) == (3, 4.0, 10.0)  # 1.20 of 12.00
    assert mug["product_id"] == 101 and mug["name"] == "Mug-200"
    create = next(r for r in odoo.raw if b'"create"' in r and b"sale.order" in r)
    assert (
        b'"price_unit":4.00' in create and b'"discount":10.0000' in create
    )  # the decimal text, not a float's
    assert odoo.calls == ["common.login", "sale.order.search_read", "product.product.search_read",
                          "res.partner.search", "res.partner.search", "res.partner.search",
                          "res.partner.create", "sale.order.create", "sale.order.read"]  # fmt: skip
    [row] = exported(rt)
    assert (row.kind, row.erp_reference) == ("odoo", so["name"])
    assert (
        timeline(rt, oid, "erp_exported")[0].reason == f"exported to odoo (odoo): ERP reference {so['name']}"
    )


def test_an_existing_partner_is_found_by_email_and_reused(
    client: TestClient, shop: dict[str, str], rt: Runtime, odoo: OdooServer
) -> None:
    odoo.partners[7] = {"id": 7, "name": "ACME TRADING BV", "email": "Buyer@Acme.Example"}
    run(step(rt, "push_to_erp", _order(client, shop)), "push_to_erp", {"destination": "odoo"})
    assert [so["partner_id"] for so in odoo.sale_orders.values()] == [7] and len(odoo.partners) == 1


@pytest.mark.parametrize("fault", ["close", "timeout", "500"])
def test_a_retry_after_a_lost_answer_finds_the_sale_order_by_its_client_order_ref(
    client: TestClient, shop: dict[str, str], rt: Runtime, odoo: OdooServer, fault: str
) -> None:
    oid = _order(client, shop)
    odoo.faults.append(Fault(fault, "sale.order.create"))
    ctx = step(rt, "push_to_erp", oid)
    with pytest.raises(Retry, match=r"Odoo object\.execute_kw"):
        run(ctx, "push_to_erp", {"destination": "odoo"})
    assert len(odoo.sale_orders) == (0 if fault == "500" else 1)  # made, but the answer never came
    result = run(again(ctx), "push_to_erp", {"destination": "odoo"})
    [so] = odoo.sale_orders.values()
    assert result.output["erp_reference"] == so["name"] and exported(rt)[0].erp_reference == so["name"]
    assert result.output["response"]["orders"][0]["existing"] is (fault != "500")


def test_refusals_dead_letter_and_give_the_order_back(
    client: TestClient, shop: dict[str, str], rt: Runtime, odoo: OdooServer
) -> None:
    oid = _order(client, shop, ("TEA-100", 1), ("POT-300", 1))
    with pytest.raises(Fail, match=r"refused the login of 'legato@example\.com' on database 'legato-test'"):
        run(step(rt, "push_to_erp", oid), "push_to_erp", {"destination": "bad_key"})
    with pytest.raises(Fail, match="SO-000001: no Odoo product with internal reference POT-300"):
        run(step(rt, "push_to_erp", oid, workflow="w2"), "push_to_erp", {"destination": "odoo"})
    assert exported(rt) == [] and odoo.sale_orders == {}
    odoo.add_product("POT-300")  # fixed in Odoo: the next push takes the order
    run(step(rt, "push_to_erp", oid, workflow="w3"), "push_to_erp", {"destination": "odoo"})
    assert len(odoo.sale_orders) == 1


@pytest.mark.parametrize(
    ("error", "outcome"),
    [("odoo.exceptions.ValidationError", Fail), ("psycopg2.errors.SerializationFailure", Retry)],
)
def test_an_odoo_error_is_final_when_odoo_says_so_and_retried_otherwise(
    client: TestClient, shop: dict[str, str], rt: Runtime, odoo: OdooServer, error: str, outcome: type
) -> None:
    odoo.faults.append(Fault(f"error:{error}", "sale.order.create"))
    with pytest.raises(outcome, match=re.escape(f"Odoo object.execute_kw refused: {error}")):
        run(step(rt, "push_to_erp", _order(client, shop)), "push_to_erp", {"destination": "odoo"})
    assert odoo.sale_orders == {}


def test_a_batch_goes_order_by_order_and_records_those_odoo_took(
    client: TestClient, shop: dict[str, str], rt: Runtime, odoo: OdooServer
) -> None:
    ok = _order(client, shop, ref="A")
    bad = _order(client, shop, ("POT-300", 1), ref="B")
    ctx = step(rt, "push_batch_to_erp", None, workflow="nightly", event_type="schedule")
    with pytest.raises(Fail, match=r"1 of 2 orders refused by odoo: SO-000002: no Odoo product .*POT-300$"):
        run(ctx, "push_batch_to_erp", {"destination": "odoo"})
    [row] = exported(rt)
    assert row.order_id == ok and row.batch == ctx.idempotency_key and row.erp_reference.startswith("S")
    assert len(odoo.sale_orders) == 1 and bad not in {r.order_id for r in exported(rt)}
    odoo.add_product("POT-300")
    nxt = step(rt, "push_batch_to_erp", None, workflow="nightly", event_type="schedule")
    out = run(nxt, "push_batch_to_erp", {"destination": "odoo"}).output
    assert out["orders"] == 1 and list(out["references"]) == ["SO-000002"] and len(odoo.sale_orders) == 2


def test_create_erp_customer_makes_the_res_partner_and_keeps_its_id_as_the_erp_ref(
    client: TestClient, shop: dict[str, str], rt: Runtime, odoo: OdooServer
) -> None:
    account = {"code": "NEWCO", "name": "New Co", "email": "ap@newco.example", "phone": "+31 20 555 0101"}
    assert client.post("/api/v1/accounts", headers=shop, json=account).status_code == 201
    body = order_body("B2B", ("TEA-100", 1), customer={"code": "NEWCO"}, external_reference="N-1")
    oid = int(place(client, shop, body)["id"])
    result = run(step(rt, "create_erp_customer", oid), "create_erp_customer", {"destination": "odoo"})
    [(pid, partner)] = odoo.partners.items()
    assert (
        result.output["erp_ref"] == str(pid)
        and partner["ref"] == "NEWCO"
        and partner["phone"] == "+31205550101"
    )
    assert client.get("/api/v1/accounts/NEWCO", headers=shop).json()["erp_ref"] == str(pid)
    # the order then goes to the same partner, found by its id
    run(step(rt, "push_to_erp", oid), "push_to_erp", {"destination": "odoo"})
    assert [so["partner_id"] for so in odoo.sale_orders.values()] == [pid] and len(odoo.partners) == 1
    assert odoo.calls[-6:] == ["common.login", "sale.order.search_read", "product.product.search_read",
                               "res.partner.search", "sale.order.create", "sale.order.read"]  # fmt: skip
    assert json.loads(odoo.raw[-3])["params"]["args"][5] == [[["id", "=", pid]]]
