"""The inbox page on both databases: deliveries by channel and state with their reasons, the raw
payload escaped, keyset pages, and the replay button only for the roles that may (the server
refuses otherwise): a quarantined order replayed after the catalogue was fixed becomes an order."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from api_helpers import count, order_body
from fastapi.testclient import TestClient
from web_helpers import page_token, sign_in, web_client

from legato.bootstrap import Runtime
from legato.store import inbox


@pytest.fixture
def web(runtime: Runtime) -> Iterator[TestClient]:
    with web_client(runtime) as c:
        yield c


@pytest.fixture
def quarantined(client: TestClient, shop: dict[str, str]) -> int:
    """An order for a product the catalogue does not have yet, with markup in its notes."""
    body = order_body("WEB", ("KETTLE-9", 1), notes="<script>alert('x')</script>", external_reference="K-1")
    r = client.post("/api/v1/orders", json=body, headers=shop)
    assert r.status_code == 422, r.text
    entries, _ = inbox.listing(
        client.app.state.runtime.engine, state="quarantined", channel=None, limit=5, cursor=None
    )
    return entries[0].id


def test_deliveries_by_channel_and_state_with_the_reason(
    web: TestClient, runtime: Runtime, quarantined: int, client: TestClient, shop: dict[str, str]
) -> None:
    ok = client.post("/api/v1/orders", json=order_body("WEB", ("TEA-100", 1)), headers=shop)
    assert ok.status_code == 201
    sign_in(web, runtime, "viewer")
    html = web.get("/inbox").text
    counts = html.split('id="inbox-counts"')[1].split("</table>")[0]
    assert re.search(r'<a href="/inbox\?state=quarantined&amp;channel=WEB">1</a>', counts)
    assert re.search(r'<a href="/inbox\?state=processed&amp;channel=WEB">1</a>', counts)
    assert "no active product with SKU" in html and f'href="/inbox/{quarantined}"' in html
    assert "/replay" not in html  # a viewer may not replay
    attention = web.get("/inbox?state=quarantined&state=rejected&state=failed").text
    assert f'data-entry="{quarantined}"' in attention and attention.count("data-entry=") == 1
    assert web.get("/inbox?channel=B2B").text.count("data-entry=") == 0
    assert "&#39;lost&#39; is not an inbox state" in web.get("/inbox?state=lost").text
    assert "the cursor is not one" in web.get("/inbox?cursor=zzz").text


def test_an_entry_shows_its_payload_escaped_and_its_field_problems(
    web: TestClient, runtime: Runtime, quarantined: int
) -> None:
    sign_in(web, runtime, "viewer")
    r = web.get(f"/inbox/{quarantined}")
    assert r.status_code == 200
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in r.text and "<script>alert" not in r.text
    assert '<td class="mono">lines[0].sku</td>' in r.text
    assert 'id="replay"' not in r.text
    assert (
        web.post(f"/inbox/{quarantined}/replay", data={"csrf_token": page_token(web, "/inbox")}).status_code
        == 403
    )
    assert web.get("/inbox/999999").status_code == 404


def test_a_replay_after_the_fix_places_the_order_and_a_second_one_is_refused(
    web: TestClient, runtime: Runtime, quarantined: int, client: TestClient, shop: dict[str, str]
) -> None:
    sign_in(web, runtime, "admin")
    assert 'id="replay"' in web.get(f"/inbox/{quarantined}").text
    token = page_token(web, "/inbox")
    again = web.post(f"/inbox/{quarantined}/replay", data={"csrf_token": token})
    assert again.status_code == 303
    assert "refused again" in web.get(again.headers["location"]).text and count(runtime, "orders") == 0
    r = client.post(
        "/api/v1/products",
        json={"sku": "KETTLE-9", "name": "Kettle", "prices": {"GBP": "25.00"}},
        headers=shop,
    )
    assert r.status_code == 201
    done = web.post(f"/inbox/{quarantined}/replay", data={"csrf_token": token})
    page = web.get(done.headers["location"]).text
    assert "Replayed: processed, order SO-000001." in page and 'href="/orders/SO-000001"' in page
    assert count(runtime, "orders") == 1
    refused = web.post(f"/inbox/{quarantined}/replay", data={"csrf_token": token})
    assert refused.status_code == 409 and "only" in refused.text


def test_the_list_is_paged_newest_first(web: TestClient, runtime: Runtime) -> None:
    now = datetime.now(UTC)
    with runtime.engine.begin() as conn:
        for i in range(60):
            inbox.store(
                conn,
                inbox.row(
                    channel_id=None,
                    channel_code="NOWHERE",
                    adapter=None,
                    method="POST",
                    path="/intake/NOWHERE",
                    query={},
                    headers={},
                    body=b"x" * i,
                    received_at=now,
                    source="test",
                    state=inbox.REJECTED,
                    reason=f"no channel {i}",
                ),
            )
    sign_in(web, runtime, "viewer")
    first = web.get("/inbox?channel=NOWHERE").text
    ids = [int(x) for x in re.findall(r'data-entry="(\d+)"', first)]
    assert ids == list(range(60, 10, -1))
    older = re.search(r'href="([^"]+)">Older', first)
    assert older
    second = web.get(older.group(1).replace("&amp;", "&")).text
    assert [int(x) for x in re.findall(r'data-entry="(\d+)"', second)] == list(range(10, 0, -1))
    assert "First page" in second and "Older" not in second
    assert "59 B" in first  # sizes without reading the bodies
