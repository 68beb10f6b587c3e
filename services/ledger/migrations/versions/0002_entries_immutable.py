"""Make ledger entries immutable: the database refuses UPDATE, DELETE and TRUNCATE on them.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 22:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Enforced by the database itself, so no code path (nor an operator's psql session
    # without superuser tricks) can rewrite history; corrections are new transactions.
    op.execute(
        """
        CREATE FUNCTION ledger_refuse_entry_change() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'ledger entries are immutable: % refused', TG_OP
                USING ERRCODE = 'insufficient_privilege';
        END
        $$
        """
    )
    op.execute(
        "CREATE TRIGGER entries_immutable BEFORE UPDATE OR DELETE ON entries"
        " FOR EACH ROW EXECUTE FUNCTION ledger_refuse_entry_change()"
    )
    op.execute(
        "CREATE TRIGGER entries_no_truncate BEFORE TRUNCATE ON entries"
        " FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_entry_change()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER entries_no_truncate ON entries")
    op.execute("DROP TRIGGER entries_immutable ON entries")
    op.execute("DROP FUNCTION ledger_refuse_entry_change()")
