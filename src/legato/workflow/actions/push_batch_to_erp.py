"""``push_batch_to_erp``: on a schedule, send every order not yet exported to a destination as
ONE document (docs/workflows/actions/push_batch_to_erp.md).

    trigger: {schedule: "18:00"}
    actions:
      - action: push_batch_to_erp
        params: {destination: drop, filter: {channels: [B2B], statuses: [created, processing]}, max: 500}

The batch is a JSON array (HTTP, file, SFTP with format json) or one CSV (format csv); for
Odoo, one sale.order per order in a loop, each idempotent. The batch's id is the step's
idempotency key (and the file's name). The orders are claimed before the document is sent,
so a retry sends the same orders under the same key, and a real-time push of one of them
meanwhile waits its turn. Each exported order gets its ``erp_exports`` row (with the batch
id) and a timeline entry.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from legato.domain.errors import IssueCollector
from legato.domain.lifecycle import OrderStatus
from legato.workflow.actions import Fail, StepContext, StepResult
from legato.workflow.actions import _erp as e
from legato.workflow.outbound.erp import push

#: what a batch takes when no filter names statuses: orders accepted and not called off
DEFAULT_STATUSES = ("created", "processing", "completed")
MAX_ORDERS = 5000


def _filter(params: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    f = params.get("filter") or {}
    return list(f.get("statuses") or DEFAULT_STATUSES), list(f.get("channels") or ())


class PushBatchToErp:
    name: ClassVar[str] = "push_batch_to_erp"
    max_attempts: ClassVar[int] = 10

    def check(self, params: Mapping[str, Any], path: str) -> None:
        out = IssueCollector()
        e.check_params(params, path, ("filter", "max"), out)
        limit = params.get("max", 500)
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_ORDERS:
            out.add(f"{path}.max", f"max is a whole number from 1 to {MAX_ORDERS}", "invalid", limit)
        f = params.get("filter")
        if f is not None and not isinstance(f, Mapping):
            out.add(f"{path}.filter", "filter is {channels: [codes], statuses: [statuses]}", "invalid", f)
        elif f is not None:
            for key in sorted(set(f) - {"channels", "statuses"}, key=str):
                out.add(f"{path}.filter.{key}", f"unknown filter {key!r}; filters: channels, statuses",
                        "unknown_field", key)  # fmt: skip
            for key in ("channels", "statuses"):
                value = f.get(key)
                if value is not None and (not isinstance(value, list) or not value
                                          or not all(isinstance(v, str) and v for v in value)):  # fmt: skip
                    out.add(f"{path}.filter.{key}", f"{key} is a non-empty list of texts", "invalid", value)
            known = {s.value for s in OrderStatus}
            for i, status in enumerate(f.get("statuses") or []):
                if isinstance(status, str) and status not in known:
                    out.add(f"{path}.filter.statuses[{i}]", f"unknown status {status!r}; one of "
                            f"{', '.join(sorted(known))}", "invalid_status", status)  # fmt: skip
        out.raise_if_any()

    def run(self, ctx: StepContext, params: Mapping[str, Any]) -> StepResult:
        dest, key = e.destination_of(ctx, params), ctx.idempotency_key
        mine = e.exports(ctx.rt, dest.name, batch=key)
        if not mine:
            statuses, channels = _filter(params)
            found = e.candidates(ctx.rt, dest.name, statuses, channels, int(params.get("max", 500)))
            if not found:
                return StepResult.done(destination=dest.name, orders=0)
            e.claim(ctx, dest, found, batch=key)
            mine = e.exports(ctx.rt, dest.name, batch=key)
        ids = [r.order_id for r in mine if e.pending(r) == key]
        if not ids:  # sent and recorded already (the runner lost the result), or all taken meanwhile
            return StepResult.done(
                destination=dest.name, batch=key, orders=len(mine), skipped="already exported"
            )
        try:
            docs = e.payloads(ctx.rt, ids, ctx.now)
            result = push(dest, docs, key, batch=True)
        except Fail:
            e.release(ctx, dest, ids)
            raise
        except Exception:
            if ctx.attempt >= self.max_attempts:
                e.release(ctx, dest, ids)
            raise
        numbers = {oid: d["number"] for oid, d in zip(ids, docs, strict=True)}
        done = {oid: n for oid, n in numbers.items() if n not in result.failed}
        if done:
            e.complete(ctx, dest, done, result, batch=key)
        refused = [oid for oid, n in numbers.items() if n in result.failed]
        if refused:  # the others are recorded; these go back for a later batch, and a person looks
            e.release(ctx, dest, refused)
            why = "; ".join(f"{n}: {m}" for n, m in result.failed.items())
            raise Fail(f"{len(refused)} of {len(ids)} orders refused by {dest.name}: {why}")
        return StepResult.done(
            destination=dest.name, kind=dest.kind, batch=key, orders=len(done),
            references=dict(result.references), response=dict(result.response),
        )  # fmt: skip


ACTION = PushBatchToErp()

__all__ = ["ACTION", "DEFAULT_STATUSES", "MAX_ORDERS", "PushBatchToErp"]
