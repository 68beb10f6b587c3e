"""CreateTag takes a request id (AIP-155): the tag remembers it and its payload's fingerprint.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-05 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("tags", sa.Column("request_id", sa.Text(), nullable=True))
    op.add_column("tags", sa.Column("request_fingerprint", sa.Text(), nullable=True))
    op.create_unique_constraint(op.f("uq_tags_org_id_request_id"), "tags", ["org_id", "request_id"])


def downgrade() -> None:
    op.drop_constraint(op.f("uq_tags_org_id_request_id"), "tags", type_="unique")
    op.drop_column("tags", "request_fingerprint")
    op.drop_column("tags", "request_id")
