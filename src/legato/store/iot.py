"""IoT storage: sensor readings (each stored once) and replenishment rules with their state.

Every function takes the caller's connection, so the processing can store a reading, lock
the rules it concerns, place an order and move the rules' state in one transaction
(``NestedUnitOfWork`` lets the order services join that transaction).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Self

from sqlalchemy import Connection, NestedTransaction, Select, and_, or_, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from legato.domain.errors import DuplicateKey, FieldIssue, ValidationFailed
from legato.domain.lifecycle import FINAL_STATUSES
from legato.domain.order import Address
from legato.domain.replenishment import Comparison, QuantityMode, Reading, Rule, RuleState, counter_increase
from legato.store import tables as t
from legato.store.queries import decode_cursor, encode_cursor
from legato.store.uow import SqlUnitOfWork

_R, _RR, _C = t.sensor_readings, t.replenishment_rules, t.channels
_FINAL = [s.value for s in FINAL_STATUSES]


# --- readings ------------------------------------------------------------------------


def add_reading(
    conn: Connection, channel_id: int, r: Reading, *, inbox_id: int | None, received_at: datetime
) -> bool:
    """Store a reading unless the channel has it already (same device, metric and time):
    True if it is new. A concurrent copy waits on the unique index, then adds nothing."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    statement = (
        dialect.insert(_R)
        .values(
            channel_id=channel_id,
            device_id=r.device_id,
            metric=r.metric,
            value=r.value,
            unit=r.unit,
            at=r.at,
            received_at=received_at,
            inbox_id=inbox_id,
        )
        .on_conflict_do_nothing(index_elements=["channel_id", "device_id", "metric", "at"])
        .returning(_R.c.id)
    )
    return conn.execute(statement).scalar_one_or_none() is not None


@dataclass(frozen=True)
class StoredReading:
    id: int
    channel_code: str
    device_id: str
    metric: str
    value: Decimal
    unit: str | None
    at: datetime
    received_at: datetime
    inbox_id: int | None


def list_readings(
    conn: Connection,
    device_id: str,
    *,
    metric: str | None = None,
    channel_code: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    limit: int = 100,
    cursor: str | None = None,
) -> tuple[list[StoredReading], str | None]:
    """A device's readings, newest (by the reading's own time) first, a page at a time."""
    query = (
        select(_R, _C.c.code.label("channel_code"))
        .join(_C, _C.c.id == _R.c.channel_id)
        .where(_R.c.device_id == device_id)
    )
    if metric:
        query = query.where(_R.c.metric == metric)
    if channel_code:
        query = query.where(_C.c.code == channel_code)
    if start:
        query = query.where(_R.c.at >= start)
    if end:
        query = query.where(_R.c.at <= end)
    if cursor:
        at, last_id = _decode_reading_cursor(cursor)
        query = query.where(or_(_R.c.at < at, and_(_R.c.at == at, _R.c.id < last_id)))
    rows = conn.execute(query.order_by(_R.c.at.desc(), _R.c.id.desc()).limit(limit + 1)).all()
    items = [StoredReading(r.id, r.channel_code, r.device_id, r.metric, r.value, r.unit, r.at,
                           r.received_at, r.inbox_id) for r in rows[:limit]]  # fmt: skip
    nxt = _encode_reading_cursor(items[-1]) if len(rows) > limit and items else None
    return items, nxt


def _encode_reading_cursor(r: StoredReading) -> str:
    return base64.urlsafe_b64encode(f"at:{r.at.isoformat()}|{r.id}".encode()).decode().rstrip("=")


def _decode_reading_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        kind, _, rest = raw.partition(":")
        at, _, last = rest.rpartition("|")
        if kind == "at" and last.isdigit() and len(last) <= 18:
            when = datetime.fromisoformat(at)
            if when.tzinfo is not None:
                return when, int(last)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        pass
    msg = "the cursor is not one this API returned"
    raise ValidationFailed(msg, issues=[FieldIssue("cursor", msg, "invalid_cursor", cursor)])


def usage_between(
    conn: Connection,
    device_id: str,
    metric: str,
    start: datetime,
    end: datetime,
    *,
    channel_id: int | None = None,
) -> Decimal:
    """How much a cumulative counter (operating hours, km, lifts, kWh ...) went up from
    ``start`` to ``end``, for usage-based billing.

    The readings read are the last one at or before ``start`` (the opening meter reading)
    and every one after ``start`` up to and including ``end``; the usage is the sum of the
    positive steps between them in time order (``domain.replenishment.counter_increase``),
    so a counter reset (a step down) adds nothing, and consecutive billing periods add up
    to exactly the usage over their union: no step is billed twice or lost at a boundary.
    """
    where = [_R.c.device_id == device_id, _R.c.metric == metric]
    if channel_id is not None:
        where.append(_R.c.channel_id == channel_id)
    opening = conn.execute(
        select(_R.c.value).where(*where, _R.c.at <= start).order_by(_R.c.at.desc(), _R.c.id.desc()).limit(1)
    ).scalar_one_or_none()
    values = conn.execute(
        select(_R.c.value).where(*where, _R.c.at > start, _R.c.at <= end).order_by(_R.c.at, _R.c.id)
    ).scalars()
    return counter_increase([opening, *values] if opening is not None else values)


# --- rules ---------------------------------------------------------------------------


@dataclass(frozen=True)
class StoredRule:
    id: int
    channel_code: str
    rule: Rule
    state: RuleState
    open_order_id: int | None
    created_at: datetime
    updated_at: datetime


def _rules() -> Select[Any]:
    return select(_RR, _C.c.code.label("channel_code")).join(_C, _C.c.id == _RR.c.channel_id)


def _stored(row: Any, open_orders: set[int]) -> StoredRule:
    address = Address(**row.shipping_address) if row.shipping_address else None
    rule = Rule(
        code=row.code, device_id=row.device_id, metric=row.metric, comparison=Comparison(row.comparison),
        threshold=row.threshold, rearm=row.rearm, account_code=row.account_code, sku=row.sku,
        quantity_mode=QuantityMode(row.quantity_mode), quantity=row.quantity, par_level=row.par_level,
        shipping_address=address, active=row.active,
    )  # fmt: skip
    state = RuleState(row.armed, row.last_reading_at, row.open_order_id in open_orders, row.breaches)
    return StoredRule(
        row.id, row.channel_code, rule, state, row.open_order_id, row.created_at, row.updated_at
    )


def _open_orders(conn: Connection, ids: Iterable[int | None]) -> set[int]:
    """Which of these orders are still open (not completed, cancelled or voided)."""
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return set()
    o = t.orders
    return set(conn.execute(select(o.c.id).where(o.c.id.in_(wanted), o.c.status.not_in(_FINAL))).scalars())


def _with_state(conn: Connection, rows: Sequence[Any]) -> list[StoredRule]:
    open_orders = _open_orders(conn, (r.open_order_id for r in rows))
    return [_stored(r, open_orders) for r in rows]


def lock_rules(conn: Connection, channel_id: int, keys: Iterable[tuple[str, str]]) -> list[StoredRule]:
    """The channel's active rules for these (device, metric) pairs, locked (SELECT ... FOR
    UPDATE on PostgreSQL; SQLite serialises writers) in id order, so two deliveries about
    the same rules queue instead of deadlocking."""
    pairs = sorted(set(keys))
    if not pairs:
        return []
    query = (
        _rules()
        .where(_RR.c.channel_id == channel_id, _RR.c.active.is_(True))
        .where(tuple_(_RR.c.device_id, _RR.c.metric).in_(pairs))
        .order_by(_RR.c.id)
        .with_for_update(of=_RR)
    )
    return _with_state(conn, conn.execute(query).all())


def save_state(
    conn: Connection, rule_id: int, state: RuleState, *, open_order_id: int | None, now: datetime
) -> None:
    conn.execute(
        update(_RR)
        .where(_RR.c.id == rule_id)
        .values(
            armed=state.armed,
            last_reading_at=state.last_reading_at,
            breaches=state.breaches,
            open_order_id=open_order_id,
            updated_at=now,
        )
    )


def _settings(rule: Rule) -> dict[str, Any]:
    """The columns a rule's settings fill (its state columns are the processing's)."""
    return {
        "code": rule.code, "device_id": rule.device_id, "metric": rule.metric,
        "comparison": rule.comparison.value, "threshold": rule.threshold, "rearm": rule.rearm,
        "account_code": rule.account_code, "sku": rule.sku, "quantity_mode": rule.quantity_mode.value,
        "quantity": rule.quantity, "par_level": rule.par_level,
        "shipping_address": rule.shipping_address.as_dict() if rule.shipping_address else None,
        "active": rule.active,
    }  # fmt: skip


def insert_rule(conn: Connection, channel_id: int, rule: Rule, now: datetime) -> int:
    values = {**_settings(rule), "channel_id": channel_id, "armed": True, "last_reading_at": None,
              "open_order_id": None, "breaches": 0, "created_at": now, "updated_at": now}  # fmt: skip
    savepoint = conn.begin_nested()
    try:
        new_id = int(conn.execute(_RR.insert().values(**values).returning(_RR.c.id)).scalar_one())
    except IntegrityError:
        savepoint.rollback()
        raise DuplicateKey(
            f"a replenishment rule {rule.code!r} exists already", code_in_use=rule.code
        ) from None
    savepoint.commit()
    return new_id


def update_rule(
    conn: Connection,
    rule_id: int,
    rule: Rule,
    *,
    channel_id: int,
    armed: bool | None,
    forget_last_reading: bool = False,
    now: datetime,
) -> None:
    values: dict[str, Any] = {**_settings(rule), "channel_id": channel_id, "updated_at": now}
    if armed is not None:
        values["armed"] = armed
    if forget_last_reading:
        values["last_reading_at"] = None
    conn.execute(update(_RR).where(_RR.c.id == rule_id).values(**values))


def get_rule(conn: Connection, code: str, *, for_update: bool = False) -> StoredRule | None:
    query = _rules().where(_RR.c.code == code)
    if for_update:
        query = query.with_for_update(of=_RR)
    row = conn.execute(query).first()
    return _with_state(conn, [row])[0] if row else None


def list_rules(
    conn: Connection,
    *,
    channel_code: str | None = None,
    device_id: str | None = None,
    limit: int = 100,
    cursor: str | None = None,
) -> tuple[list[StoredRule], str | None]:
    """Rules, newest first, a page at a time (the cursor names the last id seen)."""
    query = _rules()
    if channel_code:
        query = query.where(_C.c.code == channel_code)
    if device_id:
        query = query.where(_RR.c.device_id == device_id)
    if cursor:
        query = query.where(_RR.c.id < decode_cursor(cursor))
    rows = conn.execute(query.order_by(_RR.c.id.desc()).limit(limit + 1)).all()
    items = _with_state(conn, rows[:limit])
    return items, encode_cursor(items[-1].id) if len(rows) > limit and items else None


# --- a unit of work inside an open one -------------------------------------------------


class NestedUnitOfWork:
    """The order services' unit of work, joined to a transaction already open (``outer``):
    its commit releases a savepoint, so the order commits with everything else the caller
    writes there (the reading, the rule's new state) or not at all, under the caller's
    locks. Repositories, rounding and every other setting are the outer unit's own."""

    def __init__(self, outer: SqlUnitOfWork) -> None:
        self._outer = outer
        self._savepoint: NestedTransaction | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._outer, name)

    def _conn(self) -> Connection:
        conn = self._outer.conn
        if conn is None:
            raise RuntimeError("the outer unit of work is not open")
        return conn

    def __enter__(self) -> Self:
        self._savepoint = self._conn().begin_nested()
        return self

    def __exit__(self, *exc: object) -> None:
        savepoint, self._savepoint = self._savepoint, None
        if savepoint is not None and savepoint.is_active:
            savepoint.rollback()

    def now(self) -> datetime:
        return self._outer.now()

    def commit(self) -> None:
        assert self._savepoint is not None
        self._savepoint.commit()

    def rollback(self) -> None:
        assert self._savepoint is not None
        self._savepoint.rollback()
        self._savepoint = self._conn().begin_nested()


__all__ = [
    "NestedUnitOfWork",
    "StoredReading",
    "StoredRule",
    "add_reading",
    "get_rule",
    "insert_rule",
    "list_readings",
    "list_rules",
    "lock_rules",
    "save_state",
    "update_rule",
    "usage_between",
]
