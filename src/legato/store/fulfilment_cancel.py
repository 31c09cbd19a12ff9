"""What closing an order, or some of its lines, does to its fulfilment: the unit of work's
``fulfilment`` edge (``legato.services.uow.Fulfilment``), run in the order service's transaction
after it has locked the order. Open FOs are cancelled (their reservations released), the
reservations not yet in an FO and the backorders go through ``allocation.release_order``;
a dispatched FO stays as it is."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select, update

from legato.domain.errors import Conflict
from legato.domain.inventory.fulfilment import CANCELLABLE, FoStatus, fo_number
from legato.store.fulfilment import ZERO, _move, _order_number, _release
from legato.store.inventory_tables import allocations as _A
from legato.store.inventory_tables import fulfilment_lines as _FL
from legato.store.inventory_tables import fulfilment_orders as _F


class SqlFulfilment:
    """The unit of work's ``fulfilment``: what an order's cancellation does to its legs. Runs in
    the unit of work's transaction, after the service has locked the order."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def order_closed(self, order_id: int, at: datetime, actor: str, reason: str | None) -> None:
        """The order was cancelled or voided: cancel its open FOs (releasing their reservations),
        then release every other reservation and backorder it has. A dispatched FO stays."""
        conn = self.conn
        open_fos = conn.execute(
            select(_F.c.id).where(_F.c.order_id == order_id, _F.c.status.in_([s.value for s in CANCELLABLE]))
            .order_by(_F.c.id)
        ).scalars().all()  # fmt: skip
        why = reason or "the order was cancelled"
        skus = _reserved_skus(conn, order_id, None)
        for fo_id in open_fos:
            _move(conn, fo_id, FoStatus.CANCELLED, at=at, actor=actor, source="rule", reason=why)
        _release_rest(conn, order_id, at=at, actor=actor, reason=why, line_nos=None)
        _refill(conn, skus, at=at, actor=actor)

    def lines_cancelled(
        self, order_id: int, line_nos: Sequence[int], at: datetime, actor: str, reason: str | None
    ) -> None:
        """Lines of the order were cancelled: release their reservations, take them off their open
        FOs (an FO left with nothing is cancelled), drop their backorders."""
        conn, wanted = self.conn, set(line_nos)
        if not wanted:
            return
        out = select(_A.c.line_no).where(
            _A.c.order_id == order_id, _A.c.line_no.in_(sorted(wanted)), _A.c.shipped > 0
        )
        shipped = sorted(set(conn.execute(out).scalars()))
        if shipped:
            raise Conflict(
                f"line(s) {', '.join(map(str, shipped))} of {_order_number(order_id)} have shipped units: "
                "they cannot be cancelled (what came back is a return)",
                lines=shipped,
            )
        why = reason or f"line(s) {', '.join(map(str, sorted(wanted)))} cancelled"
        skus = _reserved_skus(conn, order_id, wanted)
        rows = conn.execute(
            select(_F.c.id, _F.c.order_id, _F.c.seq, _F.c.status, _FL.c.line_no, _FL.c.order_line_no,
                   _FL.c.quantity, _FL.c.shipped)
            .join(_FL, _FL.c.fulfilment_order_id == _F.c.id)
            .where(_F.c.order_id == order_id, _F.c.status.in_([s.value for s in CANCELLABLE]))
            .order_by(_F.c.id, _FL.c.line_no)
        ).all()  # fmt: skip
        by_fo: dict[int, list[Any]] = {}
        for r in rows:
            by_fo.setdefault(r.id, []).append(r)
        for fo_id, lines in by_fo.items():
            hit = [ln for ln in lines if ln.order_line_no in wanted]
            if not hit:
                continue
            if all(ln.order_line_no in wanted or ln.quantity <= ln.shipped for ln in lines):
                _move(conn, fo_id, FoStatus.CANCELLED, at=at, actor=actor, source="rule", reason=why)
                continue
            fo = conn.execute(select(_F).where(_F.c.id == fo_id)).one()
            _release(conn, fo, fo_number(_order_number(order_id), fo.seq), at, actor, why, line_nos=wanted)
            for ln in hit:
                conn.execute(
                    update(_FL)
                    .where(_FL.c.fulfilment_order_id == fo_id, _FL.c.line_no == ln.line_no)
                    .values(quantity=ln.shipped)
                )
        _release_rest(conn, order_id, at=at, actor=actor, reason=why, line_nos=sorted(wanted))
        _refill(conn, skus, at=at, actor=actor)


def _reserved_skus(conn: Connection, order_id: int, line_nos: Collection[int] | None) -> list[str]:
    """The SKUs the order (or these lines) holds reserved stock of: what a release frees."""
    q = select(_A.c.sku).where(_A.c.order_id == order_id, _A.c.quantity > 0, _A.c.strategy != "dropship")
    if line_nos is not None:
        q = q.where(_A.c.line_no.in_(sorted(line_nos)))
    return sorted(set(conn.execute(q).scalars()))


def _refill(conn: Connection, skus: Sequence[str], *, at: datetime, actor: str) -> None:
    """Units a cancellation freed go to the orders waiting for them, in the fill sequence, as a
    receipt's would (in the same transaction)."""
    if skus:
        from legato.store.backorders import fill  # it imports the allocation and FO modules: late

        fill(conn, skus=skus, at=at, actor=actor)


def _release_rest(
    conn: Connection,
    order_id: int,
    *,
    at: datetime,
    actor: str,
    reason: str,
    line_nos: Collection[int] | None,
) -> None:
    """What no open FO held: reservations not yet split into an FO, and backorders (B's
    ``release_order``; the FOs' own reservations are already at 0, so nothing is released twice)."""
    from legato.store.allocation import release_order  # it imports ours (backorder fills): late

    release_order(conn, order_id, at=at, actor=actor, line_nos=line_nos, reason=reason)
    # dropship allocations reserve nothing; those in no FO yet are simply not sent any more
    loose = update(_A).where(_A.c.order_id == order_id, _A.c.fulfilment_order_id.is_(None), _A.c.quantity > 0)
    if line_nos is not None:
        loose = loose.where(_A.c.line_no.in_(sorted(line_nos)))
    conn.execute(loose.values(quantity=ZERO, updated_at=at))


__all__ = ["SqlFulfilment"]
