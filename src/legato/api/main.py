"""ASGI entry point for uvicorn: ``uvicorn --factory legato.api.main:app_factory``."""

from __future__ import annotations

from fastapi import FastAPI

from legato.api.app import create_app
from legato.api.observability import configure_logging
from legato.bootstrap import build
from legato.config import get_settings


def app_factory() -> FastAPI:
    settings = get_settings()
    settings.check_safe()
    configure_logging(settings.log_level, settings.log_json)
    return create_app(build(settings), background=True)
