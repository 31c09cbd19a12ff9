"""``hold_fulfilment``: hold the event's order's in-flight fulfilment orders before they leave
(a quality flag, a return-pattern flag on the account, the customer asked to wait).

    - action: hold_fulfilment
      params: {reason: "return-pattern flag on the account", only_kinds: [ship]}

Every FO of the order in created, released, picking or packed goes ``on_hold`` with the reason
(the warehouse hears of it through ``fulfilment.status_changed``, the same feed as every move);
one already on hold stays so. An FO already dispatched (or delivered, collected, cancelled) is
not an error: the step reports it under ``not_held`` with why, and the run goes on. ``only_kinds``
limits it to ship, pickup and/or dropship FOs. See docs/workflows/actions/hold_fulfilment.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from sqlalchemy import Connection, select

from legato.domain.errors import LegatoError
from legato.domain.inventory.fulfilment import HOLDABLE, FoKind, FoStatus, fo_number
from legato.domain.order import ORDER_PREFIX, format_number
from legato.store import fulfilment as fs
from legato.store.allocation import in_transaction
from legato.store.inventory_tables import fulfilment_orders
from legato.workflow.actions import Fail, StepContext, StepResult
from legato.workflow.actions import _orders as o

KINDS = tuple(k.value for k in FoKind)


class HoldFulfilment:
    name: ClassVar[str] = "hold_fulfilment"
    max_attempts: ClassVar[int] = 5

    def check(self, params: Mapping[str, Any], path: str) -> None:
        out = o.issues()
        o.known_keys(params, ("reason", "only_kinds"), path, out)
        o.text(params, "reason", path, out, required=True, max_length=1000)
        kinds = params.get("only_kinds")
        if kinds is not None and (
            not isinstance(kinds, list) or not kinds or any(k not in KINDS for k in kinds)
        ):
            out.add(f"{path}.only_kinds", f"a list of FO kinds: {', '.join(KINDS)}", "invalid", kinds)
        out.raise_if_any()

    def run(self, ctx: StepContext, params: Mapping[str, Any]) -> StepResult:
        order_id = o.order_of(ctx)
        kinds = set(params.get("only_kinds") or KINDS)
        reason = str(params["reason"])
        number = format_number(ORDER_PREFIX, order_id)
        F = fulfilment_orders

        def work(conn: Connection) -> tuple[list[str], list[str], list[dict[str, str]]]:
            held, already, not_held = [], [], []
            legs = conn.execute(
                select(F.c.id, F.c.seq, F.c.kind, F.c.status)
                .where(F.c.order_id == order_id)
                .order_by(F.c.seq)
            ).all()
            for leg in legs:
                name = fo_number(number, leg.seq)
                status = FoStatus(leg.status)
                if leg.kind not in kinds:
                    continue
                if status in HOLDABLE:
                    fs.hold(conn, leg.id, reason, at=ctx.now, actor=ctx.actor, source="rule")
                    held.append(name)
                elif status is FoStatus.ON_HOLD:
                    already.append(name)
                else:
                    why = "already dispatched: it cannot be held" if status is FoStatus.DISPATCHED else (
                        f"{status.value}: there is nothing left to hold")  # fmt: skip
                    not_held.append({"fulfilment_order": name, "status": status.value, "why": why})
            return held, already, not_held

        try:
            held, already, not_held = in_transaction(ctx.rt.engine, work)
        except LegatoError as exc:
            raise Fail(exc.detail) from None
        parts = []
        if held:
            parts.append(f"held {', '.join(held)}")
        if not_held:
            parts.append(
                "not held: " + ", ".join(f"{x['fulfilment_order']} ({x['status']})" for x in not_held)
            )
        return StepResult.done(
            "; ".join(parts) or None, held=held, already_on_hold=already, not_held=not_held
        )


ACTION = HoldFulfilment()

__all__ = ["ACTION", "HoldFulfilment"]
