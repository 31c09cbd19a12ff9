"""The control tower's tables (migration 0012): the people who sign in, their saved hub views,
and the indexes the order hub's sort and search need. Registered on ``tables.metadata`` (imported at the
end of ``tables``)."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, ForeignKey, Index, Integer, String, Table, Text, UniqueConstraint

from legato.store.tables import Id, metadata, orders
from legato.store.types import UTCDateTime

users = Table(
    "users",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("username", String(64), nullable=False, unique=True),  # lower case: a-z 0-9 . _ -
    Column("display_name", String(200), nullable=True),
    Column("role", String(20), nullable=False),  # admin | sales | approver | warehouse | finance | viewer
    Column("password_hash", String(200), nullable=False),  # scrypt$n$r$p$salt$hash
    # every session cookie carries the version it was issued under: bumping it signs the user
    # out everywhere (sign-out, a new password, a new role, a disabled account)
    Column("session_version", Integer, nullable=False),
    Column("active", Boolean, nullable=False),
    Column("last_sign_in_at", UTCDateTime(), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
)

saved_views = Table(
    "saved_views",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("user_id", Id, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(80), nullable=False),
    Column("query", Text, nullable=False),  # the hub's query string (filters and sort), as a link
    Column("created_at", UTCDateTime(), nullable=False),
    UniqueConstraint("user_id", "name"),
)

# The hub sorts by total: without this a million-order sort reads every row.
Index("ix_orders_grand_total_id", orders.c.grand_total, orders.c.id)

#: The hub's free-text search finds text anywhere in these columns (ILIKE '%...%'): trigram GIN
#: indexes on PostgreSQL (the pg_trgm extension) turn a full scan of a million orders (over a
#: second) into milliseconds. Only on PostgreSQL: on SQLite a plain index cannot serve a
#: '%...%' search, and each would only slow every order's insert.
SEARCHED = ("external_ref", "customer_name", "customer_email", "customer_phone")
for _column in SEARCHED:
    Index(
        f"ix_orders_{_column}_trgm",
        orders.c[_column],
        postgresql_using="gin",
        postgresql_ops={_column: "gin_trgm_ops"},
    ).ddl_if(dialect="postgresql")

# 0013: the dashboard's "orders at risk" reads held orders by how long they have waited, and
# unpaid orders by status and age; at a million orders each was a full scan (about 2 s).
Index("ix_orders_status_updated_at", orders.c.status, orders.c.updated_at)
Index(
    "ix_orders_payment_status_status_created_at",
    orders.c.payment_status,
    orders.c.status,
    orders.c.created_at,
)
