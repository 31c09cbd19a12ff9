"""usage plans and billing runs

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-23 09:00:00
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import legato.store.types

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSONDoc = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "usage_plans",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("channel_id", Id, nullable=False),
        sa.Column("device_id", sa.String(length=120), nullable=False),
        sa.Column("metric", sa.String(length=60), nullable=False),
        sa.Column("readings_channel_id", Id, nullable=True),
        sa.Column("account_code", sa.String(length=40), nullable=False),
        sa.Column("sku", sa.String(length=64), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", legato.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", legato.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["channel_id"], ["channels.id"], name=op.f("fk_usage_plans_channel_id_channels")
        ),
        sa.ForeignKeyConstraint(
            ["readings_channel_id"], ["channels.id"], name=op.f("fk_usage_plans_readings_channel_id_channels")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_usage_plans")),
        sa.UniqueConstraint("code", name=op.f("uq_usage_plans_code")),
    )
    op.create_table(
        "billing_runs",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("channel_id", Id, nullable=True),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("started_at", legato.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", legato.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("orders_created", sa.Integer(), nullable=False),
        sa.Column("orders_existing", sa.Integer(), nullable=False),
        sa.Column("bills", JSONDoc, nullable=False),
        sa.Column("refused", JSONDoc, nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("created_by", sa.String(length=120), nullable=False),
        sa.ForeignKeyConstraint(
            ["channel_id"], ["channels.id"], name=op.f("fk_billing_runs_channel_id_channels")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_billing_runs")),
    )
    op.create_index(
        "ix_billing_runs_period_start_period_end",
        "billing_runs",
        ["period_start", "period_end"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_billing_runs_period_start_period_end", table_name="billing_runs")
    op.drop_table("billing_runs")
    op.drop_table("usage_plans")
