"""Row versions on subscriptions and invoices: a save from a stale read is refused.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-03 18:05:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for table in ("subscriptions", "invoices"):
        op.add_column(
            table, sa.Column("version", sa.Integer(), server_default=sa.text("0"), nullable=False)
        )


def downgrade() -> None:
    for table in ("subscriptions", "invoices"):
        op.drop_column(table, "version")
