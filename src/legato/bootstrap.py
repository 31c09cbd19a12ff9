"""The composition root: settings -> engine, secret box, unit-of-work factory.

The API, the CLI and the benchmarks all build their world here, so there is one
place where the edges are wired together.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from legato.config import Settings
from legato.store.db import make_engine
from legato.store.secretbox import SecretBox
from legato.store.uow import SqlUnitOfWork


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    box: SecretBox

    def uow(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.engine, self.box, rounding=self.settings.rounding)

    def close(self) -> None:
        self.engine.dispose()


def build(settings: Settings) -> Runtime:
    return Runtime(settings, make_engine(settings.database_url), SecretBox(settings.secret_key))
