"""Dunning: failed collections are retried on a schedule, then the invoice is UNCOLLECTIBLE.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 19:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "invoices",
        sa.Column("first_payment_failure_time", sa.DateTime(timezone=True), nullable=True),
    )
    op.add_column(
        "invoices",
        sa.Column("next_payment_attempt_time", sa.DateTime(timezone=True), nullable=True),
    )
    op.drop_constraint(op.f("ck_invoices_state"), "invoices", type_="check")
    op.create_check_constraint(
        op.f("ck_invoices_state"), "invoices", "state IN ('open', 'paid', 'void', 'uncollectible')"
    )
    # What the dunning job scans: open invoices with a retry due.
    op.create_index(
        "ix_invoices_next_payment_attempt",
        "invoices",
        ["next_payment_attempt_time"],
        postgresql_where=sa.text("state = 'open' AND next_payment_attempt_time IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_invoices_next_payment_attempt", "invoices")
    op.execute("UPDATE invoices SET state = 'open' WHERE state = 'uncollectible'")
    op.drop_constraint(op.f("ck_invoices_state"), "invoices", type_="check")
    op.create_check_constraint(
        op.f("ck_invoices_state"), "invoices", "state IN ('open', 'paid', 'void')"
    )
    op.drop_column("invoices", "next_payment_attempt_time")
    op.drop_column("invoices", "first_payment_failure_time")
