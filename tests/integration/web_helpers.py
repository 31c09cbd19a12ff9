"""Helpers for the control tower's tests: the app as ``legato serve`` builds it (API + web),
a browser-like client, users of each role signed in, and the CSRF token of a page.

Import with ``from web_helpers import ...``; a test module makes its own ``web`` fixture::

    @pytest.fixture
    def web(runtime: Runtime) -> Iterator[TestClient]:
        with web_client(runtime) as c:
            yield c
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from html import unescape
from typing import Any

import httpx
from fastapi import FastAPI
from fastapi.testclient import TestClient

from legato import web
from legato.api.app import create_app
from legato.bootstrap import Runtime
from legato.store.users import User
from legato.web.users import create_user

PASSWORD = "correct horse battery staple"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def web_app(rt: Runtime) -> FastAPI:
    """The app ``legato serve`` runs (legato.cli.asgi), without the background workers."""
    app = create_app(rt)
    web.mount(app, rt)
    return app


@contextmanager
def web_client(rt: Runtime) -> Iterator[TestClient]:
    """A client that keeps cookies and does not follow redirects (tests look at them). HTTPS,
    because outside development the session cookie is Secure and a browser would not send it
    over plain HTTP."""
    with TestClient(
        web_app(rt), base_url="https://testserver", raise_server_exceptions=False, follow_redirects=False
    ) as c:
        yield c


def add_user(rt: Runtime, role: str, username: str | None = None) -> User:
    return create_user(rt.engine, username or role, role, PASSWORD)


def csrf_of(html: str) -> str:
    """The CSRF token a page carries in its forms."""
    found = _CSRF.search(html)
    assert found, "no csrf_token on the page"
    return unescape(found.group(1))


def sign_in(client: TestClient, rt: Runtime, role: str, username: str | None = None) -> User:
    """Create a user with ``role`` and sign in through the form, as a browser does."""
    user = add_user(rt, role, username)
    r = post_sign_in(client, user.username, PASSWORD)
    assert r.status_code == 303, r.text
    return user


def post_sign_in(client: TestClient, username: str, password: str, next_url: str = "/") -> httpx.Response:
    form = client.get("/login")
    assert form.status_code == 200, form.text
    data = {"username": username, "password": password, "csrf_token": csrf_of(form.text), "next": next_url}
    return client.post("/login", data=data)


def page_token(client: TestClient, path: str = "/orders") -> str:
    """The signed-in session's CSRF token, read from a page."""
    r = client.get(path)
    assert r.status_code == 200, r.text
    return csrf_of(r.text)


def post_form(client: TestClient, path: str, data: dict[str, Any] | None = None, **kw: Any) -> httpx.Response:
    """POST a form with the session's CSRF token, like a browser submitting it."""
    return client.post(path, data={"csrf_token": page_token(client), **(data or {})}, **kw)
