"""Scope account request ids to their caller, as transaction request ids are (0003).

Existing accounts opened with a request id get the scope their creator would have now:
billing labels its accounts ``owner: billing``; the rest were opened by the organization.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03 18:20:00
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
        "accounts", sa.Column("scope", sa.Text(), server_default=sa.text("''"), nullable=False)
    )
    op.execute(
        """
        UPDATE accounts SET scope = 'org:' || org_id::text || CASE
            WHEN metadata->>'owner' = 'billing' THEN '/service:billing'
            ELSE ''
        END
        WHERE request_id <> ''
        """
    )
    op.create_index(
        "uq_accounts_scope_request",
        "accounts",
        ["scope", "request_id"],
        unique=True,
        postgresql_where=sa.text("request_id <> ''"),
    )
    op.drop_index("uq_accounts_org_request", table_name="accounts")


def downgrade() -> None:
    op.create_index(
        "uq_accounts_org_request",
        "accounts",
        ["org_id", "request_id"],
        unique=True,
        postgresql_where=sa.text("request_id <> ''"),
    )
    op.drop_index("uq_accounts_scope_request", table_name="accounts")
    op.drop_column("accounts", "scope")
