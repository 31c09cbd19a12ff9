"""sensor readings and replenishment rules

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-23 08:30:00
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import legato.store.types

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "sensor_readings",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("channel_id", Id, nullable=False),
        sa.Column("device_id", sa.String(length=120), nullable=False),
        sa.Column("metric", sa.String(length=60), nullable=False),
        sa.Column("value", legato.store.types.Dec(28, 6), nullable=False),
        sa.Column("unit", sa.String(length=20), nullable=True),
        sa.Column("at", legato.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("received_at", legato.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("inbox_id", Id, nullable=True),
        sa.ForeignKeyConstraint(
            ["channel_id"], ["channels.id"], name=op.f("fk_sensor_readings_channel_id_channels")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sensor_readings")),
        sa.UniqueConstraint(
            "channel_id",
            "device_id",
            "metric",
            "at",
            name=op.f("uq_sensor_readings_channel_id_device_id_metric_at"),
        ),
    )
    op.create_index(
        "ix_sensor_readings_device_id_metric_at",
        "sensor_readings",
        ["device_id", "metric", "at"],
        unique=False,
    )
    op.create_table(
        "replenishment_rules",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("channel_id", Id, nullable=False),
        sa.Column("device_id", sa.String(length=120), nullable=False),
        sa.Column("metric", sa.String(length=60), nullable=False),
        sa.Column("comparison", sa.String(length=10), nullable=False),
        sa.Column("threshold", legato.store.types.Dec(28, 6), nullable=False),
        sa.Column("rearm", legato.store.types.Dec(28, 6), nullable=False),
        sa.Column("account_code", sa.String(length=40), nullable=False),
        sa.Column(
            "shipping_address",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("sku", sa.String(length=64), nullable=False),
        sa.Column("quantity_mode", sa.String(length=20), nullable=False),
        sa.Column("quantity", legato.store.types.Dec(28, 6), nullable=True),
        sa.Column("par_level", legato.store.types.Dec(28, 6), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("armed", sa.Boolean(), nullable=False),
        sa.Column("last_reading_at", legato.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("open_order_id", Id, nullable=True),
        sa.Column("breaches", sa.Integer(), nullable=False),
        sa.Column("created_at", legato.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", legato.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["channel_id"], ["channels.id"], name=op.f("fk_replenishment_rules_channel_id_channels")
        ),
        sa.ForeignKeyConstraint(
            ["open_order_id"], ["orders.id"], name=op.f("fk_replenishment_rules_open_order_id_orders")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_replenishment_rules")),
        sa.UniqueConstraint("code", name=op.f("uq_replenishment_rules_code")),
    )
    op.create_index(
        "ix_replenishment_rules_channel_id_device_id_metric",
        "replenishment_rules",
        ["channel_id", "device_id", "metric"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_replenishment_rules_channel_id_device_id_metric", table_name="replenishment_rules")
    op.drop_table("replenishment_rules")
    op.drop_index("ix_sensor_readings_device_id_metric_at", table_name="sensor_readings")
    op.drop_table("sensor_readings")
