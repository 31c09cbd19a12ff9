"""The order hub's pages and plans on both databases: keyset pages that follow each other both
ways (through the page and as a property of the read side), the indexes that serve the sorts
and the search, and the query string that every view is."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from tests.workflow_actions import order as quick_order
from tests.workflow_actions import shop as quick_shop
from web_helpers import sign_in, web_client

from legato.bootstrap import Runtime
from legato.store import tables as t
from legato.store.hub import HubFilter, hub_page, page_query
from legato.web.hub_query import parse

HTMX = {"HX-Request": "true", "HX-Target": "hub-results"}


@pytest.fixture
def web(runtime: Runtime) -> Iterator[TestClient]:
    with web_client(runtime) as c:
        yield c


def numbers(html: str) -> list[str]:
    return re.findall(r'<tr data-order="(SO-\d+)">', html)


def test_pages_follow_each_other_by_keyset_both_ways(web: TestClient, runtime: Runtime) -> None:
    quick_shop(runtime)
    ids = [quick_order(runtime, f"K-{i}") for i in range(55)]
    sign_in(web, runtime, "viewer", "vera")
    first = web.get("/orders")
    assert numbers(first.text) == [f"SO-{i:06d}" for i in sorted(ids, reverse=True)[:50]]
    assert 'rel="prev"' not in first.text
    nxt = re.search(r'rel="next" href="([^"]+)"', first.text)
    assert nxt
    second = web.get(nxt.group(1).replace("&amp;", "&"), headers=HTMX)
    assert numbers(second.text) == [f"SO-{i:06d}" for i in sorted(ids, reverse=True)[50:]]
    assert 'rel="next"' not in second.text
    prev = re.search(r'rel="prev" href="([^"]+)"', second.text)
    assert prev
    assert numbers(web.get(prev.group(1).replace("&amp;", "&")).text) == numbers(first.text)
    bad = web.get("/orders?cursor=not-a-cursor")
    assert "the cursor is not one this page made" in bad.text and len(numbers(bad.text)) == 50


@pytest.fixture
def twenty(runtime: Runtime) -> list[int]:
    quick_shop(runtime)
    return [quick_order(runtime, f"P-{i}", quantity=1 + (i * 7) % 5) for i in range(20)]


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sort=st.sampled_from(["created", "total", "number"]), descending=st.booleans(), size=st.integers(1, 8))
def test_walking_the_pages_visits_every_order_once_in_order_and_back(
    runtime: Runtime, twenty: list[int], sort: str, descending: bool, size: int
) -> None:
    seen: list[dict[str, Any]] = []
    pages, cursor = [], None
    while True:
        page = hub_page(
            runtime.engine, HubFilter(), sort=sort, descending=descending, limit=size, cursor=cursor
        )
        pages.append(page)
        seen.extend(page.items)
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert sorted(r["id"] for r in seen) == sorted(twenty)
    key = {"created": lambda r: (r["created_at"], r["id"]), "total": lambda r: (r["grand_total"], r["id"]),
           "number": lambda r: r["id"]}[sort]  # fmt: skip
    assert seen == sorted(seen, key=key, reverse=descending)
    for before, after in itertools.pairwise(pages):  # the previous cursor leads back
        assert after.prev_cursor is not None
        back = hub_page(runtime.engine, HubFilter(), sort=sort, descending=descending, limit=size,
                        cursor=after.prev_cursor)  # fmt: skip
        assert [r["id"] for r in back.items] == [r["id"] for r in before.items]


# --- query plans -------------------------------------------------------------------------------


def _fill(rt: Runtime, n: int) -> None:
    """``n`` copies of order 1 (fast, in SQL), then fresh planner statistics: on a table of six rows
    any plan is cheap, so the plans below are read on one big enough to tell."""
    columns = [c.name for c in t.orders.c if c.name not in ("id", "external_ref")]
    names = ", ".join(columns)
    with rt.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            series = "generate_series(1, :n) AS s(i)"
        else:
            series = "(WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < :n) "
            series += "SELECT i FROM s) s"
        insert = (
            f"INSERT INTO orders (external_ref, {names}) SELECT 'BULK-' || s.i, {names} FROM orders, {series}"
        )
        conn.execute(text(insert + " WHERE orders.id = 1"), {"n": n})
        conn.execute(text("ANALYZE"))


def _plan(rt: Runtime, f: HubFilter, sort: str, *, bitmaps_only: bool = False) -> str:
    query, _ = page_query(rt.engine, f, sort=sort, descending=True, limit=50, cursor=None)
    with rt.engine.connect() as conn:
        compiled = query.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
        if conn.dialect.name == "postgresql":
            if bitmaps_only:  # can indexes alone find the rows? (else it must fall back to a seq scan)
                conn.exec_driver_sql("SET enable_seqscan = off")
                conn.exec_driver_sql("SET enable_indexscan = off")
            rows = conn.exec_driver_sql("EXPLAIN " + str(compiled), compiled.params).all()
            conn.rollback()
        else:
            params = tuple(compiled.params[k] for k in compiled.positiontup or [])
            rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + str(compiled), params).all()
    return "\n".join(str(r[-1]) for r in rows)


def test_the_hub_queries_are_served_by_indexes(runtime: Runtime) -> None:
    quick_shop(runtime)
    quick_order(runtime, "PLAN-1")
    _fill(runtime, 20_000)
    first = _plan(runtime, HubFilter(), "created")
    assert "ix_orders_created_at_id" in first, first
    if runtime.engine.dialect.name == "sqlite":
        assert "TEMP B-TREE" not in first, first  # read in index order: no sort of the whole table
        held = _plan(runtime, HubFilter(statuses=("on_hold",)), "created")
        assert "USING INDEX" in held and "TEMP B-TREE" not in held, held
        return
    assert "Sort" not in first and "Seq Scan on orders" not in first, first
    by_total = _plan(runtime, HubFilter(), "total")
    assert "ix_orders_grand_total_id" in by_total and "Seq Scan on orders" not in by_total, by_total
    held = _plan(runtime, HubFilter(statuses=("on_hold",)), "created")
    assert "Seq Scan on orders" not in held, held
    search = _plan(runtime, HubFilter(q="nobody-zz"), "created", bitmaps_only=True)
    assert "Seq Scan on orders" not in search, search
    for column in ("external_ref", "customer_name", "customer_email", "customer_phone"):
        assert f"ix_orders_{column}_trgm" in search, search


def test_the_hub_query_string_round_trips_through_links() -> None:
    hq = parse([("status", "on_hold"), ("q", " alice "), ("sort", "-total"), ("cursor", "abc"), ("from", "")])
    assert hq.query_string() == "status=on_hold&q=alice&sort=-total"
    assert parse(list(hq.pairs())).query_string() == hq.query_string()
    assert hq.filter.q == "alice" and hq.sort == "total" and hq.descending and hq.cursor == "abc"
    assert parse([("to", str(date(2026, 1, 31)))]).filter.created_to == datetime(2026, 2, 1, tzinfo=UTC)
