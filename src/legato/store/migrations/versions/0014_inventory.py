"""inventory, allocation and fulfilment: locations, stock levels, the movement ledger, FIFO layers,
supplier items, allocations, backorders, fulfilment orders with their lines and events

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-23 11:53:24.889080
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import legato.store.types

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "locations",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column(
            "address",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("latitude", legato.store.types.Dec(9, 6), nullable=True),
        sa.Column("longitude", legato.store.types.Dec(9, 6), nullable=True),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column(
            "channels",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "regions",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("ships", sa.Boolean(), nullable=False),
        sa.Column("pickup", sa.Boolean(), nullable=False),
        sa.Column("safety_stock", legato.store.types.Dec(18, 4), nullable=False),
        sa.Column(
            "atp_rules",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "settings",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", legato.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", legato.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_locations")),
        sa.UniqueConstraint("code", name=op.f("uq_locations_code")),
    )
    op.create_table(
        "stock_layers",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("location_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("sku", sa.String(length=64), nullable=False),
        sa.Column("received_at", legato.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("quantity", legato.store.types.Dec(18, 4), nullable=False),
        sa.Column("remaining", legato.store.types.Dec(18, 4), nullable=False),
        sa.Column("unit_cost", legato.store.types.Dec(28, 6), nullable=True),
        sa.Column("movement_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.ForeignKeyConstraint(
            ["location_id"], ["locations.id"], name=op.f("fk_stock_layers_location_id_locations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stock_layers")),
    )
    with op.batch_alter_table("stock_layers", schema=None) as batch_op:
        batch_op.create_index(
            "ix_stock_layers_location_id_sku_received_at",
            ["location_id", "sku", "received_at", "id"],
            unique=False,
        )

    op.create_table(
        "stock_levels",
        sa.Column("location_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("sku", sa.String(length=64), nullable=False),
        sa.Column("on_hand", legato.store.types.Dec(18, 4), nullable=False),
        sa.Column("reserved", legato.store.types.Dec(18, 4), nullable=False),
        sa.Column("updated_at", legato.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["location_id"], ["locations.id"], name=op.f("fk_stock_levels_location_id_locations")
        ),
        sa.PrimaryKeyConstraint("location_id", "sku", name=op.f("pk_stock_levels")),
    )
    with op.batch_alter_table("stock_levels", schema=None) as batch_op:
        batch_op.create_index("ix_stock_levels_sku", ["sku"], unique=False)

    op.create_table(
        "stock_movements",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("location_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("sku", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("on_hand_delta", legato.store.types.Dec(18, 4), nullable=False),
        sa.Column("reserved_delta", legato.store.types.Dec(18, 4), nullable=False),
        sa.Column("order_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("fulfilment_order_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("reference", sa.String(length=200), nullable=True),
        sa.Column("unit_cost", legato.store.types.Dec(28, 6), nullable=True),
        sa.Column("actor", sa.String(length=120), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("at", legato.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["location_id"], ["locations.id"], name=op.f("fk_stock_movements_location_id_locations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stock_movements")),
        sa.UniqueConstraint("key", name=op.f("uq_stock_movements_key")),
    )
    with op.batch_alter_table("stock_movements", schema=None) as batch_op:
        batch_op.create_index(
            "ix_stock_movements_location_id_sku_id", ["location_id", "sku", "id"], unique=False
        )
        batch_op.create_index("ix_stock_movements_order_id", ["order_id"], unique=False)

    op.create_table(
        "supplier_items",
        sa.Column("location_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("sku", sa.String(length=64), nullable=False),
        sa.Column("supplier_sku", sa.String(length=64), nullable=True),
        sa.Column("cost", legato.store.types.Dec(28, 6), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.ForeignKeyConstraint(
            ["location_id"],
            ["locations.id"],
            name=op.f("fk_supplier_items_location_id_locations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("location_id", "sku", name=op.f("pk_supplier_items")),
    )
    with op.batch_alter_table("supplier_items", schema=None) as batch_op:
        batch_op.create_index("ix_supplier_items_sku", ["sku"], unique=False)

    op.create_table(
        "allocations",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("order_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("line_no", sa.Integer(), nullable=False),
        sa.Column("location_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("sku", sa.String(length=64), nullable=False),
        sa.Column("quantity", legato.store.types.Dec(18, 4), nullable=False),
        sa.Column("shipped", legato.store.types.Dec(18, 4), nullable=False),
        sa.Column("strategy", sa.String(length=40), nullable=False),
        sa.Column("fulfilment_order_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("created_at", legato.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", legato.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["location_id"], ["locations.id"], name=op.f("fk_allocations_location_id_locations")
        ),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_allocations_order_id_orders"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_allocations")),
    )
    with op.batch_alter_table("allocations", schema=None) as batch_op:
        batch_op.create_index("ix_allocations_order_id", ["order_id"], unique=False)

    op.create_table(
        "backorders",
        sa.Column("order_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("line_no", sa.Integer(), nullable=False),
        sa.Column("sku", sa.String(length=64), nullable=False),
        sa.Column("quantity", legato.store.types.Dec(18, 4), nullable=False),
        sa.Column("location_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("tier", sa.String(length=40), nullable=True),
        sa.Column("created_at", legato.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["location_id"], ["locations.id"], name=op.f("fk_backorders_location_id_locations")
        ),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_backorders_order_id_orders"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("order_id", "line_no", name=op.f("pk_backorders")),
    )
    with op.batch_alter_table("backorders", schema=None) as batch_op:
        batch_op.create_index("ix_backorders_sku_priority", ["sku", "priority", "created_at"], unique=False)

    op.create_table(
        "fulfilment_orders",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("order_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("location_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("held_from", sa.String(length=20), nullable=True),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("channel_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("vendor", sa.String(length=120), nullable=True),
        sa.Column(
            "shipping_address",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("external_ref", sa.String(length=200), nullable=True),
        sa.Column(
            "tracking",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("created_at", legato.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", legato.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["location_id"], ["locations.id"], name=op.f("fk_fulfilment_orders_location_id_locations")
        ),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_fulfilment_orders_order_id_orders"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fulfilment_orders")),
        sa.UniqueConstraint("order_id", "seq", name=op.f("uq_fulfilment_orders_order_id_seq")),
    )
    with op.batch_alter_table("fulfilment_orders", schema=None) as batch_op:
        batch_op.create_index(
            "ix_fulfilment_orders_location_id_status", ["location_id", "status"], unique=False
        )
        batch_op.create_index("ix_fulfilment_orders_status_id", ["status", "id"], unique=False)

    op.create_table(
        "fulfilment_events",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column(
            "fulfilment_order_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("at", legato.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=120), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("from_status", sa.String(length=20), nullable=True),
        sa.Column("to_status", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column(
            "data",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("key", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["fulfilment_order_id"],
            ["fulfilment_orders.id"],
            name=op.f("fk_fulfilment_events_fulfilment_order_id_fulfilment_orders"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fulfilment_events")),
        sa.UniqueConstraint(
            "fulfilment_order_id", "key", name=op.f("uq_fulfilment_events_fulfilment_order_id_key")
        ),
    )
    with op.batch_alter_table("fulfilment_events", schema=None) as batch_op:
        batch_op.create_index(
            "ix_fulfilment_events_fulfilment_order_id_id", ["fulfilment_order_id", "id"], unique=False
        )

    op.create_table(
        "fulfilment_lines",
        sa.Column(
            "fulfilment_order_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("line_no", sa.Integer(), nullable=False),
        sa.Column("order_line_no", sa.Integer(), nullable=False),
        sa.Column("allocation_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("sku", sa.String(length=64), nullable=False),
        sa.Column("quantity", legato.store.types.Dec(18, 4), nullable=False),
        sa.Column("shipped", legato.store.types.Dec(18, 4), nullable=False),
        sa.ForeignKeyConstraint(
            ["fulfilment_order_id"],
            ["fulfilment_orders.id"],
            name=op.f("fk_fulfilment_lines_fulfilment_order_id_fulfilment_orders"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("fulfilment_order_id", "line_no", name=op.f("pk_fulfilment_lines")),
    )


def downgrade() -> None:
    op.drop_table("fulfilment_lines")
    with op.batch_alter_table("fulfilment_events", schema=None) as batch_op:
        batch_op.drop_index("ix_fulfilment_events_fulfilment_order_id_id")

    op.drop_table("fulfilment_events")
    with op.batch_alter_table("fulfilment_orders", schema=None) as batch_op:
        batch_op.drop_index("ix_fulfilment_orders_status_id")
        batch_op.drop_index("ix_fulfilment_orders_location_id_status")

    op.drop_table("fulfilment_orders")
    with op.batch_alter_table("backorders", schema=None) as batch_op:
        batch_op.drop_index("ix_backorders_sku_priority")

    op.drop_table("backorders")
    with op.batch_alter_table("allocations", schema=None) as batch_op:
        batch_op.drop_index("ix_allocations_order_id")

    op.drop_table("allocations")
    with op.batch_alter_table("supplier_items", schema=None) as batch_op:
        batch_op.drop_index("ix_supplier_items_sku")

    op.drop_table("supplier_items")
    with op.batch_alter_table("stock_movements", schema=None) as batch_op:
        batch_op.drop_index("ix_stock_movements_order_id")
        batch_op.drop_index("ix_stock_movements_location_id_sku_id")

    op.drop_table("stock_movements")
    with op.batch_alter_table("stock_levels", schema=None) as batch_op:
        batch_op.drop_index("ix_stock_levels_sku")

    op.drop_table("stock_levels")
    with op.batch_alter_table("stock_layers", schema=None) as batch_op:
        batch_op.drop_index("ix_stock_layers_location_id_sku_received_at")

    op.drop_table("stock_layers")
    op.drop_table("locations")
