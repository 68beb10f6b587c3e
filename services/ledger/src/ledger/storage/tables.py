"""Ledger tables (SQLAlchemy Core); the migrations create exactly these."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Identity,
    Index,
    LargeBinary,
    SmallInteger,
    Table,
    Text,
    Uuid,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

from keel_runtime.db import new_metadata
from keel_runtime.events import inbox_table, outbox_table

metadata = new_metadata()

assets = Table(
    "assets",
    metadata,
    Column("code", Text, primary_key=True),
    Column("scale", SmallInteger, nullable=False),
    CheckConstraint("scale BETWEEN 0 AND 18", name="scale_range"),
)

accounts = Table(
    "accounts",
    metadata,
    Column("id", Uuid(as_uuid=False), primary_key=True),
    # Creation order for keyset pagination (ids are random across processes).
    Column("seq", BigInteger, Identity(always=True), nullable=False, unique=True),
    Column("org_id", Uuid(as_uuid=False), nullable=False),
    Column("kind", Text, nullable=False),
    Column("asset_code", Text, ForeignKey("assets.code"), nullable=False),
    Column("bound", Text, nullable=False),
    Column("overdraft_limit", BigInteger, nullable=False, server_default=text("0")),
    Column("metadata", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    # Whose request_id it is, as on transactions ('' when opened without one).
    Column("scope", Text, nullable=False, server_default=text("''")),
    Column("request_id", Text, nullable=False, server_default=text("''")),
    Column("fingerprint", Text, nullable=False, server_default=text("''")),
    Column("created_at", DateTime(timezone=True), nullable=False),
    CheckConstraint("overdraft_limit >= 0", name="overdraft_limit_non_negative"),
    # One wallet per organization and asset: a redelivered sign-up cannot open a second one.
    Index(
        "uq_accounts_org_wallet",
        "org_id",
        "asset_code",
        unique=True,
        postgresql_where=text("kind = 'WALLET'"),
    ),
    Index(
        "uq_accounts_scope_request",
        "scope",
        "request_id",
        unique=True,
        postgresql_where=text("request_id <> ''"),
    ),
    Index("ix_accounts_org_seq", "org_id", "seq"),
)

# Running totals, one row per account, kept apart from `accounts` so the hot row that
# postings lock and update is narrow and the account row itself is never locked.
balances = Table(
    "balances",
    metadata,
    Column("account_id", Uuid(as_uuid=False), ForeignKey("accounts.id"), primary_key=True),
    Column("debits_posted", BigInteger, nullable=False, server_default=text("0")),
    Column("credits_posted", BigInteger, nullable=False, server_default=text("0")),
    Column("debits_pending", BigInteger, nullable=False, server_default=text("0")),
    Column("credits_pending", BigInteger, nullable=False, server_default=text("0")),
    # End of the account's entry hash chain: how many entries, and the last one's hash.
    Column("entry_count", BigInteger, nullable=False, server_default=text("0")),
    Column("head_hash", LargeBinary, nullable=False, server_default=text("''::bytea")),
    CheckConstraint(
        "debits_posted >= 0 AND credits_posted >= 0 AND debits_pending >= 0"
        " AND credits_pending >= 0",
        name="totals_non_negative",
    ),
)

transactions = Table(
    "transactions",
    metadata,
    Column("id", Uuid(as_uuid=False), primary_key=True),
    Column("seq", BigInteger, Identity(always=True), nullable=False, unique=True),
    Column("org_id", Uuid(as_uuid=False), nullable=False),
    Column("request_id", Text, nullable=False),
    # Whose request_id it is: the organization, or one internal service acting for it
    # ("org:<id>" or "org:<id>/service:<name>"); request ids are unique per scope.
    Column("scope", Text, nullable=False),
    # Digest of the request payload: a repeated request id with another payload is refused.
    Column("fingerprint", Text, nullable=False),
    Column("kind", Text, nullable=False),
    Column("state", Text, nullable=False),
    Column("postings", JSONB, nullable=False),
    Column("metadata", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("pending_id", Uuid(as_uuid=False), ForeignKey("transactions.id"), nullable=True),
    Column("reversed_id", Uuid(as_uuid=False), ForeignKey("transactions.id"), nullable=True),
    Column("resolved_by_id", Uuid(as_uuid=False), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=True),
    Index("uq_transactions_scope_request", "scope", "request_id", unique=True),
    Index(
        "ix_transactions_open_holds",
        "expires_at",
        postgresql_where=text("state = 'PENDING' AND expires_at IS NOT NULL"),
    ),
)

# Append-only: the migration installs triggers that refuse UPDATE, DELETE and TRUNCATE.
entries = Table(
    "entries",
    metadata,
    Column("id", BigInteger, Identity(always=True), primary_key=True),
    Column("transaction_id", Uuid(as_uuid=False), ForeignKey("transactions.id"), nullable=False),
    Column("account_id", Uuid(as_uuid=False), ForeignKey("accounts.id"), nullable=False),
    # Position in the account's chain (1, 2, ...): unique, so no entry can be lost or doubled.
    Column("account_seq", BigInteger, nullable=False),
    Column("asset_code", Text, nullable=False),
    Column("side", Text, nullable=False),
    Column("bucket", Text, nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    # sha256(previous entry's hash of the account || this entry): see ledger.domain.chain.
    Column("hash", LargeBinary, nullable=False),
    CheckConstraint("side IN ('DEBIT', 'CREDIT')", name="side_known"),
    CheckConstraint(
        "(bucket = 'POSTED' AND amount > 0) OR (bucket = 'PENDING' AND amount <> 0)",
        name="amount_sign",
    ),
    Index("ix_entries_account_created", "account_id", "created_at"),
    Index("ix_entries_account_transaction", "account_id", "transaction_id"),
    Index("uq_entries_account_seq", "account_id", "account_seq", unique=True),
    Index("ix_entries_transaction", "transaction_id"),
)

# Checkpoints of the entry chains' heads, MACed with a key that is not in the database (see
# ledger.domain.checkpoint). Append-only, like the history they vouch for.
checkpoints = Table(
    "checkpoints",
    metadata,
    Column("key_id", Text, primary_key=True),
    Column("sequence", BigInteger, primary_key=True),
    Column("taken_at", DateTime(timezone=True), nullable=False),
    Column("account_count", BigInteger, nullable=False),
    Column("heads_digest", LargeBinary, nullable=False),
    Column("previous_mac", LargeBinary, nullable=False),
    Column("mac", LargeBinary, nullable=False),
)

# The heads a checkpoint records: only accounts whose chain moved since the key's previous
# checkpoint (the key leads the primary key: an account's latest head under it is one probe).
checkpoint_heads = Table(
    "checkpoint_heads",
    metadata,
    Column("key_id", Text, primary_key=True),
    Column("account_id", Uuid(as_uuid=False), ForeignKey("accounts.id"), primary_key=True),
    Column("sequence", BigInteger, primary_key=True),
    Column("entry_count", BigInteger, nullable=False),
    Column("head_hash", LargeBinary, nullable=False),
    ForeignKeyConstraint(["key_id", "sequence"], ["checkpoints.key_id", "checkpoints.sequence"]),
)

outbox = outbox_table(metadata)
inbox = inbox_table(metadata)
