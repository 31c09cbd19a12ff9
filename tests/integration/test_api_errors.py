"""Errors: every 4xx is RFC 9457 problem+json naming the field; bad input is never a 500."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from api_helpers import count, order_body, place, problem
from fastapi.testclient import TestClient

from legato.api.app import create_app
from legato.api.routers import orders as orders_router
from legato.bootstrap import Runtime

JSON = {"content-type": "application/json"}


def test_every_4xx_is_a_problem_with_type_title_status_code_and_request_id(
    client: TestClient, shop: dict[str, str], reader: dict[str, str]
) -> None:
    order = place(client, shop, order_body())
    n = order["number"]
    cases = [
        (client.get("/api/v1/orders"), 401, "unauthorized"),
        (client.post("/api/v1/orders", json=order_body(), headers=reader), 403, "forbidden"),
        (client.get("/api/v1/orders/SO-999999", headers=shop), 404, "not_found"),
        (client.get("/api/v1/nothing-here", headers=shop), 404, "not_found"),
        (client.delete(f"/api/v1/orders/{n}", headers=shop), 405, "method_not_allowed"),
        (
            client.post(f"/api/v1/orders/{n}/transitions", json={"to": "completed"}, headers=shop),
            409,
            "illegal_transition",
        ),
        (
            client.post(
                "/api/v1/channels",
                json={"code": "WEB", "name": "x", "type": "retail", "currency": "GBP"},
                headers=shop,
            ),
            409,
            "duplicate",
        ),
        (
            client.post("/api/v1/orders", json={"channel": "WEB", "lines": []}, headers=shop),
            422,
            "validation",
        ),
        (
            client.post("/api/v1/orders", json=order_body("WEB", ("NOPE", 1)), headers=shop),
            422,
            "unknown_sku",
        ),
        (client.get("/api/v1/orders", params={"limit": "many"}, headers=shop), 422, "validation"),
    ]
    for r, status, code in cases:
        p = problem(r, status, code)
        assert p["type"] == f"urn:legato:problem:{code}"
        assert p["request_id"] == r.headers["x-request-id"]
        assert p["instance"] == r.request.url.path
        assert isinstance(p["errors"], list)


def test_a_field_error_names_the_field_by_json_path_and_json_pointer(
    client: TestClient, shop: dict[str, str]
) -> None:
    body = order_body(
        "WEB",
        ("TEA-100", 1),
        ("TEA-100", 1),
        ("TEA-100", 0),
        shipping_address={"country": "gb"},
        currency="pounds",
    )
    body["lines"][0]["colour"] = "red"
    p = problem(client.post("/api/v1/orders", json=body, headers=shop), 422, "validation")
    got = {(e["path"], e["pointer"], e["code"]) for e in p["errors"]}
    assert got == {
        ("$.lines[2].quantity", "/lines/2/quantity", "greater_than"),
        ("$.lines[0].colour", "/lines/0/colour", "extra_forbidden"),
        ("$.shipping_address.country", "/shipping_address/country", "string_pattern_mismatch"),
        ("$.currency", "/currency", "string_pattern_mismatch"),
    }
    assert p["detail"] == "4 problems in the request"
    assert all(e["in"] == "body" and e["message"] for e in p["errors"])
    one = problem(
        client.post("/api/v1/orders", json=order_body("WEB", ("TEA-100", "-1")), headers=shop),
        422,
        "validation",
    )
    assert one["detail"].endswith("at $.lines[0].quantity")


def test_a_malformed_body_is_a_422_not_a_500(
    client: TestClient, shop: dict[str, str], runtime: Runtime
) -> None:
    for raw in (
        b'{"channel": "WEB",',
        b"",
        b"[1, 2]",
        b'"order"',
        b"null",
        b'{"channel": "WEB", "lines": [}',
    ):
        r = client.post("/api/v1/orders", content=raw, headers={**shop, **JSON})
        p = problem(r, 422, "validation")
        assert p["errors"] and p["errors"][0]["in"] == "body", raw
    assert count(runtime, "orders") == 0


def test_a_body_that_is_not_utf8_is_a_422(client: TestClient, shop: dict[str, str]) -> None:
    r = client.post("/api/v1/orders", content=b"\xff\xfe{", headers={**shop, **JSON})
    problem(r, 422, "validation")


def test_a_json_syntax_error_is_reported_at_the_document_root(
    client: TestClient, shop: dict[str, str]
) -> None:
    r = client.post("/api/v1/orders", content=b'{"channel": "WEB",', headers={**shop, **JSON})
    p = problem(r, 422, "validation")
    assert [(e["path"], e["pointer"], e["code"]) for e in p["errors"]] == [("$", "", "json_invalid")]


def test_a_bad_custom_property_is_reported_once_at_its_own_path(
    client: TestClient, shop: dict[str, str]
) -> None:
    body = order_body(customer={"properties": {"a/b~c": [1]}})
    p = problem(client.post("/api/v1/orders", json=body, headers=shop), 422, "validation")
    assert [(e["path"], e["pointer"]) for e in p["errors"]] == [
        ("$.customer.properties.a/b~c", "/customer/properties/a~1b~0c")
    ]


def test_text_with_control_characters_and_numbers_out_of_range_are_refused(
    client: TestClient, shop: dict[str, str]
) -> None:
    bad = [
        (order_body(notes="a\x00b"), "$.notes"),
        (order_body(priority=10**30), "$.priority"),
        (order_body(shipping="12345678901234567890"), "$.shipping"),
        (order_body("WEB", ("TEA-100", "0.00001")), "$.lines[0].quantity"),
        (order_body("WEB", ("TEA-100", "NaN")), "$.lines[0].quantity"),
        (order_body("WEB", ("TEA-100", "Infinity")), "$.lines[0].quantity"),
        (order_body("WEB", ("TEA-100", 1_000_001)), "$.lines[0].quantity"),
        (order_body("WEB", *[("TEA-100", 1)] * 1001), "$.lines"),
    ]
    for body, path in bad:
        p = problem(client.post("/api/v1/orders", json=body, headers=shop), 422, "validation")
        assert [e["path"] for e in p["errors"]] == [path], body.get("notes", path)


@pytest.fixture
def small(runtime: Runtime) -> Iterator[TestClient]:
    """A client of an app that accepts bodies of at most 1000 bytes."""
    rt = Runtime(runtime.settings.model_copy(update={"max_body_bytes": 1000}), runtime.engine, runtime.box)
    with TestClient(create_app(rt), raise_server_exceptions=False) as c:
        yield c


def _big_order() -> bytes:
    return json.dumps(order_body(notes="x" * 2000)).encode()


def test_a_body_over_the_limit_is_a_413_problem(
    small: TestClient, shop: dict[str, str], runtime: Runtime
) -> None:
    r = small.post("/api/v1/orders", content=_big_order(), headers={**shop, **JSON})
    p = problem(r, 413, "payload_too_large")
    assert "1000 bytes" in p["detail"]
    assert small.post("/api/v1/orders", json=order_body(), headers=shop).status_code == 201  # small ones pass
    assert count(runtime, "orders") == 1


def test_a_streamed_body_over_the_limit_with_an_idempotency_key_is_a_413(
    small: TestClient, shop: dict[str, str]
) -> None:
    raw = _big_order()
    chunks = (raw[i : i + 100] for i in range(0, len(raw), 100))
    r = small.post("/api/v1/orders", content=chunks, headers={**shop, **JSON, "Idempotency-Key": "big"})
    problem(r, 413, "payload_too_large")


def test_a_streamed_body_over_the_limit_is_a_413(small: TestClient, shop: dict[str, str]) -> None:
    raw = _big_order()
    chunks = (raw[i : i + 100] for i in range(0, len(raw), 100))
    r = small.post("/api/v1/orders", content=chunks, headers={**shop, **JSON})
    problem(r, 413, "payload_too_large")


def test_a_sane_request_id_is_echoed_and_any_other_is_replaced(
    client: TestClient, shop: dict[str, str]
) -> None:
    r = client.get("/api/v1/orders", headers={**shop, "X-Request-ID": "trace-42.a_b"})
    assert r.headers["x-request-id"] == "trace-42.a_b"
    r = client.get("/api/v1/orders/SO-999999", headers={**shop, "X-Request-ID": "trace-43"})
    assert r.headers["x-request-id"] == "trace-43" and r.json()["request_id"] == "trace-43"
    for insane in ("has space", "x" * 65, "new\\nline", "<script>", ""):
        r = client.get("/api/v1/orders", headers={**shop, "X-Request-ID": insane})
        rid = r.headers["x-request-id"]
        assert rid != insane and len(rid) == 32 and rid.isalnum()
    a = client.get("/healthz").headers["x-request-id"]
    b = client.get("/healthz").headers["x-request-id"]
    assert a != b


def test_an_unexpected_error_is_a_500_problem_carrying_the_request_id(
    client: TestClient, shop: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(*_: object, **__: object) -> None:
        raise RuntimeError("database on fire")

    monkeypatch.setattr(orders_router.queries, "list_orders", boom)
    r = client.get("/api/v1/orders", headers={**shop, "X-Request-ID": "trace-500"})
    assert r.status_code == 500
    assert r.headers["content-type"].startswith("application/problem+json")
    assert "database on fire" not in r.text
    assert r.json()["code"] == "internal"
    assert r.json()["request_id"] == "trace-500"
    assert r.headers.get("x-request-id") == "trace-500"
