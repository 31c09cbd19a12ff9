"""Signed session cookies, CSRF tokens and sign-in throttling: no server-side session store.

A session cookie is ``<payload>.<signature>``: the payload (user id, the user's session
version, a random nonce, an expiry) in URL-safe base64, signed with HMAC-SHA256 under a key
derived from ``settings.secret_key``. Nobody can forge or extend one without the key; the
server still refuses one whose user was disabled or signed out (``session_version``).
The CSRF token is an HMAC of the session's nonce: it changes with every sign-in and can be
checked without storing it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass

SESSION_COOKIE = "legato_session"
SIGNIN_COOKIE = "legato_signin"  # the sign-in form's own CSRF nonce (there is no session yet)
FLASH_COOKIE = "legato_flash"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
SESSION_SECONDS = 12 * 3600  # a working day; then sign in again


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class Session:
    user_id: int
    version: int
    nonce: str
    expires: int  # seconds since the epoch


class Signer:
    """Signs and checks the control tower's cookies and tokens under one secret."""

    def __init__(self, secret_key: str) -> None:
        # a key of its own, so a web signature is never valid anywhere else the secret is used
        self._key = hashlib.sha256(b"legato-web-v1|" + secret_key.encode()).digest()

    def _mac(self, purpose: str, data: str) -> str:
        return _b64(hmac.new(self._key, f"{purpose}|{data}".encode(), hashlib.sha256).digest())

    def sign(self, purpose: str, data: str) -> str:
        return f"{data}.{self._mac(purpose, data)}"

    def unsign(self, purpose: str, value: str) -> str | None:
        data, _, mac = value.rpartition(".")
        if not data or not hmac.compare_digest(mac, self._mac(purpose, data)):
            return None
        return data

    # --- sessions

    def issue(self, user_id: int, version: int, *, now: float | None = None) -> tuple[str, Session]:
        session = Session(
            user_id, version, secrets.token_urlsafe(18), int(now or time.time()) + SESSION_SECONDS
        )
        body = {"u": session.user_id, "v": session.version, "n": session.nonce, "e": session.expires}
        return self.sign("session", _b64(json.dumps(body, separators=(",", ":")).encode())), session

    def session(self, cookie: str | None, *, now: float | None = None) -> Session | None:
        """The session a cookie carries, if it is ours, intact and not expired."""
        data = self.unsign("session", cookie) if cookie else None
        if data is None:
            return None
        try:
            body = json.loads(_unb64(data))
            session = Session(int(body["u"]), int(body["v"]), str(body["n"]), int(body["e"]))
        except (ValueError, KeyError, TypeError):
            return None
        return session if session.expires > (now or time.time()) else None

    # --- CSRF

    def csrf_token(self, nonce: str) -> str:
        return self._mac("csrf", nonce)

    def csrf_ok(self, nonce: str, presented: str | None) -> bool:
        return bool(presented) and hmac.compare_digest(self.csrf_token(nonce), presented or "")


class SignInThrottle:
    """At most ``limit`` failed sign-ins per (username, address) in ``window`` seconds, in this
    process. Simple on purpose: it slows guessing down; it is not a distributed lockout."""

    def __init__(self, limit: int = 5, window: float = 900.0) -> None:
        self.limit, self.window = limit, window
        self._failures: dict[tuple[str, str], deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: tuple[str, str], now: float) -> deque[float]:
        seen = self._failures.get(key, deque())
        while seen and seen[0] <= now - self.window:
            seen.popleft()
        return seen

    def wait(self, username: str, address: str, *, now: float | None = None) -> float:
        """Seconds until this name may try again from this address (0: now)."""
        at = now if now is not None else time.monotonic()
        with self._lock:
            seen = self._recent((username, address), at)
            return max(0.0, seen[0] + self.window - at) if len(seen) >= self.limit else 0.0

    def failed(self, username: str, address: str, *, now: float | None = None) -> None:
        at = now if now is not None else time.monotonic()
        with self._lock:
            if len(self._failures) > 50_000:  # bounded: forget everything rather than grow
                self._failures.clear()
            key = (username, address)
            seen = self._recent(key, at)
            seen.append(at)
            self._failures[key] = seen

    def succeeded(self, username: str, address: str) -> None:
        with self._lock:
            self._failures.pop((username, address), None)


__all__ = [
    "CSRF_FIELD",
    "CSRF_HEADER",
    "FLASH_COOKIE",
    "SESSION_COOKIE",
    "SESSION_SECONDS",
    "SIGNIN_COOKIE",
    "Session",
    "SignInThrottle",
    "Signer",
]
