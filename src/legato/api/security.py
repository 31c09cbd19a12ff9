"""API key authentication and scope checks, as FastAPI dependencies."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Awaitable, Callable

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from legato.domain.errors import Forbidden, Unauthorized
from legato.store.apikeys import ApiKey, authenticate, revocation_epoch

_bearer = HTTPBearer(auto_error=False, description="Authorization: Bearer lgt_...")
_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="or X-API-Key: lgt_...")


def presented_key(request: Request) -> str | None:
    auth = request.headers.get("authorization", "")
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip() or None
    return request.headers.get("x-api-key") or None


#: How long a verified key is trusted without asking the database again. A key revoked
#: in another process stops working within this time (at once in the same process).
KEY_CACHE_SECONDS = 10.0


class KeyCache:
    """Verified API keys by the SHA-256 of the presented key, for a few seconds: checking
    every request against the database cost a connection and a query each time."""

    def __init__(self, ttl: float = KEY_CACHE_SECONDS) -> None:
        self.ttl = ttl
        self._keys: dict[str, tuple[float, ApiKey]] = {}
        self._epoch = revocation_epoch()

    def get(self, presented: str) -> ApiKey | None:
        if self._epoch != revocation_epoch():  # a key was revoked in this process: forget them all
            self._keys.clear()
            self._epoch = revocation_epoch()
        hit = self._keys.get(_fingerprint(presented))
        if hit is None or hit[0] < time.monotonic():
            return None
        return hit[1]

    def put(self, presented: str, key: ApiKey) -> None:
        if len(self._keys) > 10_000:  # bounded: drop everything rather than grow without end
            self._keys.clear()
        self._keys[_fingerprint(presented)] = (time.monotonic() + self.ttl, key)

    def clear(self) -> None:
        self._keys.clear()


def _fingerprint(presented: str) -> str:
    return hashlib.sha256(presented.encode()).hexdigest()


async def principal(
    request: Request,
    _b: HTTPAuthorizationCredentials | None = Depends(_bearer),
    _h: str | None = Depends(_header),
) -> ApiKey:
    key = presented_key(request)
    if key is None:
        raise Unauthorized("send an API key: Authorization: Bearer <key> or X-API-Key: <key>")
    cache: KeyCache = request.app.state.key_cache
    found = cache.get(key)
    if found is None:
        found = await run_in_threadpool(authenticate, request.app.state.runtime.engine, key)
        if found is None:
            raise Unauthorized("the API key is unknown or revoked")
        cache.put(key, found)
    return found


def require(scope: str) -> Callable[..., Awaitable[ApiKey]]:
    async def _check(key: ApiKey = Depends(principal)) -> ApiKey:
        if not key.allows(scope):
            raise Forbidden(f"this API key lacks the {scope} scope", required_scope=scope)
        return key

    return _check
