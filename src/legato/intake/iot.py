"""IoT processing: store readings once each, run the replenishment rules, place one order
per breach; and the rules' management (add, change, read).

``record_readings`` does one delivery in one transaction: the rules its readings concern
are locked first (in id order), then each reading, oldest first, is stored and evaluated
under a savepoint. A breach places its order through the order services *inside* that
transaction (``store.iot.NestedUnitOfWork``), with the reference ``iot:<rule>:<breach>``,
and moves the rule's state with it: either the reading, the order and the disarmed rule
are all committed, or none of them. A reading whose order cannot be placed (an unknown
account or SKU) is refused with the reason and not stored, so the rule stays armed: the
next reading past the threshold, or a replay of the delivery after the fix, orders.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from legato.bootstrap import Runtime
from legato.domain.catalog import Channel
from legato.domain.commands import LineDraft, OrderDraft, PlaceOrder
from legato.domain.errors import FieldIssue, IssueCollector, LegatoError, NotFound
from legato.domain.events import DomainEvent
from legato.domain.matching import CustomerRef
from legato.domain.replenishment import Action, Decision, Reading, Rule, check_rule, evaluate
from legato.intake.base import Placed, Recorded, Reject
from legato.services.orders import place_order
from legato.store import iot as store
from legato.store.queries import reading as read_only
from legato.store.uow import SqlUnitOfWork

ADAPTER = "iot"


@dataclass
class _Tally:
    readings: int = 0
    fresh: int = 0
    placed: list[Placed] = field(default_factory=list)
    refused: list[Reject] = field(default_factory=list)
    suppressed: int = 0
    unwatched: set[str] = field(default_factory=set)

    def result(self) -> Recorded:
        known = self.readings - self.fresh - len(self.refused)
        parts = [f"{self.readings} reading(s): {self.fresh} new, {known} already recorded"]
        if self.placed:
            parts.append(f"{len(self.placed)} order(s) placed ({', '.join(p.number for p in self.placed)})")
        if self.suppressed:
            parts.append(f"{self.suppressed} breach(es) while the rule's last order is open")
        if self.refused:
            parts.append(f"{len(self.refused)} refused")
        if self.unwatched:
            parts.append(f"no rule for {', '.join(sorted(self.unwatched))}")
        return Recorded("; ".join(parts), self.fresh, tuple(self.placed), tuple(self.refused))


def record_readings(rt: Runtime, channel: Channel, readings: list[Reading], inbox_id: int | None) -> Recorded:
    """Store the readings (each once) and run the channel's rules on the new ones; see the
    module's text for the transaction. Returns what was kept, ordered and refused."""
    assert channel.id is not None
    tally = _Tally(readings=len(readings))
    ordered = sorted(readings, key=lambda r: (r.at, r.device_id, r.metric))
    with rt.uow() as uow:
        conn = uow.conn
        assert conn is not None
        rules: dict[tuple[str, str], list[store.StoredRule]] = {}
        for s in store.lock_rules(conn, channel.id, {(r.device_id, r.metric) for r in readings}):
            rules.setdefault((s.rule.device_id, s.rule.metric), []).append(s)
        for r in ordered:
            key = (r.device_id, r.metric)
            savepoint = conn.begin_nested()
            try:
                fresh = store.add_reading(conn, channel.id, r, inbox_id=inbox_id, received_at=uow.now())
                after = _apply_rules(uow, channel, rules.get(key, []), r, inbox_id) if fresh else []
            except LegatoError as exc:
                savepoint.rollback()
                tally.refused.append(_refusal(r, exc))
                continue
            savepoint.commit()
            if not fresh:
                continue
            tally.fresh += 1
            if key not in rules:
                tally.unwatched.add(f"{r.device_id}/{r.metric}")
                continue
            rules[key] = [step.rule for step in after]
            tally.placed.extend(step.placed for step in after if step.placed is not None)
            tally.suppressed += sum(step.action is Action.SUPPRESSED for step in after)
        uow.commit()
    return tally.result()


@dataclass(frozen=True)
class _Step:
    """One rule's move on one reading: the rule after it, what it did, the order it placed."""

    rule: store.StoredRule
    action: Action
    placed: Placed | None = None


def _apply_rules(
    uow: SqlUnitOfWork, channel: Channel, rules: list[store.StoredRule], r: Reading, inbox_id: int | None
) -> list[_Step]:
    """Evaluate each rule on the reading, place the orders, write the new states (in the
    reading's savepoint: the caller takes the steps as done only once it holds)."""
    assert uow.conn is not None
    steps = []
    for s in rules:
        decision = evaluate(s.rule, s.state, r)
        if decision.action in (Action.STALE, Action.INACTIVE):
            steps.append(_Step(s, decision.action))
            continue
        placed = (
            _order(uow, channel, s.rule, decision, r, inbox_id) if decision.action is Action.ORDER else None
        )
        order_id = placed.order_id if placed else s.open_order_id
        store.save_state(uow.conn, s.id, decision.state, open_order_id=order_id, now=uow.now())
        steps.append(_Step(replace(s, state=decision.state, open_order_id=order_id), decision.action, placed))
    return steps


def _order(
    uow: SqlUnitOfWork, channel: Channel, rule: Rule, decision: Decision, r: Reading, inbox_id: int | None
) -> Placed:
    assert decision.quantity is not None
    reported = f"{r.metric} {r.value}{f' {r.unit}' if r.unit else ''}"
    past = f"{rule.comparison.value} {rule.threshold}"
    draft = OrderDraft(
        channel_code=channel.code,
        lines=(LineDraft(rule.sku, decision.quantity),),
        external_reference=f"iot:{rule.code}:{decision.state.breaches}",
        customer=CustomerRef(code=rule.account_code),
        shipping_address=rule.shipping_address,
        tags=("iot", f"device:{r.device_id}"),
        notes=f"Replenishment by rule {rule.code}: device {r.device_id} reported {reported} "
        f"at {r.at.isoformat()}, {past}.",
    )
    why = f"breach {decision.state.breaches}: {reported} is {past}"
    cmd = PlaceOrder(draft, f"iot-rule:{rule.code}", why, inbox_id)
    result = place_order(store.NestedUnitOfWork(uow), cmd)
    o = result.order
    assert o.id is not None and o.number is not None
    if result.created:  # workflows may act on the breach itself (trigger sensor.breach)
        payload = {"rule": rule.code, "device_id": r.device_id, "metric": r.metric, "value": str(r.value),
                   "unit": r.unit, "at": r.at.isoformat(), "threshold": str(rule.threshold),
                   "comparison": rule.comparison.value, "order_id": o.id, "number": o.number,
                   "channel": channel.code}  # fmt: skip
        uow.outbox.add([DomainEvent("sensor.breach", "order", o.id, payload)], uow.now())
    return Placed(o.id, o.number, o.currency, o.totals.grand_total, result.created, o.external_reference, o)


def _refusal(r: Reading, exc: LegatoError) -> Reject:
    """A reading whose order could not be placed: the reason, for the quarantined entry."""
    where = f"{r.device_id}/{r.metric} at {r.at.isoformat()}"
    issues = exc.issues or [FieldIssue("$", exc.detail, exc.code)]
    return Reject(where, tuple(
        FieldIssue(i.path, f"the replenishment order could not be placed: {i.message}", i.code, i.value)
        for i in issues
    ))  # fmt: skip


# --- rules ---------------------------------------------------------------------------

#: the settings PATCH may change (and ``armed``: re-arm by hand after cancelling an order)
CHANGEABLE = ("device_id", "metric", "comparison", "threshold", "rearm", "account_code", "sku",
              "quantity_mode", "quantity", "par_level", "shipping_address", "active")  # fmt: skip


def add_rule(rt: Runtime, channel_code: str, rule: Rule) -> store.StoredRule:
    """A new rule, armed; 422 naming every field that is wrong or refers to nothing."""
    check_rule(rule)
    with rt.uow() as uow:
        assert uow.conn is not None
        channel_id = _check_references(uow, channel_code, rule)
        store.insert_rule(uow.conn, channel_id, rule, uow.now())
        uow.commit()
    return get_rule(rt, rule.code)


def change_rule(rt: Runtime, code: str, changes: dict[str, Any]) -> store.StoredRule:
    """Change a rule's settings (``channel`` too) and, with ``armed``, its state."""
    with rt.uow() as uow:
        assert uow.conn is not None
        found = store.get_rule(uow.conn, code, for_update=True)
        if found is None:
            raise NotFound(f"no replenishment rule {code!r}")
        rule = check_rule(replace(found.rule, **{k: v for k, v in changes.items() if k in CHANGEABLE}))
        channel_code = changes.get("channel") or found.channel_code
        channel_id = _check_references(uow, channel_code, rule)
        # another device or metric: the last reading seen was of the old one
        moved = (rule.device_id, rule.metric) != (found.rule.device_id, found.rule.metric)
        store.update_rule(uow.conn, found.id, rule, channel_id=channel_id, armed=changes.get("armed"),
                          forget_last_reading=moved, now=uow.now())  # fmt: skip
        uow.commit()
    return get_rule(rt, code)


def get_rule(rt: Runtime, code: str) -> store.StoredRule:
    with read_only(rt.engine) as conn:
        found = store.get_rule(conn, code)
    if found is None:
        raise NotFound(f"no replenishment rule {code!r}")
    return found


def _check_references(uow: SqlUnitOfWork, channel_code: str, rule: Rule) -> int:
    """The channel's id, once the channel (an ``iot`` one), the account and the SKU exist."""
    found = IssueCollector()
    channel = uow.channels.get_by_code(channel_code, secrets=False)
    if channel is None or channel.id is None:
        found.add("channel", f"no channel {channel_code!r}", "unknown_channel", channel_code)
    elif channel.adapter != ADAPTER:
        found.add("channel", f"channel {channel_code} takes {channel.adapter!r} deliveries, not IoT readings",
                  "not_an_iot_channel", channel_code)  # fmt: skip
    if uow.accounts.get_by_code(rule.account_code) is None:
        found.add("account", f"no account {rule.account_code!r}", "unknown_account", rule.account_code)
    if not uow.products.get_many([rule.sku]):
        found.add("sku", f"no product {rule.sku!r} in the catalogue", "unknown_sku", rule.sku)
    found.raise_if_any()
    assert channel is not None and channel.id is not None
    return channel.id


__all__ = ["CHANGEABLE", "add_rule", "change_rule", "get_rule", "record_readings"]
