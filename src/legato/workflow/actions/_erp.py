"""What the ERP actions share: the destination, the orders' payloads, and the ``erp_exports``
ledger that makes a push happen once per order and destination.

An export is *claimed* before anything is sent: a row (order, destination) marked pending
with the step's idempotency key, committed on its own. The unique (order, destination) pair
decides between two steps that want the same order (a real-time push and a batch, two
batches), and a batch's retry finds the very orders its first attempt claimed, so the
document it re-sends under the same key is the same document. When the receiver answers,
the row is completed (reference, response) with a timeline entry on the order, in one
transaction. A step that can never succeed releases its claims, so a later push may take
the orders; a crash leaves them claimed by the step, whose retry completes them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Row, bindparam, delete, exists, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from legato.domain.catalog import Account, Channel
from legato.domain.errors import FieldIssue, IssueCollector, ValidationFailed
from legato.store import tables as t
from legato.store.db import READ_ONLY, write_lock
from legato.store.repositories import SqlAccounts, SqlChannels, load_order
from legato.store.workflow_tables import erp_exports as _E
from legato.store.workflow_tables import jobs as _J
from legato.workflow.actions import Fail, StepContext
from legato.workflow.outbound.erp import Destination, PushResult, destination
from legato.workflow.outbound.payload import PAYLOAD_VERSION, order_payload

if TYPE_CHECKING:
    from legato.bootstrap import Runtime

TIMELINE_KIND = "erp_exported"


# --- parameters -----------------------------------------------------------------------------


def check_params(params: Mapping[str, Any], path: str, known: Iterable[str], out: IssueCollector) -> None:
    """Unknown parameters and the destination's name (a text; whether it is configured is
    known only where the settings are, at run time)."""
    names = sorted({"destination", *known})
    for key in sorted(set(params) - set(names), key=str):
        out.add(f"{path}.{key}", f"unknown parameter {key!r}; this action takes {', '.join(names)}",
                "unknown_field", key)  # fmt: skip
    name = params.get("destination")
    if name is None:
        out.add(
            f"{path}.destination", "destination is required: a name in LEGATO_ERP_DESTINATIONS", "required"
        )
    elif not isinstance(name, str) or not name.strip() or len(name) > 60:
        out.add(f"{path}.destination", "destination is the name of an ERP destination", "invalid", name)


def destination_of(ctx: StepContext, params: Mapping[str, Any]) -> Destination:
    """The step's destination; a name not (or badly) configured dead-letters the step, named."""
    try:
        return destination(ctx.rt.settings.erp_destinations, str(params["destination"]))
    except ValidationFailed as exc:
        raise Fail(exc.detail) from None


def bad(path: str, message: str, value: Any = None) -> ValidationFailed:
    return ValidationFailed(message, issues=[FieldIssue(path, message, "invalid", value)])


# --- reading ----------------------------------------------------------------------------------


def _reader(rt: Runtime) -> Connection:
    return rt.engine.connect().execution_options(**{READ_ONLY: True})


def job_id(rt: Runtime, key: str) -> int | None:
    """The step's job row, when the step runs under the runner (not when called directly)."""
    with _reader(rt) as conn:
        found = conn.execute(select(_J.c.id).where(_J.c.idempotency_key == key)).scalar_one_or_none()
    return int(found) if found is not None else None


def payloads(rt: Runtime, order_ids: Sequence[int], now: datetime) -> list[dict[str, Any]]:
    """The version-1 payload of each order, in the order given (one read transaction)."""
    accounts: dict[str, Account | None] = {}
    channels: dict[str, Channel | None] = {}
    out = []
    with _reader(rt) as conn:
        accs, chans = SqlAccounts(conn, now), SqlChannels(conn, rt.box, now)
        for oid in order_ids:
            order = load_order(conn, oid)
            if order is None:
                raise Fail(f"no order {oid}")
            code = order.account_code
            if code and code not in accounts:
                accounts[code] = accs.get_by_code(code)
            if order.channel_code not in channels:
                channels[order.channel_code] = chans.get_by_code(order.channel_code, secrets=False)
            out.append(
                order_payload(order, accounts.get(code) if code else None, channels[order.channel_code])
            )
    return out


def candidates(
    rt: Runtime, dest: str, statuses: Sequence[str], channels: Sequence[str], limit: int
) -> list[int]:
    """Orders not exported to ``dest`` yet (nor claimed), oldest first."""
    o = t.orders
    query = select(o.c.id).where(
        o.c.status.in_(statuses),
        ~exists().where(_E.c.order_id == o.c.id, _E.c.destination == dest),
    )
    if channels:
        query = query.join(t.channels, t.channels.c.id == o.c.channel_id).where(
            t.channels.c.code.in_(channels)
        )
    with _reader(rt) as conn:
        return [int(i) for i in conn.execute(query.order_by(o.c.id).limit(limit)).scalars()]


def exports(
    rt: Runtime, dest: str, *, order_ids: Sequence[int] = (), batch: str | None = None
) -> list[Row[Any]]:
    """The ledger rows for some orders, or for one batch, at ``dest``."""
    query = select(_E).where(_E.c.destination == dest)
    query = (
        query.where(_E.c.batch == batch) if batch is not None else query.where(_E.c.order_id.in_(order_ids))
    )
    with _reader(rt) as conn:
        return list(conn.execute(query.order_by(_E.c.order_id)))


def pending(row: Row[Any]) -> str | None:
    """The key of the step that claimed this export and has not completed it, if any."""
    response = row.response
    return str(response["pending"]) if isinstance(response, dict) and "pending" in response else None


# --- writing ----------------------------------------------------------------------------------


def claim(ctx: StepContext, dest: Destination, order_ids: Sequence[int], batch: str | None) -> None:
    """Mark the orders as being exported by this step; orders someone else holds stay theirs."""
    if not order_ids:
        return
    rt, key = ctx.rt, ctx.idempotency_key
    job = job_id(rt, key)
    rows = [
        {"order_id": oid, "destination": dest.name, "kind": dest.kind, "payload_version": PAYLOAD_VERSION,
         "batch": batch, "erp_reference": None, "job_id": job, "exported_at": ctx.now,
         "response": {"pending": key}}
        for oid in order_ids
    ]  # fmt: skip
    make = pg_insert if rt.engine.dialect.name == "postgresql" else sqlite_insert
    statement = make(_E).on_conflict_do_nothing(index_elements=["order_id", "destination"])
    with write_lock(rt.engine), rt.engine.begin() as conn:
        conn.execute(statement, rows)


def release(ctx: StepContext, dest: Destination, order_ids: Sequence[int]) -> None:
    """Give up this step's claims (it can never succeed): a later push may take the orders."""
    if not order_ids:
        return
    rt = ctx.rt
    with write_lock(rt.engine), rt.engine.begin() as conn:
        for row in conn.execute(
            select(_E).where(_E.c.destination == dest.name, _E.c.order_id.in_(order_ids))
        ):
            if pending(row) == ctx.idempotency_key:
                conn.execute(delete(_E).where(_E.c.id == row.id))


def complete(ctx: StepContext, dest: Destination, done: Mapping[int, str], result: PushResult,
             batch: str | None) -> None:  # fmt: skip
    """Record the answer for each exported order (id -> number) and put it on its timeline."""
    rt = ctx.rt
    summary, job = dict(result.response), job_id(rt, ctx.idempotency_key)
    rows: list[dict[str, Any]] = []
    for oid, number in done.items():
        ref = result.references.get(number)  # a batch's own reference is not any order's number
        rows.append({"oid": oid, "ref": ref, "resp": summary, "at": ctx.now, "job": job})
    where = f"{dest.name} ({dest.kind})" + (f", batch {batch}" if batch else "")
    with write_lock(rt.engine), rt.engine.begin() as conn:
        conn.execute(
            update(_E)
            .where(_E.c.order_id == bindparam("oid"), _E.c.destination == dest.name)
            .values(erp_reference=bindparam("ref"), response=bindparam("resp"), exported_at=bindparam("at"),
                    job_id=bindparam("job")),
            rows,
        )  # fmt: skip
        conn.execute(insert(t.order_timeline), [
            {"order_id": r["oid"], "at": ctx.now, "actor": ctx.actor, "kind": TIMELINE_KIND,
             "reason": f"exported to {where}" + (f": ERP reference {r['ref']}" if r["ref"] else ""),
             "from_value": None, "to_value": r["ref"][:40] if r["ref"] else None,
             "data": {"destination": dest.name, "kind": dest.kind, "erp_reference": r["ref"], "batch": batch,
                      "idempotency_key": ctx.idempotency_key}}
            for r in rows
        ])  # fmt: skip


def note_on_order(ctx: StepContext, order_id: int, kind: str, reason: str, data: Mapping[str, Any]) -> None:
    """One timeline entry on an order, as the rule."""
    with write_lock(ctx.rt.engine), ctx.rt.engine.begin() as conn:
        row = {"order_id": order_id, "at": ctx.now, "actor": ctx.actor, "kind": kind, "reason": reason,
               "data": dict(data)}  # fmt: skip
        conn.execute(insert(t.order_timeline).values(**row))


__all__ = [
    "TIMELINE_KIND",
    "bad",
    "candidates",
    "check_params",
    "claim",
    "complete",
    "destination_of",
    "exports",
    "job_id",
    "note_on_order",
    "payloads",
    "pending",
    "release",
]
