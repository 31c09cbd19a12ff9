"""The FastAPI app factory: routers, problem+json errors, middleware, OpenAPI."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, Protocol

from fastapi import APIRouter, FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse

from legato import __version__
from legato.api import problems
from legato.api.middleware import Idempotency, RequestContext
from legato.api.observability import Metrics
from legato.api.routers import (
    allocation,
    approvals,
    billing,
    catalog,
    fulfilment,
    imports,
    intake,
    inventory,
    iot,
    jobs,
    ops,
    orders,
    promotions,
    quotes,
    rates,
    webhooks,
    workflows,
)
from legato.api.schemas import Problem
from legato.api.security import KeyCache
from legato.bootstrap import Runtime
from legato.connectors.rates import RatesWorker
from legato.intake.background import IntakeWorker
from legato.intake.imports import ImportWorker
from legato.intake.mqtt import MqttSubscriber
from legato.intake.sftp import SftpWorker
from legato.store import queries
from legato.workflow.worker import serving_worker

_PROBLEM_STATUSES = {
    "400": "Malformed request",
    "401": "No API key, or an unknown or revoked one",
    "403": "The API key lacks the scope this needs",
    "404": "Not found",
    "409": "Conflict: an illegal transition, a duplicate, or an Idempotency-Key in flight",
    "413": "The body is larger than the configured limit",
    "422": "Invalid input: each field named by JSON path and pointer",
}

_INDEX = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Legato</title>
<style>body{font:16px system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem;color:#1d2433}
a{color:#2450b2}code{background:#eef1f6;padding:.1rem .3rem;border-radius:3px}</style></head>
<body><h1>Legato</h1><p>Every order from every channel, in one managed lifecycle.</p>
<ul><li><a href="/docs">API reference (OpenAPI)</a></li><li><a href="/healthz">/healthz</a> ·
<a href="/readyz">/readyz</a> · <a href="/metrics">/metrics</a></li></ul>
<p>Call the API with <code>Authorization: Bearer &lt;key&gt;</code>; <code>legato apikey create</code>
makes a key.</p></body></html>"""


class Worker(Protocol):
    """A background worker a serving process runs for its lifetime (one daemon thread)."""

    def start(self) -> None: ...

    def stop(self) -> None: ...


#: The API's routers, one line each (a router module per resource).
ROUTERS: list[APIRouter] = [
    orders.router,
    quotes.router,
    catalog.router,
    intake.router,
    ops.router,
    imports.router,
    iot.router,
    rates.router,
    promotions.router,
    billing.router,  # usage plans, billing runs, usage readings (JSON/CSV)
    workflows.router,  # workflow definitions, versions, enable/disable, check, dry run
    allocation.router,  # allocate an order, its allocations and backorders, waiting demand
    approvals.router,  # approval requests: list, accept, reject (the approver scope)
    webhooks.router,  # webhook subscriptions (Standard Webhooks), their secrets and delivery log
    jobs.router,  # workflow jobs and runs: dead letters, attempts, retry
    fulfilment.router,  # fulfilment orders: list, read, create, status events (JSON/CSV), hold/release/cancel
    inventory.router,  # locations, supplier items, stock levels/ledger, receipts, import, availability
]

#: What ``legato serve`` runs beside the API, one line each: a factory taking the runtime.
BACKGROUND: list[Callable[[Runtime], Worker]] = [
    IntakeWorker,  # inbox crash recovery, scheduled pulls of pull channels
    ImportWorker,  # spreadsheet import jobs queued by the API; resumes jobs a crash left
    MqttSubscriber,  # IoT channels with a broker: readings over MQTT (QoS 1, persistent session)
    SftpWorker,  # SFTP channels: poll each partner folder on its schedule, deliver our documents
    RatesWorker,  # exchange rates: fetch the feed, watch staleness
    serving_worker,  # the workflow engine: outbox -> runs -> jobs (off: LEGATO_WORKFLOW_IN_PROCESS=false)
]


def create_app(rt: Runtime, *, background: bool = False) -> FastAPI:
    """The app on ``rt``. ``background``: also run the ``BACKGROUND`` workers (crash recovery
    of the inbox, scheduled pulls ...) for the app's lifetime, as ``legato serve`` does."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        workers = [make(rt) for make in BACKGROUND] if background else []
        for w in workers:
            w.start()
        yield
        for w in reversed(workers):
            w.stop()

    app = FastAPI(
        lifespan=lifespan,
        title="Legato",
        version=__version__,
        description="Multichannel order management. Errors are RFC 9457 problem+json with a stable `code`.",
        openapi_url="/openapi.json",
    )
    app.state.runtime = rt
    app.state.key_cache = KeyCache()
    app.state.metrics = (
        Metrics(lambda: queries.outbox_backlog(rt.engine)) if rt.settings.metrics_enabled else None
    )
    problems.install(app)
    for r in ROUTERS:
        app.include_router(r)

    @app.get("/", include_in_schema=False)
    def index() -> HTMLResponse:
        return HTMLResponse(_INDEX)

    app.add_middleware(Idempotency, engine=rt.engine)
    app.add_middleware(
        RequestContext,
        max_body=rt.settings.max_body_bytes,
        max_intake=rt.settings.max_intake_bytes,
        metrics=app.state.metrics,
    )
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def _openapi(app: FastAPI) -> dict[str, Any]:
    """Every operation documents its problem+json answers, with one Problem schema."""
    if app.openapi_schema:
        return app.openapi_schema
    spec = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    schemas = spec.setdefault("components", {}).setdefault("schemas", {})
    schemas["Problem"] = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    ref = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for path, operations in spec.get("paths", {}).items():
        for method, op in operations.items():
            responses = op.setdefault("responses", {})
            public = path in ("/healthz", "/readyz", "/metrics")
            for status, text in _PROBLEM_STATUSES.items():
                if public and status not in ("400", "404"):
                    continue
                if not public or status in responses:
                    responses[status] = {"description": text, "content": ref}
            if "503" in responses:
                responses["503"] = {"description": "not ready", "content": ref}
            if method in ("post", "put", "patch") and not public:
                op.setdefault("parameters", []).append(
                    {
                        "name": "Idempotency-Key",
                        "in": "header",
                        "required": False,
                        "schema": {"type": "string", "maxLength": 255},
                        "description": "replays the first response for the same key and body; "
                        "422 for another body",
                    }
                )
    app.openapi_schema = spec
    return spec
