"""Service tests run the use cases on the in-memory unit of work from legato.testing."""

from __future__ import annotations

from decimal import Decimal

import pytest

from legato.domain.catalog import (
    Account,
    Channel,
    ChannelSettings,
    ChannelType,
    OnNoMatch,
    Pricelist,
    PricePolicy,
    Product,
)
from legato.services import catalog
from legato.testing import FakeUnitOfWork


@pytest.fixture
def uow() -> FakeUnitOfWork:
    u = FakeUnitOfWork()
    catalog.save_channel(u, Channel("WEB", "Web", ChannelType.ECOMMERCE, "rest", "GBP"), create=True)
    catalog.save_channel(
        u,
        Channel(
            "B2B",
            "Trade",
            ChannelType.B2B,
            "portal",
            "EUR",
            ChannelSettings(("code", "email"), OnNoMatch.REJECT),
        ),
        create=True,
    )
    catalog.save_channel(
        u,
        Channel(
            "NEW",
            "Sign-up",
            ChannelType.ECOMMERCE,
            "rest",
            "GBP",
            ChannelSettings(("email",), OnNoMatch.CREATE),
        ),
        create=True,
    )
    catalog.save_channel(
        u,
        Channel(
            "MKT",
            "Market",
            ChannelType.MARKETPLACE,
            "rest",
            "JPY",
            ChannelSettings(price_policy=PricePolicy.TRUST),
        ),
        create=True,
    )
    catalog.save_product(
        u,
        Product("TEA", "Tea", prices={"GBP": Decimal("4.50"), "EUR": Decimal("5.00"), "JPY": Decimal("800")}),
        create=True,
    )
    catalog.save_product(u, Product("MUG", "Mug", prices={"GBP": Decimal("12.00")}), create=True)
    catalog.save_pricelist(
        u, Pricelist("ACME-EUR", "Acme", "EUR", items={"TEA": Decimal("4.10")}), create=True
    )
    catalog.save_account(
        u,
        Account("ACME", "Acme", email="Buyer@Acme.example", currency="EUR", pricelist_code="ACME-EUR"),
        create=True,
    )
    return u
