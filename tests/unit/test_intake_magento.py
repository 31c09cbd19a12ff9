"""The Magento adapter: parsing orders as Magento's REST API documents them, and pulling
them from a real HTTP server on this machine that answers GET /rest/V1/orders the way
Magento does (Bearer token, searchCriteria filters, sort orders, pages)."""

from __future__ import annotations

import copy
import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from legato.domain.catalog import Channel, ChannelSettings, ChannelType, PricePolicy
from legato.domain.commands import LineDraft, OrderDraft
from legato.domain.errors import ValidationFailed
from legato.domain.lifecycle import OrderStatus
from legato.domain.matching import CustomerRef
from legato.domain.order import Address, OrderLine, compute_totals, price_line
from legato.intake.adapters import get_adapter
from legato.intake.adapters.magento import ADAPTER, FetchFailed, Source
from legato.intake.base import CancelOrder, Delivery, Ignore, PlaceDraft, SignatureInvalid, Unparseable

FIXTURES = Path(__file__).parents[1] / "fixtures" / "intake" / "magento"
TOKEN = "kq9v3x7mzt2p8w4n6r1b5c0d"
D = Decimal


def pages() -> list[dict[str, Any]]:
    return [json.loads((FIXTURES / f"orders_page_{n}.json").read_text()) for n in (1, 2)]


def orders() -> list[dict[str, Any]]:
    """Every documented order of the two fixture pages, oldest change first."""
    return [o for page in pages() for o in page["items"]]


def order(increment_id: str) -> dict[str, Any]:
    return next(o for o in orders() if o["increment_id"] == increment_id)


def channel(base_url: str = "https://shop.example", **extra: Any) -> Channel:
    return Channel(
        code="MAGE",
        name="Magento shop",
        type=ChannelType.ECOMMERCE,
        adapter="magento",
        currency="USD",
        settings=ChannelSettings(price_policy=PricePolicy.TRUST, extra={"base_url": base_url, **extra}),
        secrets={"access_token": TOKEN},
    )


def delivery(doc: dict[str, Any] | bytes, method: str = "PULL") -> Delivery:
    body = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
    return Delivery(method, "pull:MAGE", {}, {}, body, datetime.now(UTC))


def parse(doc: dict[str, Any] | bytes) -> list[Any]:
    return ADAPTER.parse(delivery(doc), channel())


def draft_of(doc: dict[str, Any]) -> PlaceDraft:
    intents = parse(doc)
    assert len(intents) == 1 and isinstance(intents[0], PlaceDraft), intents
    placed: PlaceDraft = intents[0]
    return placed


def grand_total(draft: OrderDraft) -> Decimal:
    """The grand total Legato computes for the draft (prices as sent: a trusting channel)."""
    currency = draft.currency or "USD"
    lines = [
        price_line(
            OrderLine(
                i + 1,
                ln.sku,
                ln.name or ln.sku,
                ln.quantity,
                ln.unit_price or D(0),
                "channel",
                ln.discount,
                ln.tax_rate,
            ),
            currency,
        )
        for i, ln in enumerate(draft.lines)
    ]
    return compute_totals(lines, currency, draft.shipping, draft.shipping_tax_rate).grand_total


def issues(exc: pytest.ExceptionInfo[Unparseable]) -> dict[str, str]:
    return {i.path: i.code for i in exc.value.issues}


# --- parsing ----------------------------------------------------------------------------------


def test_the_registry_names_the_magento_adapter() -> None:
    assert get_adapter("magento") is ADAPTER
    assert ADAPTER.name == "magento"


def test_a_simple_order_becomes_a_draft_line_for_line() -> None:
    placed = draft_of(order("000000101"))
    assert placed.paid  # invoiced: total_paid covers the grand total
    assert placed.draft == OrderDraft(
        channel_code="MAGE",
        external_reference="000000101",
        currency="USD",
        lines=(
            LineDraft("LG-TEA-EARL", D(2), D("12.5"), "Earl Grey Tea 100 g", D("2.5"), D("0.0825")),
            LineDraft("LG-MUG-BLUE", D(1), D(9), "Blue Mug", D("0.9"), D("0.0825")),
        ),
        customer=CustomerRef(
            name="Ada Lovelace",
            email="ada.lovelace@example.com",
            phone="617-555-0142",
            properties={"magento_customer_id": "7"},
        ),
        billing_address=Address(
            name="Ada Lovelace",
            line1="12 Analytical Way",
            line2="Suite 3",
            city="Boston",
            region="MA",
            postcode="02110",
            country="US",
            phone="617-555-0142",
            email="ada.lovelace@example.com",
        ),
        shipping_address=Address(
            name="Ada Lovelace",
            company="Engine Works",
            line1="40 Difference Rd",
            city="Cambridge",
            region="MA",
            postcode="02139",
            country="US",
            phone="617-555-0142",
            email="ada.lovelace@example.com",
        ),
        shipping=D(5),
        shipping_tax_rate=D(0),
        notes="Please leave the parcel at the front desk.",
        status=OrderStatus.CREATED,
    )


def test_a_configurable_item_is_one_line_with_the_childs_sku_and_the_parents_money() -> None:
    placed = draft_of(order("000000102"))
    assert not placed.paid  # state new, nothing invoiced
    assert placed.draft.lines == (
        LineDraft("LG-HOODIE-M-GREY", D(1), D(48), "Legato Hoodie-M-Grey", D(0), D("0.0625")),
        LineDraft("LG-CAP-RED", D(2), D(15), "Legato Cap-Red", D(3), D("0.0625")),
    )
    assert (placed.draft.shipping, placed.draft.shipping_tax_rate) == (D("7.5"), D("0.062667"))
    assert placed.draft.customer == CustomerRef(
        name="Grace Hopper", email="grace.hopper@example.com", phone="703-555-0199",
        properties={"magento_customer_id": "8"},
    )  # fmt: skip


def test_the_variant_that_ships_gives_the_sku_even_when_the_parent_names_another() -> None:
    doc = order("000000102")
    doc["items"][0]["sku"] = "LG-HOODIE"  # the configurable product's own SKU
    assert draft_of(doc).draft.lines[0].sku == "LG-HOODIE-M-GREY"


def test_a_configurable_without_its_child_falls_back_to_the_parents_sku() -> None:
    doc = order("000000102")
    del doc["items"][1]
    assert draft_of(doc).draft.lines[0] == LineDraft(
        "LG-HOODIE-M-GREY", D(1), D(48), "Legato Hoodie", D(0), D("0.0625")
    )


def test_a_dynamic_bundle_is_priced_by_its_children_and_a_fixed_one_by_its_parent() -> None:
    """Dynamic price: the children carry the money and the parent (their sum) is dropped.
    Fixed price: the parent carries it; its parts follow at price 0 for the warehouse."""
    placed = draft_of(order("000000103"))
    assert placed.draft.lines == (
        LineDraft("LG-TEA-EARL", D(1), D(11), "Earl Grey Tea 100 g", D(0), D("0.0825")),
        LineDraft("LG-TEA-MINT", D(1), D(9), "Mint Tea 100 g", D(0), D("0.0825")),
        LineDraft("LG-GIFT-BOX", D(2), D(35), "Gift Box: Mug and Tea", D(7), D("0.0825")),
        LineDraft("LG-MUG-BLUE", D(2), D(0), "Blue Mug", tax_rate=D(0)),
        LineDraft("LG-TEA-EARL", D(4), D(0), "Earl Grey Tea 100 g", tax_rate=D(0)),
    )
    assert (placed.draft.shipping, placed.draft.shipping_tax_rate) == (D(0), D(0))
    assert placed.paid


def test_a_guest_order_keeps_its_own_currency_and_prices_and_the_billing_contact() -> None:
    placed = draft_of(order("000000104"))
    draft = placed.draft
    assert draft.currency == "GBP"  # order_currency_code, not the store's base USD
    assert draft.lines == (LineDraft("LG-TEA-MINT", D(3), D("6.4"), "Mint Tea 100 g", D(0), D("0.2")),)
    assert (draft.shipping, draft.shipping_tax_rate) == (D("3.95"), D("0.2"))
    assert draft.customer == CustomerRef(
        name="Charles Babbage", email="c.babbage@example.co.uk", phone="+44 20 7946 0018"
    )  # a guest: no Magento customer id to match by
    assert draft.billing_address == Address(
        name="Charles Babbage", line1="1 Difference Engine Street", line2="Flat 2", city="London",
        region="London", postcode="N1 9GU", country="GB", phone="+44 20 7946 0018",
        email="c.babbage@example.co.uk",
    )  # fmt: skip
    assert draft.shipping_address == draft.billing_address


def test_a_guest_without_names_is_named_from_the_billing_address() -> None:
    doc = order("000000104")
    doc["customer_firstname"] = doc["customer_lastname"] = None
    customer = draft_of(doc).draft.customer
    assert customer is not None and customer.name == "Charles Babbage"


def test_a_virtual_order_has_no_shipping_address() -> None:
    draft = draft_of(order("000000106")).draft
    assert draft.shipping_address is None and draft.billing_address is not None
    assert draft.lines == (
        LineDraft("LG-EBOOK-BREWING", D(1), D(15), "The Brewing Handbook (e-book)", tax_rate=D(0)),
    )


@pytest.mark.parametrize("increment_id", ["000000101", "000000102", "000000103", "000000104", "000000106"])
def test_legatos_grand_total_equals_magentos(increment_id: str) -> None:
    doc = order(increment_id)
    assert grand_total(draft_of(doc).draft) == D(str(doc["grand_total"]))


def test_a_cancelled_order_cancels() -> None:
    assert parse(order("000000105")) == [CancelOrder("000000105", "cancelled in Magento (status canceled)")]


def test_an_order_awaiting_payment_is_ignored_until_it_settles() -> None:
    [intent] = parse(order("000000107"))
    assert isinstance(intent, Ignore) and "pending_payment" in intent.reason


@pytest.mark.parametrize("state", ["payment_review", "closed"])
def test_orders_under_review_or_refunded_are_ignored(state: str) -> None:
    assert isinstance(parse(order("000000101") | {"state": state})[0], Ignore)


def test_an_order_on_hold_in_magento_is_placed_on_hold() -> None:
    assert draft_of(order("000000102") | {"state": "holded"}).draft.status is OrderStatus.ON_HOLD


def test_a_shipping_discount_lowers_the_shipping_charge() -> None:
    doc = order("000000102") | {"shipping_discount_amount": 2.5, "shipping_tax_amount": 0.31}
    draft = draft_of(doc).draft
    assert (draft.shipping, draft.shipping_tax_rate) == (D(5), D("0.062"))


def test_describe_names_the_order_and_verify_takes_only_pulled_documents() -> None:
    body = json.dumps(order("000000101")).encode()
    assert ADAPTER.describe(delivery(body)) == ("order", "000000101")
    assert ADAPTER.describe(delivery(b"not json")) == ("order", None)
    assert ADAPTER.handshake(delivery(body), channel()) is None
    ADAPTER.verify(delivery(body), channel())  # pulled by Legato itself: nothing to check
    with pytest.raises(SignatureInvalid):
        ADAPTER.verify(delivery(body, method="POST"), channel())


def test_each_bad_field_is_named_by_its_path() -> None:
    doc = order("000000103")
    doc["order_currency_code"] = "ZZZ"
    doc["items"][0]["sku"] = None  # the dynamic bundle's parent is not a line: no issue
    doc["items"][1]["qty_ordered"] = None
    doc["items"][2]["price"] = "nine"
    doc["items"][3]["tax_percent"] = 150
    doc["items"][4]["sku"] = ""
    doc["items"][5]["qty_ordered"] = 10_000_000
    doc["shipping_amount"] = -1
    with pytest.raises(Unparseable) as exc:
        parse(doc)
    assert issues(exc) == {
        "$.order_currency_code": "unknown_currency",
        "$.items[1].qty_ordered": "unparseable",
        "$.items[2].price": "unparseable",
        "$.items[3].tax_percent": "out_of_range",
        "$.items[4].sku": "unparseable",
        "$.items[5].qty_ordered": "out_of_range",
        "$.shipping_amount": "out_of_range",
    }
    assert exc.value.detail.startswith("not a readable Magento order: ")
    assert "(and 6 more)" in exc.value.detail


@pytest.mark.parametrize(
    ("change", "path", "code"),
    [
        (lambda d: d["items"][0].update(qty_ordered=0), "$.items[0].qty_ordered", "out_of_range"),
        (lambda d: d["items"][0].update(qty_ordered=-2), "$.items[0].qty_ordered", "out_of_range"),
        (lambda d: d["items"][0].update(qty_ordered="NaN"), "$.items[0].qty_ordered", "unparseable"),
        (lambda d: d["items"][0].update(qty_ordered=True), "$.items[0].qty_ordered", "unparseable"),
        (lambda d: d["items"][1].update(discount_amount=-1), "$.items[1].discount_amount", "out_of_range"),
        (lambda d: d["items"][1].update(price=None), "$.items[1].price", "unparseable"),
        (lambda d: d["items"].append("x"), "$.items[2]", "unparseable"),
        (lambda d: d["items"][1].update(parent_item_id=999), "$.items[1].parent_item_id", "unknown_parent"),
        (lambda d: d.update(items=[]), "$.items", "empty"),
        (lambda d: d.pop("items"), "$.items", "empty"),
        (lambda d: d.pop("order_currency_code"), "$.order_currency_code", "unparseable"),
        (lambda d: d.update(shipping_discount_amount=9), "$.shipping_discount_amount", "out_of_range"),
        (lambda d: d.pop("increment_id"), "$.increment_id", "unparseable"),
    ],
)
def test_a_bad_document_is_unparseable_with_the_field_named(
    change: Callable[[dict[str, Any]], Any], path: str, code: str
) -> None:
    doc = order("000000101")
    change(doc)
    with pytest.raises(Unparseable) as exc:
        parse(doc)
    assert issues(exc) == {path: code}


@pytest.mark.parametrize("body", [b"{not json", b"[1, 2]", b'"an order"'])
def test_a_body_that_is_not_an_order_object_is_unparseable_at_the_root(body: bytes) -> None:
    with pytest.raises(Unparseable) as exc:
        parse(body)
    assert issues(exc) == {"$": "unparseable"}


# --- the source settings ------------------------------------------------------------------------


def test_the_source_reads_the_channel_settings() -> None:
    src = Source.of(channel("https://shop.example/", store_code="uk_store", page_size=20, since="2026-01-31"))
    assert src.orders_url == "https://shop.example/rest/uk_store/V1/orders"
    assert (src.token, src.page_size, src.since) == (TOKEN, 20, "2026-01-31 00:00:00")
    assert Source.of(channel()).orders_url == "https://shop.example/rest/V1/orders"
    assert Source.of(channel()).page_size == 50


def test_unsafe_or_missing_settings_are_refused_by_name() -> None:
    bad = channel("http://shop.example", store_code="../admin", page_size=0, since="soon", timeout_seconds=0)
    bad.secrets.clear()
    with pytest.raises(ValidationFailed) as exc:
        Source.of(bad)
    assert {i.path for i in exc.value.issues} == {
        "settings.base_url", "settings.store_code", "settings.page_size", "settings.since",
        "settings.timeout_seconds", "secrets.access_token",
    }  # fmt: skip
    with pytest.raises(ValidationFailed):
        Source.of(channel(""))


# --- a Magento on this machine -------------------------------------------------------------------


class MagentoServer:
    """Answers ``GET /rest[/{store}]/V1/orders`` as Magento documents it: a Bearer token,
    ``searchCriteria`` (an ``updated_at`` ``gteq`` filter, sort orders, ``pageSize``,
    ``currentPage``) and ``{"items", "search_criteria", "total_count"}``. It insists on
    the sort orders the adapter relies on, and records every request."""

    def __init__(self, docs: list[dict[str, Any]], token: str = TOKEN) -> None:
        self.orders = copy.deepcopy(docs)
        self.token = token
        self.requests: list[dict[str, str]] = []
        self.paths: list[str] = []
        self.fail: dict[int, tuple[int, bytes]] = {}  # request number (from 1) -> status, body
        self.delay = 0.0
        self.after: Callable[[int], Any] | None = None  # called once request n is answered, before it is sent
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                status, body = server.answer(self.path, self.headers.get("Authorization"))
                time.sleep(server.delay)
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def answer(self, target: str, authorization: str | None) -> tuple[int, bytes]:
        url = urlsplit(target)
        params = dict(parse_qsl(url.query, keep_blank_values=True))
        self.requests.append(params)
        self.paths.append(url.path)
        if len(self.requests) in self.fail:
            return self.fail[len(self.requests)]
        if not re.fullmatch(r"/rest(/[a-z0-9_]+)?/V1/orders", url.path):
            return _json(404, {"message": "Request does not match any route."})
        if authorization != f"Bearer {self.token}":
            return _json(401, {"message": "The consumer isn't authorized to access %resources.",
                               "parameters": {"resources": "Magento_Sales::actions_view"}})  # fmt: skip
        sc = "searchCriteria"
        expected_sort = {
            f"{sc}[sortOrders][0][field]": "updated_at", f"{sc}[sortOrders][0][direction]": "ASC",
            f"{sc}[sortOrders][1][field]": "entity_id", f"{sc}[sortOrders][1][direction]": "ASC",
        }  # fmt: skip
        if any(params.get(k) != v for k, v in expected_sort.items()):
            return _json(400, {"message": "expected sortOrders updated_at ASC, entity_id ASC"})
        f = f"{sc}[filter_groups][0][filters][0]"
        since = params.get(f"{f}[value]")
        if since is not None and (params.get(f"{f}[field]"), params.get(f"{f}[condition_type]")) != (
            "updated_at",
            "gteq",
        ):
            return _json(400, {"message": "expected an updated_at gteq filter"})
        size, page = int(params[f"{sc}[pageSize]"]), int(params[f"{sc}[currentPage]"])
        found = sorted(
            (o for o in self.orders if since is None or o["updated_at"] >= since),
            key=lambda o: (o["updated_at"], o["entity_id"]),
        )
        criteria = {
            "filter_groups": [
                {"filters": [{"field": "updated_at", "value": since, "condition_type": "gteq"}]}
            ]
            if since
            else [],
            "sort_orders": [
                {"field": "updated_at", "direction": "ASC"},
                {"field": "entity_id", "direction": "ASC"},
            ],
            "page_size": size,
            "current_page": page,
        }
        items = copy.deepcopy(found[(page - 1) * size : page * size])
        if self.after is not None:
            self.after(len(self.requests))
        return _json(200, {"items": items, "search_criteria": criteria, "total_count": len(found)})

    def update(self, increment_id: str, **changes: Any) -> None:
        """Change an order in the shop (as staff or a customer would)."""
        next(o for o in self.orders if o["increment_id"] == increment_id).update(changes)


def _json(status: int, body: Any) -> tuple[int, bytes]:
    return status, json.dumps(body).encode()


@pytest.fixture
def magento() -> Iterator[MagentoServer]:
    server = MagentoServer(orders())
    server.thread.start()
    yield server
    server.httpd.shutdown()
    server.httpd.server_close()


def refs(documents: list[bytes]) -> list[str]:
    return [json.loads(d)["increment_id"] for d in documents]


ALL = ["000000101", "000000102", "000000103", "000000104", "000000105", "000000106", "000000107"]
LAST = "2026-03-02 12:45:09|107"


@pytest.mark.parametrize("page_size", [1, 2, 3, 5, 7, 50])
def test_fetch_pulls_every_page_oldest_first_and_moves_the_cursor_to_the_last(
    magento: MagentoServer, page_size: int
) -> None:
    documents, cursor = ADAPTER.fetch(channel(magento.base_url, page_size=page_size), None)
    assert refs(documents) == ALL  # each exactly once, equal timestamps included
    assert cursor == LAST
    assert [json.loads(d) for d in documents] == orders()  # the documents as Magento sent them
    first = magento.requests[0]
    assert "searchCriteria[filter_groups][0][filters][0][value]" not in first  # no cursor: from the start
    assert first["searchCriteria[pageSize]"] == str(page_size)
    assert set(magento.paths) == {"/rest/V1/orders"}


def test_fetch_from_a_cursor_asks_for_updated_at_gteq_and_drops_what_the_cursor_covers(
    magento: MagentoServer,
) -> None:
    documents, cursor = ADAPTER.fetch(channel(magento.base_url, page_size=2), "2026-03-02 11:30:00|103")
    assert refs(documents) == ALL[3:]  # 104 shares 103's time: not skipped; 103 not repeated
    assert cursor == LAST
    assert magento.requests[0] == {
        "searchCriteria[filter_groups][0][filters][0][field]": "updated_at",
        "searchCriteria[filter_groups][0][filters][0][value]": "2026-03-02 11:30:00",
        "searchCriteria[filter_groups][0][filters][0][condition_type]": "gteq",
        "searchCriteria[sortOrders][0][field]": "updated_at",
        "searchCriteria[sortOrders][0][direction]": "ASC",
        "searchCriteria[sortOrders][1][field]": "entity_id",
        "searchCriteria[sortOrders][1][direction]": "ASC",
        "searchCriteria[pageSize]": "2",
        "searchCriteria[currentPage]": "1",
    }


def test_a_fetch_from_the_last_cursor_finds_nothing_and_keeps_the_cursor(magento: MagentoServer) -> None:
    assert ADAPTER.fetch(channel(magento.base_url), LAST) == ([], LAST)


def test_the_next_fetch_brings_only_what_changed_since(magento: MagentoServer) -> None:
    _, cursor = ADAPTER.fetch(channel(magento.base_url, page_size=3), None)
    magento.update("000000102", state="canceled", status="canceled", updated_at="2026-03-02 13:00:00")
    documents, cursor = ADAPTER.fetch(channel(magento.base_url, page_size=3), cursor)
    assert refs(documents) == ["000000102"] and cursor == "2026-03-02 13:00:00|102"
    assert parse(documents[0]) == [CancelOrder("000000102", "cancelled in Magento (status canceled)")]


def test_an_order_updated_while_we_page_shifts_no_other_out_of_reach(magento: MagentoServer) -> None:
    """Paging by page number alone would skip 000000103 here: once 101 moves to the end,
    page 2 of the same query starts one order later."""
    magento.after = lambda n: n == 1 and magento.update("000000101", updated_at="2026-03-02 13:00:00")
    documents, cursor = ADAPTER.fetch(channel(magento.base_url, page_size=2), None)
    assert refs(documents) == [*ALL, "000000101"]  # 101 again: its newer version
    assert cursor == "2026-03-02 13:00:00|101"


def test_the_store_code_goes_into_the_path(magento: MagentoServer) -> None:
    documents, _ = ADAPTER.fetch(channel(magento.base_url, store_code="default"), None)
    assert len(documents) == 7 and set(magento.paths) == {"/rest/default/V1/orders"}


@pytest.mark.parametrize("failing_request", [1, 2])
def test_a_server_error_raises_naming_the_url_and_the_status(
    magento: MagentoServer, failing_request: int
) -> None:
    magento.fail[failing_request] = _json(
        500, {"message": "Internal Error. Details are available in Magento log"}
    )
    with pytest.raises(FetchFailed) as exc:
        ADAPTER.fetch(channel(magento.base_url, page_size=2), "2026-03-02 09:20:11|101")
    assert f"GET {magento.base_url}/rest/V1/orders (page" in exc.value.detail
    assert "answered 500: Internal Error" in exc.value.detail
    assert exc.value.extra["status"] == 500  # nothing returned, so no cursor moves


def test_a_refused_token_raises_with_magentos_message(magento: MagentoServer) -> None:
    magento.token = "another-token"
    with pytest.raises(FetchFailed) as exc:
        ADAPTER.fetch(channel(magento.base_url), None)
    assert "answered 401: The consumer isn't authorized" in exc.value.detail


def test_an_answer_that_is_not_json_raises(magento: MagentoServer) -> None:
    magento.fail[1] = (200, b"<html>Service Temporarily Unavailable</html>")
    with pytest.raises(FetchFailed, match="answered 200 with a body that is not JSON"):
        ADAPTER.fetch(channel(magento.base_url), None)
    magento.fail[2] = _json(200, {"message": "no items here"})
    with pytest.raises(FetchFailed, match="without a list of orders"):
        ADAPTER.fetch(channel(magento.base_url), None)


def test_a_slow_server_times_out_with_a_clear_error(magento: MagentoServer) -> None:
    magento.delay = 1.0
    with pytest.raises(FetchFailed, match=r"/rest/V1/orders \(page 1\) timed out after 0.2 s"):
        ADAPTER.fetch(channel(magento.base_url, timeout_seconds=0.2), None)


def test_an_unreachable_server_raises_naming_the_url() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    port = server.server_address[1]
    server.server_close()  # nothing listens on this port now
    with pytest.raises(FetchFailed, match=rf"GET http://127.0.0.1:{port}/rest/V1/orders \(page 1\) failed"):
        ADAPTER.fetch(channel(f"http://127.0.0.1:{port}"), None)


def test_a_corrupt_saved_cursor_is_reported_not_guessed(magento: MagentoServer) -> None:
    with pytest.raises(FetchFailed, match=re.escape("is not '<updated_at>|<entity_id>'")):
        ADAPTER.fetch(channel(magento.base_url), "yesterday")
    assert magento.requests == []
