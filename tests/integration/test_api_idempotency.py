"""The same order delivered twice creates one order: by channel + external reference, and
by the Idempotency-Key header (per API key)."""

from __future__ import annotations

import threading
from typing import Any

import httpx
from api_helpers import count, key_headers, order_body, outbox, place, problem
from fastapi.testclient import TestClient

from legato.bootstrap import Runtime


def _written(rt: Runtime) -> tuple[int, int, int, int]:
    return (count(rt, "orders"), count(rt, "order_lines"), count(rt, "order_timeline"), count(rt, "outbox"))


def test_a_redelivered_order_returns_the_first_with_200_and_writes_nothing(
    client: TestClient, shop: dict[str, str], runtime: Runtime
) -> None:
    first = place(client, shop, order_body("WEB", ("TEA-100", 2), external_reference="SHOP-42"))
    before = _written(runtime)
    # a re-delivery, even with a changed body, answers with the order as first received
    again = client.post(
        "/api/v1/orders",
        headers=shop,
        json=order_body("WEB", ("MUG-200", 9), external_reference="SHOP-42", notes="changed"),
    )
    assert again.status_code == 200, again.text
    assert again.json()["id"] == first["id"]
    assert again.json()["lines"][0]["sku"] == "TEA-100" and again.json()["notes"] is None
    assert again.headers["location"] == f"/api/v1/orders/{first['number']}"
    assert _written(runtime) == before
    assert outbox(runtime) == {"order.created": 1}
    # the reference is unique per channel: another channel's order 'SHOP-42' is another order
    other = place(client, shop, order_body("MKT", external_reference="SHOP-42"))
    assert other["id"] != first["id"] and count(runtime, "orders") == 2


def test_the_same_order_posted_five_times_at_once_creates_exactly_one(
    client: TestClient, shop: dict[str, str], runtime: Runtime
) -> None:
    body = order_body("WEB", ("TEA-100", 1), ("MUG-200", 1), external_reference="RACE-1")
    barrier = threading.Barrier(5)
    results: list[httpx.Response | BaseException] = []

    def deliver() -> None:
        try:
            with TestClient(client.app, raise_server_exceptions=False) as own:
                barrier.wait()
                results.append(own.post("/api/v1/orders", json=body, headers=shop))
        except BaseException as exc:
            results.append(exc)

    threads = [threading.Thread(target=deliver) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    statuses = sorted(r.status_code if isinstance(r, httpx.Response) else repr(r) for r in results)  # type: ignore[misc]
    assert statuses == [200, 200, 200, 200, 201], [getattr(r, "text", r) for r in results]
    ids = {r.json()["id"] for r in results if isinstance(r, httpx.Response)}
    assert len(ids) == 1
    assert count(runtime, "orders") == 1 and count(runtime, "order_lines") == 2
    assert count(runtime, "order_timeline") == 1
    assert outbox(runtime) == {"order.created": 1}


# --- Idempotency-Key ----------------------------------------------------------------------


def _post(client: TestClient, headers: dict[str, str], key: str, body: dict[str, Any]) -> httpx.Response:
    return client.post("/api/v1/orders", json=body, headers={**headers, "Idempotency-Key": key})


def test_an_idempotency_key_replays_the_first_response_and_writes_nothing(
    client: TestClient, shop: dict[str, str], runtime: Runtime
) -> None:
    body = order_body("WEB", ("TEA-100", 3))  # no external reference: only the key protects it
    first = _post(client, shop, "key-1", body)
    assert first.status_code == 201, first.text
    assert "idempotent-replayed" not in first.headers
    before = _written(runtime)
    for _ in range(2):
        replay = _post(client, shop, "key-1", body)
        assert replay.status_code == 201
        assert replay.headers["idempotent-replayed"] == "true"
        assert replay.headers["content-type"].startswith("application/json")
        assert replay.json() == first.json()
        assert replay.content == first.content
    assert _written(runtime) == before
    assert outbox(runtime) == {"order.created": 1}
    # without the key the same body is a new order
    assert client.post("/api/v1/orders", json=body, headers=shop).status_code == 201
    assert count(runtime, "orders") == 2


def test_an_idempotency_key_reused_with_another_body_is_a_422(
    client: TestClient, shop: dict[str, str], runtime: Runtime
) -> None:
    first = _post(client, shop, "key-2", order_body("WEB", ("TEA-100", 1)))
    assert first.status_code == 201
    r = _post(client, shop, "key-2", order_body("WEB", ("TEA-100", 2)))
    p = problem(r, 422, "idempotency_key_reused")
    assert "idempotent-replayed" not in r.headers and p["instance"] == "/api/v1/orders"
    number = first.json()["number"]
    r = client.post(
        f"/api/v1/orders/{number}/transitions",
        json={"to": "processing"},
        headers={**shop, "Idempotency-Key": "key-2"},
    )
    problem(r, 422, "idempotency_key_reused")  # another path is another request
    assert count(runtime, "orders") == 1
    assert client.get(f"/api/v1/orders/{number}", headers=shop).json()["status"] == "created"


def test_idempotency_keys_belong_to_one_api_key(
    client: TestClient, shop: dict[str, str], runtime: Runtime
) -> None:
    other = key_headers(runtime, "other-integration", "orders:write")
    body = order_body("WEB", ("TEA-100", 1))
    mine = _post(client, shop, "shared-key", body)
    theirs = _post(client, other, "shared-key", body)
    assert (mine.status_code, theirs.status_code) == (201, 201)
    assert "idempotent-replayed" not in theirs.headers
    assert mine.json()["id"] != theirs.json()["id"]
    assert theirs.json()["timeline"][0]["actor"] == "apikey:other-integration"
    assert _post(client, other, "shared-key", body).json()["id"] == theirs.json()["id"]
    assert count(runtime, "orders") == 2


def test_one_idempotency_key_sent_five_times_at_once_creates_one_order(
    client: TestClient, shop: dict[str, str], runtime: Runtime
) -> None:
    body = order_body("WEB", ("TEA-100", 1))  # no external reference: only the key protects it
    barrier = threading.Barrier(5)
    results: list[httpx.Response] = []

    def deliver() -> None:
        with TestClient(client.app, raise_server_exceptions=False) as own:
            barrier.wait()
            results.append(
                own.post("/api/v1/orders", json=body, headers={**shop, "Idempotency-Key": "burst"})
            )

    threads = [threading.Thread(target=deliver) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(results) == 5
    created = [r for r in results if r.status_code == 201 and "idempotent-replayed" not in r.headers]
    assert len(created) == 1, [(r.status_code, r.text) for r in results]
    for r in results:
        if r is created[0]:
            continue
        if r.status_code == 201:
            assert r.headers["idempotent-replayed"] == "true" and r.json() == created[0].json()
        else:
            problem(r, 409, "idempotency_key_in_flight")
    assert count(runtime, "orders") == 1
    assert outbox(runtime) == {"order.created": 1}


def test_an_idempotency_key_replays_an_error_answer_too(
    client: TestClient, shop: dict[str, str], runtime: Runtime
) -> None:
    body = order_body("WEB", ("NOPE-1", 1))
    first = _post(client, shop, "key-3", body)
    problem(first, 422, "unknown_sku")
    replay = _post(client, shop, "key-3", body)
    assert replay.status_code == 422
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.headers["content-type"].startswith("application/problem+json")
    assert replay.json() == first.json()


def test_an_idempotency_key_works_on_transitions_and_edits(
    client: TestClient, shop: dict[str, str], runtime: Runtime
) -> None:
    order = place(client, shop, order_body())
    url = f"/api/v1/orders/{order['number']}/transitions"
    headers = {**shop, "Idempotency-Key": "move-1"}
    first = client.post(url, json={"to": "processing"}, headers=headers)
    replay = client.post(url, json={"to": "processing"}, headers=headers)
    assert (first.status_code, replay.status_code) == (200, 200)
    assert replay.headers["idempotent-replayed"] == "true"
    # without the key, the same move is illegal the second time
    problem(client.post(url, json={"to": "processing"}, headers=shop), 409, "illegal_transition")
    patch = {**shop, "Idempotency-Key": "edit-1"}
    assert (
        client.patch(f"/api/v1/orders/{order['number']}", json={"priority": 2}, headers=patch).status_code
        == 200
    )
    assert (
        client.patch(f"/api/v1/orders/{order['number']}", json={"priority": 2}, headers=patch).headers[
            "idempotent-replayed"
        ]
        == "true"
    )
    assert outbox(runtime) == {"order.created": 1, "order.status_changed": 1, "order.updated": 1}


def test_an_idempotency_key_is_at_most_255_characters_and_never_bypasses_authentication(
    client: TestClient, shop: dict[str, str], runtime: Runtime
) -> None:
    problem(_post(client, shop, "k" * 256, order_body()), 422, "validation")
    r = client.post("/api/v1/orders", json=order_body(), headers={"Idempotency-Key": "anon"})
    problem(r, 401, "unauthorized")
    assert count(runtime, "orders") == 0 and count(runtime, "idempotency_keys") == 0
