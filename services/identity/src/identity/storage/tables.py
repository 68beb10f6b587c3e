"""SQLAlchemy Core tables of the identity database (plus the shared outbox and inbox)."""

from __future__ import annotations

from sqlalchemy import (
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Index,
    PrimaryKeyConstraint,
    Table,
    Text,
    UniqueConstraint,
    Uuid,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

from keel_runtime.db import new_metadata
from keel_runtime.events import inbox_table, outbox_table
from keel_runtime.sealing import SealedText

metadata = new_metadata()

organizations = Table(
    "organizations",
    metadata,
    Column("id", Uuid(as_uuid=False), primary_key=True),
    Column("display_name", Text, nullable=False),
    Column("default_currency", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    CheckConstraint("default_currency ~ '^[A-Z]{3}$'", name="currency_code"),
)

users = Table(
    "users",
    metadata,
    Column("id", Uuid(as_uuid=False), primary_key=True),
    Column("organization_id", Uuid(as_uuid=False), ForeignKey("organizations.id"), nullable=False),
    # Stored normalized (trimmed, lower case) by the domain.
    Column("email", Text, nullable=False),
    Column("display_name", Text, nullable=False),
    Column("roles", ARRAY(Text), nullable=False),
    Column("password_hash", Text, nullable=False),
    Column("state", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("deactivated_at", DateTime(timezone=True)),
    UniqueConstraint("organization_id", "email"),
    CheckConstraint("state IN ('ACTIVE', 'DEACTIVATED')", name="state"),
    Index("ix_users_email", "email"),
    Index("ix_users_org_created", "organization_id", "created_at", "id"),
)

refresh_tokens = Table(
    "refresh_tokens",
    metadata,
    # sha256 of the token: a leaked table cannot be replayed.
    Column("token_hash", Text, primary_key=True),
    Column("family_id", Uuid(as_uuid=False), nullable=False),
    Column("user_id", Uuid(as_uuid=False), ForeignKey("users.id"), nullable=False),
    Column("organization_id", Uuid(as_uuid=False), nullable=False),
    Column("issued_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("used_at", DateTime(timezone=True)),
    Column("replaced_by", Text),
    Column("revoked_at", DateTime(timezone=True)),
    Index("ix_refresh_tokens_family_id", "family_id"),
    Index("ix_refresh_tokens_user_id", "user_id"),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", Uuid(as_uuid=False), primary_key=True),
    Column("organization_id", Uuid(as_uuid=False), ForeignKey("organizations.id"), nullable=False),
    Column("display_name", Text, nullable=False),
    Column("prefix", Text, nullable=False, unique=True),
    Column("secret_hash", Text, nullable=False),
    Column("scopes", ARRAY(Text), nullable=False),
    Column("roles", ARRAY(Text), nullable=False),
    Column("creator_user_id", Uuid(as_uuid=False), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True)),
    Column("last_used_at", DateTime(timezone=True)),
    Column("revoked_at", DateTime(timezone=True)),
    Index("ix_api_keys_org_created", "organization_id", "created_at", "id"),
    Index("ix_api_keys_creator_user_id", "creator_user_id"),
)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("scope", Text, nullable=False),
    Column("request_id", Text, nullable=False),
    Column("fingerprint", Text, nullable=False),
    Column("result", JSONB, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    PrimaryKeyConstraint("scope", "request_id"),
)

# Append-only: the migration installs a trigger that refuses UPDATE, DELETE and TRUNCATE.
audit_events = Table(
    "audit_events",
    metadata,
    Column("id", Uuid(as_uuid=False), primary_key=True),
    Column("organization_id", Uuid(as_uuid=False), nullable=False),
    Column("actor", Text, nullable=False),
    Column("actor_kind", Text, nullable=False),
    Column("action", Text, nullable=False),
    Column("target_type", Text, nullable=False),
    Column("target_id", Text, nullable=False),
    Column("request_id", Text, nullable=False),
    Column("metadata", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_audit_events_org_created", "organization_id", "created_at", "id"),
)

signing_keys = Table(
    "signing_keys",
    metadata,
    Column("kid", Text, primary_key=True),
    # PKCS#8 PEM (encrypted when SIGNING_KEY_PASSPHRASE is set), sealed with
    # DATA_ENCRYPTION_KEYS: the database never holds the private key in clear.
    Column("private_key_pem", SealedText("identity.signing_keys.private_key_pem"), nullable=False),
    Column("public_jwk", JSONB, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("retired_at", DateTime(timezone=True)),
)

outbox = outbox_table(metadata)
inbox = inbox_table(metadata)
