"""the dashboard's indexes: held orders by age, unpaid orders by status and age

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-23 12:00:00
"""

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_orders_status_updated_at", "orders", ["status", "updated_at"], unique=False)
    op.create_index(
        "ix_orders_payment_status_status_created_at",
        "orders",
        ["payment_status", "status", "created_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_orders_payment_status_status_created_at", table_name="orders")
    op.drop_index("ix_orders_status_updated_at", table_name="orders")
