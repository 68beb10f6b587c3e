"""Create the items schema: items (with full-text search), tags, outbox, inbox.

Revision ID: 0001
Revises:
Create Date: 2026-11-22 22:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from keel_runtime.migrations import create_event_tables, drop_event_tables

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Title, summary, note and URL words, weighted so that title matches rank first.
SEARCH_DOCUMENT = (
    "setweight(to_tsvector('english'::regconfig, title), 'A') || "
    "setweight(to_tsvector('english'::regconfig, summary), 'B') || "
    "setweight(to_tsvector('english'::regconfig, coalesce(note, '')), 'C') || "
    "setweight(to_tsvector('english'::regconfig, "
    "regexp_replace(coalesce(url, ''), '[^[:alnum:]]+', ' ', 'g')), 'C')"
)


def upgrade() -> None:
    create_event_tables()
    op.create_table(
        "items",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Text(), nullable=False),
        sa.Column("url", sa.Text(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("title", sa.Text(), server_default="", nullable=False),
        sa.Column("summary", sa.Text(), server_default="", nullable=False),
        sa.Column(
            "tags",
            postgresql.ARRAY(sa.Text()),
            server_default=sa.text("'{}'::text[]"),
            nullable=False,
        ),
        sa.Column("enrichment_attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("failure_reason", sa.Text(), server_default="", nullable=False),
        sa.Column("created_by", sa.Text(), nullable=False),
        sa.Column("request_id", sa.Text(), nullable=True),
        sa.Column("request_fingerprint", sa.Text(), nullable=True),
        sa.Column("create_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("update_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("confirm_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "search",
            postgresql.TSVECTOR(),
            sa.Computed(SEARCH_DOCUMENT, persisted=True),
            nullable=False,
        ),
        sa.CheckConstraint("num_nonnulls(url, note) = 1", name=op.f("ck_items_one_source")),
        sa.CheckConstraint(
            "state IN ('ENRICHING', 'READY_TO_CONFIRM', 'CONFIRMED', 'DISCARDED', 'FAILED')",
            name=op.f("ck_items_state"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_items")),
        sa.UniqueConstraint("org_id", "request_id", name=op.f("uq_items_org_id_request_id")),
    )
    op.create_index("ix_items_org_state_created", "items", ["org_id", "state", "create_time", "id"])
    op.create_index("ix_items_tags", "items", ["tags"], postgresql_using="gin")
    op.create_index("ix_items_search", "items", ["search"], postgresql_using="gin")
    op.create_table(
        "tags",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("create_time", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tags")),
        sa.UniqueConstraint("org_id", "name", name=op.f("uq_tags_org_id_name")),
    )


def downgrade() -> None:
    op.drop_table("tags")
    op.drop_table("items")
    drop_event_tables()
