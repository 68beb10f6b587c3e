"""Outbox and inbox table definitions shared by every service database."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    Column,
    DateTime,
    Index,
    LargeBinary,
    MetaData,
    Table,
    Text,
    Uuid,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.types import UserDefinedType

OUTBOX_TABLE = "outbox"
INBOX_TABLE = "inbox"


class Xid8(UserDefinedType[str]):
    """PostgreSQL ``xid8``: a 64-bit transaction id that never wraps around."""

    cache_ok = True

    def get_col_spec(self, **kw: Any) -> str:
        return "xid8"


def outbox_table(metadata: MetaData) -> Table:
    """Add the outbox table to a service's metadata (its migrations create it)."""
    return Table(
        OUTBOX_TABLE,
        metadata,
        # The event id: JetStream de-duplicates on it (Nats-Msg-Id).
        Column("id", Uuid(as_uuid=True), primary_key=True),
        # The writing transaction's id: the relay publishes only below the snapshot xmin,
        # so a row from a transaction still running can never be skipped.
        Column(
            "txid",
            Xid8(),
            nullable=False,
            server_default=text("pg_current_xact_id()"),
        ),
        # NATS subject = the envelope's type, e.g. identity.organization.created.
        Column("subject", Text, nullable=False),
        # Payload message type, e.g. keel.identity.v1.OrganizationCreated (for operators).
        Column("type", Text, nullable=False),
        # The serialized Envelope, published as is.
        Column("payload", LargeBinary, nullable=False),
        Column("headers", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Column("published_at", DateTime(timezone=True), nullable=True),
        Index(
            "ix_outbox_unpublished",
            "txid",
            "id",
            postgresql_where=text("published_at IS NULL"),
        ),
    )


def inbox_table(metadata: MetaData) -> Table:
    """Add the inbox table (one row per consumer and handled event) to a service's metadata."""
    return Table(
        INBOX_TABLE,
        metadata,
        Column("consumer", Text, primary_key=True),
        Column("event_id", Uuid(as_uuid=True), primary_key=True),
        Column("processed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    )


# Private copies for building statements; SQL only needs the names and column types.
OUTBOX = outbox_table(MetaData())
INBOX = inbox_table(MetaData())
