"""Sign in and sign out.

The sign-in form carries its own CSRF token (a nonce in a short-lived cookie, signed into the
form), so another site cannot sign a visitor in to an account of its choosing. Failed
attempts are throttled per (username, address); success issues a fresh session cookie.
"""

from __future__ import annotations

import secrets

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from legato.store import users as store
from legato.store.users import User
from legato.web import auth
from legato.web.app import render, safe_next, secure
from legato.web.sessions import SESSION_COOKIE, SESSION_SECONDS, SIGNIN_COOKIE, SignInThrottle
from legato.web.users import authenticate, normalise_username

router = APIRouter()


def _form(request: Request, *, username: str = "", next_url: str = "/", error: str | None = None,
          status: int = 200) -> HTMLResponse:  # fmt: skip
    nonce = request.cookies.get(SIGNIN_COOKIE) or secrets.token_urlsafe(18)
    response = render(
        request,
        "signin.html",
        {"username": username, "next": next_url, "error": error,
         "signin_token": auth.signer(request).csrf_token("signin:" + nonce)},
        status_code=status,
    )  # fmt: skip
    response.set_cookie(
        SIGNIN_COOKIE, nonce, max_age=3600, httponly=True, samesite="lax", path="/login",
        secure=bool(request.app.state.web_secure_cookies),
    )  # fmt: skip
    return response


@router.get("/login")
def sign_in_form(request: Request, next: str = "/") -> HTMLResponse:
    return _form(request, next_url=safe_next(next))


@router.post("/login")
async def sign_in(request: Request) -> Response:
    form = await request.form()
    username = normalise_username(str(form.get("username") or ""))[:64]
    password = str(form.get("password") or "")
    next_url = safe_next(str(form.get("next") or "/"))
    nonce = request.cookies.get(SIGNIN_COOKIE) or ""
    presented = str(form.get("csrf_token") or "")
    if not nonce or not auth.signer(request).csrf_ok("signin:" + nonce, presented):
        error = "The sign-in form expired. Please try again."
        return _form(request, username=username, next_url=next_url, error=error, status=403)
    throttle: SignInThrottle = request.app.state.web_throttle
    address = request.client.host if request.client else "-"
    wait = throttle.wait(username, address)
    if wait:
        minutes = max(1, round(wait / 60))
        error = f"Too many failed attempts. Try again in about {minutes} minute{'s' if minutes > 1 else ''}."
        return _form(request, username=username, next_url=next_url, error=error, status=429)
    engine = request.app.state.runtime.engine
    user: User | None = None
    if username and password:
        user = await run_in_threadpool(authenticate, engine, username, password)
    if user is None:
        throttle.failed(username, address)
        error = "Enter your username and password." if not (username and password) else (
            "The username or password is not right."
        )  # fmt: skip
        return _form(request, username=username, next_url=next_url, error=error, status=401)
    throttle.succeeded(username, address)
    await run_in_threadpool(store.record_sign_in, engine, user.id)
    cookie, _ = auth.signer(request).issue(user.id, user.session_version)
    response = RedirectResponse(next_url, status_code=303)
    response.set_cookie(
        SESSION_COOKIE, cookie, max_age=SESSION_SECONDS, httponly=True, samesite="lax", path="/",
        secure=bool(request.app.state.web_secure_cookies),
    )  # fmt: skip
    response.delete_cookie(SIGNIN_COOKIE, path="/login")
    return secure(response)


@router.post("/logout")
async def sign_out(request: Request, user: User = Depends(auth.signed_in)) -> Response:
    """End every session of the user (this cookie, and any copied or left on another device)."""
    await run_in_threadpool(store.end_sessions, request.app.state.runtime.engine, user.id)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return secure(response)


__all__ = ["router"]
