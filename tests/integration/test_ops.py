"""Operations endpoints (/healthz, /readyz, /metrics) and the OpenAPI document."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from api_helpers import count, order_body, place, problem
from fastapi.testclient import TestClient

from legato.api.app import create_app
from legato.bootstrap import Runtime, build
from legato.config import Settings
from legato.store.migrate import head_revision

#: Every operation the API tests exercise; a new endpoint must be added here with its tests.
COVERED = {
    ("get", "/healthz"),
    ("get", "/api/v1/jobs"),  # test_workflow_engine.py
    ("get", "/api/v1/jobs/{job_id}"),
    ("post", "/api/v1/jobs/{job_id}/retry"),
    ("get", "/api/v1/workflow-runs"),
    ("get", "/api/v1/workflow-runs/{run_id}"),
    ("get", "/readyz"),
    ("get", "/metrics"),
    ("post", "/api/v1/orders"),
    ("get", "/api/v1/orders"),
    ("get", "/api/v1/orders/{order}"),
    ("patch", "/api/v1/orders/{order}"),
    ("post", "/api/v1/orders/{order}/transitions"),
    ("post", "/api/v1/orders/{order}/lines/cancel"),
    ("post", "/api/v1/orders/{order}/tracks"),
    ("post", "/api/v1/quotes"),
    ("get", "/api/v1/quotes"),
    ("get", "/api/v1/quotes/{quote}"),
    ("post", "/api/v1/quotes/{quote}/transitions"),
    ("post", "/api/v1/quotes/{quote}/convert"),
    ("post", "/intake/{channel_code}"),  # test_intake_pipeline.py
    ("post", "/api/v1/imports"),  # test_api_imports.py
    ("get", "/api/v1/imports"),
    ("get", "/api/v1/imports/{job_id}"),
    ("get", "/api/v1/inbox"),
    ("get", "/api/v1/inbox/{entry_id}"),
    ("post", "/api/v1/inbox/{entry_id}/replay"),
    ("post", "/api/v1/replenishment-rules"),  # test_iot_rules_endpoint.py
    ("get", "/api/v1/replenishment-rules"),
    ("get", "/api/v1/replenishment-rules/{code}"),
    ("patch", "/api/v1/replenishment-rules/{code}"),
    ("get", "/api/v1/devices/{device_id}/readings"),
    ("get", "/api/v1/rates"),  # test_api_rates.py
    ("put", "/api/v1/rates/{base}/{quote}"),
    ("post", "/api/v1/rates/refresh"),
    ("get", "/api/v1/alerts"),
    ("post", "/api/v1/promotions"),  # test_api_promotions.py
    ("get", "/api/v1/promotions"),
    ("get", "/api/v1/promotions/{code}"),
    ("patch", "/api/v1/promotions/{code}"),
    ("post", "/api/v1/vouchers"),
    ("get", "/api/v1/vouchers"),
    ("get", "/api/v1/vouchers/{code}"),
    ("get", "/api/v1/accounts/{code}/points"),
    ("post", "/api/v1/accounts/{code}/points"),
    ("get", "/api/v1/workflows"),  # test_api_workflows.py
    ("post", "/api/v1/workflows"),
    ("get", "/api/v1/workflows/{name}"),
    ("put", "/api/v1/workflows/{name}"),
    ("get", "/api/v1/workflows/{name}/versions"),
    ("get", "/api/v1/workflows/{name}/versions/{version}"),
    ("post", "/api/v1/workflows/{name}/enable"),
    ("post", "/api/v1/workflows/{name}/disable"),
    ("post", "/api/v1/workflows/check"),
    ("post", "/api/v1/workflows/dry-run"),
    ("get", "/api/v1/approvals"),  # test_api_approvals.py
    ("get", "/api/v1/approvals/{approval_id}"),
    ("post", "/api/v1/approvals/{approval_id}/accept"),
    ("post", "/api/v1/approvals/{approval_id}/reject"),
    ("get", "/api/v1/tax-rates"),
    ("put", "/api/v1/tax-rates"),
    ("delete", "/api/v1/tax-rates/{region}/{tax_class}"),
    ("post", "/api/v1/webhooks"),  # test_api_webhooks.py
    ("get", "/api/v1/webhooks"),
    ("get", "/api/v1/webhooks/{webhook_id}"),
    ("patch", "/api/v1/webhooks/{webhook_id}"),
    ("delete", "/api/v1/webhooks/{webhook_id}"),
    ("post", "/api/v1/webhooks/{webhook_id}/rotate-secret"),
    ("get", "/api/v1/webhooks/{webhook_id}/deliveries"),
    ("post", "/api/v1/webhooks/{webhook_id}/test"),
    ("post", "/api/v1/usage-plans"),  # test_api_billing.py
    ("get", "/api/v1/usage-plans"),
    ("get", "/api/v1/usage-plans/{code}"),
    ("patch", "/api/v1/usage-plans/{code}"),
    ("post", "/api/v1/billing-runs"),
    ("get", "/api/v1/billing-runs"),
    ("get", "/api/v1/billing-runs/{run_id}"),
    ("post", "/api/v1/usage-readings"),
    ("post", "/api/v1/orders/{order}/allocate"),  # test_allocation.py
    ("get", "/api/v1/orders/{order}/allocations"),
    ("get", "/api/v1/backorders"),
    ("get", "/api/v1/fulfilment-orders"),  # test_api_fulfilment.py
    ("get", "/api/v1/fulfilment-orders/{fo}"),
    ("get", "/api/v1/orders/{order}/fulfilment-orders"),
    ("post", "/api/v1/orders/{order}/fulfilment-orders"),
    ("post", "/api/v1/fulfilment-orders/{fo}/events"),
    ("post", "/api/v1/fulfilment-orders/events"),
    ("post", "/api/v1/fulfilment-orders/{fo}/hold"),
    ("post", "/api/v1/fulfilment-orders/{fo}/release"),
    ("post", "/api/v1/fulfilment-orders/{fo}/cancel"),
    ("post", "/api/v1/locations"),  # test_api_inventory.py
    ("get", "/api/v1/locations"),
    ("get", "/api/v1/locations/{code}"),
    ("put", "/api/v1/locations/{code}"),
    ("get", "/api/v1/locations/{code}/supplier-items"),
    ("put", "/api/v1/locations/{code}/supplier-items/{sku}"),
    ("delete", "/api/v1/locations/{code}/supplier-items/{sku}"),
    ("get", "/api/v1/stock"),
    ("get", "/api/v1/stock/movements"),
    ("post", "/api/v1/stock/receipts"),
    ("post", "/api/v1/stock/adjustments"),
    ("post", "/api/v1/stock/returns"),
    ("post", "/api/v1/stock/import"),
    ("get", "/api/v1/availability"),
    *(
        (m, f"/api/v1/{r}")
        for r in ("channels", "products", "accounts", "pricelists")
        for m in ("post", "get")
    ),
    *(
        (m, f"/api/v1/{r}")
        for r in ("channels/{code}", "products/{sku}", "accounts/{code}", "pricelists/{code}")
        for m in ("get", "put")
    ),
}
PUBLIC = {"/healthz", "/readyz", "/metrics"}


def _settings(url: str, **kw: object) -> Settings:
    return Settings(
        environment="test",
        database_url=url,
        secret_key="ops-test-secret-0123456789-abcdefghij",
        log_json=False,
        **kw,
    )


@pytest.fixture
def sqlite_client(sqlite_template: Path, tmp_path: Path) -> Iterator[TestClient]:
    """A client on a migrated SQLite file, for checks that do not depend on the database."""
    path = tmp_path / "ops.db"
    shutil.copy(sqlite_template, path)
    rt = build(_settings(f"sqlite:///{path}"))
    with TestClient(create_app(rt), raise_server_exceptions=False) as c:
        yield c
    rt.close()


def test_the_openapi_lists_only_endpoints_these_tests_cover(sqlite_client: TestClient) -> None:
    spec = sqlite_client.get("/openapi.json").json()
    documented = {(method, path) for path, ops in spec["paths"].items() for method in ops}
    assert documented - COVERED == set(), "an endpoint without API tests"


def test_every_operation_documents_its_problems_and_writes_accept_an_idempotency_key(
    sqlite_client: TestClient,
) -> None:
    spec = sqlite_client.get("/openapi.json").json()
    assert "Problem" in spec["components"]["schemas"]
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            if path in PUBLIC:
                continue
            for status in ("401", "403", "422"):
                content = op["responses"][status]["content"]
                assert content["application/problem+json"]["schema"] == {
                    "$ref": "#/components/schemas/Problem"
                }
            headers = [p["name"] for p in op.get("parameters", []) if p["in"] == "header"]
            assert ("Idempotency-Key" in headers) == (method in ("post", "put", "patch")), (method, path)


def test_healthz_answers_while_the_process_is_up(sqlite_client: TestClient) -> None:
    r = sqlite_client.get("/healthz")
    assert (r.status_code, r.json()) == (200, {"status": "ok"})


def test_readyz_reports_the_database_and_its_migration(client: TestClient, runtime: Runtime) -> None:
    r = client.get("/readyz")
    assert r.status_code == 200, r.text
    assert r.json() == {
        "status": "ready",
        "database": runtime.engine.dialect.name,
        "migration": head_revision(),
        "head": head_revision(),
    }


def test_readyz_is_503_on_a_database_without_the_schema_or_unreachable(tmp_path: Path) -> None:
    for url, detail in (
        (f"sqlite:///{tmp_path / 'empty.db'}", "is not the latest"),
        (f"sqlite:///{tmp_path / 'no' / 'such' / 'dir.db'}", "database unreachable"),
    ):
        rt = build(_settings(url))
        try:
            with TestClient(create_app(rt), raise_server_exceptions=False) as c:
                p = problem(c.get("/readyz"), 503, "not_ready")
                assert detail in p["detail"]
        finally:
            rt.close()


def _metric(text: str, name: str, **labels: str) -> float | None:
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        m = re.match(r"^([a-z_]+)(?:\{(.*)\})? (\S+)$", line)
        if not m or m.group(1) != name:
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', m.group(2) or ""))
        if all(found.get(k) == v for k, v in labels.items()):
            return float(m.group(3))
    return None


def test_metrics_count_orders_by_channel_latency_by_route_and_the_outbox_backlog(
    client: TestClient, shop: dict[str, str], runtime: Runtime
) -> None:
    first = place(client, shop, order_body("WEB", external_reference="M-1"))
    place(client, shop, order_body("WEB"))
    place(client, shop, order_body("MKT"))
    assert (
        client.post(
            "/api/v1/orders", json=order_body("WEB", external_reference="M-1"), headers=shop
        ).status_code
        == 200
    )  # a re-delivery is not a new order
    client.get(f"/api/v1/orders/{first['number']}", headers=shop)
    client.post(f"/api/v1/orders/{first['number']}/transitions", json={"to": "processing"}, headers=shop)

    r = client.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    text = r.text
    assert _metric(text, "legato_orders_created_total", channel="WEB") == 2
    assert _metric(text, "legato_orders_created_total", channel="MKT") == 1
    assert _metric(text, "legato_orders_created_total", channel="B2B") is None
    assert _metric(text, "legato_outbox_backlog") == count(runtime, "outbox") == 4
    assert (
        _metric(
            text,
            "legato_http_request_duration_seconds_count",
            method="POST",
            route="/api/v1/orders",
            status="201",
        )
        == 3
    )
    assert (
        _metric(
            text,
            "legato_http_request_duration_seconds_count",
            method="GET",
            route="/api/v1/orders/{order}",
            status="200",
        )
        == 1
    )  # by route template, not by number
    assert first["number"] not in text
    assert (
        _metric(
            text,
            "legato_http_request_duration_seconds_bucket",
            method="POST",
            route="/api/v1/orders",
            status="201",
            le="+Inf",
        )
        == 3
    )


def test_metrics_label_unknown_paths_as_unmatched(client: TestClient) -> None:
    for i in range(3):
        client.get(f"/no/such/path/{i}")
    text = client.get("/metrics").text
    assert _metric(text, "legato_http_request_duration_seconds_count", route="unmatched", status="404") == 3
    assert "/no/such/path" not in text


def test_metrics_can_be_switched_off(sqlite_template: Path, tmp_path: Path) -> None:
    path = tmp_path / "off.db"
    shutil.copy(sqlite_template, path)
    rt = build(_settings(f"sqlite:///{path}", metrics_enabled=False))
    try:
        with TestClient(create_app(rt)) as c:
            assert c.get("/healthz").status_code == 200
            r = c.get("/metrics")
            assert r.status_code == 200 and "legato_" not in r.text
    finally:
        rt.close()
