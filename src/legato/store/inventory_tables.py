"""Inventory, allocation and fulfilment (migration 0014): fulfilment locations, stock per SKU per
location with its movement ledger and FIFO receipt layers, reservations (allocations of order
lines to locations), backorders, and fulfilment orders with their lines and status events.
Registered on ``tables.metadata`` (imported at the end of ``tables``).

The invariant the store keeps, under row locks on ``stock_levels``: for every (location, SKU),
``on_hand`` and ``reserved`` equal the sums of the ledger's deltas, ``0 <= reserved <= on_hand``,
and available to promise is ``on_hand - reserved`` (less any safety stock a rule holds back).
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from legato.store.tables import Id, metadata
from legato.store.types import Dec, JSONDoc, UTCDateTime

#: quantities: the same precision as an order line's quantity
Qty = Dec(18, 4)

locations = Table(
    "locations",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("code", String(32), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("kind", String(20), nullable=False),  # warehouse | store | 3pl | supplier
    Column("address", JSONDoc, nullable=True),  # {"line1", "city", "postcode", "country", ...}
    Column("latitude", Dec(9, 6), nullable=True),
    Column("longitude", Dec(9, 6), nullable=True),
    Column("priority", Integer, nullable=False),  # higher is preferred
    Column("channels", JSONDoc, nullable=False),  # channel codes it may serve; [] = every channel
    Column("regions", JSONDoc, nullable=False),  # ship-to regions (country codes) it serves; [] = all
    Column("ships", Boolean, nullable=False),  # False: sells in person only, never in shipping ATP
    Column("pickup", Boolean, nullable=False),  # True: a click & collect point
    Column("safety_stock", Qty, nullable=False),  # held back from every channel's ATP, per SKU
    # per-channel ATP rules: {"<channel code>": {"safety_stock": "2", "excluded": true}}
    Column("atp_rules", JSONDoc, nullable=False),
    Column("settings", JSONDoc, nullable=False),  # e.g. a supplier's payload settings
    Column("active", Boolean, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
)

stock_levels = Table(
    "stock_levels",
    metadata,
    Column("location_id", Id, ForeignKey("locations.id"), primary_key=True),
    Column("sku", String(64), primary_key=True),
    Column("on_hand", Qty, nullable=False),
    Column("reserved", Qty, nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Index("ix_stock_levels_sku", "sku"),
)

stock_movements = Table(
    "stock_movements",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("location_id", Id, ForeignKey("locations.id"), nullable=False),
    Column("sku", String(64), nullable=False),
    # receipt | adjustment | reservation | release | shipment | return
    Column("kind", String(20), nullable=False),
    Column("on_hand_delta", Qty, nullable=False),
    Column("reserved_delta", Qty, nullable=False),
    Column("order_id", Id, nullable=True),
    Column("fulfilment_order_id", Id, nullable=True),
    Column("reference", String(200), nullable=True),  # a receipt's document, a count's reference
    Column("unit_cost", Dec(), nullable=True),  # a receipt's cost; a shipment's FIFO cost
    Column("actor", String(120), nullable=False),
    Column("reason", Text, nullable=True),
    Column("at", UTCDateTime(), nullable=False),
    Column("key", String(200), nullable=True, unique=True),  # idempotency: the same receipt once
    Index("ix_stock_movements_location_id_sku_id", "location_id", "sku", "id"),
    Index("ix_stock_movements_order_id", "order_id"),
)

#: FIFO cost layers: each receipt is a layer; shipments and downward adjustments consume the
#: oldest layer first, so older stock (and its cost) leaves first
stock_layers = Table(
    "stock_layers",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("location_id", Id, ForeignKey("locations.id"), nullable=False),
    Column("sku", String(64), nullable=False),
    Column("received_at", UTCDateTime(), nullable=False),
    Column("quantity", Qty, nullable=False),
    Column("remaining", Qty, nullable=False),
    Column("unit_cost", Dec(), nullable=True),
    Column("movement_id", Id, nullable=True),
    Index("ix_stock_layers_location_id_sku_received_at", "location_id", "sku", "received_at", "id"),
)

#: a dropship supplier's catalogue: the SKUs it supplies (no stock is kept for them)
supplier_items = Table(
    "supplier_items",
    metadata,
    Column("location_id", Id, ForeignKey("locations.id", ondelete="CASCADE"), primary_key=True),
    Column("sku", String(64), primary_key=True),
    Column("supplier_sku", String(64), nullable=True),
    Column("cost", Dec(), nullable=True),
    Column("currency", String(3), nullable=True),
    Index("ix_supplier_items_sku", "sku"),
)

#: an order line's units reserved at (or, for a supplier, sent to) one location
allocations = Table(
    "allocations",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("order_id", Id, ForeignKey("orders.id", ondelete="CASCADE"), nullable=False),
    Column("line_no", Integer, nullable=False),
    Column("location_id", Id, ForeignKey("locations.id"), nullable=False),
    Column("sku", String(64), nullable=False),
    Column("quantity", Qty, nullable=False),  # still reserved (shipped and released units leave)
    Column("shipped", Qty, nullable=False),
    Column("strategy", String(40), nullable=False),  # what decided it; "dropship" for a supplier
    Column("fulfilment_order_id", Id, nullable=True),  # the FO it went into, once split
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Index("ix_allocations_order_id", "order_id"),
)

#: units of an order line waiting for stock, filled in priority sequence as stock arrives
backorders = Table(
    "backorders",
    metadata,
    Column("order_id", Id, ForeignKey("orders.id", ondelete="CASCADE"), primary_key=True),
    Column("line_no", Integer, primary_key=True),
    Column("sku", String(64), nullable=False),
    Column("quantity", Qty, nullable=False),  # still waiting
    Column("location_id", Id, ForeignKey("locations.id"), nullable=True),  # pickup: only there
    Column("priority", Integer, nullable=False),  # the order's, when it was backordered
    Column("tier", String(40), nullable=True),  # the account's
    Column("created_at", UTCDateTime(), nullable=False),  # the order's age
    Index("ix_backorders_sku_priority", "sku", "priority", "created_at"),
)

fulfilment_orders = Table(
    "fulfilment_orders",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("order_id", Id, ForeignKey("orders.id", ondelete="CASCADE"), nullable=False),
    Column("seq", Integer, nullable=False),  # 1, 2 ... within the order: SO-000012-F2
    Column("location_id", Id, ForeignKey("locations.id"), nullable=False),
    Column("kind", String(20), nullable=False),  # ship | pickup | dropship
    # created | released | picking | packed | dispatched | delivered | collected | cancelled | on_hold
    Column("status", String(20), nullable=False),
    Column("held_from", String(20), nullable=True),
    Column("priority", Integer, nullable=False),
    Column("channel_id", Id, nullable=False),
    Column("vendor", String(120), nullable=True),  # a marketplace vendor or a supplier's name
    Column("shipping_address", JSONDoc, nullable=True),
    Column("external_ref", String(200), nullable=True),  # the warehouse's or supplier's reference
    Column("tracking", JSONDoc, nullable=False),  # [{"carrier", "number", "url"}]
    Column("reason", Text, nullable=True),  # why it is held or cancelled
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    UniqueConstraint("order_id", "seq"),
    Index("ix_fulfilment_orders_status_id", "status", "id"),
    Index("ix_fulfilment_orders_location_id_status", "location_id", "status"),
)

fulfilment_lines = Table(
    "fulfilment_lines",
    metadata,
    Column(
        "fulfilment_order_id", Id, ForeignKey("fulfilment_orders.id", ondelete="CASCADE"), primary_key=True
    ),
    Column("line_no", Integer, primary_key=True),
    Column("order_line_no", Integer, nullable=False),
    Column("allocation_id", Id, nullable=True),
    Column("sku", String(64), nullable=False),
    Column("quantity", Qty, nullable=False),
    Column("shipped", Qty, nullable=False),
)

fulfilment_events = Table(
    "fulfilment_events",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column(
        "fulfilment_order_id", Id, ForeignKey("fulfilment_orders.id", ondelete="CASCADE"), nullable=False
    ),
    Column("at", UTCDateTime(), nullable=False),
    Column("actor", String(120), nullable=False),
    Column("source", String(20), nullable=False),  # api | csv | webhook | rule | user
    Column("from_status", String(20), nullable=True),
    Column("to_status", String(20), nullable=False),
    Column("reason", Text, nullable=True),
    Column("data", JSONDoc, nullable=False),
    Column("key", String(200), nullable=True),  # the sender's event id: the same event applies once
    UniqueConstraint("fulfilment_order_id", "key"),
    Index("ix_fulfilment_events_fulfilment_order_id_id", "fulfilment_order_id", "id"),
)
