"""The composition root: settings -> engine, secret box, unit-of-work factory.

The API, the CLI and the benchmarks all build their world here, so there is one
place where the edges are wired together.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from legato.config import Settings
from legato.domain.pricing import PricingPolicy
from legato.store.db import make_engine
from legato.store.secretbox import SecretBox
from legato.store.uow import SqlUnitOfWork


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    box: SecretBox

    def uow(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(
            self.engine, self.box, rounding=self.settings.rounding, pricing=self.pricing,
            fx_provider=self.settings.fx_provider,
        )  # fmt: skip

    @property
    def pricing(self) -> PricingPolicy:
        s = self.settings
        return PricingPolicy(
            base_currency=s.base_currency, margin_percent=s.fx_margin_percent, price_rule=s.fx_price_rule,
            stale_policy=s.fx_stale_policy, max_age_days=s.fx_max_age_days,
            loyalty=dict(s.loyalty) if s.loyalty else None,
        )  # fmt: skip

    def close(self) -> None:
        self.engine.dispose()


def build(settings: Settings) -> Runtime:
    return Runtime(settings, make_engine(settings.database_url), SecretBox(settings.secret_key))
