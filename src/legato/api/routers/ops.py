"""Operations: liveness, readiness (database reachable, migrations current), metrics."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel
from sqlalchemy import text

from legato.api.deps import runtime
from legato.api.problems import problem
from legato.bootstrap import Runtime
from legato.store.migrate import current_revision, head_revision

router = APIRouter(tags=["operations"])


class Health(BaseModel):
    status: str


class Ready(BaseModel):
    status: str
    database: str
    migration: str | None
    head: str | None


@router.get("/healthz", response_model=Health)
def healthz() -> dict[str, Any]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz", response_model=Ready, responses={503: {"description": "not ready"}})
def readyz(rt: Runtime = Depends(runtime)) -> object:
    """The database answers and its schema is at the latest migration."""
    head = head_revision()
    try:
        with rt.engine.connect() as conn:
            conn.execute(text("select 1"))
        current = current_revision(rt.engine)
    except Exception as exc:  # readiness reports a failure, it never raises one
        return problem(503, "not_ready", "Not ready", f"database unreachable: {type(exc).__name__}")
    if current != head:
        return problem(
            503,
            "not_ready",
            "Not ready",
            f"migration {current} is not the latest ({head}); run: legato db upgrade",
            migration=current,
            head=head,
        )
    return {"status": "ready", "database": rt.engine.dialect.name, "migration": current, "head": head}


@router.get("/metrics", response_class=Response, responses={200: {"content": {"text/plain": {}}}})
def metrics(request: Request) -> Response:
    """Prometheus exposition: request latency by route, orders created by channel, outbox backlog."""
    m = request.app.state.metrics
    if m is None:
        return Response("# metrics disabled\n", media_type="text/plain")
    return Response(generate_latest(m.registry), media_type=CONTENT_TYPE_LATEST)
