"""Billing tables on the shared naming convention, plus the runtime's outbox and inbox."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    Numeric,
    Table,
    Text,
    UniqueConstraint,
    Uuid,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

from keel_runtime.db import new_metadata
from keel_runtime.events import inbox_table, outbox_table
from keel_runtime.sealing import SealedText

metadata = new_metadata()


def _ts(name: str, *, nullable: bool = False) -> Column[object]:
    return Column(name, DateTime(timezone=True), nullable=nullable)


plans = Table(
    "plans",
    metadata,
    Column("plan_id", Text, primary_key=True),
    Column("display_name", Text, nullable=False),
    Column("currency", Text, nullable=False),
    Column("interval", Text, nullable=False),
    # Prices never change after creation, so one JSON document is enough (codec in storage).
    Column("prices", JSONB, nullable=False),
    Column("is_default", Boolean, nullable=False, server_default=text("false")),
    _ts("create_time"),
    _ts("archive_time", nullable=True),
    # AIP-155: the request id the plan was created with (plans are global: one namespace),
    # and the fingerprint of that request's payload.
    Column("request_id", Text, nullable=True, unique=True),
    Column("request_fingerprint", Text, nullable=True),
    # At most one default plan: new organizations start on it.
    Index("uq_plans_default", "is_default", unique=True, postgresql_where=text("is_default")),
)

subscriptions = Table(
    "subscriptions",
    metadata,
    Column("subscription_id", Uuid(as_uuid=False), primary_key=True),
    Column("org_id", Text, nullable=False),
    Column("plan_id", Text, ForeignKey("plans.plan_id"), nullable=False),
    Column("state", Text, nullable=False),
    _ts("anchor"),
    _ts("current_period_start"),
    _ts("current_period_end"),
    _ts("create_time"),
    _ts("cancel_time", nullable=True),
    Column("cancel_at_period_end", Boolean, nullable=False, server_default=text("false")),
    # Bumped by every save; a save from a stale read matches no row and is refused.
    Column("version", Integer, nullable=False, server_default=text("0")),
    CheckConstraint("state IN ('active', 'canceled')", name="state"),
    # The database itself keeps one active subscription per organization, so concurrent
    # or redelivered starts cannot create two.
    Index(
        "uq_subscriptions_active_org",
        "org_id",
        unique=True,
        postgresql_where=text("state = 'active'"),
    ),
    Index("ix_subscriptions_org_created", "org_id", "create_time"),
)

adjustments = Table(
    "adjustments",
    metadata,
    Column("adjustment_id", Uuid(as_uuid=False), primary_key=True),
    Column(
        "subscription_id",
        Uuid(as_uuid=False),
        ForeignKey("subscriptions.subscription_id"),
        nullable=False,
    ),
    Column("description", Text, nullable=False),
    Column("amount_minor", BigInteger, nullable=False),
    _ts("create_time"),
    # Set when an invoice consumed the adjustment.
    Column("invoice_id", Uuid(as_uuid=False), nullable=True),
    Index(
        "ix_adjustments_pending",
        "subscription_id",
        postgresql_where=text("invoice_id IS NULL"),
    ),
)

usage_records = Table(
    "usage_records",
    metadata,
    Column("usage_record_id", Uuid(as_uuid=False), primary_key=True),
    Column("org_id", Text, nullable=False),
    Column("metric", Text, nullable=False),
    Column("quantity", BigInteger, nullable=False),
    Column("dedup_key", Text, nullable=False),
    _ts("event_time"),
    Column("distinct_value", Text, nullable=False, server_default=text("''")),
    _ts("record_time"),
    CheckConstraint("quantity >= 0", name="quantity"),
    # Idempotency of recording: a second record with the same key is a no-op.
    UniqueConstraint("org_id", "dedup_key"),
    Index("ix_usage_records_org_metric_time", "org_id", "metric", "event_time"),
)

# Running totals of usage, kept in the transaction that records it (only a newly inserted
# record moves them), so the usage bounds and the open period's summary read a row per
# metric instead of every record. One row per organization, metric and `period_start`: the
# open billing period's start when recorded (its end for records dated past it). The first
# and last event times bound the records a row holds: a query covering that whole span may
# use the row, any other falls back to the records themselves.
usage_aggregates = Table(
    "usage_aggregates",
    metadata,
    Column("org_id", Text, primary_key=True),
    Column("metric", Text, primary_key=True),
    Column("period_start", DateTime(timezone=True), primary_key=True),
    Column("record_count", BigInteger, nullable=False),
    # A numeric: recording without a subscription has no bound on the sum.
    Column("quantity_sum", Numeric, nullable=False),
    Column("quantity_max", BigInteger, nullable=False),
    Column("quantity_min", BigInteger, nullable=False),
    Column("unique_count", BigInteger, nullable=False),
    _ts("first_event_time"),
    _ts("last_event_time"),
    # The record a LATEST aggregation prices: the greatest (event, record time, id).
    _ts("latest_event_time"),
    _ts("latest_record_time"),
    Column("latest_usage_record_id", Uuid(as_uuid=False), nullable=False),
    Column("latest_quantity", BigInteger, nullable=False),
)

# The distinct values behind usage_aggregates.unique_count: a value counts when it is new.
usage_aggregate_values = Table(
    "usage_aggregate_values",
    metadata,
    Column("org_id", Text, primary_key=True),
    Column("metric", Text, primary_key=True),
    Column("period_start", DateTime(timezone=True), primary_key=True),
    Column("distinct_value", Text, primary_key=True),
)

invoices = Table(
    "invoices",
    metadata,
    Column("invoice_id", Uuid(as_uuid=False), primary_key=True),
    Column("org_id", Text, nullable=False),
    Column(
        "subscription_id",
        Uuid(as_uuid=False),
        ForeignKey("subscriptions.subscription_id"),
        nullable=False,
    ),
    Column("plan_id", Text, nullable=False),
    Column("currency", Text, nullable=False),
    Column("state", Text, nullable=False),
    _ts("period_start"),
    _ts("period_end"),
    Column("lines", JSONB, nullable=False),
    Column("total_minor", BigInteger, nullable=False),
    _ts("issue_time"),
    _ts("paid_time", nullable=True),
    _ts("void_time", nullable=True),
    Column("payment_transaction_id", Text, nullable=False, server_default=text("''")),
    Column("payment_attempts", Integer, nullable=False, server_default=text("0")),
    Column("last_payment_error", Text, nullable=False, server_default=text("''")),
    Column("version", Integer, nullable=False, server_default=text("0")),
    # A payment attempt begun (set before the ledger call) and the ledger's confirmation of a
    # paid invoice: what the payment reconciler works from.
    _ts("payment_started_time", nullable=True),
    _ts("payment_checked_time", nullable=True),
    Column("reconciliation_issue", Text, nullable=False, server_default=text("''")),
    # Dunning: the first failed collection and the next automatic attempt.
    _ts("first_payment_failure_time", nullable=True),
    _ts("next_payment_attempt_time", nullable=True),
    CheckConstraint("state IN ('open', 'paid', 'void', 'uncollectible')", name="state"),
    # One invoice per subscription period, whatever retries happen.
    UniqueConstraint("subscription_id", "period_start"),
    Index("ix_invoices_org_issued", "org_id", "issue_time"),
    # What the payment reconciler and the dunning job scan.
    Index(
        "ix_invoices_payment_started",
        "payment_started_time",
        postgresql_where=text("state <> 'paid' AND payment_started_time IS NOT NULL"),
    ),
    Index(
        "ix_invoices_paid_unchecked",
        "paid_time",
        postgresql_where=text("state = 'paid' AND payment_checked_time IS NULL"),
    ),
    Index(
        "ix_invoices_next_payment_attempt",
        "next_payment_attempt_time",
        postgresql_where=text("state = 'open' AND next_payment_attempt_time IS NOT NULL"),
    ),
)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("org_id", Text, primary_key=True),
    Column("request_id", Text, primary_key=True),
    Column("operation", Text, nullable=False),
    # Hash of the request payload: the same id with another payload is refused.
    Column("fingerprint", Text, nullable=False),
    Column("resource_id", Text, nullable=False),
    # What a replay must answer beyond the resource (e.g. ChangePlan's proration).
    Column("answer", Text, nullable=False, server_default=text("''")),
    _ts("create_time"),
)

webhook_endpoints = Table(
    "webhook_endpoints",
    metadata,
    Column("webhook_endpoint_id", Uuid(as_uuid=False), primary_key=True),
    Column("org_id", Text, nullable=False),
    Column("url", Text, nullable=False),
    Column("event_types", JSONB, nullable=False),
    Column("description", Text, nullable=False, server_default=text("''")),
    # Needed in clear to sign deliveries; the database is the service's own.
    # Sealed with DATA_ENCRYPTION_KEYS: the database never holds the secret in clear.
    Column(
        "signing_secret", SealedText("billing.webhook_endpoints.signing_secret"), nullable=False
    ),
    _ts("create_time"),
    Index("ix_webhook_endpoints_org_created", "org_id", "create_time"),
)

webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("delivery_id", Uuid(as_uuid=False), primary_key=True),
    Column(
        "webhook_endpoint_id",
        Uuid(as_uuid=False),
        ForeignKey("webhook_endpoints.webhook_endpoint_id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("event_id", Uuid(as_uuid=False), nullable=False),
    Column("event_type", Text, nullable=False),
    Column("body", LargeBinary, nullable=False),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    _ts("next_attempt_time"),
    _ts("delivered_time", nullable=True),
    # Set when retries are exhausted; the row stays for operators to inspect.
    _ts("abandon_time", nullable=True),
    Column("last_error", Text, nullable=False, server_default=text("''")),
    _ts("create_time"),
    UniqueConstraint("webhook_endpoint_id", "event_id"),
    Index(
        "ix_webhook_deliveries_due",
        "next_attempt_time",
        postgresql_where=text("delivered_time IS NULL AND abandon_time IS NULL"),
    ),
)

outbox = outbox_table(metadata)
inbox = inbox_table(metadata)
