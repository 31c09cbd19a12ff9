"""The schema, as SQLAlchemy Core tables. Alembic migrations are generated from here
and a test checks that migrations and these tables agree."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from legato.store.types import Dec, JSONDoc, UTCDateTime

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_N_label)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

#: BIGINT on PostgreSQL; INTEGER (the rowid alias, so autoincrementing) on SQLite.
Id = BigInteger().with_variant(Integer(), "sqlite")


def _stamps() -> list[Column[Any]]:
    return [
        Column("created_at", UTCDateTime(), nullable=False),
        Column("updated_at", UTCDateTime(), nullable=False),
    ]


channels = Table(
    "channels",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("code", String(32), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("type", String(20), nullable=False),
    Column("adapter", String(40), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("settings", JSONDoc, nullable=False),
    Column("secrets", Text, nullable=True),  # Fernet token of a JSON object; never returned
    Column("active", Boolean, nullable=False, default=True),
    *_stamps(),
)

products = Table(
    "products",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("sku", String(64), nullable=False, unique=True),
    Column("name", String(300), nullable=False),
    Column("category", String(120), nullable=True, index=True),
    Column("tags", JSONDoc, nullable=False),
    Column("length_cm", Dec(12, 3), nullable=True),
    Column("width_cm", Dec(12, 3), nullable=True),
    Column("height_cm", Dec(12, 3), nullable=True),
    Column("weight_kg", Dec(12, 3), nullable=True),
    Column("prices", JSONDoc, nullable=False),  # {"GBP": "12.50", ...}: decimal strings, exact
    Column("active", Boolean, nullable=False, default=True),
    *_stamps(),
)

pricelists = Table(
    "pricelists",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("code", String(40), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("percent_off", Dec(7, 4), nullable=False),
    Column("valid_from", Date, nullable=True),
    Column("valid_to", Date, nullable=True),
    *_stamps(),
)

pricelist_items = Table(
    "pricelist_items",
    metadata,
    Column("pricelist_id", Id, ForeignKey("pricelists.id", ondelete="CASCADE"), primary_key=True),
    Column("sku", String(64), primary_key=True),
    Column("unit_price", Dec(), nullable=False),
)

accounts = Table(
    "accounts",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("code", String(40), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("email", String(254), nullable=True, index=True),
    Column("phone", String(32), nullable=True, index=True),
    Column("erp_ref", String(64), nullable=True, index=True),
    Column("properties", JSONDoc, nullable=False),
    Column("tier", String(40), nullable=True),
    Column("region", String(40), nullable=True),
    Column("currency", String(3), nullable=True),
    Column("pricelist_id", Id, ForeignKey("pricelists.id"), nullable=True),
    Column("credit_limit", Dec(), nullable=True),
    Column("payment_terms", String(40), nullable=True),
    *_stamps(),
)


def _document_columns() -> list[Column[Any]]:
    """Columns an order and a quote share: parties, addresses, money."""
    return [
        Column("channel_id", Id, ForeignKey("channels.id"), nullable=False),
        Column("account_id", Id, ForeignKey("accounts.id"), nullable=True),
        Column("customer_name", String(200), nullable=True),
        Column("customer_email", String(254), nullable=True),
        Column("customer_phone", String(32), nullable=True),
        Column("customer", JSONDoc, nullable=False),  # the rest of the customer as received
        Column("currency", String(3), nullable=False),
        Column("billing_address", JSONDoc, nullable=True),
        Column("shipping_address", JSONDoc, nullable=True),
        Column("shipping", Dec(), nullable=False),
        Column("shipping_tax_rate", Dec(9, 6), nullable=False),
        Column("subtotal", Dec(), nullable=False),
        Column("discount_total", Dec(), nullable=False),
        Column("tax_total", Dec(), nullable=False),
        Column("grand_total", Dec(), nullable=False),
        Column("notes", Text, nullable=True),
    ]


def _line_columns(parent: str) -> list[Column[Any]]:
    return [
        Column(f"{parent}_id", Id, ForeignKey(f"{parent}s.id", ondelete="CASCADE"), primary_key=True),
        Column("line_no", Integer, primary_key=True),
        Column("sku", String(64), nullable=False),
        Column("name", String(300), nullable=False),
        Column("quantity", Dec(18, 4), nullable=False),
        Column("unit_price", Dec(), nullable=False),
        Column("price_source", String(120), nullable=False),
        Column("discount", Dec(), nullable=False),
        Column("tax_rate", Dec(9, 6), nullable=False),
        Column("amount", Dec(), nullable=False),
        Column("tax", Dec(), nullable=False),
        Column("total", Dec(), nullable=False),
        Column("status", String(20), nullable=False),
    ]


quotes = Table(
    "quotes",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    *_document_columns(),
    Column("status", String(20), nullable=False),
    Column("valid_until", Date, nullable=True),
    Column("order_id", Id, nullable=True),
    *_stamps(),
    Index("ix_quotes_status_id", "status", "id"),
)

orders = Table(
    "orders",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("external_ref", String(255), nullable=True),
    *_document_columns(),
    Column("status", String(20), nullable=False),
    Column("held_from", String(20), nullable=True),
    Column("payment_status", String(24), nullable=False),
    Column("fulfilment_status", String(24), nullable=False),
    Column("invoice_status", String(24), nullable=False),
    Column("priority", Integer, nullable=False),
    Column("tags", JSONDoc, nullable=False),
    Column("quote_id", Id, ForeignKey("quotes.id"), nullable=True),
    Column("inbox_id", Id, nullable=True),  # the delivery it came from (inbox.id), for the original payload
    *_stamps(),
    UniqueConstraint("channel_id", "external_ref", name="uq_orders_channel_external_ref"),
    Index("ix_orders_status_id", "status", "id"),
    Index("ix_orders_channel_id_id", "channel_id", "id"),
    Index("ix_orders_account_id_id", "account_id", "id"),
    Index("ix_orders_created_at_id", "created_at", "id"),
    Index("ix_orders_customer_email", "customer_email"),
)

order_lines = Table("order_lines", metadata, *_line_columns("order"))
quote_lines = Table("quote_lines", metadata, *_line_columns("quote"))

order_timeline = Table(
    "order_timeline",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("order_id", Id, ForeignKey("orders.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("at", UTCDateTime(), nullable=False),
    Column("actor", String(120), nullable=False),
    Column("kind", String(30), nullable=False),
    Column("reason", Text, nullable=True),
    Column("from_value", String(40), nullable=True),
    Column("to_value", String(40), nullable=True),
    Column("data", JSONDoc, nullable=False),
)

outbox = Table(
    "outbox",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("event_type", String(60), nullable=False),
    Column("aggregate_type", String(30), nullable=False),
    Column("aggregate_id", Id, nullable=True),
    Column("payload", JSONDoc, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("published_at", UTCDateTime(), nullable=True),
    Index("ix_outbox_pending", "published_at", "id"),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("name", String(120), nullable=False),
    Column("prefix", String(16), nullable=False, unique=True),
    Column("secret_hash", String(64), nullable=False),
    Column("scopes", JSONDoc, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("revoked_at", UTCDateTime(), nullable=True),
)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("api_key_id", Id, ForeignKey("api_keys.id"), nullable=False),
    Column("key", String(255), nullable=False),
    Column("method", String(10), nullable=False),
    Column("path", String(500), nullable=False),
    Column("request_hash", String(64), nullable=False),
    Column("status_code", Integer, nullable=True),  # None while the first request is in flight
    Column("response_body", Text, nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    UniqueConstraint("api_key_id", "key", name="uq_idempotency_keys_api_key_id_key"),
)

inbox = Table(
    "inbox",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("channel_id", Id, ForeignKey("channels.id"), nullable=True),
    Column("channel_code", String(32), nullable=False),  # as addressed, even if no such channel
    Column("adapter", String(40), nullable=True),
    Column("received_at", UTCDateTime(), nullable=False),
    Column("source", String(100), nullable=True),  # the sender's address, or "pull", "api", "cli"
    Column("method", String(10), nullable=False),
    Column("path", String(500), nullable=False),
    Column("query", JSONDoc, nullable=False),
    Column("headers", JSONDoc, nullable=False),  # the headers that matter, lower-cased
    Column("body", LargeBinary, nullable=False),  # the raw body, byte for byte
    Column("body_sha256", String(64), nullable=False),
    Column("topic", String(100), nullable=True),
    Column("delivery_id", String(200), nullable=True),
    Column("state", String(20), nullable=False),
    Column("reason", Text, nullable=True),
    Column("errors", JSONDoc, nullable=False),  # field issues: [{path, message, code, value}]
    Column("order_id", Id, nullable=True),
    Column("attempts", Integer, nullable=False),
    Column("ack", JSONDoc, nullable=True),  # the adapter's outbound acknowledgement and its answer
    Column("updated_at", UTCDateTime(), nullable=False),
    Index("ix_inbox_state_id", "state", "id"),
    Index("ix_inbox_channel_id_id", "channel_id", "id"),
)

channel_state = Table(
    "channel_state",
    metadata,
    Column("channel_id", Id, ForeignKey("channels.id", ondelete="CASCADE"), primary_key=True),
    Column("key", String(60), primary_key=True),  # e.g. "cursor" for a pull channel
    Column("value", Text, nullable=True),
    Column("updated_at", UTCDateTime(), nullable=False),
)

# Each section below is owned by one migration (0003 ... 0009); keep a section and its
# migration in step (tests/integration/test_migrations.py compares them).

# --- 0003: currency rates ---------------------------------------------------------------

# --- 0004: promotions, vouchers, loyalty points, tax rates ---------------------------------

# --- 0005: pricing mechanisms, price detail, order adjustments (columns above) -----------

# --- 0006: outbound EDI documents -------------------------------------------------------

outbound_documents = Table(
    "outbound_documents",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("channel_id", Id, ForeignKey("channels.id"), nullable=False),
    Column("inbox_id", Id, nullable=True),  # the delivery it answers (a 997, a CONTRL)
    Column("order_id", Id, nullable=True),  # the order it is about (an 855)
    Column("kind", String(20), nullable=False),  # "997", "855", "CONTRL"
    Column("control_number", String(40), nullable=True),
    Column("filename", String(200), nullable=False),
    Column("body", LargeBinary, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("sent_at", UTCDateTime(), nullable=True),  # delivered by the channel's transport
    Column("destination", String(500), nullable=True),
    Column("error", Text, nullable=True),  # the last delivery failure
    Index("ix_outbound_documents_pending", "channel_id", "sent_at", "id"),
)

# --- 0007: spreadsheet import jobs ------------------------------------------------------

# --- 0008: files seen on SFTP channels --------------------------------------------------

# --- 0009: IoT sensor readings and replenishment rules -----------------------------------
