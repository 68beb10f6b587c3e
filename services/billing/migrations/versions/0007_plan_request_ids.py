"""CreatePlan takes a request id (AIP-155): the plan remembers it and its payload's fingerprint.

Plans belong to no organization, so their request ids are the platform's: one namespace.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("plans", sa.Column("request_id", sa.Text(), nullable=True))
    op.add_column("plans", sa.Column("request_fingerprint", sa.Text(), nullable=True))
    op.create_unique_constraint(op.f("uq_plans_request_id"), "plans", ["request_id"])


def downgrade() -> None:
    op.drop_constraint(op.f("uq_plans_request_id"), "plans", type_="unique")
    op.drop_column("plans", "request_fingerprint")
    op.drop_column("plans", "request_id")
