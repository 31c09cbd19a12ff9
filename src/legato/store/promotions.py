"""Promotions, vouchers, loyalty points and tax rates in the database.

``SqlPromotions`` works on the caller's connection, so the pricing engine redeems a voucher and
spends points inside the order's own transaction: the order and its redemption commit together
or not at all. Both are safe under concurrency: a voucher's use is claimed by one conditional
UPDATE (its row lock queues concurrent claims on PostgreSQL; SQLite has one writer at a time),
and points are spent under a lock on the account's row.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Connection, Engine, and_, bindparam, delete, exists, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from legato.domain.errors import DuplicateKey, FieldIssue, NotFound, ValidationFailed
from legato.domain.promotions import PointsExceeded, Promotion, Voucher, VoucherExhausted, VoucherInvalid
from legato.domain.tax import TaxRate, TaxRules
from legato.store import tables as t
from legato.store.db import write_lock
from legato.store.queries import decode_cursor, encode_cursor, reading
from legato.store.refcache import invalidate

#: the most points one ledger entry may move (the column is a 32-bit integer)
MAX_POINTS = 1_000_000_000
_P, _V, _R, _L, _T = t.promotions, t.vouchers, t.voucher_redemptions, t.loyalty_ledger, t.tax_rates
#: a voucher row with its promotion's columns, prefixed ``p_``
_VOUCHERS = select(_V, *(c.label(f"p_{c.name}") for c in _P.c)).select_from(
    _V.join(_P, _P.c.id == _V.c.promotion_id)
)
_CLAIM = (
    update(_V)
    .where(
        _V.c.code == bindparam("claim_code"), or_(_V.c.usage_limit.is_(None), _V.c.used < _V.c.usage_limit)
    )
    .values(used=_V.c.used + 1)
    .returning(_V.c.id, _V.c.per_account_limit)
)
_REDEEMED = select(_R.c.id).where(
    _R.c.voucher_id == bindparam("voucher"), _R.c.order_id == bindparam("order")
)


def normalise_voucher_code(code: str) -> str:
    """Vouchers are typed by people: ``welcome10 `` is ``WELCOME10``."""
    return code.strip().upper()


@dataclass(frozen=True)
class LedgerEntry:
    id: int
    points: int  # + earned or credited, - redeemed or debited
    reason: str
    order_id: int | None
    at: datetime


def promotion_from_row(r: Mapping[Any, Any]) -> Promotion:
    f = r["filters"] or {}
    return Promotion(
        code=r["code"], name=r["name"], kind=r["kind"], level=r["level"], value=r["value"],
        currency=r["currency"], skus=tuple(f.get("skus", ())), categories=tuple(f.get("categories", ())),
        tags=tuple(f.get("tags", ())), min_subtotal=r["min_subtotal"], buy_qty=r["buy_qty"],
        get_qty=r["get_qty"], channels=tuple(r["channels"] or ()), valid_from=r["valid_from"],
        valid_to=r["valid_to"], active=r["active"], priority=r["priority"], exclusive=r["exclusive"],
    )  # fmt: skip


def _promotion_row(p: Promotion) -> dict[str, Any]:
    filters = {"skus": list(p.skus), "categories": list(p.categories), "tags": list(p.tags)}
    return {
        "code": p.code, "name": p.name, "kind": p.kind, "level": p.level, "value": p.value,
        "currency": p.currency, "filters": filters, "min_subtotal": p.min_subtotal, "buy_qty": p.buy_qty,
        "get_qty": p.get_qty, "channels": list(p.channels), "valid_from": p.valid_from,
        "valid_to": p.valid_to, "active": p.active, "priority": p.priority, "exclusive": p.exclusive,
    }  # fmt: skip


def _voucher(r: Any) -> Voucher:
    m = r._mapping
    promotion = promotion_from_row({k[2:]: v for k, v in m.items() if k.startswith("p_")})
    return Voucher(r.code, promotion, r.usage_limit, r.used, r.per_account_limit, r.valid_from, r.valid_to)


def _page(rows: Sequence[Any], limit: int) -> tuple[Sequence[Any], str | None]:
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, encode_cursor(rows[-1].id) if more and rows else None


def _duplicate(kind: str, code: str) -> DuplicateKey:
    msg = f"a {kind} with code {code!r} already exists"
    return DuplicateKey(msg, issues=[FieldIssue("code", msg, "duplicate", code)])


class SqlPromotions:
    def __init__(self, conn: Connection, now: datetime | None = None) -> None:
        self.conn, self.now = conn, now or datetime.now(UTC)

    def _insert(self, statement: Any, duplicate: DuplicateKey) -> Any:
        """Run an insert in a savepoint; a unique-key clash becomes ``duplicate``."""
        try:
            with self.conn.begin_nested():
                return self.conn.execute(statement)
        except IntegrityError:
            raise duplicate from None

    # --- promotions ---------------------------------------------------------------------

    def active(self, on: date, channel_code: str) -> list[Promotion]:
        """The automatic promotions in force on ``on`` for the channel (those a voucher gives
        apply only with its code), by priority."""
        query = (
            select(_P)
            .where(
                _P.c.active.is_(True),
                or_(_P.c.valid_from.is_(None), _P.c.valid_from <= on),
                or_(_P.c.valid_to.is_(None), _P.c.valid_to >= on),
                ~exists().where(_V.c.promotion_id == _P.c.id),
            )
            .order_by(_P.c.priority.desc(), _P.c.code)
        )
        found = [promotion_from_row(r._mapping) for r in self.conn.execute(query)]
        return [p for p in found if not p.channels or channel_code in p.channels]

    def promotion(self, code: str) -> Promotion | None:
        r = self.conn.execute(select(_P).where(_P.c.code == code)).first()
        return promotion_from_row(r._mapping) if r else None

    def list_promotions(self, limit: int, cursor: str | None = None) -> tuple[list[Promotion], str | None]:
        query = select(_P).order_by(_P.c.id).limit(limit + 1)
        if cursor:
            query = query.where(_P.c.id > decode_cursor(cursor))
        rows, nxt = _page(self.conn.execute(query).all(), limit)
        return [promotion_from_row(r._mapping) for r in rows], nxt

    def add_promotion(self, p: Promotion) -> None:
        invalidate(self.conn.engine)  # orders read these through store.refcache
        row = {**_promotion_row(p), "created_at": self.now, "updated_at": self.now}
        self._insert(insert(_P).values(**row), _duplicate("promotion", p.code))

    def update_promotion(self, p: Promotion) -> None:
        invalidate(self.conn.engine)  # orders read these through store.refcache
        done = self.conn.execute(
            update(_P).where(_P.c.code == p.code).values(**_promotion_row(p), updated_at=self.now)
        )
        if done.rowcount == 0:
            raise NotFound(f"no promotion {p.code!r}")

    # --- vouchers -----------------------------------------------------------------------

    def voucher(self, code: str) -> Voucher | None:
        r = self.conn.execute(_VOUCHERS.where(_V.c.code == normalise_voucher_code(code))).first()
        return _voucher(r) if r else None

    def list_vouchers(self, limit: int, cursor: str | None = None) -> tuple[list[Voucher], str | None]:
        query = _VOUCHERS.order_by(_V.c.id).limit(limit + 1)
        if cursor:
            query = query.where(_V.c.id > decode_cursor(cursor))
        rows, nxt = _page(self.conn.execute(query).all(), limit)
        return [_voucher(r) for r in rows], nxt

    def add_voucher(self, v: Voucher) -> Voucher:
        """Store ``v`` (its code upper-cased) for its promotion, which must exist; that promotion
        then applies only with a voucher."""
        invalidate(self.conn.engine)  # orders read these through store.refcache
        promotion_id = self.conn.execute(select(_P.c.id).where(_P.c.code == v.promotion.code)).scalar()
        if promotion_id is None:
            msg = f"no promotion {v.promotion.code!r}"
            raise ValidationFailed(
                msg, issues=[FieldIssue("promotion", msg, "unknown_promotion", v.promotion.code)]
            )
        code = normalise_voucher_code(v.code)
        row = {"code": code, "promotion_id": promotion_id, "usage_limit": v.usage_limit, "used": 0,
               "per_account_limit": v.per_account_limit, "valid_from": v.valid_from, "valid_to": v.valid_to,
               "created_at": self.now}  # fmt: skip
        self._insert(insert(_V).values(**row), _duplicate("voucher", code))
        stored = self.voucher(code)
        assert stored is not None
        return stored

    def voucher_uses(self, code: str, account_id: int) -> int:
        """How often the account has used the voucher (for the per-account limit)."""
        query = (
            select(func.count())
            .select_from(_R.join(_V, _V.c.id == _R.c.voucher_id))
            .where(_V.c.code == normalise_voucher_code(code), _R.c.account_id == account_id)
        )
        return int(self.conn.execute(query).scalar_one())

    def redeem(self, voucher_code: str, order_id: int, account_id: int | None) -> None:
        """Count one use of the voucher by ``order_id``, atomically: the use is claimed with one
        conditional UPDATE, then the account's limit is checked under that row's lock. Redeeming
        again for the same order changes nothing. Raises VoucherInvalid / VoucherExhausted."""
        code = normalise_voucher_code(voucher_code)
        savepoint = self.conn.begin_nested()
        try:
            claimed = self.conn.execute(_CLAIM, {"claim_code": code}).first()
            voucher_id = claimed.id if claimed else self.conn.execute(
                select(_V.c.id).where(_V.c.code == code)
            ).scalar()  # fmt: skip
            if voucher_id is None:
                raise _invalid(code)
            if self.conn.execute(_REDEEMED, {"voucher": voucher_id, "order": order_id}).first():
                savepoint.rollback()  # this order holds it already: a retry, not a second use
                return
            if claimed is None:
                raise _exhausted(code, "it has been used up")
            limit = claimed.per_account_limit
            if account_id is not None and limit is not None:
                uses = self.conn.execute(
                    select(func.count()).where(
                        and_(_R.c.voucher_id == voucher_id, _R.c.account_id == account_id)
                    )
                ).scalar_one()
                if uses >= limit:
                    raise _exhausted(code, f"it can be used {limit} time(s) per customer")
            row = {"voucher_id": voucher_id, "order_id": order_id, "account_id": account_id, "at": self.now}
            self.conn.execute(insert(_R).values(**row))
            savepoint.commit()
        except BaseException:
            if savepoint.is_active:
                savepoint.rollback()
            raise

    # --- loyalty points -----------------------------------------------------------------

    def account_id(self, code: str) -> int | None:
        found: int | None = self.conn.execute(
            select(t.accounts.c.id).where(t.accounts.c.code == code)
        ).scalar()
        return found

    def points_balance(self, account_id: int) -> int:
        query = select(func.coalesce(func.sum(_L.c.points), 0)).where(_L.c.account_id == account_id)
        return int(self.conn.execute(query).scalar_one())

    def ledger(
        self, account_id: int, limit: int, cursor: str | None = None
    ) -> tuple[list[LedgerEntry], str | None]:
        """The account's ledger, newest first."""
        query = select(_L).where(_L.c.account_id == account_id).order_by(_L.c.id.desc()).limit(limit + 1)
        if cursor:
            query = query.where(_L.c.id < decode_cursor(cursor))
        rows, nxt = _page(self.conn.execute(query).all(), limit)
        return [LedgerEntry(r.id, r.points, r.reason, r.order_id, r.at) for r in rows], nxt

    def _entry(self, account_id: int, points: int, reason: str, order_id: int | None) -> LedgerEntry:
        row = {
            "account_id": account_id,
            "points": points,
            "order_id": order_id,
            "reason": reason,
            "at": self.now,
        }
        entry_id = self.conn.execute(insert(_L).values(**row).returning(_L.c.id)).scalar_one()
        return LedgerEntry(entry_id, points, reason, order_id, self.now)

    def _lock_account(self, account_id: int) -> None:
        """Row lock on PostgreSQL (SQLite has one writer at a time): one spender per account."""
        query = select(t.accounts.c.id).where(t.accounts.c.id == account_id).with_for_update()
        if self.conn.execute(query).first() is None:
            raise NotFound(f"no account with id {account_id}")

    def spend_points(
        self, account_id: int, points: int, order_id: int | None, reason: str = "redeemed"
    ) -> LedgerEntry:
        """Take ``points`` off the balance; never below zero (PointsExceeded at ``points``)."""
        _check_points(points)
        self._lock_account(account_id)
        balance = self.points_balance(account_id)
        if points > balance:
            msg = f"{points} points asked, the balance is {balance}"
            raise PointsExceeded(msg, issues=[FieldIssue("points", msg, "points_exceeded", points)])
        return self._entry(account_id, -points, reason, order_id)

    def credit_points(
        self, account_id: int, points: int, reason: str, order_id: int | None = None
    ) -> LedgerEntry:
        _check_points(points)
        self._lock_account(account_id)
        return self._entry(account_id, points, reason, order_id)

    # --- tax ----------------------------------------------------------------------------

    def tax_rules(self) -> TaxRules:
        rows = self.conn.execute(select(_T).order_by(_T.c.region, _T.c.tax_class))
        return TaxRules(TaxRate(r.region, r.tax_class, r.rate, r.name) for r in rows)

    def put_tax_rate(self, rate: TaxRate) -> bool:
        """Create or replace the rate for its region and class; True if it was created."""
        invalidate(self.conn.engine)  # orders read these through store.refcache
        where = and_(_T.c.region == rate.region, _T.c.tax_class == rate.tax_class)
        if self.conn.execute(update(_T).where(where).values(rate=rate.rate, name=rate.name)).rowcount:
            return False
        try:
            with self.conn.begin_nested():
                self.conn.execute(insert(_T).values(region=rate.region, tax_class=rate.tax_class,
                                                    rate=rate.rate, name=rate.name))  # fmt: skip
        except IntegrityError:  # created meanwhile by someone else: replace theirs
            self.conn.execute(update(_T).where(where).values(rate=rate.rate, name=rate.name))
            return False
        return True

    def delete_tax_rate(self, region: str, tax_class: str) -> bool:
        invalidate(self.conn.engine)  # orders read these through store.refcache
        where = and_(_T.c.region == region, _T.c.tax_class == tax_class)
        return bool(self.conn.execute(delete(_T).where(where)).rowcount)

    def tax_classes(self, skus: Sequence[str]) -> dict[str, str | None]:
        """Each product's tax class (None: ``standard``), by SKU."""
        query = select(t.products.c.sku, t.products.c.tax_class).where(t.products.c.sku.in_(list(skus)))
        return {r.sku: r.tax_class for r in self.conn.execute(query)}

    def set_tax_class(self, sku: str, tax_class: str | None) -> None:
        invalidate(self.conn.engine)  # orders read these through store.refcache
        done = self.conn.execute(
            update(t.products).where(t.products.c.sku == sku).values(tax_class=tax_class)
        )
        if done.rowcount == 0:
            raise NotFound(f"no product {sku!r}")


def _check_points(points: int) -> None:
    if isinstance(points, bool) or not isinstance(points, int) or not 0 < points <= MAX_POINTS:
        msg = f"points must be a whole number from 1 to {MAX_POINTS}"
        raise ValidationFailed(msg, issues=[FieldIssue("points", msg, "out_of_range", points)])


def _invalid(code: str) -> VoucherInvalid:
    msg = f"there is no voucher {code!r}"
    return VoucherInvalid(msg, issues=[FieldIssue("voucher", msg, "voucher_invalid", code)])


def _exhausted(code: str, why: str) -> VoucherExhausted:
    msg = f"voucher {code} cannot be used again: {why}"
    return VoucherExhausted(msg, issues=[FieldIssue("voucher", msg, "voucher_exhausted", code)])


@contextmanager
def writing(engine: Engine) -> Iterator[SqlPromotions]:
    """One write transaction (queued on SQLite's in-process write lock), committed at the end."""
    with write_lock(engine), engine.begin() as conn:
        yield SqlPromotions(conn)


@contextmanager
def looking(engine: Engine) -> Iterator[SqlPromotions]:
    """A read-only connection (never waits for writers)."""
    with reading(engine) as conn:
        yield SqlPromotions(conn)


__all__ = [
    "MAX_POINTS",
    "LedgerEntry",
    "SqlPromotions",
    "looking",
    "normalise_voucher_code",
    "promotion_from_row",
    "writing",
]
