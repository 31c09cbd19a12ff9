"""API key authentication and scope checks, as FastAPI dependencies."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from legato.domain.errors import Forbidden, Unauthorized
from legato.store.apikeys import ApiKey, authenticate

_bearer = HTTPBearer(auto_error=False, description="Authorization: Bearer lgt_...")
_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="or X-API-Key: lgt_...")


def presented_key(request: Request) -> str | None:
    auth = request.headers.get("authorization", "")
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip() or None
    return request.headers.get("x-api-key") or None


def principal(
    request: Request,
    _b: HTTPAuthorizationCredentials | None = Depends(_bearer),
    _h: str | None = Depends(_header),
) -> ApiKey:
    cached = getattr(request.state, "api_key", None)
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    key = presented_key(request)
    if key is None:
        raise Unauthorized("send an API key: Authorization: Bearer <key> or X-API-Key: <key>")
    found = authenticate(request.app.state.runtime.engine, key)
    if found is None:
        raise Unauthorized("the API key is unknown or revoked")
    request.state.api_key = found
    return found


def require(scope: str) -> Callable[..., ApiKey]:
    def _check(key: ApiKey = Depends(principal)) -> ApiKey:
        if not key.allows(scope):
            raise Forbidden(f"this API key lacks the {scope} scope", required_scope=scope)
        return key

    return _check
