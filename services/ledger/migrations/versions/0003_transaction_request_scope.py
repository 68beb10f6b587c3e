"""Scope transaction request ids to their caller: the organization, or one service for it.

Until now a request id was unique per organization, so a member posting with billing's
key (``invoice:<id>``) blocked billing's payment of that invoice. Existing rows get the
scope their creator would have now: the expiry sweeper's releases are the ledger's own,
billing's payments carry ``source: billing`` in their metadata, the rest were the
organization's.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03 18:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("transactions", sa.Column("scope", sa.Text(), nullable=True))
    op.execute(
        """
        UPDATE transactions SET scope = 'org:' || org_id::text || CASE
            WHEN kind = 'EXPIRE_PENDING' THEN '/service:ledger'
            WHEN metadata->>'source' = 'billing' THEN '/service:billing'
            ELSE ''
        END
        """
    )
    op.alter_column("transactions", "scope", nullable=False)
    op.create_index(
        "uq_transactions_scope_request", "transactions", ["scope", "request_id"], unique=True
    )
    op.drop_index("uq_transactions_org_request", table_name="transactions")


def downgrade() -> None:
    # Fails if two scopes of one organization used the same request id (as it should: the
    # old index cannot hold them).
    op.create_index(
        "uq_transactions_org_request", "transactions", ["org_id", "request_id"], unique=True
    )
    op.drop_index("uq_transactions_scope_request", table_name="transactions")
    op.drop_column("transactions", "scope")
