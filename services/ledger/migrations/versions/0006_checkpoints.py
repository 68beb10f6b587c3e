"""Checkpoints of the entry chains' heads under a keyed MAC (the key is not in the database).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 19:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_REFUSE = """
CREATE FUNCTION ledger_refuse_checkpoint_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ledger checkpoints are append-only: % on % refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END
$$
"""


def upgrade() -> None:
    op.create_table(
        "checkpoints",
        sa.Column("key_id", sa.Text(), nullable=False),
        sa.Column("sequence", sa.BigInteger(), nullable=False),
        sa.Column("taken_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("account_count", sa.BigInteger(), nullable=False),
        sa.Column("heads_digest", sa.LargeBinary(), nullable=False),
        sa.Column("previous_mac", sa.LargeBinary(), nullable=False),
        sa.Column("mac", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("key_id", "sequence", name=op.f("pk_checkpoints")),
    )
    op.create_table(
        "checkpoint_heads",
        sa.Column("key_id", sa.Text(), nullable=False),
        sa.Column("account_id", sa.Uuid(as_uuid=False), nullable=False),
        sa.Column("sequence", sa.BigInteger(), nullable=False),
        sa.Column("entry_count", sa.BigInteger(), nullable=False),
        sa.Column("head_hash", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_checkpoint_heads_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["key_id", "sequence"],
            ["checkpoints.key_id", "checkpoints.sequence"],
            name=op.f("fk_checkpoint_heads_key_id_checkpoints"),
        ),
        sa.PrimaryKeyConstraint(
            "key_id", "account_id", "sequence", name=op.f("pk_checkpoint_heads")
        ),
    )
    op.execute(_REFUSE)
    for table in ("checkpoints", "checkpoint_heads"):
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}"
            " FOR EACH ROW EXECUTE FUNCTION ledger_refuse_checkpoint_change()"
        )
        op.execute(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table}"
            " FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_checkpoint_change()"
        )


def downgrade() -> None:
    op.drop_table("checkpoint_heads")
    op.drop_table("checkpoints")
    op.execute("DROP FUNCTION ledger_refuse_checkpoint_change()")
