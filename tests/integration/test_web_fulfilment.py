"""Fulfilment on an order's page, on both databases: the warehouse allocates stock with one
button (reserved per line, backorders shown on the line, the legs created), holds a leg before
dispatch with a reason (refused without one, what was typed kept) and releases it; a role without
the permission is not offered the buttons and is refused by the server."""

from __future__ import annotations

import re
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient
from fulfilment_helpers import order, stocked
from web_helpers import post_form, sign_in, web_client

from legato.bootstrap import Runtime
from legato.domain.order import ORDER_PREFIX, format_number
from legato.store import fulfilment as fs
from legato.store.allocation import in_transaction
from legato.store.inventory import level_of
from legato.store.order_fulfilment import order_fulfilment


@pytest.fixture
def web(runtime: Runtime) -> Iterator[TestClient]:
    with web_client(runtime) as c:
        yield c


@pytest.fixture
def wh(runtime: Runtime, shop: dict[str, str]) -> dict[str, str]:
    stocked(runtime)  # WH-LDN: 10 TEA-100 (priority 10); WH-MAN: 5 MUG-200; SUP-ACME dropships POT-300
    return shop


def location_id(rt: Runtime, code: str) -> int:
    from legato.store.inventory_tables import locations

    with rt.engine.connect() as conn:
        return int(conn.execute(locations.select().where(locations.c.code == code)).one().id)


def test_the_warehouse_allocates_with_one_button_and_sees_reservations_legs_and_backorders(
    web: TestClient, runtime: Runtime, client: Any, wh: dict[str, str]
) -> None:
    oid = order(client, wh, ("TEA-100", 12), ("MUG-200", 2), ("POT-300", 1))
    number = format_number(ORDER_PREFIX, oid)
    sign_in(web, runtime, "warehouse")
    html = web.get(f"/orders/{number}").text
    assert f'action="/orders/{number}/allocate"' in html and "Nothing allocated yet" in html
    r = post_form(web, f"/orders/{number}/allocate")
    assert r.status_code == 303 and r.headers["location"].endswith(f"/orders/{number}#fulfilment")
    html = web.get(r.headers["location"]).text
    # 10 TEA-100 and 2 MUG-200 reserved, 1 POT-300 sent to its supplier
    assert "Allocated 13 unit(s); 2 unit(s) backordered; 3 fulfilment order(s) created." in html
    # 10 of 12 TEA-100 reserved at WH-LDN, the other 2 wait; MUG-200 at WH-MAN; POT-300 dropshipped
    assert level_of(runtime.engine.connect(), location_id(runtime, "WH-LDN"), "TEA-100").reserved == 10
    assert html.count("2 backordered") == 2  # on the line, and in the supply table
    assert re.search(r'<span class="mono">WH-LDN</span> 10\b', html)
    assert 'dropship from <span class="mono">SUP-ACME</span>' in html
    for leg in (1, 2, 3):
        assert f"{number}-F{leg}" in html
    # fully covered now: the button is gone, and a second allocation would change nothing
    assert f'action="/orders/{number}/allocate"' not in html
    supply = order_fulfilment(runtime.engine, oid, number)
    assert supply.backordered == Decimal(2) and len(supply.legs) == 3


def test_a_leg_is_held_with_a_reason_kept_on_error_then_released(
    web: TestClient, runtime: Runtime, client: Any, wh: dict[str, str]
) -> None:
    oid = order(client, wh, ("MUG-200", 1))
    number = format_number(ORDER_PREFIX, oid)
    sign_in(web, runtime, "warehouse")
    assert post_form(web, f"/orders/{number}/allocate").status_code == 303
    [leg] = order_fulfilment(runtime.engine, oid, number).legs
    empty = post_form(web, f"/orders/{number}/fulfilment/{leg.id}/hold", {"reason": "   "})
    assert empty.status_code == 422
    assert "Say why" in empty.text and f'id="hold-{leg.id}-reason"' in empty.text
    held = post_form(
        web, f"/orders/{number}/fulfilment/{leg.id}/hold", {"reason": "quality flag on the batch"}
    )
    assert held.status_code == 303
    html = web.get(f"/orders/{number}").text
    assert f"{number}-F1 is on hold." in html and "Held: quality flag on the batch" in html
    assert f'/fulfilment/{leg.id}/release"' in html and f'/fulfilment/{leg.id}/hold"' not in html
    released = post_form(web, f"/orders/{number}/fulfilment/{leg.id}/release")
    assert released.status_code == 303
    assert order_fulfilment(runtime.engine, oid, number).legs[0].status == "created"


def test_a_dispatched_leg_cannot_be_held_and_the_page_says_why(
    web: TestClient, runtime: Runtime, client: Any, wh: dict[str, str]
) -> None:
    oid = order(client, wh, ("MUG-200", 1))
    number = format_number(ORDER_PREFIX, oid)
    sign_in(web, runtime, "warehouse")
    post_form(web, f"/orders/{number}/allocate")
    [leg] = order_fulfilment(runtime.engine, oid, number).legs
    in_transaction(runtime.engine, lambda c: fs.apply_event(c, leg.id, "dispatched", at=leg.created_at,
                                                            actor="wms", source="api"))  # fmt: skip
    html = web.get(f"/orders/{number}").text
    assert f'/fulfilment/{leg.id}/hold"' not in html  # not offered ...
    r = post_form(web, f"/orders/{number}/fulfilment/{leg.id}/hold", {"reason": "too late"})
    assert r.status_code == 409 and "dispatch" in r.text  # ... and refused by the server


def test_a_viewer_is_offered_neither_allocation_nor_holds_and_is_refused_both(
    web: TestClient, runtime: Runtime, client: Any, wh: dict[str, str]
) -> None:
    oid = order(client, wh, ("MUG-200", 1))
    number = format_number(ORDER_PREFIX, oid)
    sign_in(web, runtime, "viewer")
    html = web.get(f"/orders/{number}").text
    assert "/allocate" not in html and "Fulfilment" in html
    assert post_form(web, f"/orders/{number}/allocate").status_code == 403
    assert post_form(web, f"/orders/{number}/fulfilment/1/hold", {"reason": "x"}).status_code == 403
    with runtime.engine.connect() as conn:
        assert level_of(conn, location_id(runtime, "WH-MAN"), "MUG-200").reserved == 0


def test_a_leg_of_another_order_is_not_found_from_this_order(
    web: TestClient, runtime: Runtime, client: Any, wh: dict[str, str]
) -> None:
    first = order(client, wh, ("MUG-200", 1))
    other = order(client, wh, ("TEA-100", 1))
    sign_in(web, runtime, "warehouse")
    post_form(web, f"/orders/{format_number(ORDER_PREFIX, first)}/allocate")
    [leg] = order_fulfilment(runtime.engine, first, "x").legs
    r = post_form(
        web, f"/orders/{format_number(ORDER_PREFIX, other)}/fulfilment/{leg.id}/hold", {"reason": "x"}
    )
    assert r.status_code == 404


def test_sales_cancel_some_lines_from_the_page_and_a_missing_reason_keeps_the_ticks(
    web: TestClient, runtime: Runtime, client: Any, wh: dict[str, str]
) -> None:
    oid = order(client, wh, ("TEA-100", 2), ("MUG-200", 1))
    number = format_number(ORDER_PREFIX, oid)
    sign_in(web, runtime, "sales")
    html = web.get(f"/orders/{number}").text
    assert f'action="/orders/{number}/lines/cancel"' in html
    bad = post_form(web, f"/orders/{number}/lines/cancel", {"line": "2", "reason": ""})
    assert bad.status_code == 422 and "Say why" in bad.text
    assert re.search(r'name="line" value="2" checked', bad.text)  # what was ticked is kept
    r = post_form(web, f"/orders/{number}/lines/cancel", {"line": "2", "reason": "out of stock for good"})
    assert r.status_code == 303
    html = web.get(r.headers["location"]).text
    assert f"Line(s) 2 of {number} cancelled." in html
    assert f'action="/orders/{number}/lines/cancel"' not in html  # one live line left: cancel the order
    lines = client.get(f"/api/v1/orders/{oid}", headers=wh).json()["lines"]
    assert [ln["status"] for ln in lines] == ["open", "cancelled"]


def test_a_viewer_cannot_cancel_lines(
    web: TestClient, runtime: Runtime, client: Any, wh: dict[str, str]
) -> None:
    oid = order(client, wh, ("TEA-100", 2), ("MUG-200", 1))
    number = format_number(ORDER_PREFIX, oid)
    sign_in(web, runtime, "viewer")
    assert "/lines/cancel" not in web.get(f"/orders/{number}").text
    assert post_form(web, f"/orders/{number}/lines/cancel", {"line": "2", "reason": "x"}).status_code == 403


def test_the_operations_board_shows_reserved_backordered_unallocated_and_available_per_sku(
    web: TestClient, runtime: Runtime, client: Any, wh: dict[str, str]
) -> None:
    first = order(client, wh, ("TEA-100", 12))
    order(client, wh, ("TEA-100", 1))  # not allocated yet
    sign_in(web, runtime, "warehouse")
    post_form(web, f"/orders/{format_number(ORDER_PREFIX, first)}/allocate")
    html = web.get("/operations").text
    row = re.search(r"TEA-100</span>.*?</tr>", html, re.S)
    assert row, html
    cells = re.findall(r'<td class="num">(?:<span class="badge tone-warn">)?([^<]*)', row.group(0))
    # ordered 13; 10 reserved at WH-LDN; 0 shipped; 2 backordered; 1 unallocated; 0 available to
    # ship (the Leeds store's 3 are for pickup only); 2 orders
    assert cells[:6] == ["13", "10", "0", "2", "1", "0"], cells
