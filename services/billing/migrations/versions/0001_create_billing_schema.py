"""Create the billing schema (with outbox and inbox) and seed the default plan "free".

Revision ID: 0001
Revises:
Create Date: 2026-11-22 21:58:42.464523
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from keel_runtime.migrations import create_event_tables, drop_event_tables

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_event_tables()
    op.create_table(
        "idempotency_keys",
        sa.Column("org_id", sa.Text(), nullable=False),
        sa.Column("request_id", sa.Text(), nullable=False),
        sa.Column("operation", sa.Text(), nullable=False),
        sa.Column("fingerprint", sa.Text(), nullable=False),
        sa.Column("resource_id", sa.Text(), nullable=False),
        sa.Column("create_time", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("org_id", "request_id", name=op.f("pk_idempotency_keys")),
    )
    op.create_table(
        "plans",
        sa.Column("plan_id", sa.Text(), nullable=False),
        sa.Column("display_name", sa.Text(), nullable=False),
        sa.Column("currency", sa.Text(), nullable=False),
        sa.Column("interval", sa.Text(), nullable=False),
        sa.Column("prices", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("is_default", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("create_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("archive_time", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("plan_id", name=op.f("pk_plans")),
    )
    op.create_index(
        "uq_plans_default",
        "plans",
        ["is_default"],
        unique=True,
        postgresql_where=sa.text("is_default"),
    )
    op.create_table(
        "usage_records",
        sa.Column("usage_record_id", sa.Uuid(as_uuid=False), nullable=False),
        sa.Column("org_id", sa.Text(), nullable=False),
        sa.Column("metric", sa.Text(), nullable=False),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.Column("dedup_key", sa.Text(), nullable=False),
        sa.Column("event_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("distinct_value", sa.Text(), server_default=sa.text("''"), nullable=False),
        sa.Column("record_time", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("quantity >= 0", name=op.f("ck_usage_records_quantity")),
        sa.PrimaryKeyConstraint("usage_record_id", name=op.f("pk_usage_records")),
        sa.UniqueConstraint("org_id", "dedup_key", name=op.f("uq_usage_records_org_id_dedup_key")),
    )
    op.create_index(
        "ix_usage_records_org_metric_time",
        "usage_records",
        ["org_id", "metric", "event_time"],
        unique=False,
    )
    op.create_table(
        "webhook_endpoints",
        sa.Column("webhook_endpoint_id", sa.Uuid(as_uuid=False), nullable=False),
        sa.Column("org_id", sa.Text(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("event_types", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("description", sa.Text(), server_default=sa.text("''"), nullable=False),
        sa.Column("signing_secret", sa.Text(), nullable=False),
        sa.Column("create_time", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("webhook_endpoint_id", name=op.f("pk_webhook_endpoints")),
    )
    op.create_index(
        "ix_webhook_endpoints_org_created",
        "webhook_endpoints",
        ["org_id", "create_time"],
        unique=False,
    )
    op.create_table(
        "subscriptions",
        sa.Column("subscription_id", sa.Uuid(as_uuid=False), nullable=False),
        sa.Column("org_id", sa.Text(), nullable=False),
        sa.Column("plan_id", sa.Text(), nullable=False),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("anchor", sa.DateTime(timezone=True), nullable=False),
        sa.Column("current_period_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("current_period_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("create_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cancel_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "cancel_at_period_end", sa.Boolean(), server_default=sa.text("false"), nullable=False
        ),
        sa.CheckConstraint("state IN ('active', 'canceled')", name=op.f("ck_subscriptions_state")),
        sa.ForeignKeyConstraint(
            ["plan_id"], ["plans.plan_id"], name=op.f("fk_subscriptions_plan_id_plans")
        ),
        sa.PrimaryKeyConstraint("subscription_id", name=op.f("pk_subscriptions")),
    )
    op.create_index(
        "ix_subscriptions_org_created", "subscriptions", ["org_id", "create_time"], unique=False
    )
    op.create_index(
        "uq_subscriptions_active_org",
        "subscriptions",
        ["org_id"],
        unique=True,
        postgresql_where=sa.text("state = 'active'"),
    )
    op.create_table(
        "adjustments",
        sa.Column("adjustment_id", sa.Uuid(as_uuid=False), nullable=False),
        sa.Column("subscription_id", sa.Uuid(as_uuid=False), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("create_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("invoice_id", sa.Uuid(as_uuid=False), nullable=True),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["subscriptions.subscription_id"],
            name=op.f("fk_adjustments_subscription_id_subscriptions"),
        ),
        sa.PrimaryKeyConstraint("adjustment_id", name=op.f("pk_adjustments")),
    )
    op.create_index(
        "ix_adjustments_pending",
        "adjustments",
        ["subscription_id"],
        unique=False,
        postgresql_where=sa.text("invoice_id IS NULL"),
    )
    op.create_table(
        "invoices",
        sa.Column("invoice_id", sa.Uuid(as_uuid=False), nullable=False),
        sa.Column("org_id", sa.Text(), nullable=False),
        sa.Column("subscription_id", sa.Uuid(as_uuid=False), nullable=False),
        sa.Column("plan_id", sa.Text(), nullable=False),
        sa.Column("currency", sa.Text(), nullable=False),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("period_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("period_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lines", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("total_minor", sa.BigInteger(), nullable=False),
        sa.Column("issue_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("paid_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("void_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "payment_transaction_id", sa.Text(), server_default=sa.text("''"), nullable=False
        ),
        sa.Column("payment_attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("last_payment_error", sa.Text(), server_default=sa.text("''"), nullable=False),
        sa.CheckConstraint("state IN ('open', 'paid', 'void')", name=op.f("ck_invoices_state")),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["subscriptions.subscription_id"],
            name=op.f("fk_invoices_subscription_id_subscriptions"),
        ),
        sa.PrimaryKeyConstraint("invoice_id", name=op.f("pk_invoices")),
        sa.UniqueConstraint(
            "subscription_id", "period_start", name=op.f("uq_invoices_subscription_id_period_start")
        ),
    )
    op.create_index("ix_invoices_org_issued", "invoices", ["org_id", "issue_time"], unique=False)
    op.create_table(
        "webhook_deliveries",
        sa.Column("delivery_id", sa.Uuid(as_uuid=False), nullable=False),
        sa.Column("webhook_endpoint_id", sa.Uuid(as_uuid=False), nullable=False),
        sa.Column("event_id", sa.Uuid(as_uuid=False), nullable=False),
        sa.Column("event_type", sa.Text(), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("next_attempt_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("abandon_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), server_default=sa.text("''"), nullable=False),
        sa.Column("create_time", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["webhook_endpoint_id"],
            ["webhook_endpoints.webhook_endpoint_id"],
            name=op.f("fk_webhook_deliveries_webhook_endpoint_id_webhook_endpoints"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("delivery_id", name=op.f("pk_webhook_deliveries")),
        sa.UniqueConstraint(
            "webhook_endpoint_id",
            "event_id",
            name=op.f("uq_webhook_deliveries_webhook_endpoint_id_event_id"),
        ),
    )
    op.create_index(
        "ix_webhook_deliveries_due",
        "webhook_deliveries",
        ["next_attempt_time"],
        unique=False,
        postgresql_where=sa.text("delivered_time IS NULL AND abandon_time IS NULL"),
    )
    _seed_default_plan()


def _seed_default_plan() -> None:
    # Every new organization starts here: 100 confirmed items a month included, then
    # 5 cents per item. The JSON matches billing.storage.json_codec as of this revision.
    plans = sa.table(
        "plans",
        sa.column("plan_id", sa.Text()),
        sa.column("display_name", sa.Text()),
        sa.column("currency", sa.Text()),
        sa.column("interval", sa.Text()),
        sa.column("prices", postgresql.JSONB()),
        sa.column("is_default", sa.Boolean()),
        sa.column("create_time", sa.DateTime(timezone=True)),
    )
    op.bulk_insert(
        plans,
        [
            {
                "plan_id": "free",
                "display_name": "Free",
                "currency": "USD",
                "interval": "month",
                "prices": [
                    {
                        "metric": "items.confirmed",
                        "aggregation": "sum",
                        "included_quantity": 100,
                        "description": "Confirmed items",
                        "model": {"type": "per_unit", "unit_amount_minor": 5},
                    }
                ],
                "is_default": True,
                "create_time": datetime(2026, 1, 1, tzinfo=UTC),
            }
        ],
    )


def downgrade() -> None:
    op.drop_index(
        "ix_webhook_deliveries_due",
        table_name="webhook_deliveries",
        postgresql_where=sa.text("delivered_time IS NULL AND abandon_time IS NULL"),
    )
    op.drop_table("webhook_deliveries")
    op.drop_index("ix_invoices_org_issued", table_name="invoices")
    op.drop_table("invoices")
    op.drop_index(
        "ix_adjustments_pending",
        table_name="adjustments",
        postgresql_where=sa.text("invoice_id IS NULL"),
    )
    op.drop_table("adjustments")
    op.drop_index(
        "uq_subscriptions_active_org",
        table_name="subscriptions",
        postgresql_where=sa.text("state = 'active'"),
    )
    op.drop_index("ix_subscriptions_org_created", table_name="subscriptions")
    op.drop_table("subscriptions")
    op.drop_index("ix_webhook_endpoints_org_created", table_name="webhook_endpoints")
    op.drop_table("webhook_endpoints")
    op.drop_index("ix_usage_records_org_metric_time", table_name="usage_records")
    op.drop_table("usage_records")
    op.drop_index("uq_plans_default", table_name="plans", postgresql_where=sa.text("is_default"))
    op.drop_table("plans")
    op.drop_table("idempotency_keys")
    drop_event_tables()
