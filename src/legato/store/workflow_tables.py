"""The workflow engine's tables (migration 0011): definitions and their versions, runs and
their jobs (one per step) with every attempt, approvals, webhook subscriptions and their
deliveries. Registered on ``tables.metadata`` (imported at the end of ``tables``)."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, ForeignKey, Index, Integer, String, Table, Text, UniqueConstraint

from legato.store.tables import Id, metadata
from legato.store.types import JSONDoc, UTCDateTime

workflows = Table(
    "workflows",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("name", String(80), nullable=False, unique=True),
    Column("version", Integer, nullable=False),  # the current version
    Column("trigger", String(40), nullable=False),  # an event type, or "schedule"
    Column("priority", Integer, nullable=False),
    Column("active", Boolean, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Index("ix_workflows_trigger_active", "trigger", "active"),
)

workflow_versions = Table(
    "workflow_versions",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("workflow_id", Id, ForeignKey("workflows.id", ondelete="CASCADE"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("definition", JSONDoc, nullable=False),  # model.Definition.as_dict(), as saved
    Column("created_at", UTCDateTime(), nullable=False),
    Column("created_by", String(120), nullable=False),
    UniqueConstraint("workflow_id", "version"),
)

workflow_runs = Table(
    "workflow_runs",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("workflow_id", Id, ForeignKey("workflows.id"), nullable=False),
    Column("version", Integer, nullable=False),  # the version this run uses, whatever happens later
    Column("event_id", Id, nullable=True),  # outbox.id; None for a scheduled run
    Column("event_type", String(60), nullable=False),
    Column("event", JSONDoc, nullable=False),  # the event as matched (type, payload ...)
    Column("order_id", Id, nullable=True),
    Column("state", String(20), nullable=False),  # running | waiting | done | stopped | dead
    Column("step", Integer, nullable=False),  # the step now running (or the last one)
    Column("started_at", UTCDateTime(), nullable=False),
    Column("finished_at", UTCDateTime(), nullable=True),
    # one run per workflow and event, even if two dispatchers see the same event
    UniqueConstraint("workflow_id", "event_id"),
    Index("ix_workflow_runs_order_id", "order_id"),
    Index("ix_workflow_runs_state_id", "state", "id"),
)

jobs = Table(
    "jobs",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("run_id", Id, ForeignKey("workflow_runs.id", ondelete="CASCADE"), nullable=True),
    Column("kind", String(20), nullable=False),  # "step" (a workflow action) | "webhook" (a delivery)
    Column("step", Integer, nullable=False),
    Column("action", String(60), nullable=False),
    Column("params", JSONDoc, nullable=False),
    Column("state", String(20), nullable=False),  # queued | running | waiting | done | dead
    Column("attempts", Integer, nullable=False),
    Column("max_attempts", Integer, nullable=False),
    Column("run_at", UTCDateTime(), nullable=False),  # not before (backoff, timers)
    Column("locked_by", String(120), nullable=True),
    Column("locked_at", UTCDateTime(), nullable=True),
    Column("last_error", Text, nullable=True),
    Column("result", JSONDoc, nullable=True),
    Column("idempotency_key", String(120), nullable=False, unique=True),
    Column("order_id", Id, nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Index("ix_jobs_state_run_at", "state", "run_at"),
    Index("ix_jobs_run_id_step", "run_id", "step"),
)

job_attempts = Table(
    "job_attempts",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("job_id", Id, ForeignKey("jobs.id", ondelete="CASCADE"), nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("worker", String(120), nullable=False),
    Column("started_at", UTCDateTime(), nullable=False),
    Column("finished_at", UTCDateTime(), nullable=True),
    Column("outcome", String(20), nullable=True),  # done | wait | stop | retry | dead
    Column("error", Text, nullable=True),
    Column("request", JSONDoc, nullable=True),  # a summary of what was sent
    Column("response", JSONDoc, nullable=True),  # a summary of the answer
    Column("duration_ms", Integer, nullable=True),
    Index("ix_job_attempts_job_id", "job_id"),
)

approvals = Table(
    "approvals",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("order_id", Id, ForeignKey("orders.id"), nullable=False),
    Column("job_id", Id, ForeignKey("jobs.id"), nullable=True),  # the waiting step, resumed on a decision
    Column("role", String(40), nullable=False),  # who may decide
    Column("reason", Text, nullable=True),
    Column("state", String(20), nullable=False),  # pending | accepted | rejected
    Column("requested_at", UTCDateTime(), nullable=False),
    Column("decided_at", UTCDateTime(), nullable=True),
    Column("decided_by", String(120), nullable=True),
    Column("decision_note", Text, nullable=True),
    Index("ix_approvals_state_id", "state", "id"),
    Index("ix_approvals_order_id", "order_id"),
)

webhook_subscriptions = Table(
    "webhook_subscriptions",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("url", String(2000), nullable=False),
    Column("events", JSONDoc, nullable=False),  # event types, or ["*"]
    Column("secret", Text, nullable=False),  # Fernet token of the signing secret (whsec_...)
    Column("description", String(200), nullable=True),
    Column("active", Boolean, nullable=False),
    Column("failures", Integer, nullable=False),  # consecutive failed deliveries
    Column("disabled_at", UTCDateTime(), nullable=True),
    Column("disabled_reason", Text, nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
)

webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("subscription_id", Id, ForeignKey("webhook_subscriptions.id", ondelete="CASCADE"), nullable=False),
    Column("job_id", Id, ForeignKey("jobs.id"), nullable=True),
    Column("event_id", Id, nullable=True),  # outbox.id
    Column("message_id", String(120), nullable=False),  # the webhook-id header: per event and subscription
    Column("event_type", String(60), nullable=False),
    Column("state", String(20), nullable=False),  # pending | delivered | failed | dead
    Column("attempts", Integer, nullable=False),
    Column("last_status", Integer, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("delivered_at", UTCDateTime(), nullable=True),
    UniqueConstraint("subscription_id", "message_id"),
    Index("ix_webhook_deliveries_subscription_id_id", "subscription_id", "id"),
)

erp_exports = Table(
    "erp_exports",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("order_id", Id, ForeignKey("orders.id"), nullable=False),
    Column("destination", String(60), nullable=False),  # the destination's name in the settings
    Column("kind", String(20), nullable=False),  # http | file | sftp | odoo
    Column("payload_version", String(10), nullable=False),
    Column("batch", String(120), nullable=True),  # a consolidated export's id (file name ...)
    Column("erp_reference", String(200), nullable=True),  # the ERP's own order number, when it answers one
    Column("job_id", Id, nullable=True),
    Column("exported_at", UTCDateTime(), nullable=False),
    Column("response", JSONDoc, nullable=True),
    UniqueConstraint("order_id", "destination"),
)

__all__ = [
    "approvals",
    "erp_exports",
    "job_attempts",
    "jobs",
    "webhook_deliveries",
    "webhook_subscriptions",
    "workflow_runs",
    "workflow_versions",
    "workflows",
]
