"""currency rates (pricing: helper fx)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 08:30:00
"""

import sqlalchemy as sa
from alembic import op

import legato.store.types

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "fx_rates",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("base", sa.String(length=3), nullable=False),
        sa.Column("quote", sa.String(length=3), nullable=False),
        sa.Column("rate", legato.store.types.Dec(24, 12), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("provider", sa.String(length=20), nullable=False),
        sa.Column("fetched_at", legato.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fx_rates")),
        sa.UniqueConstraint(
            "provider", "base", "quote", "as_of", name="uq_fx_rates_provider_base_quote_as_of"
        ),
    )
    op.create_table(
        "alerts",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("raised_at", legato.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_raised_at", legato.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("cleared_at", legato.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alerts")),
    )
    op.create_index(
        "ix_alerts_open_kind_subject",
        "alerts",
        ["kind", "subject"],
        unique=True,
        sqlite_where=sa.text("cleared_at IS NULL"),
        postgresql_where=sa.text("cleared_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_alerts_open_kind_subject", table_name="alerts")
    op.drop_table("alerts")
    op.drop_table("fx_rates")
