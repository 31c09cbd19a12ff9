"""``allocate``: reserve stock for the event's order and backorder what no location has.

    - action: allocate
      params: {strategy: nearest, params: {}, create_fulfilment: true}

Without ``strategy`` the channel's (``settings.allocation``) applies, else ``single_location``.
Allocation and the fulfilment orders it leads to are one transaction (retried on a PostgreSQL
deadlock); a retried step finds the lines already allocated or backordered and changes nothing.
Recorded on the timeline as ``allocated`` / ``backordered`` entries by ``rule:<workflow>``.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any, ClassVar

from sqlalchemy import Connection

from legato.domain.errors import LegatoError
from legato.domain.inventory.strategies import check_strategy
from legato.store.allocation import AllocationResult, allocate_order, in_transaction, order_supply
from legato.workflow.actions import Fail, StepContext, StepResult
from legato.workflow.actions import _orders as o


def _json(value: Any) -> Any:
    """Decimals as exact strings, for the job's output."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {k: _json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json(v) for v in value]
    return value


class Allocate:
    name: ClassVar[str] = "allocate"
    max_attempts: ClassVar[int] = 5

    def check(self, params: Mapping[str, Any], path: str) -> None:
        out = o.issues()
        o.known_keys(params, ("strategy", "params", "create_fulfilment"), path, out)
        if "create_fulfilment" in params and not isinstance(params["create_fulfilment"], bool):
            out.add(f"{path}.create_fulfilment", "true or false", "invalid", params["create_fulfilment"])
        if "params" in params and "strategy" not in params:
            out.add(f"{path}.params", "params go with a strategy: name it too", "invalid")
        out.raise_if_any()
        if "strategy" in params:
            check_strategy(
                params["strategy"], params.get("params") or {}, f"{path}.strategy", f"{path}.params"
            )

    def run(self, ctx: StepContext, params: Mapping[str, Any]) -> StepResult:
        order_id = o.order_of(ctx)
        fulfil = params.get("create_fulfilment", True)

        def work(conn: Connection) -> tuple[AllocationResult, list[int], dict[str, Any]]:
            result = allocate_order(conn, order_id, at=ctx.now, actor=ctx.actor,
                                    strategy=params.get("strategy"), params=params.get("params"))  # fmt: skip
            fos: list[int] = []
            if fulfil:
                from legato.store.fulfilment import create_for_order

                fos = create_for_order(conn, order_id, at=ctx.now, actor=ctx.actor)
            return result, fos, order_supply(conn, order_id)

        try:
            result, fos, supply = in_transaction(ctx.rt.engine, work)
        except LegatoError as exc:  # no such order, a final order, bad channel allocation settings
            raise Fail(exc.detail) from None
        units = sum(q for *_, q in result.allocations)
        waiting = sum(q for *_, q in result.backordered)
        note = None
        if result.allocations or result.backordered:
            note = f"allocated {units} units by {result.strategy}" + (
                f", {waiting} backordered" if waiting else ""
            )
        return StepResult.done(
            note,
            strategy=result.strategy,
            allocated=[{"line_no": ln, "location_id": loc, "sku": sku, "quantity": str(q)}
                       for ln, loc, sku, q in result.allocations],
            backordered=[{"line_no": ln, "sku": sku, "quantity": str(q)}
                         for ln, sku, q in result.backordered],
            fulfilment_orders=fos,
            **_json(supply),
        )  # fmt: skip


ACTION = Allocate()

__all__ = ["ACTION", "Allocate"]
