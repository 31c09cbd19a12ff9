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
    Column("pricing", JSONDoc, nullable=True),  # 0005: a mechanism other than simple, per currency
    Column("tax_class", String(40), nullable=True),  # 0004: "standard" when none
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
    Column("channel_id", Id, ForeignKey("channels.id"), nullable=True),  # 0005: a channel's list
)

pricelist_items = Table(
    "pricelist_items",
    metadata,
    Column("pricelist_id", Id, ForeignKey("pricelists.id", ondelete="CASCADE"), primary_key=True),
    Column("sku", String(64), primary_key=True),
    Column("unit_price", Dec(), nullable=True),  # a fixed price, or (0005) None with ``pricing``
    Column("pricing", JSONDoc, nullable=True),  # 0005: the list's own mechanism for the SKU
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
        Column("points_total", Dec(), nullable=True),  # 0005: loyalty points redeemed, as money
        Column("pricing", JSONDoc, nullable=True),  # 0005: inclusive prices, adjustments, rates used
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
        Column("price_detail", JSONDoc, nullable=True),  # 0005: list, mechanism, rule, inputs, parts, fx, tax
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

fx_rates = Table(
    "fx_rates",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("base", String(3), nullable=False),
    Column("quote", String(3), nullable=False),
    Column("rate", Dec(24, 12), nullable=False),  # 1 base = rate quote
    Column("as_of", Date, nullable=False),  # the day the provider published it for
    Column("provider", String(20), nullable=False),  # "ecb", "manual"
    Column("fetched_at", UTCDateTime(), nullable=False),
    UniqueConstraint("provider", "base", "quote", "as_of", name="uq_fx_rates_provider_base_quote_as_of"),
)

alerts = Table(
    "alerts",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("kind", String(40), nullable=False),  # "fx_feed", "fx_stale"
    Column("subject", String(200), nullable=False),
    Column("message", Text, nullable=False),
    Column("raised_at", UTCDateTime(), nullable=False),  # first raised
    Column("last_raised_at", UTCDateTime(), nullable=False),  # raised again while open
    Column("cleared_at", UTCDateTime(), nullable=True),
)
# one open alert per (kind, subject): raising it again updates that one
Index(
    "ix_alerts_open_kind_subject",
    alerts.c.kind,
    alerts.c.subject,
    unique=True,
    sqlite_where=alerts.c.cleared_at.is_(None),
    postgresql_where=alerts.c.cleared_at.is_(None),
)

# --- 0004: promotions, vouchers, loyalty points, tax rates ---------------------------------

promotions = Table(
    "promotions",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("code", String(40), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("kind", String(20), nullable=False),  # percent | fixed | buy_x_get_y
    Column("level", String(10), nullable=False),  # line | order
    Column("value", Dec(), nullable=False),
    Column("currency", String(3), nullable=True),
    Column("filters", JSONDoc, nullable=False),  # {"skus": [...], "categories": [...], "tags": [...]}
    Column("min_subtotal", Dec(), nullable=True),
    Column("buy_qty", Integer, nullable=True),
    Column("get_qty", Integer, nullable=True),
    Column("channels", JSONDoc, nullable=False),  # channel codes; [] = every channel
    Column("valid_from", Date, nullable=True),
    Column("valid_to", Date, nullable=True),
    Column("active", Boolean, nullable=False),
    Column("priority", Integer, nullable=False),
    Column("exclusive", Boolean, nullable=False),
    *_stamps(),
)

vouchers = Table(
    "vouchers",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("code", String(64), nullable=False, unique=True),  # upper case
    Column("promotion_id", Id, ForeignKey("promotions.id"), nullable=False, index=True),
    Column("usage_limit", Integer, nullable=True),
    Column("used", Integer, nullable=False),
    Column("per_account_limit", Integer, nullable=True),
    Column("valid_from", Date, nullable=True),
    Column("valid_to", Date, nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
)

voucher_redemptions = Table(
    "voucher_redemptions",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("voucher_id", Id, ForeignKey("vouchers.id"), nullable=False),
    Column("order_id", Id, nullable=False),  # like inbox.order_id: no cross-context foreign key
    Column("account_id", Id, ForeignKey("accounts.id"), nullable=True),
    Column("at", UTCDateTime(), nullable=False),
    UniqueConstraint("voucher_id", "order_id", name="uq_voucher_redemptions_voucher_id_order_id"),
    Index("ix_voucher_redemptions_voucher_id_account_id", "voucher_id", "account_id"),
)

loyalty_ledger = Table(
    "loyalty_ledger",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("account_id", Id, ForeignKey("accounts.id"), nullable=False),
    Column("points", Integer, nullable=False),  # + earned or credited, - redeemed or debited
    Column("order_id", Id, nullable=True),
    Column("reason", String(200), nullable=False),
    Column("at", UTCDateTime(), nullable=False),
    Index("ix_loyalty_ledger_account_id_id", "account_id", "id"),
)

tax_rates = Table(
    "tax_rates",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("region", String(10), nullable=False),  # "GB", "US-CA"
    Column("tax_class", String(40), nullable=False),  # "standard", "reduced", "zero" ...
    Column("rate", Dec(9, 6), nullable=False),  # 0.200000 for 20 %
    Column("name", String(100), nullable=False),
    UniqueConstraint("region", "tax_class", name="uq_tax_rates_region_tax_class"),
)

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

import_jobs = Table(
    "import_jobs",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("channel_id", Id, ForeignKey("channels.id"), nullable=False),
    Column("filename", String(255), nullable=False),  # as uploaded
    Column("format", String(10), nullable=False),  # csv | xlsx
    Column("sha256", String(64), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("path", String(1000), nullable=False),  # the raw file, kept under the import_dir setting
    Column("mode", String(20), nullable=False),  # all_or_nothing | valid_only
    Column("state", String(20), nullable=False),  # received validating importing done failed rejected
    Column("actor", String(120), nullable=False),  # who imported it (on each order's timeline)
    Column("rows_total", Integer, nullable=True),  # data rows, known after validation
    Column("rows_done", Integer, nullable=False),
    Column("orders_created", Integer, nullable=False),
    Column("orders_existing", Integer, nullable=False),
    Column("orders_rejected", Integer, nullable=False),
    Column("errors", JSONDoc, nullable=False),  # [{row, column, header, message, code, order_ref}], capped
    Column("errors_total", Integer, nullable=False),  # every problem found, also past the cap
    Column("reason", Text, nullable=True),  # why it was rejected or failed
    Column("attempts", Integer, nullable=False),
    *_stamps(),
    Column("finished_at", UTCDateTime(), nullable=True),
    UniqueConstraint("channel_id", "sha256", name="uq_import_jobs_channel_id_sha256"),
    Index("ix_import_jobs_state_id", "state", "id"),
)

# --- 0008: files seen on SFTP channels --------------------------------------------------

sftp_files = Table(
    "sftp_files",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("channel_id", Id, ForeignKey("channels.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(500), nullable=False),  # the file name in the channel's inbound folder
    Column("size", BigInteger, nullable=False),  # bytes, as listed
    Column("mtime", BigInteger, nullable=False),  # seconds since the epoch, as listed
    Column("sha256", String(64), nullable=True),  # once downloaded
    Column("state", String(20), nullable=False),  # seen | taken | processed | error | duplicate
    Column("inbox_id", Id, nullable=True),  # the inbox entry that holds its bytes
    Column("first_seen", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    UniqueConstraint("channel_id", "name", "size", "mtime", name="uq_sftp_files_channel_id_name_size_mtime"),
    Index("ix_sftp_files_channel_id_name_sha256", "channel_id", "name", "sha256"),
)

# --- 0009: IoT sensor readings and replenishment rules -----------------------------------

sensor_readings = Table(
    "sensor_readings",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("channel_id", Id, ForeignKey("channels.id"), nullable=False),
    Column("device_id", String(120), nullable=False),
    Column("metric", String(60), nullable=False),
    Column("value", Dec(), nullable=False),
    Column("unit", String(20), nullable=True),
    Column("at", UTCDateTime(), nullable=False),  # the reading's own time (the device's clock)
    Column("received_at", UTCDateTime(), nullable=False),
    Column("inbox_id", Id, nullable=True),  # the delivery it came in (inbox.id)
    # a re-delivered reading is stored once
    UniqueConstraint("channel_id", "device_id", "metric", "at"),
    Index("ix_sensor_readings_device_id_metric_at", "device_id", "metric", "at"),
)

replenishment_rules = Table(
    "replenishment_rules",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("code", String(40), nullable=False, unique=True),
    Column("channel_id", Id, ForeignKey("channels.id"), nullable=False),
    Column("device_id", String(120), nullable=False),
    Column("metric", String(60), nullable=False),
    Column("comparison", String(10), nullable=False),  # "below" | "above"
    Column("threshold", Dec(), nullable=False),
    Column("rearm", Dec(), nullable=False),  # the hysteresis level
    Column("account_code", String(40), nullable=False),
    Column("shipping_address", JSONDoc, nullable=True),
    Column("sku", String(64), nullable=False),
    Column("quantity_mode", String(20), nullable=False),  # "fixed" | "up_to_par"
    Column("quantity", Dec(), nullable=True),
    Column("par_level", Dec(), nullable=True),
    Column("active", Boolean, nullable=False),
    Column("armed", Boolean, nullable=False),
    Column("last_reading_at", UTCDateTime(), nullable=True),
    Column("open_order_id", Id, ForeignKey("orders.id"), nullable=True),
    Column("breaches", Integer, nullable=False),
    *_stamps(),
    Index("ix_replenishment_rules_channel_id_device_id_metric", "channel_id", "device_id", "metric"),
)

# --- 0010: usage plans and billing runs ------------------------------------------------------

usage_plans = Table(
    "usage_plans",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("code", String(40), nullable=False, unique=True),
    Column("channel_id", Id, ForeignKey("channels.id"), nullable=False),  # bills go there, in its currency
    Column("device_id", String(120), nullable=False),
    Column("metric", String(60), nullable=False),  # a cumulative counter (operating_hours, kWh ...)
    Column("readings_channel_id", Id, ForeignKey("channels.id"), nullable=True),  # None: any channel's
    Column("account_code", String(40), nullable=False),
    Column("sku", String(64), nullable=False),  # the product billed; the usage is its line input
    Column("active", Boolean, nullable=False),
    *_stamps(),
)

billing_runs = Table(
    "billing_runs",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("period_start", Date, nullable=False),  # first day billed
    Column("period_end", Date, nullable=False),  # last day billed (inclusive)
    Column("channel_id", Id, ForeignKey("channels.id"), nullable=True),  # None: every channel's plans
    Column("state", String(20), nullable=False),  # running | done | failed
    Column("started_at", UTCDateTime(), nullable=False),
    Column("finished_at", UTCDateTime(), nullable=True),
    Column("orders_created", Integer, nullable=False),
    Column("orders_existing", Integer, nullable=False),  # billed by an earlier run
    Column("bills", JSONDoc, nullable=False),  # [{plan, order, created, usage, readings, amount, currency}]
    Column("refused", JSONDoc, nullable=False),  # [{plan, reason, code, errors}]
    Column("reason", Text, nullable=True),  # why a run failed
    Column("created_by", String(120), nullable=False),
    Index("ix_billing_runs_period_start_period_end", "period_start", "period_end"),
)


# --- 0011, 0012 and 0014 live in their own modules, registered on this metadata: the workflow
# engine (store/workflow_tables.py), the control tower's users (store/user_tables.py) and
# inventory, allocation and fulfilment (store/inventory_tables.py)
from legato.store import inventory_tables, user_tables, workflow_tables  # noqa: E402, F401
