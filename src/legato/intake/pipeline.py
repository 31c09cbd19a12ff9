"""The intake pipeline, shared by every channel.

1. **Inbox first**: the raw delivery (body, the headers that matter, channel, time,
   source) is committed before anything parses it.
2. **Verify** with the channel's secret (the adapter's scheme); a bad or missing
   signature is refused (401) and the entry is kept as ``rejected``.
3. **Parse** into intents (place, cancel, update, ignore); what cannot be read is
   ``quarantined`` with the field and the reason, and can be replayed after a fix.
4. **Enrich**: the channel's SKU map turns its SKUs into catalogue SKUs (an unknown SKU
   quarantines the delivery, or is kept as a line for review on an order put on hold,
   as the channel says); the customer is matched and the lines priced by the order
   services, per the channel's settings.
5. **Create** the order, idempotent on (channel, external reference), linked to its inbox
   entry in the same transaction; then the adapter's acknowledgement, if any, is sent.

A process that dies after step 1 leaves the entry ``processing``; ``recover`` (run at
start-up by ``legato serve`` and by ``legato inbox process``) takes it up again, and the
order's idempotency keeps it single.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy import select

from legato.bootstrap import Runtime
from legato.domain.catalog import Channel
from legato.domain.commands import ChangeTrack, EditOrder, OrderDraft, PlaceOrder, TransitionOrder
from legato.domain.errors import FieldIssue, IllegalTransition, LegatoError, NotFound, ValidationFailed
from legato.domain.lifecycle import FINAL_STATUSES, OrderStatus, allowed_targets
from legato.intake.adapters import UnknownAdapter, get_adapter
from legato.intake.base import (
    Adapter,
    CancelOrder,
    Delivery,
    Emit,
    Ignore,
    Intent,
    Placed,
    PlaceDraft,
    PullAdapter,
    Record,
    Reject,
    Reply,
    SignatureInvalid,
    UpdateOrder,
    unparseable,
)
from legato.services.orders import change_track, edit_order, place_order, transition_order
from legato.store import documents, inbox
from legato.store import tables as t
from legato.store.queries import reading
from legato.store.repositories import SqlChannels, SqlOrders

log = logging.getLogger("legato.intake")

#: headers never stored (they carry credentials); every other header is kept
_SECRET_HEADERS = frozenset({"authorization", "cookie", "x-api-key", "proxy-authorization"})
#: set LEGATO_FAULT=crash_after_inbox to make the process die right after the inbox
#: write (used by the crash test to prove recovery; never set it in production)
_FAULT = "LEGATO_FAULT"
#: how much of a delivery addressed to no channel (or an inactive one) is kept
_UNROUTED_KEPT = 64 * 1024
EDITABLE = ("priority", "tags", "notes", "billing_address", "shipping_address")


@dataclass
class Outcome:
    """What became of one delivery."""

    inbox_id: int | None
    state: str
    orders: list[dict[str, Any]] = field(default_factory=list)  # [{"id", "number", "created"}]
    reason: str | None = None
    reply: Reply | None = None
    rejected: list[Reject] = field(default_factory=list)  # parts refused while the rest went on
    documents: list[int] = field(default_factory=list)  # outbound documents stored (997, CONTRL, 855)

    @property
    def created(self) -> bool:
        return any(o["created"] for o in self.orders)


def _keep(headers: dict[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items() if k.lower() not in _SECRET_HEADERS}


def _channel(rt: Runtime, code: str) -> Channel | None:
    # a read: a read-only connection, not a unit of work (which on SQLite takes the write lock)
    with reading(rt.engine) as conn:
        return SqlChannels(conn, rt.box, datetime.now(UTC)).get_by_code(code)


def receive(
    rt: Runtime,
    channel_code: str,
    *,
    method: str,
    path: str,
    query: dict[str, str],
    headers: dict[str, str],
    body: bytes,
    source: str | None,
) -> Outcome:
    """Run one pushed delivery through the pipeline. Raises NotFound (no such channel),
    SignatureInvalid, or the validation error that quarantined it; every one of them
    leaves the delivery in the inbox (with ``inbox_id`` on the error)."""
    now = datetime.now(UTC)
    delivery = Delivery(method, path, query, {k.lower(): v for k, v in headers.items()}, body, now)
    channel = _channel(rt, channel_code)
    adapter: Adapter | None = None
    if channel is not None:
        try:
            adapter = get_adapter(channel.adapter)
        except UnknownAdapter:
            adapter = None
    if channel is None or adapter is None or not channel.active:
        why = (
            f"no channel {channel_code!r}"
            if channel is None
            else f"channel {channel_code} is inactive"
            if not channel.active
            else f"channel {channel_code} has no intake adapter {channel.adapter!r}"
        )
        if len(body) > _UNROUTED_KEPT:  # not an order of ours: keep the evidence, not 32 MB of it
            why += f" (the first {_UNROUTED_KEPT} of {len(body)} bytes are kept)"
            delivery = replace(delivery, body=body[:_UNROUTED_KEPT])
        entry_id = _store(rt, channel, channel_code, delivery, source, state=inbox.REJECTED, reason=why)
        raise NotFound(why, inbox_id=entry_id)
    reply = adapter.handshake(delivery, channel)
    if reply is not None:
        return Outcome(None, "handshake", reply=reply)
    topic, delivery_id = adapter.describe(delivery)
    entry_id = _store(rt, channel, channel_code, delivery, source, topic=topic, delivery_id=delivery_id)
    try:
        adapter.verify(delivery, channel)
    except SignatureInvalid as exc:
        inbox.finish(rt.engine, entry_id, inbox.REJECTED, reason=exc.detail)
        exc.extra["inbox_id"] = entry_id
        raise
    if os.environ.get(_FAULT) == "crash_after_inbox":
        os._exit(137)
    limit = rt.settings.max_body_bytes
    if len(body) > limit:
        too_large = unparseable(
            "$", f"the payload is {len(body)} bytes; the most an order may take is {limit}"
        )
        too_large.issues[0] = replace(too_large.issues[0], code="too_large")
        _quarantine(rt, entry_id, too_large, adapter)
        raise too_large
    return _process(rt, entry_id, channel, adapter, delivery)


def receive_canonical(
    rt: Runtime,
    channel_code: str,
    body: bytes,
    headers: dict[str, str],
    actor: str,
    draft: OrderDraft,
    source: str | None,
) -> Outcome:
    """POST /api/v1/orders: an already validated canonical order from an authenticated caller.

    The raw body goes to the inbox first like any delivery; the caller's API key stands
    in for a signature.
    """
    now = datetime.now(UTC)
    delivery = Delivery("POST", "/api/v1/orders", {}, {k.lower(): v for k, v in headers.items()}, body, now)
    channel = _channel(rt, channel_code)
    entry_id = _store(rt, channel, channel_code, delivery, source, topic="orders/create", adapter="rest")
    if channel is None:
        msg = f"no channel with code {channel_code!r}"
        inbox.finish(
            rt.engine,
            entry_id,
            inbox.QUARANTINED,
            reason=msg,
            errors=[{"path": "channel", "message": msg, "code": "unknown_channel"}],
        )
        raise ValidationFailed(
            msg, issues=[FieldIssue("channel", msg, "unknown_channel", channel_code)], inbox_id=entry_id
        )
    return _run(rt, entry_id, channel, None, delivery, [PlaceDraft(draft)], actor=actor)


def _store(
    rt: Runtime,
    channel: Channel | None,
    code: str,
    d: Delivery,
    source: str | None,
    *,
    state: str = inbox.PROCESSING,
    reason: str | None = None,
    topic: str | None = None,
    delivery_id: str | None = None,
    adapter: str | None = None,
) -> int:
    values = inbox.row(
        channel_id=channel.id if channel else None,
        channel_code=code,
        adapter=adapter or (channel.adapter if channel else None),
        method=d.method,
        path=d.path,
        query=d.query,
        headers=_keep(dict(d.headers)),
        body=d.body,
        received_at=d.received_at,
        source=source,
        topic=topic,
        delivery_id=delivery_id,
        state=state,
        reason=reason,
    )
    if state == inbox.PROCESSING:
        values["attempts"] = 1
    with rt.engine.begin() as conn:
        return inbox.store(conn, values)


def _process(rt: Runtime, entry_id: int, channel: Channel, adapter: Adapter, delivery: Delivery) -> Outcome:
    try:
        intents = adapter.parse(delivery, channel)
    except LegatoError as exc:
        _quarantine(rt, entry_id, exc, adapter)
        raise
    except Exception as exc:  # an adapter bug must not lose the delivery: keep it, replayable
        inbox.finish(rt.engine, entry_id, inbox.FAILED, reason=f"{type(exc).__name__}: {exc}")
        raise
    return _run(rt, entry_id, channel, adapter, delivery, intents, actor=f"channel:{channel.code}")


def _quarantine(rt: Runtime, entry_id: int, exc: LegatoError, adapter: Adapter | None = None) -> None:
    errors = [
        {
            "path": i.path,
            "message": i.message,
            "code": i.code,
            **({"value": str(i.value)} if i.value is not None else {}),
        }
        for i in exc.issues
    ]
    inbox.finish(rt.engine, entry_id, inbox.QUARANTINED, reason=exc.detail, errors=errors)
    exc.extra["inbox_id"] = entry_id
    # some platforms switch a webhook off after a few non-2xx answers (WooCommerce after 5):
    # their adapters ask for a 2xx here; the body still names every problem
    answer = getattr(adapter, "quarantine_status", None)
    if answer is not None:
        exc.extra["answer_status"] = answer


def _run(
    rt: Runtime,
    entry_id: int,
    channel: Channel,
    adapter: Adapter | None,
    delivery: Delivery,
    intents: list[Intent],
    *,
    actor: str,
) -> Outcome:
    outcome = Outcome(entry_id, inbox.IGNORED)
    # a document holding several orders (a file, an interchange): an order the services refuse
    # is set aside with its reasons while the others go in; a single order is refused as a whole
    several = sum(isinstance(i, PlaceDraft) for i in intents) > 1
    try:
        for intent in intents:
            try:
                _apply(rt, entry_id, channel, intent, actor, outcome, pulled=delivery.method == "PULL")
            except ValidationFailed as exc:
                if not (several and isinstance(intent, PlaceDraft)):
                    raise
                ref = intent.draft.external_reference
                issues = exc.issues or [FieldIssue("$", exc.detail, exc.code)]
                outcome.rejected.append(Reject(ref, tuple(issues)))
    except LegatoError as exc:
        _quarantine(rt, entry_id, exc, adapter)
        raise
    except Exception as exc:
        inbox.finish(rt.engine, entry_id, inbox.FAILED, reason=f"{type(exc).__name__}: {exc}")
        raise
    first_order = outcome.orders[0]["id"] if outcome.orders else None
    if outcome.rejected:
        _quarantine_parts(rt, entry_id, outcome, first_order)
    elif not (outcome.state == inbox.PROCESSED and outcome.created and len(intents) == 1):
        # a single placed order already marked its entry in its own transaction
        inbox.finish(rt.engine, entry_id, outcome.state, reason=outcome.reason, order_id=first_order)
    if adapter is not None and outcome.orders:
        _acknowledge(rt, entry_id, adapter, delivery, channel, outcome)
    return outcome


def _quarantine_parts(rt: Runtime, entry_id: int, out: Outcome, first_order: int | None) -> None:
    """Some parts were refused: the entry is quarantined with every refused part's issues (a
    replay after a fix places them; the orders already placed stay single)."""
    errors = [
        {"path": i.path, "message": i.message, "code": i.code, "reference": r.reference,
         **({"value": str(i.value)} if i.value is not None else {})}
        for r in out.rejected
        for i in r.issues
    ]  # fmt: skip
    refs = ", ".join(r.reference or "?" for r in out.rejected)
    placed = len([o for o in out.orders if o.get("number")])
    out.state = inbox.QUARANTINED
    out.reason = f"{len(out.rejected)} part(s) refused ({refs}); {placed} order(s) placed"
    inbox.finish(
        rt.engine, entry_id, inbox.QUARANTINED, reason=out.reason, errors=errors, order_id=first_order
    )


def _apply(
    rt: Runtime, entry_id: int, channel: Channel, intent: Intent, actor: str, out: Outcome, *, pulled: bool
) -> None:
    if isinstance(intent, Ignore):
        out.reason = out.reason or intent.reason
        return
    if isinstance(intent, Reject):
        out.rejected.append(intent)
        return
    if isinstance(intent, Emit):
        assert channel.id is not None
        doc_id = documents.render_and_add(
            rt.engine, channel.id, intent.kind, intent.filename, intent.render, inbox_id=entry_id
        )
        out.documents.append(doc_id)
        return
    if isinstance(intent, Record):  # facts that are not orders (IoT readings), kept by the adapter's module
        done = intent.apply(rt, channel, entry_id)
        out.rejected.extend(done.refused)
        out.orders.extend({"order": p.order, "id": p.order_id, "number": p.number, "created": p.created,
                           "currency": p.currency, "grand_total": p.grand_total,
                           "external_reference": p.external_reference} for p in done.placed)  # fmt: skip
        out.state = inbox.PROCESSED if done.fresh or done.placed else inbox.DUPLICATE
        out.reason = done.summary
        return
    if isinstance(intent, PlaceDraft):
        draft = _map_skus(channel, intent.draft)
        result = place_order(rt.uow(), PlaceOrder(draft, actor, inbox_id=entry_id))
        order = result.order
        if intent.paid and order.payment_status.value in ("unpaid", "partially_paid"):
            # paid at the channel: at creation (a till), or in a later update (a web shop)
            paid = ChangeTrack(order.id or 0, "payment", "paid", actor, "paid at the channel")
            change_track(rt.uow(), paid)
        out.orders.append(
            {
                "order": order,
                "id": order.id,
                "number": order.number,
                "created": result.created,
                "currency": order.currency,
                "grand_total": order.totals.grand_total,
                "external_reference": order.external_reference,
            }
        )
        if result.created:
            out.state = inbox.PROCESSED
        elif out.state == inbox.IGNORED:
            out.state, out.reason = inbox.DUPLICATE, f"order {order.number} exists already"
        return
    if (
        pulled
        and isinstance(intent, CancelOrder)
        and _known(rt, channel.code, intent.external_reference) is None
    ):
        # a pulled source reports its orders in order: a cancelled order never seen here was
        # cancelled before it reached us, and will never arrive (a push may still be ahead of
        # its order, so there the delivery waits in quarantine to be replayed)
        out.reason = f"order {intent.external_reference} was never placed here; nothing to cancel"
        return
    order_id = _find(rt, channel.code, intent.external_reference)
    if isinstance(intent, CancelOrder):
        out.reason = _cancel(rt, order_id, intent.reason, actor, channel.code)
    elif isinstance(intent, UpdateOrder):
        changes = {k: v for k, v in intent.changes.items() if k in EDITABLE}
        try:
            edit_order(rt.uow(), EditOrder(order_id, changes, actor, f"updated in {channel.code}"))
            out.reason = (
                "updated: " + ", ".join(sorted(changes)) if changes else "nothing Legato keeps changed"
            )
        except LegatoError as exc:
            if exc.code != "conflict":
                raise
            out.reason = f"not updated: {exc.detail}"
    out.orders.append({"id": order_id, "number": None, "created": False})
    out.state = inbox.PROCESSED


def _known(rt: Runtime, channel_code: str, external_reference: str) -> int | None:
    with reading(rt.engine) as conn:
        return SqlOrders(conn).id_by_external(channel_code, external_reference)


def _find(rt: Runtime, channel_code: str, external_reference: str) -> int:
    found = _known(rt, channel_code, external_reference)
    if found is None:
        msg = f"no order {external_reference!r} from channel {channel_code} (yet)"
        raise ValidationFailed(
            msg, issues=[FieldIssue("external_reference", msg, "unknown_order", external_reference)]
        )
    return found


def _cancel(rt: Runtime, order_id: int, reason: str, actor: str, channel_code: str) -> str:
    """Cancel when the lifecycle allows; else hold with the reason; a final order stays as it is."""
    with rt.uow() as uow:
        order = uow.orders.get(order_id)
    assert order is not None
    why = f"cancelled in {channel_code}: {reason}"
    if order.status in FINAL_STATUSES:
        return f"order is {order.status.value}; the cancellation was noted, nothing changed"
    if OrderStatus.CANCELLED in allowed_targets(order.status, order.held_from):
        transition_order(rt.uow(), TransitionOrder(order_id, "cancelled", actor, why))
        return "cancelled"
    if order.status is OrderStatus.ON_HOLD:
        return "order already on hold; the cancellation was noted"
    try:
        transition_order(rt.uow(), TransitionOrder(order_id, "on_hold", actor, why))
    except IllegalTransition:
        return f"order is {order.status.value}; it can be neither cancelled nor held"
    return "held: the order could not be cancelled in its status"


def _map_skus(channel: Channel, draft: OrderDraft) -> OrderDraft:
    """The channel's SKUs -> catalogue SKUs, through the channel's ``sku_map`` setting."""
    sku_map = channel.settings.extra.get("sku_map") or {}
    if not sku_map:
        return draft
    lines = tuple(replace(ln, sku=sku_map.get(ln.sku, ln.sku)) for ln in draft.lines)
    return replace(draft, lines=lines)


def _acknowledge(
    rt: Runtime, entry_id: int, adapter: Adapter, delivery: Delivery, channel: Channel, outcome: Outcome
) -> None:
    """The adapter's acknowledgement of each placed order (e.g. one WhatsApp confirmation per
    order message), sent after the commit; every answer is recorded on the inbox entry."""
    ack = getattr(adapter, "acknowledge", None)
    if ack is None:
        return
    records: list[dict[str, Any]] = []
    for o in outcome.orders:
        if o.get("number") is None:  # a cancel or an update: nothing to acknowledge
            continue
        placed = Placed(
            o["id"], o["number"], o["currency"], o["grand_total"], o["created"], o["external_reference"],
            o.get("order"),
        )  # fmt: skip
        call = ack(delivery, channel, placed)
        if call is None:
            continue
        if isinstance(call, Emit):
            assert channel.id is not None
            doc = documents.render_and_add(
                rt.engine,
                channel.id,
                call.kind,
                call.filename,
                call.render,
                inbox_id=entry_id,
                order_id=o["id"],
            )
            outcome.documents.append(doc)
            continue
        record: dict[str, Any] = {"method": call.method, "url": call.url, "at": datetime.now(UTC).isoformat()}
        try:
            answer = httpx.request(call.method, call.url, headers=call.headers, json=call.json, timeout=10)
            record.update(status=answer.status_code, body=answer.text[:2000])
        except httpx.HTTPError as exc:
            record.update(error=f"{type(exc).__name__}: {exc}")
            log.warning("acknowledgement failed", extra={"inbox_id": entry_id, "url": call.url})
        records.append(record)
    if records:
        inbox.record_ack(rt.engine, entry_id, records[0] if len(records) == 1 else {"calls": records})


def replay(rt: Runtime, entry_id: int) -> Outcome:
    """Run a stored delivery again (after the mapping or the catalogue was fixed)."""
    entry = inbox.get(rt.engine, entry_id)
    if entry is None:
        raise NotFound(f"no inbox entry {entry_id}")
    if entry.state not in inbox.REPLAYABLE and entry.state != inbox.PROCESSING:
        raise IllegalTransition(
            f"entry {entry_id} is {entry.state}; only {', '.join(inbox.REPLAYABLE)} entries are replayed",
            allowed=list(inbox.REPLAYABLE),
            current=entry.state,
        )
    if not inbox.claim(rt.engine, entry_id, states=inbox.REPLAYABLE):
        raise IllegalTransition(
            f"entry {entry_id} is being processed right now", allowed=[], current=inbox.PROCESSING
        )
    return _reprocess(rt, entry)


def _reprocess(rt: Runtime, entry: inbox.InboxEntry) -> Outcome:
    channel = _channel(rt, entry.channel_code)
    if channel is None:
        msg = f"no channel {entry.channel_code!r}"
        inbox.finish(rt.engine, entry.id, inbox.QUARANTINED, reason=msg)
        raise ValidationFailed(msg, issues=[FieldIssue("channel", msg, "unknown_channel")], inbox_id=entry.id)
    delivery = Delivery(entry.method, entry.path, entry.query, entry.headers, entry.body, entry.received_at)
    if entry.adapter == "rest" and entry.path == "/api/v1/orders":
        from legato.intake.canonical import OrderIn, order_draft

        try:
            body = OrderIn.model_validate_json(entry.body)
        except ValueError as exc:
            err = ValidationFailed(f"the stored body is not a canonical order: {exc}")
            _quarantine(rt, entry.id, err)
            raise err from None
        return _run(
            rt, entry.id, channel, None, delivery, [PlaceDraft(order_draft(body))], actor="system:replay"
        )
    adapter = get_adapter(entry.adapter or channel.adapter)
    if delivery.method != "PULL":
        try:
            adapter.verify(delivery, channel)
        except SignatureInvalid as exc:
            inbox.finish(rt.engine, entry.id, inbox.REJECTED, reason=exc.detail)
            exc.extra["inbox_id"] = entry.id
            raise
    return _process(rt, entry.id, channel, adapter, delivery)


def recover(rt: Runtime, *, started_before: datetime | None = None) -> list[int]:
    """Process what a crash left behind (stored, never finished); returns the entry ids.

    ``started_before``: at start-up, entries claimed before this process started belong
    to a process that is gone, however recent.
    """
    ids = inbox.pending(rt.engine, started_before=started_before)
    done = []
    for entry_id in ids:
        entry = inbox.get(rt.engine, entry_id)
        if entry is None or not inbox.claim(rt.engine, entry_id, states=(inbox.RECEIVED, inbox.PROCESSING)):
            continue
        try:
            _reprocess(rt, entry)
        except LegatoError:
            pass  # quarantined or rejected, with the reason on the entry
        except Exception:  # keep going: one bad entry must not stop the others
            log.exception("recovery of an inbox entry failed", extra={"inbox_id": entry_id})
        done.append(entry_id)
    return done


def pull_channel(rt: Runtime, code: str) -> list[Outcome]:
    """Fetch new documents of a pull channel, store them and the new cursor in one
    transaction, then process each. A crash before the commit re-fetches; after it, the
    entries are recovered; the orders' idempotency keeps every order single."""
    channel = _channel(rt, code)
    if channel is None:
        raise NotFound(f"no channel {code!r}")
    adapter = get_adapter(channel.adapter)
    fetch = getattr(adapter, "fetch", None)
    if fetch is None:
        raise ValidationFailed(f"channel {code} ({channel.adapter}) is not a pull channel")
    pull: PullAdapter = adapter  # type: ignore[assignment]
    cursor = inbox.get_state(rt.engine, channel.id or 0, "cursor")
    documents, new_cursor = pull.fetch(channel, cursor)
    now = datetime.now(UTC)
    entries: list[tuple[int, Delivery]] = []
    with rt.engine.begin() as conn:
        for doc in documents:
            d = Delivery("PULL", f"pull:{code}", {}, {}, doc, now)
            topic, delivery_id = adapter.describe(d)
            values = inbox.row(
                channel_id=channel.id,
                channel_code=code,
                adapter=channel.adapter,
                method="PULL",
                path=d.path,
                query={},
                headers={},
                body=doc,
                received_at=now,
                source="pull",
                topic=topic,
                delivery_id=delivery_id,
                state=inbox.PROCESSING,
            )
            values["attempts"] = 1
            entries.append((inbox.store(conn, values), d))
        if new_cursor != cursor:
            inbox.set_state(conn, channel.id or 0, "cursor", new_cursor)
    outcomes = []
    for entry_id, d in entries:
        try:
            outcomes.append(_process(rt, entry_id, channel, adapter, d))
        except LegatoError as exc:
            outcomes.append(Outcome(entry_id, inbox.QUARANTINED, reason=exc.detail))
    return outcomes


def pull_channels(rt: Runtime) -> None:
    """Pull every active pull channel whose interval has passed (run by the scheduler)."""
    with rt.engine.connect() as conn:
        codes = list(conn.execute(select(t.channels.c.code).where(t.channels.c.active.is_(True))).scalars())
    for code in codes:
        channel = _channel(rt, code)
        if channel is None or not hasattr(_safe_adapter(channel.adapter), "fetch"):
            continue
        every = int(channel.settings.extra.get("pull_interval_seconds", 300))
        last = inbox.get_state(rt.engine, channel.id or 0, "last_pull")
        now = datetime.now(UTC)
        if last and (now - datetime.fromisoformat(last)).total_seconds() < every:
            continue
        with rt.engine.begin() as conn:
            inbox.set_state(conn, channel.id or 0, "last_pull", now.isoformat())
        try:
            pull_channel(rt, code)
        except Exception:  # one failing source must not stop the others; the cursor was kept
            log.exception("pull failed", extra={"channel": code})


def _safe_adapter(name: str) -> Adapter | None:
    try:
        return get_adapter(name)
    except (UnknownAdapter, ImportError):
        return None


__all__ = [
    "Outcome",
    "pull_channel",
    "pull_channels",
    "receive",
    "receive_canonical",
    "recover",
    "replay",
]
