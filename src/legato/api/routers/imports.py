"""Spreadsheet imports: upload a CSV or XLSX file of orders, then follow its job.

The upload is streamed to disk in chunks (never held whole), hashed, and queued; the
serving process's ImportWorker validates and imports it (see docs/channels/spreadsheet.md).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, File, Form, Path, Query, Response, UploadFile
from pydantic import BaseModel, Field

from legato.api.deps import runtime
from legato.api.security import require
from legato.bootstrap import Runtime
from legato.domain.errors import NotFound
from legato.intake import imports
from legato.store import imports as jobs
from legato.store.apikeys import ApiKey

router = APIRouter(prefix="/api/v1/imports", tags=["imports"])
_CHUNK = 1 << 20


class ImportProblem(BaseModel):
    row: int | None = Field(description="the row as the spreadsheet numbers it (the header is row 1)")
    column: str | None = Field(description="the column letter")
    header: str | None = Field(description="the column's header in the file")
    message: str
    code: str = Field(description="stable: not_a_number, required, unknown_sku, split_order ...")
    order_ref: str | None = Field(description="the order this problem refuses")
    value: str | None = None
    line: int | None = Field(None, description="a CSV's physical line (encoding errors)")


class ImportJobSummary(BaseModel):
    id: int
    channel: str
    filename: str
    format: str
    size: int
    sha256: str
    mode: str
    state: str = Field(description="received, validating, importing, done, rejected or failed")
    actor: str
    rows_total: int | None = Field(description="data rows (below the header), once validated")
    rows_done: int
    orders_created: int
    orders_existing: int = Field(description="already placed before (the same order reference)")
    orders_rejected: int
    errors_total: int
    reason: str | None
    attempts: int
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None


class ImportJobOut(ImportJobSummary):
    errors: list[ImportProblem] = Field(description=f"the first {jobs.MAX_ERRORS} problems; see errors_total")


class ImportPage(BaseModel):
    items: list[ImportJobSummary]
    next_cursor: str | None


def _out(job: jobs.ImportJob, *, errors: bool = True) -> dict[str, Any]:
    out = job.as_dict()
    out["channel"] = out.pop("channel_code")
    if not errors:
        out.pop("errors")
    return out


def _chunks(upload: UploadFile) -> Iterator[bytes]:
    while chunk := upload.file.read(_CHUNK):
        yield chunk


@router.post(
    "",
    response_model=ImportJobOut,
    status_code=202,
    responses={200: {"model": ImportJobOut, "description": "this file was imported before: its job"}},
)
def create_import(
    response: Response,
    file: UploadFile = File(description="the CSV or XLSX file"),
    channel: str = Form(max_length=32, description="the channel's code"),
    mode: str = Form("all_or_nothing", pattern="^(all_or_nothing|valid_only)$"),
    key: ApiKey = Depends(require("orders:write")),
    rt: Runtime = Depends(runtime),
) -> dict[str, Any]:
    """Store the file and queue its job (202). ``all_or_nothing`` imports nothing if any order
    has a problem; ``valid_only`` imports the valid orders and reports the rest. The same file
    sent again to the same channel returns its job (200) and creates nothing; a job that left
    orders out is queued again (202), so orders refused for a fixed cause go in."""
    job, created = imports.receive_file(
        rt, channel, _chunks(file), file.filename or "upload", mode=mode, actor=key.actor,
        max_bytes=rt.settings.max_intake_bytes,
    )  # fmt: skip
    if not created and job.state != jobs.RECEIVED:
        response.status_code = 200
    response.headers["Location"] = f"/api/v1/imports/{job.id}"
    return _out(job)


@router.get("", response_model=ImportPage)
def list_imports(
    state: str | None = Query(None, pattern="^(" + "|".join(jobs.STATES) + ")$"),
    channel: str | None = Query(None, max_length=32),
    limit: int = Query(50, ge=1, le=200),
    cursor: str | None = Query(None, max_length=100),
    _: ApiKey = Depends(require("orders:read")),
    rt: Runtime = Depends(runtime),
) -> dict[str, Any]:
    """Import jobs, newest first."""
    items, nxt = jobs.listing(rt.engine, state=state, channel=channel, limit=limit, cursor=cursor)
    return {"items": [_out(j, errors=False) for j in items], "next_cursor": nxt}


@router.get("/{job_id}", response_model=ImportJobOut)
def get_import(
    job_id: int = Path(ge=1, le=2**62),
    _: ApiKey = Depends(require("orders:read")),
    rt: Runtime = Depends(runtime),
) -> dict[str, Any]:
    """One job: its state and progress (rows_done of rows_total), its counts and its report."""
    job = jobs.get(rt.engine, job_id)
    if job is None:
        raise NotFound(f"no import job {job_id}")
    return _out(job)
