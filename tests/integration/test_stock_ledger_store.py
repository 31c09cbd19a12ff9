"""The stock ledger in the store (``store.inventory.move``) on SQLite and PostgreSQL: for any sequence of
movements the level row equals the sum of its movement rows, never goes negative, and matches the
FIFO layers still on the shelf; a refused movement writes nothing. FIFO: the oldest layer leaves
first and the shipment records its cost."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import Connection, insert, select

from legato.bootstrap import Runtime
from legato.domain.inventory.ledger import MOVEMENTS, InsufficientStock, Level
from legato.store.db import write_lock
from legato.store.inventory import level_of, move
from legato.store.inventory_tables import locations, stock_layers, stock_movements

D = Decimal
T0 = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
steps = st.tuples(
    st.sampled_from(sorted(MOVEMENTS)),
    st.decimals(min_value=D("0.5"), max_value=D(20), places=1),
    st.booleans(),
)


def _location(conn: Connection, code: str) -> int:
    return int(conn.execute(insert(locations).values(
        code=code, name=code, kind="warehouse", priority=0, channels=[], regions=[], ships=True, pickup=False,
        safety_stock=D(0), atp_rules={}, settings={}, active=True, created_at=T0, updated_at=T0,
    ).returning(locations.c.id)).scalar_one())  # fmt: skip


def _ledger(conn: Connection, loc: int, sku: str) -> tuple[Level, int, Decimal]:
    """The sums of the movement rows, how many there are, and the units left in the FIFO layers."""
    rows = conn.execute(select(stock_movements.c.on_hand_delta, stock_movements.c.reserved_delta).where(
        stock_movements.c.location_id == loc, stock_movements.c.sku == sku)).all()  # fmt: skip
    layers = conn.execute(select(stock_layers.c.remaining).where(
        stock_layers.c.location_id == loc, stock_layers.c.sku == sku)).scalars().all()  # fmt: skip
    return (
        Level(sum((r.on_hand_delta for r in rows), D(0)), sum((r.reserved_delta for r in rows), D(0))),
        len(rows),
        sum(layers, D(0)),
    )


def _rolled_back(runtime: Runtime) -> Any:
    """A write transaction that is always rolled back: each example starts from an empty ledger."""

    class _Tx:
        def __enter__(self) -> Connection:
            self.lock = write_lock(runtime.engine)
            self.lock.__enter__()
            self.conn = runtime.engine.connect()
            self.tx = self.conn.begin()
            return self.conn

        def __exit__(self, *exc: object) -> None:
            self.tx.rollback()
            self.conn.close()
            self.lock.__exit__(None, None, None)

    return _Tx()


def test_the_level_row_is_the_sum_of_its_movements_and_never_negative(runtime: Runtime) -> None:
    @given(st.lists(steps, min_size=1, max_size=25))
    # found by this test: SQL arithmetic on SQLite's decimal text made 8.6 - 7.7 = 0.899999999999999
    @example([("adjustment", D("0.5"), False), ("adjustment", D("8.1"), False),
              ("reservation", D("8.6"), False), ("release", D("7.7"), False)])  # fmt: skip
    @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def check(sequence: list[tuple[str, Decimal, bool]]) -> None:
        with _rolled_back(runtime) as conn:
            loc = _location(conn, "WH-PROP")
            for i, (kind, q, downward) in enumerate(sequence):
                q = -q if kind == "adjustment" and downward else q
                before = level_of(conn, loc, "SKU-P")
                _, written_before, _ = _ledger(conn, loc, "SKU-P")
                try:
                    move(conn, location_id=loc, sku="SKU-P", kind=kind, quantity=q,
                         at=T0 + timedelta(minutes=i), actor="prop", unit_cost=D(i))  # fmt: skip
                except InsufficientStock:
                    assert level_of(conn, loc, "SKU-P") == before  # refused: nothing changed
                    assert _ledger(conn, loc, "SKU-P")[1] == written_before
                    continue
                level = level_of(conn, loc, "SKU-P")
                sums, _, on_shelf = _ledger(conn, loc, "SKU-P")
                assert level == sums
                assert level.on_hand >= 0 and level.reserved >= 0 and level.available >= 0
                assert on_shelf == level.on_hand  # every unit on hand is in a FIFO layer

    check()


def test_the_oldest_layer_leaves_first_and_the_shipment_records_its_cost(runtime: Runtime) -> None:
    with write_lock(runtime.engine), runtime.engine.begin() as conn:
        loc = _location(conn, "WH-FIFO")

        def go(kind: str, q: str, at: datetime, cost: str | None = None) -> Level:
            return move(conn, location_id=loc, sku="TEA", kind=kind, quantity=D(q), at=at, actor="t",
                        unit_cost=D(cost) if cost else None)  # fmt: skip

        go("receipt", "5", T0 + timedelta(days=2), "2.00")  # recorded first, but received later
        go("receipt", "5", T0, "1.00")  # the older layer
        go("reservation", "7", T0 + timedelta(days=3))
        assert go("shipment", "7", T0 + timedelta(days=3)) == Level(D(3), D(0))
        shipped = conn.execute(select(stock_movements.c.unit_cost).where(
            stock_movements.c.kind == "shipment")).scalar_one()  # fmt: skip
        expected = (D(5) * D("1.00") + D(2) * D("2.00")) / 7  # 5 old units at 1.00, 2 at 2.00
        assert shipped == expected.quantize(D("0.000001"))
        left = conn.execute(select(stock_layers.c.unit_cost, stock_layers.c.remaining).order_by(
            stock_layers.c.received_at)).all()  # fmt: skip
        assert [(r.unit_cost, r.remaining) for r in left] == [(D("1.00"), 0), (D("2.00"), 3)]
        go("adjustment", "-2", T0 + timedelta(days=4))  # a count consumes the oldest remaining layer too
        adj = conn.execute(select(stock_movements.c.unit_cost).where(stock_movements.c.kind == "adjustment"))
        assert adj.scalar_one() == D("2.00")
