"""Invoices remember a payment attempt begun and the ledger check of a payment, so a
reconciler can finish a payment whose local commit was lost (and flag the reverse).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03 19:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "invoices", sa.Column("payment_started_time", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column(
        "invoices", sa.Column("payment_checked_time", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column(
        "invoices",
        sa.Column("reconciliation_issue", sa.Text(), server_default=sa.text("''"), nullable=False),
    )
    # What the reconciler scans: unpaid invoices with an attempt, paid ones not yet checked.
    op.create_index(
        "ix_invoices_payment_started",
        "invoices",
        ["payment_started_time"],
        postgresql_where=sa.text("state <> 'paid' AND payment_started_time IS NOT NULL"),
    )
    op.create_index(
        "ix_invoices_paid_unchecked",
        "invoices",
        ["paid_time"],
        postgresql_where=sa.text("state = 'paid' AND payment_checked_time IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_invoices_paid_unchecked", "invoices")
    op.drop_index("ix_invoices_payment_started", "invoices")
    op.drop_column("invoices", "reconciliation_issue")
    op.drop_column("invoices", "payment_checked_time")
    op.drop_column("invoices", "payment_started_time")
