"""One place that turns every error into RFC 9457 problem+json.

Domain errors keep their stable ``code``; request validation errors name each field by
its JSON path (``$.lines[0].quantity``) and JSON pointer (``/lines/0/quantity``). An
unexpected exception still answers problem+json (500) with the request id, and is logged.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException

from legato.api.context import request_id
from legato.domain.errors import FieldIssue, LegatoError
from legato.store.db import is_retryable

PROBLEM_JSON = "application/problem+json"
_UNPARSEABLE = "There was an error parsing the body"  # FastAPI's words for a body it cannot decode
log = logging.getLogger("legato.api")

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation",
    429: "too_many_requests",
}


def problem(
    status: int,
    code: str,
    title: str,
    detail: str | None = None,
    *,
    instance: str | None = None,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": f"urn:legato:problem:{code}",
        "title": title,
        "status": status,
        "detail": detail,
        "instance": instance,
        "code": code,
        "request_id": request_id.get(),
        "errors": errors or [],
        **extra,
    }
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _json_path(parts: list[Any]) -> tuple[str, str]:
    path: str = "$"
    pointer: str = ""
    for p in parts:
        if isinstance(p, int):
            path += f"[{p}]"
        else:
            path += f".{p}"
        pointer += "/" + str(p).replace("~", "~0").replace("/", "~1")
    return path, pointer  # RFC 6901: the whole document is the empty pointer


def _domain_path(path: str) -> tuple[str, str | None]:
    """``lines[0].sku`` (or ``$.lines[0].sku``) -> (``$.lines[0].sku``, ``/lines/0/sku``).

    A place in a document that is not JSON (an EDI segment: ``segment 14 BEG05``; a spreadsheet
    cell: ``row 12, column D (quantity)``) is kept as it is, with no JSON pointer."""
    if " " in path.strip():
        return path, None
    path = path[1:] if path.startswith("$") else path
    path = path[1:] if path.startswith(".") else path
    parts: list[Any] = []
    for chunk in path.replace("]", "").split("."):
        for i, piece in enumerate(chunk.split("[")):
            if piece:
                parts.append(int(piece) if i > 0 and piece.isdigit() else piece)
    return _json_path(parts)


def issue_to_dict(issue: FieldIssue) -> dict[str, Any]:
    path, pointer = _domain_path(issue.path)
    out: dict[str, Any] = {"path": path, "pointer": pointer, "message": issue.message, "code": issue.code}
    if issue.value is not None:
        out["value"] = issue.value if isinstance(issue.value, str | int | bool) else str(issue.value)
    return out


def _validation_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    out = []
    for err in exc.errors():
        loc = list(err.get("loc", ()))
        where = loc.pop(0) if loc and loc[0] in ("body", "query", "path", "header", "cookie") else "body"
        message = err.get("msg", "invalid")
        if err.get("type") == "json_invalid":  # loc holds the character offset, not a JSON path
            message = f"{message} at character {loc[0]}" if loc else message
            loc = []
        path, pointer = _json_path(loc)
        item: dict[str, Any] = {
            "path": path,
            "pointer": pointer,
            "in": where,
            "message": message,
            "code": err.get("type", "invalid"),
        }
        if where != "body":
            item["path"] = ".".join(str(p) for p in loc) or where
        out.append(item)
    return out


def install(app: FastAPI) -> None:
    @app.exception_handler(LegatoError)
    async def _legato(request: Request, exc: LegatoError) -> JSONResponse:
        return problem(
            exc.status,
            exc.code,
            exc.title,
            exc.detail,
            instance=request.url.path,
            errors=[issue_to_dict(i) for i in exc.issues],
            **{k: v for k, v in exc.extra.items() if k != "answer_status"},
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = _validation_errors(exc)
        detail = (
            errors[0]["message"] + f" at {errors[0]['path']}"
            if len(errors) == 1
            else f"{len(errors)} problems in the request"
        )
        return problem(
            422, "validation", "The request is not valid", detail, instance=request.url.path, errors=errors
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400 and exc.detail == _UNPARSEABLE:  # e.g. a body that is not UTF-8
            message = "the body is not JSON in UTF-8"
            errors = [{"path": "$", "pointer": "", "in": "body", "message": message, "code": "json_invalid"}]
            return problem(422, "validation", "The request is not valid", message,
                           instance=request.url.path, errors=errors)  # fmt: skip
        code = _HTTP_CODES.get(exc.status_code, "error")
        detail = exc.detail if isinstance(exc.detail, str) else None
        return problem(
            exc.status_code,
            code,
            code.replace("_", " ").capitalize(),
            detail,
            instance=request.url.path,
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(DBAPIError)
    async def _database(request: Request, exc: DBAPIError) -> JSONResponse:
        if is_retryable(exc):  # PostgreSQL chose this change as a deadlock's victim: nothing was written
            return problem(
                503,
                "retry",
                "Try again",
                "the database stopped this change to break a deadlock with another one; nothing was "
                "written: send it again",
                instance=request.url.path,
                headers={"Retry-After": "1"},
            )
        return await _unexpected(request, exc)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", extra={"path": request.url.path})
        return problem(
            500,
            "internal",
            "Internal error",
            "an unexpected error; it was logged with this request id",
            instance=request.url.path,
        )
