"""Events: past-tense facts, written to the outbox in the same transaction as the change.

Every event type the core emits, with when it fires:
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

EVENT_TYPES = {
    "order.created": "an order entered the lifecycle (any channel)",
    "order.status_changed": "the lifecycle moved one step (payload: from, to, reason, actor)",
    "order.track_changed": "the payment, fulfilment or invoice track moved (payload: track, from, to)",
    "order.updated": "editable fields changed (payload: fields)",
    "payment.received": "the payment track became paid (fires beside order.track_changed)",
    "sensor.breach": "a replenishment rule's sensor crossed its threshold and placed an order "
    "(payload: rule, device_id, metric, value, order_id)",
    "order.allocated": "stock was reserved for the order's lines (payload: allocations, backordered)",
    "order.backordered": "some of the order's units wait for stock (payload: lines)",
    "fulfilment.created": "a fulfilment order (one leg: a warehouse, store or dropship supplier) was "
    "created for the order (payload: fulfilment_order with its lines, location and kind)",
    "fulfilment.status_changed": "a fulfilment order moved (payload: fulfilment_order, from, to, reason)",
    "stock.received": "stock arrived at a location (payload: location, sku, quantity, filled backorders)",
    "quote.created": "a quote was drafted",
    "quote.status_changed": "a quote was sent, accepted, declined or expired (payload: from, to)",
    "quote.accepted": "a quote was accepted by the customer (fires beside quote.status_changed)",
    "quote.converted": "an accepted quote became an order (payload: order_id)",
}


@dataclass(frozen=True)
class DomainEvent:
    type: str  # one of EVENT_TYPES
    aggregate_type: str  # "order" | "quote" | "stock"
    aggregate_id: int | None
    payload: dict[str, Any] = field(default_factory=dict)


__all__ = ["EVENT_TYPES", "DomainEvent"]
