"""Manual order entry (/orders/new) on both databases: customers found by any property, products by
SKU or name, prices resolved live from the contract without saving anything, validation next to each
field with nothing typed lost, and saving as an order (through the inbox) or a quote."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from api_helpers import count
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from web_helpers import page_token, sign_in, web_client

from legato.bootstrap import Runtime
from legato.store import inbox, queries
from legato.web.pages import entry_form as ef

HX = {"HX-Request": "true"}


@pytest.fixture
def web(runtime: Runtime) -> Iterator[TestClient]:
    with web_client(runtime) as c:
        yield c


@pytest.fixture
def trade(client: TestClient, shop: dict[str, str]) -> dict[str, str]:
    """The shop, plus an account found only by a custom property and a phone typed with spaces."""
    r = client.post(
        "/api/v1/accounts",
        json={
            "code": "BEAN",
            "name": "Bean Counter Cafe",
            "email": "hello@bean.example",
            "phone": "+44 20 7946 0018",
            "properties": {"industry": "hospitality", "vat_id": "GB123456789"},
            "currency": "GBP",
        },
        headers=shop,
    )
    assert r.status_code == 201, r.text
    return shop


def form(web: TestClient, **fields: Any) -> dict[str, Any]:
    """The entry form's fields as a browser posts them; ``lines`` as [(sku, quantity), ...]."""
    lines = fields.pop("lines", [])
    data: dict[str, Any] = {"csrf_token": page_token(web, "/orders/new"), "same_address": "1", **fields}
    data["sku"] = [sku for sku, _ in lines]
    data["quantity"] = [qty for _, qty in lines]
    data["inputs"] = ["" for _ in lines]
    return data


def test_only_roles_that_enter_orders_see_the_form_and_the_link(web: TestClient, runtime: Runtime) -> None:
    sign_in(web, runtime, "viewer")
    assert web.get("/orders/new").status_code == 403
    assert 'href="/orders/new"' not in web.get("/orders").text
    web.cookies.clear()
    sign_in(web, runtime, "sales")
    page = web.get("/orders/new")
    assert page.status_code == 200
    assert 'href="/orders/new" aria-current="page"' in page.text
    assert '<label for="customer_q">' in page.text and '<label for="product_q">' in page.text


def test_customers_are_found_by_code_name_email_phone_or_any_custom_property(
    web: TestClient, runtime: Runtime, trade: dict[str, str]
) -> None:
    sign_in(web, runtime, "sales")
    for typed in ("BEAN", "counter", "hello@bean", "20 7946", "hospitality", "GB1234"):
        r = web.get("/orders/new/customers", params={"customer_q": typed}, headers=HX)
        assert r.status_code == 200
        assert 'value="account:BEAN"' in r.text, typed
        assert 'value="account:ACME"' not in r.text, typed
    found = web.get("/orders/new/customers", params={"customer_q": "ERP-77"}, headers=HX).text
    assert 'value="account:ACME"' in found and "contract ACME-2026" in found
    assert "industry: hospitality" in web.get("/orders/new/customers", params={"customer_q": "hospit"}).text
    assert "at least 2 characters" in web.get("/orders/new/customers", params={"customer_q": "b"}).text
    assert "No account matches" in web.get("/orders/new/customers", params={"customer_q": "zzz%_"}).text


def test_products_are_found_by_sku_or_name(web: TestClient, runtime: Runtime, trade: dict[str, str]) -> None:
    sign_in(web, runtime, "sales")
    by_sku = web.get("/orders/new/products", params={"product_q": "mug-2"}).text
    assert 'value="add:MUG-200"' in by_sku and 'value="add:TEA-100"' not in by_sku
    by_name = web.get("/orders/new/products", params={"product_q": "Pot"}).text
    assert 'value="add:POT-300"' in by_name


def test_prices_are_resolved_live_from_the_contract_and_nothing_is_saved(
    web: TestClient, runtime: Runtime, trade: dict[str, str]
) -> None:
    sign_in(web, runtime, "sales")
    chosen = web.post("/orders/new", data=form(web, channel="B2B", intent="account:ACME"), headers=HX)
    assert chosen.status_code == 200
    assert '<input type="hidden" name="account" value="ACME">' in chosen.text
    added = web.post(
        "/orders/new", data=form(web, channel="B2B", account="ACME", intent="add:TEA-100"), headers=HX
    )
    assert 'name="sku" value="TEA-100"' in added.text
    priced = web.post(
        "/orders/new",
        data=form(web, channel="B2B", account="ACME", lines=[("TEA-100", "10"), ("MUG-200", "2")]),
        headers=HX,
    )
    html = priced.text
    assert priced.status_code == 200 and html.lstrip().startswith('<form id="entry-form"')
    # TEA-100 is fixed at 4.00 in the contract; MUG-200 is the EUR list price 13.90 less 10 %
    assert "4.00\u00a0EUR" in html and "contract <strong>ACME-2026</strong>" in html
    assert "12.51\u00a0EUR" in html
    assert "on contract <strong>ACME-2026</strong>" in html
    assert "65.02\u00a0EUR" in html  # 10 x 4.00 + 2 x 12.51
    assert count(runtime, "orders") == 0 and count(runtime, "inbox") == 0 and count(runtime, "quotes") == 0


def test_saving_an_order_goes_through_the_inbox_with_the_users_name(
    web: TestClient, runtime: Runtime, trade: dict[str, str]
) -> None:
    sign_in(web, runtime, "sales", "sam")
    data = form(
        web,
        channel="B2B",
        account="ACME",
        lines=[("TEA-100", "10")],
        intent="save:order",
        billing_name="Acme Trading",
        billing_line1="1 Dock Road",
        billing_city="Rotterdam",
        billing_country="nl",
        external_reference="PO-1",
        notes="call before delivery",
    )
    r = web.post("/orders/new", data=data)
    assert r.status_code == 303 and r.headers["location"] == "/orders/SO-000001"
    order = queries.get_order(runtime.engine, 1)
    assert order is not None and order.account_code == "ACME" and order.currency == "EUR"
    assert (
        order.lines[0].unit_price == Decimal("4.00") and order.lines[0].price_source == "contract:ACME-2026"
    )
    assert order.shipping_address is not None and order.shipping_address.country == "NL"
    assert order.timeline[0].actor == "user:sam"
    entry = inbox.get(runtime.engine, order.inbox_id or 0)
    assert entry is not None and entry.state == "processed" and entry.source == "web:sam"
    assert json.loads(entry.body)["lines"] == [{"sku": "TEA-100", "quantity": "10"}]
    assert "Order SO-000001 placed." in web.get(r.headers["location"]).text
    again = web.post("/orders/new", data={**data, "csrf_token": page_token(web)})
    assert again.headers["location"] == "/orders/SO-000001" and count(runtime, "orders") == 1


def test_a_bad_field_is_named_next_to_it_and_nothing_typed_is_lost(
    web: TestClient, runtime: Runtime, trade: dict[str, str]
) -> None:
    sign_in(web, runtime, "sales")
    data = form(
        web,
        channel="B2B",
        account="ACME",
        lines=[("TEA-100", "ten"), ("MUG-200", "2")],
        intent="save:order",
        notes="keep <this> note",
        billing_country="Netherlands",
        shipping_amount="4.5.0",
    )
    r = web.post("/orders/new", data=data)
    assert r.status_code == 422
    html = r.text
    assert re.search(
        r'id="qty-0"[^>]*value="ten"[^>]*aria-invalid="true" aria-describedby="qty-0-error"', html
    )
    assert 'id="qty-0-error"' in html and 'id="qty-1-error"' not in html
    assert 'id="billing_country-error"' in html and 'value="Netherlands"' in html
    assert 'id="shipping_amount-error"' in html and 'value="4.5.0"' in html
    assert "keep &lt;this&gt; note</textarea>" in html
    assert 'href="#qty-0"' in html  # the summary links to the control
    assert count(runtime, "orders") == 0 and count(runtime, "inbox") == 0


def test_a_refused_order_is_kept_quarantined_and_the_form_keeps_its_values(
    web: TestClient, runtime: Runtime, trade: dict[str, str]
) -> None:
    """The trade portal refuses customers it cannot match: the entry is kept in the inbox."""
    sign_in(web, runtime, "sales")
    data = form(
        web,
        channel="B2B",
        customer_name="Walk In",
        customer_email="walk@in.example",
        lines=[("TEA-100", "1")],
        intent="save:order",
    )
    r = web.post("/orders/new", data=data)
    assert r.status_code == 422
    assert "no account matches" in r.text and "quarantined, replayable" in r.text
    assert 'value="walk@in.example"' in r.text
    assert count(runtime, "orders") == 0 and count(runtime, "inbox", state="quarantined") == 1


def test_a_quote_is_saved_with_its_validity_and_opens_on_its_page(
    web: TestClient, runtime: Runtime, trade: dict[str, str]
) -> None:
    sign_in(web, runtime, "sales", "sue")
    bad = web.post(
        "/orders/new",
        data=form(
            web, channel="WEB", lines=[("POT-300", "1")], intent="save:quote", valid_until="31/12/2026"
        ),
    )
    assert bad.status_code == 422 and 'id="valid_until-error"' in bad.text
    r = web.post(
        "/orders/new",
        data=form(
            web, channel="WEB", lines=[("POT-300", "1")], intent="save:quote", valid_until="2026-12-31"
        ),
    )
    assert r.status_code == 303 and r.headers["location"] == "/quotes/Q-000001"
    quote = queries.get_quote(runtime.engine, 1)
    assert (
        quote is not None
        and str(quote.valid_until) == "2026-12-31"
        and quote.totals.grand_total == Decimal("39.99")
    )
    assert count(runtime, "orders") == 0


def test_buttons_add_remove_and_fill_addresses_from_the_accounts_orders(
    web: TestClient, runtime: Runtime, trade: dict[str, str]
) -> None:
    sign_in(web, runtime, "sales")
    address = {
        "billing_name": "Acme Trading",
        "billing_line1": "1 Dock Road",
        "billing_city": "Rotterdam",
        "billing_country": "NL",
    }
    placed = web.post(
        "/orders/new",
        data=form(
            web, channel="B2B", account="ACME", lines=[("TEA-100", "1")], intent="save:order", **address
        ),
    )
    assert placed.status_code == 303
    twice = web.post(
        "/orders/new",
        data=form(web, channel="B2B", account="ACME", lines=[("TEA-100", "1")], intent="add:TEA-100"),
        headers=HX,
    )
    assert re.search(r'id="qty-0"[^>]*value="2"', twice.text) and 'id="qty-1"' not in twice.text
    removed = web.post(
        "/orders/new",
        data=form(
            web, channel="B2B", account="ACME", lines=[("TEA-100", "1"), ("MUG-200", "3")], intent="remove:0"
        ),
    )
    assert 'name="sku" value="TEA-100"' not in removed.text and re.search(
        r'id="qty-0"[^>]*value="3"', removed.text
    )
    filled = web.post("/orders/new", data=form(web, channel="B2B", account="ACME", intent="address:0"))
    assert "1 Dock Road" in filled.text and re.search(r'id="billing_city"[^>]*value="Rotterdam"', filled.text)


def test_the_form_refuses_a_post_without_the_csrf_token(web: TestClient, runtime: Runtime) -> None:
    sign_in(web, runtime, "sales")
    assert web.post("/orders/new", data={"channel": "WEB", "intent": "save:order"}).status_code == 403


_text = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=12)


@given(
    st.lists(st.tuples(st.from_regex(r"[A-Z][A-Z0-9-]{0,8}", fullmatch=True), _text, _text), max_size=6),
    _text,
)
def test_reading_the_posted_form_keeps_every_line_as_typed(
    lines: list[tuple[str, str, str]], notes: str
) -> None:
    pairs = [("channel", "WEB"), ("notes", notes)]
    for sku, qty, inputs in lines:
        pairs += [("sku", sku), ("quantity", qty), ("inputs", inputs)]
    f = ef.read(pairs)
    assert [(ln.sku, ln.quantity, ln.inputs) for ln in f.lines] == [(s, q.strip(), i) for s, q, i in lines]
    assert f.notes == notes
    raw, _ = ef.body(f, "order", None)
    assert [ln["sku"] for ln in raw["lines"]] == [s for s, _, _ in lines]


DOC = Path(__file__).parents[2] / "docs" / "control-tower-pages.md"


def test_the_documented_entry_is_kept_in_the_inbox_as_the_documented_json(
    web: TestClient, runtime: Runtime, trade: dict[str, str]
) -> None:
    documented = json.loads(re.findall(r"```json\n(.*?)```", DOC.read_text(), re.S)[0])
    sign_in(web, runtime, "sales")
    data = form(
        web,
        channel="B2B",
        account="ACME",
        lines=[("TEA-100", "10")],
        intent="save:order",
        billing_name="Acme Trading",
        billing_line1="1 Dock Road",
        billing_city="Rotterdam",
        billing_country="NL",
        external_reference="PO-1",
    )
    assert web.post("/orders/new", data=data).status_code == 303
    order = queries.get_order(runtime.engine, 1)
    assert order is not None
    entry = inbox.get(runtime.engine, order.inbox_id or 0)
    assert entry is not None and json.loads(entry.body) == documented
