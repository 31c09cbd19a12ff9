"""The control tower's frame: templates, ``render``, redirects with a message, the navigation,
static files, error pages, and ``mount`` which puts all of it on the API's FastAPI app.

A page is a module in ``legato.web.pages`` with ``router = APIRouter()`` and, optionally,
``NAV = [NavItem(...)]``; one line in ``legato.web.pages.PAGES`` registers it.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.convertors import Convertor, register_url_convertor
from starlette.exceptions import HTTPException as StarletteHTTPException

from legato import __version__
from legato.bootstrap import Runtime
from legato.store.users import User
from legato.web import auth
from legato.web.format import FILTERS
from legato.web.permissions import can
from legato.web.sessions import FLASH_COOKIE, Signer, SignInThrottle

HERE = Path(__file__).parent
STATIC = HERE / "static"
templates = Jinja2Templates(directory=str(HERE / "templates"))
templates.env.filters.update(FILTERS)
templates.env.trim_blocks, templates.env.lstrip_blocks = True, True

#: Sent with every page: no inline script runs (put behaviour in static/*.js), no framing.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'self'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
    "Vary": "HX-Request, Cookie",
}


class OrderNumber(Convertor[str]):
    """``{number:order_number}`` matches SO-000042 or 42 only, so /orders/new and friends are free."""

    regex = "(?:[Ss][Oo]-)?[0-9]{1,18}"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("order_number", OrderNumber())


@dataclass(frozen=True)
class NavItem:
    """A link in the header, shown to the roles with ``permission``; ``order`` sorts the bar."""

    label: str
    href: str
    permission: str
    order: int = 50


@cache
def _static_version(path: str) -> str:
    try:
        return hashlib.sha256((STATIC / path).read_bytes()).hexdigest()[:10]
    except OSError:
        return __version__


def static_url(path: str) -> str:
    """``/static/<path>?v=<content hash>``: cached by browsers, refreshed when the file changes."""
    return f"/static/{path}?v={_static_version(path)}"


templates.env.globals["static_url"] = static_url


def runtime(request: Request) -> Runtime:
    return request.app.state.runtime  # type: ignore[no-any-return]


def is_htmx(request: Request) -> bool:
    """An htmx request for a fragment (not a history restore, which wants the whole page)."""
    return "hx-request" in request.headers and "hx-history-restore-request" not in request.headers


def _nav(request: Request, user: User | None) -> list[dict[str, Any]]:
    if user is None:
        return []
    items: list[NavItem] = request.app.state.web_nav
    path = request.url.path
    shown = [i for i in items if can(user.role, i.permission)]
    matching = [i for i in shown if path == i.href or (i.href != "/" and path.startswith(i.href + "/"))]
    # the most specific match is the current page (/orders/new over /orders)
    best = max(matching, key=lambda i: len(i.href), default=None)
    return [{"label": i.label, "href": i.href, "current": i is best} for i in shown]


def _flash(request: Request) -> dict[str, str] | None:
    raw = request.cookies.get(FLASH_COOKIE)
    data = auth.signer(request).unsign("flash", raw) if raw else None
    if data is None:
        return None
    try:
        kind, text = json.loads(bytes.fromhex(data))
    except ValueError:
        return None
    return {"kind": str(kind), "text": str(text)}


def secure(response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def render(
    request: Request,
    template: str,
    context: Mapping[str, Any] | None = None,
    *,
    status_code: int = 200,
    headers: Mapping[str, str] | None = None,
) -> HTMLResponse:
    """A page (or an htmx fragment) from ``template`` with what every template may use:
    ``user``, ``can(permission)``, ``csrf_token``, ``nav``, ``flash``, ``now``."""
    user: User | None = getattr(request.state, "user", None)
    flash = _flash(request)
    ctx = {
        "user": user,
        "can": lambda permission: user is not None and can(user.role, permission),
        "csrf_token": auth.csrf_token(request),
        "nav": _nav(request, user),
        "flash": flash,
        "now": datetime.now(UTC),
        "htmx": is_htmx(request),
        **(context or {}),
    }
    response = templates.TemplateResponse(request, template, ctx, status_code=status_code, headers=headers)
    if flash is not None and not is_htmx(request):
        response.delete_cookie(FLASH_COOKIE, path="/")
    secure(response)
    return response


def safe_next(target: str | None, default: str = "/") -> str:
    """A local path to go on to after sign-in; anything pointing elsewhere becomes ``default``."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc else default


def redirect(request: Request, url: str, *, flash: str | None = None, error: bool = False) -> Response:
    """Go to ``url`` after a change (303: the browser follows with GET), with a message for the
    next page. An htmx request is told where to go with HX-Redirect instead."""
    if is_htmx(request):
        response: Response = Response(status_code=204, headers={"HX-Redirect": url})
    else:
        response = RedirectResponse(url, status_code=303)
    if flash:
        data = json.dumps(["error" if error else "ok", flash]).encode().hex()
        value = auth.signer(request).sign("flash", data)
        response.set_cookie(
            FLASH_COOKIE, value, httponly=True, samesite="lax", path="/", secure=_secure(request)
        )
    return secure(response)


def _secure(request: Request) -> bool:
    return bool(request.app.state.web_secure_cookies)


def error_page(request: Request, status: int, title: str, message: str) -> HTMLResponse:
    return render(
        request, "error.html", {"title": title, "message": message, "status": status}, status_code=status
    )


async def _with_user(request: Request) -> None:
    """Sign the visitor in for an error page's header, if they have a session; never fails."""
    with contextlib.suppress(auth.SignInRequired):
        await run_in_threadpool(auth.load_user, request)


def _sign_in_redirect(request: Request) -> Response:
    """To the sign-in page, and back afterwards to the page the visitor was on (for htmx and for
    a form posted with an expired session: the page it was sent from, never the POST's address)."""
    here = request.headers.get("hx-current-url") if is_htmx(request) else None
    if here is None and request.method != "GET":
        here = request.headers.get("referer")
    if here is not None:
        parts = urlsplit(here)
        target = parts.path + (f"?{parts.query}" if parts.query else "")
    else:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    url = "/login?next=" + quote(safe_next(target), safe="")
    if is_htmx(request):
        return secure(Response(status_code=401, headers={"HX-Redirect": url}))
    return secure(RedirectResponse(url, status_code=303))


def _wants_html(request: Request) -> bool:
    path = request.url.path
    return not path.startswith(("/api/", "/intake/")) and "text/html" in request.headers.get("accept", "")


def _install_errors(app: FastAPI) -> None:
    async def sign_in(request: Request, _: Exception) -> Response:
        return _sign_in_redirect(request)

    async def denied(request: Request, exc: Exception) -> Response:
        permission = exc.permission if isinstance(exc, auth.PermissionDenied) else ""
        message = f"Your role may not do this (it needs the {permission} permission)."
        return error_page(request, 403, "Not allowed", message)

    async def csrf(request: Request, _: Exception) -> Response:
        message = "This form has expired or did not come from this site. Reload the page and try again."
        return error_page(request, 403, "Form expired", message)

    api_http = app.exception_handlers.get(StarletteHTTPException)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        if _wants_html(request) and exc.status_code in (404, 405):
            await _with_user(request)
            return error_page(request, exc.status_code, "Not found", "There is no page at this address.")
        assert api_http is not None
        return await api_http(request, exc)  # type: ignore[no-any-return, misc]

    app.add_exception_handler(auth.SignInRequired, sign_in)
    app.add_exception_handler(auth.PermissionDenied, denied)
    app.add_exception_handler(auth.CsrfRejected, csrf)
    if api_http is not None:
        app.add_exception_handler(StarletteHTTPException, http_error)


def mount(app: FastAPI, rt: Runtime) -> None:
    """Put the control tower on ``app`` (the API's, from ``legato.api.app.create_app``): its pages
    at ``/`` and beside, its static files at ``/static``, its sign-in state and error pages."""
    from legato.web.pages import PAGES

    app.state.web_signer = Signer(rt.settings.secret_key)
    app.state.web_throttle = SignInThrottle()
    app.state.web_secure_cookies = rt.settings.environment != "development"
    nav: list[NavItem] = []
    web_paths: set[str] = set()
    routers = []
    for name in PAGES:
        module = importlib.import_module(name)
        routers.append(module.router)
        nav.extend(getattr(module, "NAV", []))
        web_paths.update(getattr(r, "path", "") for r in module.router.routes)
    # the web owns "/": the API's plain index page gives way
    app.router.routes[:] = [r for r in app.router.routes if getattr(r, "path", None) != "/"]
    for router in routers:
        app.include_router(router, include_in_schema=False)
    if "/" not in web_paths:

        @app.get("/", include_in_schema=False)
        async def home() -> Response:
            return secure(RedirectResponse("/orders", status_code=303))

    app.state.web_nav = sorted(nav, key=lambda i: i.order)
    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")
    _install_errors(app)


__all__ = [
    "NavItem",
    "error_page",
    "is_htmx",
    "mount",
    "redirect",
    "render",
    "runtime",
    "safe_next",
    "secure",
    "static_url",
    "templates",
]
