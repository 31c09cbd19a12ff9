"""promotions, vouchers, loyalty points, tax rates

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 08:30:00
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import legato.store.types

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "promotions",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("level", sa.String(length=10), nullable=False),
        sa.Column("value", legato.store.types.Dec(28, 6), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("filters", _JSON, nullable=False),
        sa.Column("min_subtotal", legato.store.types.Dec(28, 6), nullable=True),
        sa.Column("buy_qty", sa.Integer(), nullable=True),
        sa.Column("get_qty", sa.Integer(), nullable=True),
        sa.Column("channels", _JSON, nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=True),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("exclusive", sa.Boolean(), nullable=False),
        sa.Column("created_at", legato.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", legato.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_promotions")),
        sa.UniqueConstraint("code", name=op.f("uq_promotions_code")),
    )
    op.create_table(
        "vouchers",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("promotion_id", _ID, nullable=False),
        sa.Column("usage_limit", sa.Integer(), nullable=True),
        sa.Column("used", sa.Integer(), nullable=False),
        sa.Column("per_account_limit", sa.Integer(), nullable=True),
        sa.Column("valid_from", sa.Date(), nullable=True),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.Column("created_at", legato.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["promotion_id"], ["promotions.id"], name=op.f("fk_vouchers_promotion_id_promotions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vouchers")),
        sa.UniqueConstraint("code", name=op.f("uq_vouchers_code")),
    )
    op.create_index(op.f("ix_vouchers_promotion_id"), "vouchers", ["promotion_id"], unique=False)
    op.create_table(
        "voucher_redemptions",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("voucher_id", _ID, nullable=False),
        sa.Column("order_id", _ID, nullable=False),
        sa.Column("account_id", _ID, nullable=True),
        sa.Column("at", legato.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_voucher_redemptions_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["voucher_id"], ["vouchers.id"], name=op.f("fk_voucher_redemptions_voucher_id_vouchers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_voucher_redemptions")),
        sa.UniqueConstraint("voucher_id", "order_id", name="uq_voucher_redemptions_voucher_id_order_id"),
    )
    op.create_index(
        "ix_voucher_redemptions_voucher_id_account_id",
        "voucher_redemptions",
        ["voucher_id", "account_id"],
        unique=False,
    )
    op.create_table(
        "loyalty_ledger",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("account_id", _ID, nullable=False),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("order_id", _ID, nullable=True),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("at", legato.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_loyalty_ledger_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_loyalty_ledger")),
    )
    op.create_index("ix_loyalty_ledger_account_id_id", "loyalty_ledger", ["account_id", "id"], unique=False)
    op.create_table(
        "tax_rates",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("region", sa.String(length=10), nullable=False),
        sa.Column("tax_class", sa.String(length=40), nullable=False),
        sa.Column("rate", legato.store.types.Dec(9, 6), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tax_rates")),
        sa.UniqueConstraint("region", "tax_class", name="uq_tax_rates_region_tax_class"),
    )
    with op.batch_alter_table("products") as batch_op:
        batch_op.add_column(sa.Column("tax_class", sa.String(length=40), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("products") as batch_op:
        batch_op.drop_column("tax_class")
    op.drop_table("tax_rates")
    op.drop_index("ix_loyalty_ledger_account_id_id", table_name="loyalty_ledger")
    op.drop_table("loyalty_ledger")
    op.drop_index("ix_voucher_redemptions_voucher_id_account_id", table_name="voucher_redemptions")
    op.drop_table("voucher_redemptions")
    op.drop_index(op.f("ix_vouchers_promotion_id"), table_name="vouchers")
    op.drop_table("vouchers")
    op.drop_table("promotions")
