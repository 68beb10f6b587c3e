"""SQLAlchemy Core tables of the keel_items database (the migrations create them)."""

from __future__ import annotations

from sqlalchemy import (
    CheckConstraint,
    Column,
    Computed,
    DateTime,
    Index,
    Integer,
    Table,
    Text,
    UniqueConstraint,
    Uuid,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, TSVECTOR

from keel_runtime.db import new_metadata
from keel_runtime.events import inbox_table, outbox_table

metadata = new_metadata()

# Title, summary, the note and the URL, weighted so title matches rank first.
SEARCH_DOCUMENT = (
    "setweight(to_tsvector('english'::regconfig, title), 'A') || "
    "setweight(to_tsvector('english'::regconfig, summary), 'B') || "
    "setweight(to_tsvector('english'::regconfig, coalesce(note, '')), 'C') || "
    "setweight(to_tsvector('english'::regconfig, "
    "regexp_replace(coalesce(url, ''), '[^[:alnum:]]+', ' ', 'g')), 'C')"
)

items = Table(
    "items",
    metadata,
    Column("id", Uuid(as_uuid=True), primary_key=True),
    Column("org_id", Text, nullable=False),
    Column("url", Text, nullable=True),
    Column("note", Text, nullable=True),
    Column("state", Text, nullable=False),
    Column("title", Text, nullable=False, server_default=""),
    Column("summary", Text, nullable=False, server_default=""),
    Column("tags", ARRAY(Text), nullable=False, server_default=text("'{}'::text[]")),
    Column("enrichment_attempts", Integer, nullable=False, server_default="0"),
    Column("failure_reason", Text, nullable=False, server_default=""),
    Column("created_by", Text, nullable=False),
    Column("request_id", Text, nullable=True),
    Column("request_fingerprint", Text, nullable=True),
    Column("create_time", DateTime(timezone=True), nullable=False),
    Column("update_time", DateTime(timezone=True), nullable=False),
    Column("confirm_time", DateTime(timezone=True), nullable=True),
    Column("search", TSVECTOR, Computed(SEARCH_DOCUMENT, persisted=True), nullable=False),
    CheckConstraint("num_nonnulls(url, note) = 1", name="one_source"),
    CheckConstraint(
        "state IN ('ENRICHING', 'READY_TO_CONFIRM', 'CONFIRMED', 'DISCARDED', 'FAILED')",
        name="state",
    ),
    # AIP-155: a request id names one create per organization.
    UniqueConstraint("org_id", "request_id"),
    # Lists: newest first within an organization and state.
    Index("ix_items_org_state_created", "org_id", "state", "create_time", "id"),
    Index("ix_items_tags", "tags", postgresql_using="gin"),
    Index("ix_items_search", "search", postgresql_using="gin"),
)

tags = Table(
    "tags",
    metadata,
    Column("id", Uuid(as_uuid=True), primary_key=True),
    Column("org_id", Text, nullable=False),
    Column("name", Text, nullable=False),
    Column("create_time", DateTime(timezone=True), nullable=False),
    Column("request_id", Text, nullable=True),
    Column("request_fingerprint", Text, nullable=True),
    UniqueConstraint("org_id", "name"),
    # AIP-155: a request id names one create per organization.
    UniqueConstraint("org_id", "request_id"),
)

outbox = outbox_table(metadata)
inbox = inbox_table(metadata)
