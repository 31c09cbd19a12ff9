"""In-memory fakes of each edge, for fast service tests (no database, no network).

``FakeUnitOfWork`` behaves like the SQL one where the services can tell: ids are
assigned on add, a second order with the same channel and external reference raises
DuplicateKey, nothing is visible after a rollback, and committed events pile up in
``outbox`` for tests to read.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Self

from legato.domain.catalog import Account, Channel, Pricelist, Product
from legato.domain.errors import DuplicateKey
from legato.domain.events import DomainEvent
from legato.domain.fx import RateTable
from legato.domain.matching import CustomerRef, normalise_email, normalise_phone
from legato.domain.order import SalesOrder
from legato.domain.pricing import PricingPolicy
from legato.domain.promotions import Promotion, Voucher
from legato.domain.quote import Quote
from legato.domain.tax import TaxRules


@dataclass
class _State:
    channels: dict[str, Channel] = field(default_factory=dict)
    products: dict[str, Product] = field(default_factory=dict)
    accounts: dict[str, Account] = field(default_factory=dict)
    pricelists: dict[str, Pricelist] = field(default_factory=dict)
    orders: dict[int, SalesOrder] = field(default_factory=dict)
    quotes: dict[int, Quote] = field(default_factory=dict)
    outbox: list[DomainEvent] = field(default_factory=list)
    #: what the fulfilment edge was told: ("order_closed", order id, reason) or
    #: ("lines_cancelled", order id, line numbers)
    fulfilment: list[tuple[Any, ...]] = field(default_factory=list)
    next_id: dict[str, int] = field(default_factory=dict)

    def new_id(self, kind: str) -> int:
        self.next_id[kind] = self.next_id.get(kind, 0) + 1
        return self.next_id[kind]


class _Repo:
    def __init__(self, state: _State) -> None:
        self.s = state


class FakeChannels(_Repo):
    def get_by_code(self, code: str, *, secrets: bool = True) -> Channel | None:
        found = copy.deepcopy(self.s.channels.get(code))
        if found is not None and not secrets:
            found.secrets = {}
        return found

    def get_for_intake(self, code: str, external_reference: str | None) -> tuple[Channel | None, int | None]:
        existing = None
        if external_reference:
            existing = FakeOrders(self.s).id_by_external(code, external_reference)
        return self.get_by_code(code, secrets=False), existing

    def add(self, channel: Channel) -> None:
        channel.id = self.s.new_id("channel")
        self.s.channels[channel.code] = copy.deepcopy(channel)

    update = add


class FakeProducts(_Repo):
    def get_many(self, skus: Sequence[str]) -> dict[str, Product]:
        return {s: copy.deepcopy(self.s.products[s]) for s in skus if s in self.s.products}

    def add(self, product: Product) -> None:
        product.id = product.id or self.s.new_id("product")
        self.s.products[product.sku] = copy.deepcopy(product)

    update = add


class FakeAccounts(_Repo):
    def candidates(self, ref: CustomerRef, keys: Sequence[str]) -> list[Account]:
        return [copy.deepcopy(a) for a in self.s.accounts.values()]

    def get_by_code(self, code: str) -> Account | None:
        return copy.deepcopy(self.s.accounts.get(code))

    def add(self, account: Account) -> None:
        account.id = account.id or self.s.new_id("account")
        account.email, account.phone = normalise_email(account.email), normalise_phone(account.phone)
        self.s.accounts[account.code] = copy.deepcopy(account)

    update = add


class FakePricelists(_Repo):
    def get_by_code(self, code: str, skus: Sequence[str] | None = None) -> Pricelist | None:
        found = copy.deepcopy(self.s.pricelists.get(code))
        if found is not None and skus is not None:
            found.items = {k: v for k, v in found.items.items() if k in skus}
        return found

    def add(self, pricelist: Pricelist) -> None:
        pricelist.id = pricelist.id or self.s.new_id("pricelist")
        self.s.pricelists[pricelist.code] = copy.deepcopy(pricelist)

    update = add

    def for_order(
        self, contract_code: str | None, channel_code: str, currency: str, skus: Sequence[str]
    ) -> tuple[Pricelist | None, list[Pricelist]]:
        lists = [
            self.get_by_code(p.code, skus) or p
            for p in self.s.pricelists.values()
            if p.channel_code == channel_code and p.currency == currency
        ]
        return (self.get_by_code(contract_code, skus) if contract_code else None), lists


class FakeOrders(_Repo):
    def get(self, order_id: int, *, for_update: bool = False) -> SalesOrder | None:
        return copy.deepcopy(self.s.orders.get(order_id))

    def id_by_external(self, channel_code: str, external_reference: str) -> int | None:
        for o in self.s.orders.values():
            if o.channel_code == channel_code and o.external_reference == external_reference:
                return o.id
        return None

    def add(self, order: SalesOrder) -> None:
        if order.external_reference and self.id_by_external(order.channel_code, order.external_reference):
            raise DuplicateKey(f"order {order.external_reference} already exists on {order.channel_code}")
        order.id = self.s.new_id("order")
        self.s.orders[order.id] = copy.deepcopy(order)

    def save(self, order: SalesOrder) -> None:
        stored = copy.deepcopy(order)
        stored.new_entries, stored.new_events = [], []
        self.s.orders[order.id or 0] = stored


class FakeQuotes(_Repo):
    def get(self, quote_id: int, *, for_update: bool = False) -> Quote | None:
        return copy.deepcopy(self.s.quotes.get(quote_id))

    def add(self, quote: Quote) -> None:
        quote.id = self.s.new_id("quote")
        self.s.quotes[quote.id] = copy.deepcopy(quote)

    def save(self, quote: Quote) -> None:
        stored = copy.deepcopy(quote)
        stored.new_entries, stored.new_events = [], []
        self.s.quotes[quote.id or 0] = stored


class FakeOutbox(_Repo):
    def add(self, events: Sequence[DomainEvent], at: datetime) -> None:
        self.s.outbox.extend(events)


class FakeFulfilment(_Repo):
    """Records what closing an order or its lines asked of the fulfilment edge."""

    def order_closed(self, order_id: int, at: datetime, actor: str, reason: str | None) -> None:
        self.s.fulfilment.append(("order_closed", order_id, reason))

    def lines_cancelled(
        self, order_id: int, line_nos: Sequence[int], at: datetime, actor: str, reason: str | None
    ) -> None:
        self.s.fulfilment.append(("lines_cancelled", order_id, tuple(line_nos)))


class FakePricingData:
    """No rates, no tax rules, no promotions, no vouchers: pricing from the catalogue alone.
    Tests that need them set the attributes."""

    def __init__(self) -> None:
        self.table = RateTable([])
        self.rules = TaxRules([])
        self.active: list[Promotion] = []
        self.vouchers: dict[str, Voucher] = {}
        self.balances: dict[int, int] = {}
        self.redeemed: list[tuple[str, int]] = []

    def rates(self, on: date) -> RateTable:
        return self.table

    def tax_rules(self) -> TaxRules:
        return self.rules

    def promotions(self, on: date, channel_code: str) -> list[Promotion]:
        return list(self.active)

    def voucher(self, code: str) -> Voucher | None:
        return self.vouchers.get(code.upper())

    def voucher_uses(self, code: str, account_id: int) -> int:
        return 0

    def points_balance(self, account_id: int) -> int:
        return self.balances.get(account_id, 0)

    def redeem(self, voucher_code: str, order_id: int, account_id: int | None) -> None:
        self.redeemed.append((voucher_code, order_id))

    def spend_points(self, account_id: int, points: int, order_id: int) -> None:
        self.balances[account_id] = self.balances.get(account_id, 0) - points


class FakeUnitOfWork:
    """A unit of work over dictionaries; ``committed`` is the state after the last commit."""

    def __init__(
        self,
        clock: Callable[[], datetime] | None = None,
        rounding: str = "half_up",
        pricing: PricingPolicy | None = None,
    ) -> None:
        self.committed = _State()
        self.rounding = rounding
        self.pricing = pricing or PricingPolicy()
        self.pricing_data = FakePricingData()
        self.clock = clock or (lambda: datetime(2026, 11, 23, 12, 0, tzinfo=UTC))
        self.commits = 0

    def _bind(self, state: _State) -> None:
        self._work = state
        self.channels = FakeChannels(state)
        self.products = FakeProducts(state)
        self.accounts = FakeAccounts(state)
        self.pricelists = FakePricelists(state)
        self.orders = FakeOrders(state)
        self.quotes = FakeQuotes(state)
        self.outbox = FakeOutbox(state)
        self.fulfilment = FakeFulfilment(state)

    def __enter__(self) -> Self:
        self._bind(copy.deepcopy(self.committed))
        self._now = self.clock()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._bind(self.committed)  # anything uncommitted is dropped

    def now(self) -> datetime:
        return self._now

    def commit(self) -> None:
        self.committed = copy.deepcopy(self._work)
        self.commits += 1

    def rollback(self) -> None:
        self._bind(copy.deepcopy(self.committed))

    @property
    def events(self) -> list[DomainEvent]:
        return self.committed.outbox


__all__ = ["FakeUnitOfWork"]
