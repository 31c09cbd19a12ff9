"""``create_fulfilment_orders``: group the event's order's allocations that are in no fulfilment
order yet into FOs, one per location (a supplier's is a dropship FO, a click & collect order's a
pickup FO), each announced by a ``fulfilment.created`` event.

    - action: create_fulfilment_orders

No parameters. A retried step finds nothing left to group and changes nothing. An order with no
allocation yet gets no FO (run ``allocate`` first, or let it create them). See
docs/workflows/actions/create_fulfilment_orders.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from sqlalchemy import Connection

from legato.domain.errors import LegatoError
from legato.store.allocation import in_transaction
from legato.store.fulfilment import create_for_order
from legato.store.fulfilment_payload import payloads
from legato.workflow.actions import Fail, StepContext, StepResult
from legato.workflow.actions import _orders as o


class CreateFulfilmentOrders:
    name: ClassVar[str] = "create_fulfilment_orders"
    max_attempts: ClassVar[int] = 5

    def check(self, params: Mapping[str, Any], path: str) -> None:
        out = o.issues()
        o.known_keys(params, (), path, out)
        out.raise_if_any()

    def run(self, ctx: StepContext, params: Mapping[str, Any]) -> StepResult:
        order_id = o.order_of(ctx)

        def work(conn: Connection) -> list[dict[str, Any]]:
            ids = create_for_order(conn, order_id, at=ctx.now, actor=ctx.actor)
            docs = payloads(conn, ids)
            return [{"id": i, "number": docs[i]["number"], "location": docs[i]["location"],
                     "kind": docs[i]["kind"]} for i in ids]  # fmt: skip

        try:
            made = in_transaction(ctx.rt.engine, work)
        except LegatoError as exc:  # no such order
            raise Fail(exc.detail) from None
        note = None
        if made:
            note = "fulfilment orders " + ", ".join(f"{f['number']} ({f['location']})" for f in made)
        return StepResult.done(note, fulfilment_orders=made)


ACTION = CreateFulfilmentOrders()

__all__ = ["ACTION", "CreateFulfilmentOrders"]
