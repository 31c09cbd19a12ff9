"""``push_to_erp``: send the event's order to an ERP destination now (docs/workflows/actions/push_to_erp.md).

    - action: push_to_erp
      params: {destination: main}          # a name in LEGATO_ERP_DESTINATIONS; mode: realtime

Once per order and destination: an order already exported there (by this or any workflow, or
a batch) is not sent again; the step is done and says so. The ERP's answer (its order number
for an HTTP or Odoo destination, the file for a drop) is kept in ``erp_exports`` and written
on the order's timeline (``erp_exported``, by ``rule:<workflow>``). Every attempt carries
the step's idempotency key (the ``Idempotency-Key`` header, the file's name, Odoo's
``client_order_ref`` search), so a retry after a timeout or a crash does not make a second
ERP order at a receiver that honours it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from legato.domain.errors import IssueCollector
from legato.workflow.actions import Fail, Retry, StepContext, StepResult
from legato.workflow.actions import _erp as e
from legato.workflow.outbound.erp import push

MODES = ("realtime",)


class PushToErp:
    name: ClassVar[str] = "push_to_erp"
    max_attempts: ClassVar[int] = 10  # about 17 minutes of backoff before the dead letter

    def check(self, params: Mapping[str, Any], path: str) -> None:
        out = IssueCollector()
        e.check_params(params, path, ("mode",), out)
        mode = params.get("mode", "realtime")
        if mode not in MODES:
            out.add(f"{path}.mode", "mode is realtime; for orders consolidated on a schedule use the "
                    "push_batch_to_erp action", "invalid", mode)  # fmt: skip
        out.raise_if_any()

    def run(self, ctx: StepContext, params: Mapping[str, Any]) -> StepResult:
        if ctx.order_id is None:
            raise Fail(f"push_to_erp needs an order event, not {ctx.event.get('type', 'a schedule')} "
                       "(use push_batch_to_erp on a schedule)")  # fmt: skip
        oid, dest, key = ctx.order_id, e.destination_of(ctx, params), ctx.idempotency_key
        rows = e.exports(ctx.rt, dest.name, order_ids=[oid])
        if not rows or e.pending(rows[0]) is not None:
            payload = e.payloads(ctx.rt, [oid], ctx.now)[0]  # Fail: no such order
            if not rows:
                e.claim(ctx, dest, [oid], batch=None)
                rows = e.exports(ctx.rt, dest.name, order_ids=[oid])
        row = rows[0]
        holder = e.pending(row)
        if holder is None:
            return StepResult.done(
                destination=dest.name, skipped="already exported", erp_reference=row.erp_reference,
                exported_at=row.exported_at.isoformat(),
            )  # fmt: skip
        if holder != key:
            raise Retry(f"order {oid} is being exported to {dest.name} by another step ({holder})")
        try:
            result = push(dest, [payload], key)
        except Fail:
            e.release(ctx, dest, [oid])
            raise
        except Exception:
            if ctx.attempt >= self.max_attempts:  # the last attempt: let a later push take the order
                e.release(ctx, dest, [oid])
            raise
        e.complete(ctx, dest, {oid: payload["number"]}, result, batch=None)
        return StepResult.done(destination=dest.name, kind=dest.kind, erp_reference=result.erp_reference,
                               request={"order": payload["number"], "idempotency_key": key},
                               response=dict(result.response))  # fmt: skip


ACTION = PushToErp()

__all__ = ["ACTION", "MODES", "PushToErp"]
