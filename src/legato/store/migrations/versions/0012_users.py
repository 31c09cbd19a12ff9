"""the control tower: users, saved hub views, the hub's sort and search indexes

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-23 10:00:00
"""

import sqlalchemy as sa
from alembic import op

import legato.store.types

#: the hub's free-text search: trigram indexes on PostgreSQL (a plain index on SQLite)
SEARCHED = ("external_ref", "customer_name", "customer_email", "customer_phone")

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=True),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=False),
        sa.Column("session_version", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("last_sign_in_at", legato.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", legato.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", legato.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("username", name=op.f("uq_users_username")),
    )
    op.create_table(
        "saved_views",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("query", sa.Text(), nullable=False),
        sa.Column("created_at", legato.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_saved_views_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_saved_views")),
        sa.UniqueConstraint("user_id", "name", name=op.f("uq_saved_views_user_id_name")),
    )
    op.create_index("ix_orders_grand_total_id", "orders", ["grand_total", "id"], unique=False)
    if op.get_bind().dialect.name != "postgresql":
        return  # the trigram indexes are PostgreSQL's (store/user_tables.py says why)
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")  # trusted since PostgreSQL 13
    for column in SEARCHED:
        op.create_index(
            f"ix_orders_{column}_trgm",
            "orders",
            [column],
            unique=False,
            postgresql_using="gin",
            postgresql_ops={column: "gin_trgm_ops"},
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for column in SEARCHED:
            op.drop_index(f"ix_orders_{column}_trgm", table_name="orders")
    op.drop_index("ix_orders_grand_total_id", table_name="orders")
    op.drop_table("saved_views")
    op.drop_table("users")
