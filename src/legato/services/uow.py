"""The edges the services talk to, as Protocols: repositories and the unit of work.

``legato.store`` implements them on SQLAlchemy; ``legato.testing`` ships in-memory fakes
for fast service tests. A unit of work is one transaction: whatever a use case wrote
(rows, timeline entries, outbox events) commits together or not at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Protocol, Self

from legato.domain.catalog import Account, Channel, Pricelist, Product
from legato.domain.events import DomainEvent
from legato.domain.fx import RateTable
from legato.domain.matching import CustomerRef
from legato.domain.order import SalesOrder
from legato.domain.pricing import PricingPolicy
from legato.domain.promotions import Promotion, Voucher
from legato.domain.quote import Quote
from legato.domain.tax import TaxRules


class ChannelRepository(Protocol):
    def get_by_code(self, code: str, *, secrets: bool = True) -> Channel | None:
        """The channel; ``secrets=False`` skips decrypting its secrets (not needed to place an order)."""

    def get_for_intake(self, code: str, external_reference: str | None) -> tuple[Channel | None, int | None]:
        """The channel (without secrets) and the id of its order with this external reference,
        if there is one, in one round trip: the first thing every incoming order needs."""

    def add(self, channel: Channel) -> None: ...
    def update(self, channel: Channel) -> None: ...


class ProductRepository(Protocol):
    def get_many(self, skus: Sequence[str]) -> dict[str, Product]: ...
    def add(self, product: Product) -> None: ...
    def update(self, product: Product) -> None: ...


class AccountRepository(Protocol):
    def candidates(self, ref: CustomerRef, keys: Sequence[str]) -> list[Account]: ...
    def get_by_code(self, code: str) -> Account | None: ...
    def add(self, account: Account) -> None: ...
    def update(self, account: Account) -> None: ...


class PricelistRepository(Protocol):
    def get_by_code(self, code: str, skus: Sequence[str] | None = None) -> Pricelist | None:
        """The pricelist; with ``skus``, only the items for those SKUs are loaded."""

    def add(self, pricelist: Pricelist) -> None: ...
    def update(self, pricelist: Pricelist) -> None: ...
    def for_order(
        self, contract_code: str | None, channel_code: str, currency: str, skus: Sequence[str]
    ) -> tuple[Pricelist | None, list[Pricelist]]:
        """The contract ``contract_code`` and the channel's lists in ``currency``, items for ``skus``."""
        ...


class OrderRepository(Protocol):
    def get(self, order_id: int, *, for_update: bool = False) -> SalesOrder | None: ...
    def id_by_external(self, channel_code: str, external_reference: str) -> int | None: ...
    def add(self, order: SalesOrder) -> None:
        """Insert the order and its lines and set ``order.id``; raise DuplicateKey on a
        second order with the same channel and external reference."""

    def save(self, order: SalesOrder) -> None:
        """Write the order's changed fields and its new timeline entries."""


class QuoteRepository(Protocol):
    def get(self, quote_id: int, *, for_update: bool = False) -> Quote | None: ...
    def add(self, quote: Quote) -> None: ...
    def save(self, quote: Quote) -> None: ...


class Outbox(Protocol):
    def add(self, events: Sequence[DomainEvent], at: datetime) -> None: ...


class PricingData(Protocol):
    """What pricing reads beyond the catalogue; vouchers and points are used in the same transaction."""

    def rates(self, on: date) -> RateTable: ...
    def tax_rules(self) -> TaxRules: ...
    def promotions(self, on: date, channel_code: str) -> list[Promotion]: ...
    def voucher(self, code: str) -> Voucher | None: ...
    def voucher_uses(self, code: str, account_id: int) -> int: ...
    def points_balance(self, account_id: int) -> int: ...
    def redeem(self, voucher_code: str, order_id: int, account_id: int | None) -> None: ...
    def spend_points(self, account_id: int, points: int, order_id: int) -> None: ...


class Fulfilment(Protocol):
    """What closing an order (or some of its lines) does to its stock and its fulfilment orders,
    in the same transaction: reservations are released, open FOs cancelled; dispatched ones stay."""

    def order_closed(self, order_id: int, at: datetime, actor: str, reason: str | None) -> None: ...
    def lines_cancelled(
        self, order_id: int, line_nos: Sequence[int], at: datetime, actor: str, reason: str | None
    ) -> None: ...


class UnitOfWork(Protocol):
    channels: ChannelRepository
    products: ProductRepository
    accounts: AccountRepository
    pricelists: PricelistRepository
    orders: OrderRepository
    quotes: QuoteRepository
    outbox: Outbox
    pricing_data: PricingData
    fulfilment: Fulfilment
    rounding: str
    pricing: PricingPolicy

    def __enter__(self) -> Self: ...
    def __exit__(self, *exc: object) -> None: ...
    def commit(self) -> None: ...
    def rollback(self) -> None: ...
    def now(self) -> datetime: ...


__all__ = [
    "AccountRepository",
    "ChannelRepository",
    "Fulfilment",
    "OrderRepository",
    "Outbox",
    "PricelistRepository",
    "PricingData",
    "ProductRepository",
    "QuoteRepository",
    "UnitOfWork",
]
