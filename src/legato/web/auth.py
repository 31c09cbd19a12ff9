"""Who is asking, and may they: the dependencies every page uses.

``require("orders:hold")`` is the one gate: it signs the visitor in from the session cookie
(or sends them to the sign-in page), refuses a state-changing request without the session's
CSRF token (the ``csrf_token`` form field, or the ``X-CSRF-Token`` header htmx sends), and
refuses what the user's role may not do with a 403 page.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import Request
from fastapi.concurrency import run_in_threadpool

from legato.store import users as store
from legato.store.users import User
from legato.web.permissions import can
from legato.web.sessions import CSRF_FIELD, CSRF_HEADER, SESSION_COOKIE, Session, Signer

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class SignInRequired(Exception):
    """No valid session: the visitor is sent to the sign-in page."""


class PermissionDenied(Exception):
    """The user's role may not do this: a 403 page."""

    def __init__(self, permission: str) -> None:
        super().__init__(permission)
        self.permission = permission


class CsrfRejected(Exception):
    """A state-changing request without this session's CSRF token: a 403 page."""


def signer(request: Request) -> Signer:
    return request.app.state.web_signer  # type: ignore[no-any-return]


def load_user(request: Request) -> User:
    """The signed-in user of this request (read once, then kept on ``request.state``)."""
    cached: User | None = getattr(request.state, "user", None)
    if cached is not None:
        return cached
    session = signer(request).session(request.cookies.get(SESSION_COOKIE))
    if session is None:
        raise SignInRequired
    user = store.get_user(request.app.state.runtime.engine, session.user_id)
    if user is None or not user.active or user.session_version != session.version:
        raise SignInRequired  # signed out, disabled, or its password or role changed since
    request.state.user, request.state.session = user, session
    return user


def session_of(request: Request) -> Session | None:
    """The signed-in session of this request, once a dependency has checked it."""
    return getattr(request.state, "session", None)


def csrf_token(request: Request) -> str:
    session = session_of(request)
    return signer(request).csrf_token(session.nonce) if session else ""


async def check_csrf(request: Request) -> None:
    session = session_of(request)
    presented = request.headers.get(CSRF_HEADER)
    if presented is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        field = (await request.form()).get(CSRF_FIELD)
        presented = field if isinstance(field, str) else None
    if session is None or not signer(request).csrf_ok(session.nonce, presented):
        raise CsrfRejected


async def signed_in(request: Request) -> User:
    """Any signed-in user (CSRF checked on POST); for what every role may do."""
    user = await run_in_threadpool(load_user, request)
    if request.method not in SAFE_METHODS:
        await check_csrf(request)
    return user


def require(permission: str) -> Callable[[Request], Awaitable[User]]:
    """A dependency: the signed-in user, if their role grants ``permission``."""
    can(None, permission)  # an unknown permission fails at import, not at the first request

    async def dependency(request: Request) -> User:
        user = await signed_in(request)
        if not can(user.role, permission):
            raise PermissionDenied(permission)
        return user

    return dependency


__all__ = [
    "CsrfRejected",
    "PermissionDenied",
    "SignInRequired",
    "check_csrf",
    "csrf_token",
    "load_user",
    "require",
    "session_of",
    "signed_in",
    "signer",
]
