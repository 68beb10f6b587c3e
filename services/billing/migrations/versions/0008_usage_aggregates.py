"""Running usage totals per organization, metric and period, kept as usage is recorded.

Recording an event checked the usage bounds by aggregating every record of the open
period, so a period's ingestion grew with the square of its events. ``usage_aggregates``
holds, per (organization, metric, ``period_start``), what every aggregation needs (count,
sum, max, min, the latest record, the span of event times); ``usage_aggregate_values`` the
distinct values behind its unique count. Both are tenant-owned, under the same row-level
security as ``usage_records``.

The records already there are folded in: those of an active subscription's open period
(or dated past its end) under that period's start (or end), as recording does from now on;
older ones under the start of their UTC month. A row is only ever used for a query that
covers its whole span of event times, so the grouping decides speed, not results.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 21:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from keel_runtime.migrations import enable_tenant_rls

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("usage_aggregates", "usage_aggregate_values")

# Each record with the period it is counted under (see the docstring).
BUCKETED = """
    SELECT u.*,
        CASE
            WHEN s.current_period_start IS NULL OR u.event_time < s.current_period_start
                THEN date_trunc('month', u.event_time AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'
            WHEN u.event_time < s.current_period_end THEN s.current_period_start
            ELSE s.current_period_end
        END AS period_start
    FROM usage_records u
    LEFT JOIN subscriptions s ON s.org_id = u.org_id AND s.state = 'active'
"""

LATEST = "ORDER BY event_time DESC, record_time DESC, usage_record_id DESC"

BACKFILL_AGGREGATES = f"""
    INSERT INTO usage_aggregates (
        org_id, metric, period_start, record_count, quantity_sum, quantity_max, quantity_min,
        unique_count, first_event_time, last_event_time, latest_event_time,
        latest_record_time, latest_usage_record_id, latest_quantity
    )
    SELECT org_id, metric, period_start, count(*), sum(quantity), max(quantity),
        min(quantity), count(DISTINCT NULLIF(distinct_value, '')), min(event_time),
        max(event_time), (array_agg(event_time {LATEST}))[1],
        (array_agg(record_time {LATEST}))[1], (array_agg(usage_record_id {LATEST}))[1],
        (array_agg(quantity {LATEST}))[1]
    FROM ({BUCKETED}) AS bucketed
    GROUP BY org_id, metric, period_start
"""

BACKFILL_VALUES = f"""
    INSERT INTO usage_aggregate_values (org_id, metric, period_start, distinct_value)
    SELECT DISTINCT org_id, metric, period_start, distinct_value
    FROM ({BUCKETED}) AS bucketed
    WHERE distinct_value <> ''
"""


def upgrade() -> None:
    op.create_table(
        "usage_aggregates",
        sa.Column("org_id", sa.Text(), nullable=False),
        sa.Column("metric", sa.Text(), nullable=False),
        sa.Column("period_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("record_count", sa.BigInteger(), nullable=False),
        sa.Column("quantity_sum", sa.Numeric(), nullable=False),
        sa.Column("quantity_max", sa.BigInteger(), nullable=False),
        sa.Column("quantity_min", sa.BigInteger(), nullable=False),
        sa.Column("unique_count", sa.BigInteger(), nullable=False),
        sa.Column("first_event_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_event_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("latest_event_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("latest_record_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("latest_usage_record_id", sa.Uuid(as_uuid=False), nullable=False),
        sa.Column("latest_quantity", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "org_id", "metric", "period_start", name=op.f("pk_usage_aggregates")
        ),
    )
    op.create_table(
        "usage_aggregate_values",
        sa.Column("org_id", sa.Text(), nullable=False),
        sa.Column("metric", sa.Text(), nullable=False),
        sa.Column("period_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("distinct_value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint(
            "org_id",
            "metric",
            "period_start",
            "distinct_value",
            name=op.f("pk_usage_aggregate_values"),
        ),
    )
    # The owner reads every organization's records here: FORCEd row-level security
    # (0006) would show it none, so it is lifted for the backfill and put back at once.
    for table in ("usage_records", "subscriptions"):
        op.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
    op.execute(BACKFILL_AGGREGATES)
    op.execute(BACKFILL_VALUES)
    for table in ("usage_records", "subscriptions"):
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
    for table in TABLES:
        enable_tenant_rls(table, "org_id", "text")


def downgrade() -> None:
    for table in reversed(TABLES):
        op.drop_table(table)
