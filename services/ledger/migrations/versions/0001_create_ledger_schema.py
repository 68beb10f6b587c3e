"""Create the ledger schema: assets, accounts, balances, transactions, entries, outbox, inbox.

Revision ID: 0001
Revises:
Create Date: 2026-11-22 21:56:45.196007
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


def upgrade() -> None:
    create_event_tables()
    op.create_table(
        "assets",
        sa.Column("code", sa.Text(), nullable=False),
        sa.Column("scale", sa.SmallInteger(), nullable=False),
        sa.CheckConstraint("scale BETWEEN 0 AND 18", name=op.f("ck_assets_scale_range")),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_assets")),
    )
    op.create_table(
        "transactions",
        sa.Column("id", sa.Uuid(as_uuid=False), nullable=False),
        sa.Column("seq", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("org_id", sa.Uuid(as_uuid=False), nullable=False),
        sa.Column("request_id", sa.Text(), nullable=False),
        sa.Column("fingerprint", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("postings", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            "metadata",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("pending_id", sa.Uuid(as_uuid=False), nullable=True),
        sa.Column("reversed_id", sa.Uuid(as_uuid=False), nullable=True),
        sa.Column("resolved_by_id", sa.Uuid(as_uuid=False), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["pending_id"],
            ["transactions.id"],
            name=op.f("fk_transactions_pending_id_transactions"),
        ),
        sa.ForeignKeyConstraint(
            ["reversed_id"],
            ["transactions.id"],
            name=op.f("fk_transactions_reversed_id_transactions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transactions")),
        sa.UniqueConstraint("seq", name=op.f("uq_transactions_seq")),
    )
    op.create_index(
        "ix_transactions_open_holds",
        "transactions",
        ["expires_at"],
        unique=False,
        postgresql_where=sa.text("state = 'PENDING' AND expires_at IS NOT NULL"),
    )
    op.create_index(
        "uq_transactions_org_request", "transactions", ["org_id", "request_id"], unique=True
    )
    op.create_table(
        "accounts",
        sa.Column("id", sa.Uuid(as_uuid=False), nullable=False),
        sa.Column("seq", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("org_id", sa.Uuid(as_uuid=False), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("asset_code", sa.Text(), nullable=False),
        sa.Column("bound", sa.Text(), nullable=False),
        sa.Column("overdraft_limit", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column(
            "metadata",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("request_id", sa.Text(), server_default=sa.text("''"), nullable=False),
        sa.Column("fingerprint", sa.Text(), server_default=sa.text("''"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "overdraft_limit >= 0", name=op.f("ck_accounts_overdraft_limit_non_negative")
        ),
        sa.ForeignKeyConstraint(
            ["asset_code"], ["assets.code"], name=op.f("fk_accounts_asset_code_assets")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_accounts")),
        sa.UniqueConstraint("seq", name=op.f("uq_accounts_seq")),
    )
    op.create_index("ix_accounts_org_seq", "accounts", ["org_id", "seq"], unique=False)
    op.create_index(
        "uq_accounts_org_request",
        "accounts",
        ["org_id", "request_id"],
        unique=True,
        postgresql_where=sa.text("request_id <> ''"),
    )
    op.create_index(
        "uq_accounts_org_wallet",
        "accounts",
        ["org_id", "asset_code"],
        unique=True,
        postgresql_where=sa.text("kind = 'WALLET'"),
    )
    op.create_table(
        "balances",
        sa.Column("account_id", sa.Uuid(as_uuid=False), nullable=False),
        sa.Column("debits_posted", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("credits_posted", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("debits_pending", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("credits_pending", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("entry_count", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column(
            "head_hash", sa.LargeBinary(), server_default=sa.text("''::bytea"), nullable=False
        ),
        sa.CheckConstraint(
            "debits_posted >= 0 AND credits_posted >= 0 AND debits_pending >= 0"
            " AND credits_pending >= 0",
            name=op.f("ck_balances_totals_non_negative"),
        ),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_balances_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_balances")),
    )
    op.create_table(
        "entries",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("transaction_id", sa.Uuid(as_uuid=False), nullable=False),
        sa.Column("account_id", sa.Uuid(as_uuid=False), nullable=False),
        sa.Column("account_seq", sa.BigInteger(), nullable=False),
        sa.Column("asset_code", sa.Text(), nullable=False),
        sa.Column("side", sa.Text(), nullable=False),
        sa.Column("bucket", sa.Text(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("hash", sa.LargeBinary(), nullable=False),
        sa.CheckConstraint(
            "(bucket = 'POSTED' AND amount > 0) OR (bucket = 'PENDING' AND amount <> 0)",
            name=op.f("ck_entries_amount_sign"),
        ),
        sa.CheckConstraint("side IN ('DEBIT', 'CREDIT')", name=op.f("ck_entries_side_known")),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_entries_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["transaction_id"],
            ["transactions.id"],
            name=op.f("fk_entries_transaction_id_transactions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_entries")),
    )
    op.create_index("uq_entries_account_seq", "entries", ["account_id", "account_seq"], unique=True)
    op.create_index(
        "ix_entries_account_created", "entries", ["account_id", "created_at"], unique=False
    )
    op.create_index(
        "ix_entries_account_transaction", "entries", ["account_id", "transaction_id"], unique=False
    )
    op.create_index("ix_entries_transaction", "entries", ["transaction_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_entries_transaction", table_name="entries")
    op.drop_index("uq_entries_account_seq", table_name="entries")
    op.drop_index("ix_entries_account_transaction", table_name="entries")
    op.drop_index("ix_entries_account_created", table_name="entries")
    op.drop_table("entries")
    op.drop_table("balances")
    op.drop_index(
        "uq_accounts_org_wallet", table_name="accounts", postgresql_where=sa.text("kind = 'WALLET'")
    )
    op.drop_index(
        "uq_accounts_org_request",
        table_name="accounts",
        postgresql_where=sa.text("request_id <> ''"),
    )
    op.drop_index("ix_accounts_org_seq", table_name="accounts")
    op.drop_table("accounts")
    op.drop_index("uq_transactions_org_request", table_name="transactions")
    op.drop_index(
        "ix_transactions_open_holds",
        table_name="transactions",
        postgresql_where=sa.text("state = 'PENDING' AND expires_at IS NOT NULL"),
    )
    op.drop_table("transactions")
    op.drop_table("assets")
    drop_event_tables()
