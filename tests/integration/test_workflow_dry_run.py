"""The dry run on both databases: for an order and an event, which workflows match, which do
not and why, and which actions would run, with nothing run and nothing written."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from api_helpers import count

from legato.bootstrap import Runtime
from legato.domain.catalog import Channel, ChannelType, Product
from legato.domain.commands import LineDraft, OrderDraft, PlaceOrder, TransitionOrder
from legato.domain.errors import NotFound, ValidationFailed
from legato.services.catalog import save_channel, save_product
from legato.services.orders import place_order, transition_order
from legato.store.db import recording_statements
from legato.workflow import definitions as defs
from legato.workflow.dryrun import dry_run

TABLES = ("workflow_runs", "jobs", "job_attempts", "order_timeline", "outbox", "approvals", "orders")


def order(rt: Runtime, quantity: str = "2") -> int:
    """A guest order on channel WEB: TEA at 4.50 GBP."""
    save_channel(rt.uow(), Channel("WEB", "Web", ChannelType.ECOMMERCE, "rest", "GBP"), create=True)
    save_product(
        rt.uow(), Product("TEA", "Tea", prices={"GBP": Decimal("4.50")}, tags=("fragile",)), create=True
    )
    draft = OrderDraft("WEB", (LineDraft("TEA", Decimal(quantity)),), external_reference="DRY-1")
    return place_order(rt.uow(), PlaceOrder(draft, "test")).order.id or 0


def workflow(
    rt: Runtime,
    name: str,
    condition: str = "",
    *,
    priority: int = 0,
    trigger: str = "order.created",
    active: bool = True,
    tag: str = "seen",
) -> None:
    defs.save(
        rt,
        defs.from_document(
            {
                "name": name,
                "trigger": trigger,
                "condition": condition,
                "priority": priority,
                "active": active,
                "actions": [
                    {"action": "add_tag", "params": {"tag": tag}},
                    {"action": "set_status", "params": {"to": "processing", "reason": "rule"}},
                ],
            }
        ),
        "test",
    )


def counts(rt: Runtime) -> dict[str, int]:
    return {table: count(rt, table) for table in TABLES}


def test_every_workflow_is_listed_in_run_order_with_why_it_matches_or_not(runtime: Runtime) -> None:
    oid = order(runtime)  # total 9.00 GBP, a guest (no account)
    workflow(runtime, "small-orders", "order.total < 100", priority=5)
    workflow(runtime, "always", tag="any")
    workflow(runtime, "big-orders", "order.total > 5000", priority=50)
    workflow(runtime, "fragile", 'order.lines.exists(l, "fragile" in l.tags)', priority=5)
    workflow(runtime, "on-payment", trigger="payment.received", priority=90)
    workflow(runtime, "paused", "order.total < 100", priority=100, active=False)
    workflow(runtime, "gold-only", 'account.tier == "gold"', priority=-1)
    before = counts(runtime)

    with recording_statements(runtime.engine) as statements:
        out = dry_run(runtime, oid)

    assert [(v.name, v.reason) for v in out.verdicts] == [
        ("paused", "inactive"),
        ("on-payment", "other_trigger"),
        ("big-orders", "condition_false"),
        ("fragile", "matched"),
        ("small-orders", "matched"),
        ("always", "matched"),
        ("gold-only", "condition_error"),
    ]
    why = {v.name: v for v in out.verdicts}
    assert why["paused"].condition_result is True and "disabled" in why["paused"].why
    assert why["on-payment"].why == "is triggered by payment.received, not order.created"
    assert why["big-orders"].why == "the condition 'order.total > 5000' is false"
    assert why["always"].why == "no condition: every event matches"
    assert "'account.tier == \"gold\"' could not be evaluated" in why["gold-only"].why
    assert [s.action for s in why["fragile"].actions] == ["add_tag", "set_status"]
    assert dict(why["always"].actions[0].params) == {"tag": "any"}
    assert all(not v.actions for v in out.verdicts if not v.matched)
    assert [v.name for v in out.matched] == ["fragile", "small-orders", "always"]
    assert out.event_source == "outbox" and out.event["type"] == "order.created"
    assert out.event["payload"]["grand_total"] == "9.00"
    assert out.context["order"]["total"] == Decimal("9.00")
    # nothing run, nothing written
    assert counts(runtime) == before
    writes = [s for s in statements if s.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))]
    assert statements and not writes


def test_another_event_uses_the_orders_own_event_or_one_made_up_with_given_fields(runtime: Runtime) -> None:
    oid = order(runtime)
    workflow(runtime, "to-processing", 'event.to == "processing"', trigger="order.status_changed")

    made_up = dry_run(runtime, oid, "order.status_changed", payload={"to": "processing"})
    assert made_up.event_source == "made up"
    assert made_up.event["payload"]["to"] == "processing"
    assert [v.reason for v in made_up.verdicts] == ["matched"]

    transition_order(runtime.uow(), TransitionOrder(oid, "on_hold", "test", "address check"))
    real = dry_run(runtime, oid, "order.status_changed", name="to-processing")
    assert real.event_source == "outbox" and real.event["payload"]["to"] == "on_hold"
    assert [(v.name, v.reason) for v in real.verdicts] == [("to-processing", "condition_false")]


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"event_type": "order.exploded"}, ValidationFailed),
        ({"event_type": "schedule"}, ValidationFailed),
        ({"name": "nobody"}, NotFound),
        ({"order_id": 999_999}, NotFound),
    ],
)
def test_an_unknown_event_workflow_or_order_is_refused(
    runtime: Runtime, kwargs: dict[str, Any], error: type[Exception]
) -> None:
    oid = order(runtime)
    with pytest.raises(error):
        dry_run(runtime, **{"order_id": oid, **kwargs})
