"""Placing many orders at once (spreadsheet imports), each exactly as ``place_order`` places it.

``place_order`` itself runs for every order, unchanged, on a *batch* unit of work that
stands in for the real one for a whole batch of orders in one transaction:

* reads are answered once per batch or job: the channel, which references exist already
  (one query per batch), products, pricelists and customer candidates (cached);
* writes are queued: ``orders.add`` takes a pre-allocated id, ``orders.save`` and
  ``outbox.add`` keep their timeline entries and events, and at the end of the batch every
  order, line, timeline entry and outbox event is written with one statement per table
  (``BatchWriter``, implemented in ``legato.store.bulk``);
* each order's ``with uow`` marks where it starts and ends: an order that fails leaves
  nothing queued; if it had written something directly (a new account, under the
  channel's ``create`` rule), the batch is run again without it.

So an order is never half-placed, the timeline and outbox rows are written for every order,
and whatever ``place_order`` and ``draft_lines`` learn later applies here too.
With ``dry_run`` nothing is written: every order is priced and checked, then the
transaction is rolled back (an import's validation pass).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, cast

from legato.domain.catalog import Account, Channel, Product
from legato.domain.commands import PlaceOrder
from legato.domain.errors import DuplicateKey, LegatoError
from legato.domain.events import DomainEvent
from legato.domain.matching import CustomerRef
from legato.domain.order import ORDER_PREFIX, SalesOrder, TimelineEntry, format_number
from legato.services.orders import place_order
from legato.services.uow import UnitOfWork


class BatchWriter(Protocol):
    """What a batch needs from the store, on the unit of work's own connection."""

    def existing(self, channel_code: str, references: Sequence[str]) -> dict[str, int]:
        """The ids of the channel's orders with these external references (one query)."""
        ...

    def allocate_ids(self, n: int) -> list[int]:
        """``n`` order ids no other writer will take."""
        ...

    def write(
        self,
        orders: Sequence[SalesOrder],
        entries: Sequence[tuple[int, TimelineEntry]],
        events: Sequence[tuple[DomainEvent, datetime]],
    ) -> None:
        """Insert the orders with their lines, the timeline entries and the outbox events;
        raise DuplicateKey if another writer placed one of the orders meanwhile."""
        ...


@dataclass
class LookupCache:
    """Reads that stay valid for a whole import: products by SKU, pricelists, customers.

    A job reads a consistent catalogue; a change made while it runs applies to the next job.
    """

    products: dict[str, Product | None] = field(default_factory=dict)
    calls: dict[tuple[Any, ...], Any] = field(default_factory=dict)
    accounts: dict[tuple[Any, ...], Any] = field(default_factory=dict)
    channels: dict[str, Channel] = field(default_factory=dict)
    limit: int = 5_000  # entries per map before it is emptied (memory stays bounded)

    def forget_accounts(self) -> None:
        self.accounts.clear()


@dataclass
class Outcome:
    """What became of one order: placed (``created``), found already there, or refused."""

    order_id: int | None = None
    number: str | None = None
    created: bool = False
    error: LegatoError | None = None
    order: SalesOrder | None = None


class _Retry(Exception):
    """Run the batch again (without the orders that failed after writing directly)."""


class _Products:
    def __init__(self, inner: Any, cache: LookupCache) -> None:
        self.inner, self.cache = inner, cache

    def get_many(self, skus: Sequence[str]) -> dict[str, Product]:
        known = self.cache.products
        missing = [s for s in skus if s not in known]
        if missing:
            if len(known) > self.cache.limit:
                known.clear()
            found = self.inner.get_many(missing)
            for s in missing:
                known[s] = found.get(s)
        return {s: p for s in skus if (p := known.get(s)) is not None}

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


_WRITES = frozenset({"add", "update", "save", "delete", "remove"})


class _Memo:
    """Memoises a repository's reads (every method but add, update, save, delete) by their
    arguments; writes go straight through. A read that takes ``skus`` is made once per batch
    for every SKU of the batch: reads by SKU return per-SKU data (a pricelist's items), so
    the answer for more SKUs holds the same answer for the ones asked."""

    def __init__(self, inner: Any, store: dict[tuple[Any, ...], Any], batch: _Batch) -> None:
        self.inner, self.store, self.batch = inner, store, batch
        self._skus_at: dict[str, int | None] = {}  # where each read takes ``skus`` among its arguments

    def _position(self, name: str, target: Any) -> int | None:
        if name not in self._skus_at:
            params = list(inspect.signature(target).parameters)
            self._skus_at[name] = params.index("skus") if "skus" in params else None
        return self._skus_at[name]

    def __getattr__(self, name: str) -> Any:
        target = getattr(self.inner, name)
        if name in _WRITES or not callable(target):
            return self.batch.direct(target) if callable(target) else target
        at = self._position(name, target)

        def read(*args: Any, **kw: Any) -> Any:
            batch = self.batch
            pos = -1 if at is None else at
            given = 0 <= pos < len(args)
            asked = args[pos] if given else kw.get("skus")
            widened = asked is not None and batch.skus.issuperset(asked)
            if widened and given:
                args = (*args[:pos], batch.sku_list, *args[pos + 1 :])
            elif widened:
                kw = {**kw, "skus": batch.sku_list}
            key = (
                name,
                *(batch.token if widened and i == pos else _hashable(a) for i, a in enumerate(args)),
                *sorted((k, batch.token if widened and k == "skus" else _hashable(v)) for k, v in kw.items()),
            )
            if key not in self.store:
                if len(self.store) > batch.cache.limit:
                    self.store.clear()
                self.store[key] = target(*args, **kw)
            return self.store[key]

        return read


def _hashable(value: Any) -> Any:
    if isinstance(value, CustomerRef):
        return (value.name, value.email, value.phone, value.code, value.erp_ref,
                tuple(sorted((k, str(v)) for k, v in value.properties.items())))  # fmt: skip
    if isinstance(value, dict):
        return tuple(sorted((k, _hashable(v)) for k, v in value.items()))
    if isinstance(value, list | tuple | set | frozenset):
        return tuple(_hashable(v) for v in value)
    return value


class _Accounts(_Memo):
    def add(self, account: Account) -> None:
        if self.batch.dry_run:  # a validation pass creates nothing
            return
        self.batch.direct(self.inner.add)(account)
        self.store.clear()  # the new account is a candidate for the next orders


class _Orders:
    def __init__(self, batch: _Batch) -> None:
        self.batch = batch

    def add(self, order: SalesOrder) -> None:
        if order.inbox_id is not None:
            raise ValueError("bulk placement does not link orders to inbox entries")
        order.id = self.batch.next_id()
        order.updated_at = order.created_at
        self.batch.queued.append(order)
        self.batch.placed[(order.channel_code, order.external_reference or "")] = order

    def save(self, order: SalesOrder) -> None:
        assert order.id is not None
        self.batch.entries.extend((order.id, e) for e in order.new_entries)

    def get(self, order_id: int, *, for_update: bool = False) -> SalesOrder | None:
        queued = next((o for o in self.batch.queued if o.id == order_id), None)
        return queued or self.batch.real.orders.get(order_id, for_update=for_update)

    def id_by_external(self, channel_code: str, external_reference: str) -> int | None:
        hit = self.batch.placed.get((channel_code, external_reference))
        if hit is not None:
            return hit.id
        return self.batch.known.get((channel_code, external_reference))

    def __getattr__(self, name: str) -> Any:
        return self.batch.direct(getattr(self.batch.real.orders, name))


class _Channels:
    def __init__(self, batch: _Batch) -> None:
        self.batch = batch

    def get_for_intake(self, code: str, external_reference: str | None) -> tuple[Channel | None, int | None]:
        channel = self.batch.channel(code)
        if channel is None or external_reference is None:
            return channel, None
        return channel, self.batch.orders.id_by_external(code, external_reference)

    def get_by_code(self, code: str, *, secrets: bool = True) -> Channel | None:
        return (
            self.batch.real.channels.get_by_code(code, secrets=secrets)
            if secrets
            else self.batch.channel(code)
        )

    def __getattr__(self, name: str) -> Any:
        return self.batch.direct(getattr(self.batch.real.channels, name))


class _Outbox:
    def __init__(self, batch: _Batch) -> None:
        self.batch = batch

    def add(self, events: Sequence[DomainEvent], at: datetime) -> None:
        self.batch.events.extend((e, at) for e in events)


class _Batch:
    """The unit of work ``place_order`` sees while a batch runs (see the module's docstring)."""

    def __init__(self, real: UnitOfWork, writer: BatchWriter, cache: LookupCache, *, dry_run: bool) -> None:
        self.real, self.writer, self.cache, self.dry_run = real, writer, cache, dry_run
        self.rounding = real.rounding
        self.queued: list[SalesOrder] = []
        self.entries: list[tuple[int, TimelineEntry]] = []
        self.events: list[tuple[DomainEvent, datetime]] = []
        self.placed: dict[tuple[str, str], SalesOrder] = {}
        self.known: dict[tuple[str, str], int] = {}
        self.ids: list[int] = []
        self.skus: set[str] = set()  # every SKU of the batch (see _Memo)
        self.sku_list: list[str] = []
        self.token = object()  # stands for sku_list in memo keys (hashing it per read cost more)
        self.direct_calls = 0  # calls that reached the database directly (maybe writes)
        self.products = _Products(real.products, cache)
        self.pricelists = _Memo(real.pricelists, cache.calls, self)
        self.accounts = _Accounts(real.accounts, cache.accounts, self)
        self.orders = _Orders(self)
        self.channels = _Channels(self)
        self.outbox = _Outbox(self)
        self._fake_id = 0

    def __getattr__(self, name: str) -> Any:  # repositories and settings this wrapper does not know
        value = getattr(self.real, name)
        return self.direct(value) if callable(value) else value

    def direct(self, fn: Any) -> Any:
        def call(*args: Any, **kw: Any) -> Any:
            self.direct_calls += 1
            return fn(*args, **kw)

        return call

    def channel(self, code: str) -> Channel | None:
        if code not in self.cache.channels:
            found = self.real.channels.get_by_code(code, secrets=False)
            if found is None:
                return None
            self.cache.channels[code] = found
        return self.cache.channels[code]

    def next_id(self) -> int:
        if self.dry_run:
            self._fake_id -= 1
            return self._fake_id
        if not self.ids:
            self.ids = self.writer.allocate_ids(max(self.expected - len(self.queued), 1))
        return self.ids.pop(0)

    # --- one order: ``with uow`` inside place_order ---------------------------------------------

    def __enter__(self) -> _Batch:
        self._mark = (
            len(self.queued),
            len(self.entries),
            len(self.events),
            len(self.placed),
            self.direct_calls,
        )
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        if exc_type is None:
            return
        q, e, v, _, calls = self._mark
        for order in self.queued[q:]:
            self.placed.pop((order.channel_code, order.external_reference or ""), None)
        del self.queued[q:], self.entries[e:], self.events[v:]
        if self.direct_calls != calls:
            self.dirty = True

    def release(self) -> None:
        """Let go of the batch's orders at once: the wrappers and the batch refer to each other,
        and a cycle waits for the garbage collector, which lets many batches pile up."""
        for held in (self.queued, self.entries, self.events, self.placed, self.known):
            held.clear()

    def commit(self) -> None:
        """The order is complete; the batch commits once, at its end."""

    def rollback(self) -> None:
        raise _Retry("a concurrent writer placed one of the batch's orders")

    def now(self) -> datetime:
        return self.real.now()

    expected = 0
    dirty = False


def place_many(
    uow: UnitOfWork,
    writer: Callable[[], BatchWriter],
    commands: Sequence[PlaceOrder],
    *,
    cache: LookupCache | None = None,
    dry_run: bool = False,
) -> list[Outcome]:
    """Place ``commands`` in one transaction, each through ``place_order``; one Outcome each,
    in order. An order that fails is refused alone (its Outcome has the error); the others
    are placed. ``writer()`` gives the store's BatchWriter once the transaction is open."""
    cache = cache or LookupCache()
    excluded: dict[int, Outcome] = {}
    for _attempt in range(len(commands) + 2):
        try:
            return _run(uow, writer, commands, cache, excluded, dry_run)
        except (_Retry, DuplicateKey):  # rolled back: run again (what now exists is found)
            cache.forget_accounts()
    raise RuntimeError("the batch could not be placed; it kept conflicting with other writers")


def _run(
    uow: UnitOfWork,
    writer: Callable[[], BatchWriter],
    commands: Sequence[PlaceOrder],
    cache: LookupCache,
    excluded: dict[int, Outcome],
    dry_run: bool,
) -> list[Outcome]:
    outcomes: list[Outcome] = []
    with uow:
        batch = _Batch(uow, writer(), cache, dry_run=dry_run)
        try:
            _place(batch, uow, commands, cache, excluded, dry_run, outcomes)
        finally:
            batch.release()
    return outcomes


def _place(
    batch: _Batch,
    uow: UnitOfWork,
    commands: Sequence[PlaceOrder],
    cache: LookupCache,
    excluded: dict[int, Outcome],
    dry_run: bool,
    outcomes: list[Outcome],
) -> None:
    refs: dict[str, list[str]] = {}
    for cmd in commands:
        if cmd.draft.external_reference:
            refs.setdefault(cmd.draft.channel_code, []).append(cmd.draft.external_reference)
    for code, wanted in refs.items():
        for ref, order_id in batch.writer.existing(code, wanted).items():
            batch.known[(code, ref)] = order_id
    batch.expected = sum(1 for c in commands if _key(c) not in batch.known)
    cache.calls.clear()  # reads widened to the last batch's SKUs: of no use to this one
    batch.skus = {ln.sku for c in commands for ln in c.draft.lines}
    batch.sku_list = sorted(batch.skus)
    batch.products.get_many(batch.sku_list)  # one query for the batch
    failed_dirty: dict[int, Outcome] = {}
    for i, cmd in enumerate(commands):
        if i in excluded:
            outcomes.append(excluded[i])
            continue
        known = batch.known.get(_key(cmd))
        if known is not None:  # what place_order would find: the order exists, nothing is written
            outcomes.append(Outcome(known, format_number(ORDER_PREFIX, known), created=False))
            continue
        batch.dirty = False
        try:
            result = place_order(cast(UnitOfWork, batch), cmd)
        except LegatoError as exc:
            outcomes.append(Outcome(error=exc))
            if batch.dirty:
                failed_dirty[i] = outcomes[-1]
            continue
        o = result.order
        outcomes.append(Outcome(o.id, o.number, result.created, order=o if result.created else None))
    if failed_dirty and not dry_run:
        excluded.update(failed_dirty)
        raise _Retry("an order that failed had written directly")
    if dry_run:
        uow.rollback()
        return
    if batch.queued:
        batch.writer.write(batch.queued, batch.entries, batch.events)
    uow.commit()


def _key(cmd: PlaceOrder) -> tuple[str, str]:
    return cmd.draft.channel_code, cmd.draft.external_reference or ""


__all__ = ["BatchWriter", "LookupCache", "Outcome", "place_many"]
