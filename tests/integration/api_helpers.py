"""Small helpers shared by the REST API tests: request bodies, row counts, problem checks."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal, InvalidOperation
from typing import Any

import httpx
from sqlalchemy import func, select

from legato.bootstrap import Runtime
from legato.store import tables
from legato.store.apikeys import create_key

PROBLEM_JSON = "application/problem+json"


def key_headers(rt: Runtime, name: str, *scopes: str) -> dict[str, str]:
    """Headers of a fresh API key called ``name`` (its actor is ``apikey:<name>``)."""
    return {"Authorization": f"Bearer {create_key(rt.engine, name, list(scopes))}"}


def order_body(channel: str = "WEB", *lines: tuple[str, Any], **extra: Any) -> dict[str, Any]:
    """A canonical order: ``order_body("WEB", ("TEA-100", 2), external_reference="X")``."""
    items = [{"sku": sku, "quantity": qty} for sku, qty in (lines or (("TEA-100", 1),))]
    return {"channel": channel, "lines": items, **extra}


def place(client: Any, headers: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
    r = client.post("/api/v1/orders", json=body, headers=headers)
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def count(rt: Runtime, table: str, **where: Any) -> int:
    """Rows in ``table`` (a name from legato.store.tables), optionally filtered by equality."""
    t = tables.metadata.tables[table]
    query = select(func.count()).select_from(t)
    for column, value in where.items():
        query = query.where(t.c[column] == value)
    with rt.engine.connect() as conn:
        return int(conn.execute(query).scalar_one())


def outbox(rt: Runtime) -> Counter[str]:
    """How many outbox rows there are of each event type."""
    with rt.engine.connect() as conn:
        return Counter(conn.execute(select(tables.outbox.c.event_type)).scalars())


def outbox_rows(rt: Runtime, event_type: str) -> list[Any]:
    o = tables.outbox
    with rt.engine.connect() as conn:
        return list(conn.execute(select(o).where(o.c.event_type == event_type).order_by(o.c.id)))


def problem(r: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """Assert ``r`` is an RFC 9457 problem with this status and code; return its body."""
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith(PROBLEM_JSON), r.headers["content-type"]
    body: dict[str, Any] = r.json()
    assert body["status"] == status
    assert body["code"] == code, body
    assert body["type"] and body["title"]
    assert body["request_id"], body
    return body


def paths(body: dict[str, Any]) -> list[str]:
    return [e["path"] for e in body["errors"]]


def is_postgres(rt: Runtime) -> bool:
    return rt.engine.dialect.name == "postgresql"


def same(a: Any, b: Any) -> bool:
    """Deep equality where decimal strings compare by value ("4.00" == "4.000000")."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, str) and isinstance(b, str) and a != b:
        try:
            return Decimal(a) == Decimal(b)
        except InvalidOperation:
            return False
    return bool(a == b)
