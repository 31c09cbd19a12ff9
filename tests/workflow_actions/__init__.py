"""Workflow actions and helpers for the engine's tests: registered into ``REGISTRY`` at test
time (``register()``), never shipped in ``src``.

``python -m tests.workflow_actions worker ...`` runs the ``legato`` command with these actions
registered: the crash and multi-worker tests start workers that way.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from legato.bootstrap import Runtime
from legato.domain.catalog import Channel, ChannelType, Product
from legato.domain.commands import LineDraft, OrderDraft, PlaceOrder
from legato.services.catalog import save_channel, save_product
from legato.services.orders import place_order
from legato.workflow.actions import REGISTRY
from legato.workflow.definitions import from_document, save

ACTIONS = ("flaky", "broken", "explode", "pause", "post")


def register() -> None:
    for name in ACTIONS:
        REGISTRY.setdefault(name, f"tests.workflow_actions.{name}")


def workflow(rt: Runtime, name: str, trigger: Any, *steps: tuple[str, dict[str, Any]], **extra: Any) -> None:
    """Save a workflow, checked as the API checks it: ``workflow(rt, "w", "order.created", ("noop", {}))``."""
    register()
    doc = {
        "name": name,
        "trigger": trigger,
        "actions": [{"action": a, "params": p} for a, p in steps],
        **extra,
    }
    save(rt, from_document(doc), "test")


def shop(rt: Runtime) -> None:
    save_channel(rt.uow(), Channel("WEB", "Web", ChannelType.ECOMMERCE, "rest", "GBP"), create=True)
    save_product(rt.uow(), Product("TEA", "Tea", prices={"GBP": Decimal("4.50")}), create=True)


def order(rt: Runtime, ref: str, quantity: int = 1) -> int:
    """Place an order on WEB (``shop`` first): its id; its order.created event is in the outbox."""
    draft = OrderDraft("WEB", (LineDraft("TEA", Decimal(quantity)),), external_reference=ref)
    placed = place_order(rt.uow(), PlaceOrder(draft, "test")).order
    assert placed.id is not None
    return placed.id
