"""ASGI entry point of ``legato serve``: the API and the control tower on one app.

``uvicorn --factory legato.cli.asgi:app_factory``. It lives in the CLI package because the
API and the web UI are sibling layers that must not import each other: only a layer above
both may put them together.
"""

from __future__ import annotations

from fastapi import FastAPI

from legato import web
from legato.api.app import create_app
from legato.api.observability import configure_logging
from legato.bootstrap import build
from legato.config import get_settings


def app_factory() -> FastAPI:
    settings = get_settings()
    settings.check_safe()
    configure_logging(settings.log_level, settings.log_json)
    rt = build(settings)
    app = create_app(rt, background=True)
    web.mount(app, rt)
    return app


__all__ = ["app_factory"]
