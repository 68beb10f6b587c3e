"""Make the whole ledger history append-only: transactions and balances, not only entries.

- ``transactions``: INSERT only. The one change a row may see is its resolution, once: a
  hold goes from PENDING to POSTED, VOIDED or EXPIRED, and a STANDARD or POST_PENDING
  transaction is marked reversed; in both cases ``resolved_by_id`` names the resolving
  transaction, which must already exist and point back at the row with the matching kind.
  Postings, metadata, amounts, links and times never change. DELETE is refused, except of
  a row the deleting database transaction inserted itself and has not committed (group
  commit withdrawing the claim of a refused request): that row never was history.
- ``balances``: a balance row changes only together with new entries (its chain length
  grows); DELETE and TRUNCATE are refused. The totals are derived: VerifyLedger recomputes
  them from the entries, so a rewrite that also bumps the chain length is still detected.

These triggers bind any role that cannot disable them: the service's runtime role must not
own the tables nor be a superuser (see the ledger README, "Threat model").

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 18:40:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_GUARD_TRANSACTIONS = """
CREATE FUNCTION ledger_guard_transaction_change() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    resolver transactions%ROWTYPE;
    expected text;
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        RAISE EXCEPTION 'ledger transactions are append-only: TRUNCATE refused'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF TG_OP = 'DELETE' THEN
        -- Only an uncommitted claim of this very database transaction can be withdrawn
        -- (xmin is its 32-bit xid). Recorded history cannot match even after xid
        -- wraparound: every recorded transaction has entries, and their foreign key
        -- refuses the DELETE anyway.
        IF OLD.xmin::text = (pg_current_xact_id()::text::numeric % 4294967296)::text THEN
            RETURN OLD;
        END IF;
        RAISE EXCEPTION 'ledger transactions are append-only: DELETE refused'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    -- UPDATE: every column but the resolution is frozen (columns added later too).
    IF (to_jsonb(NEW) - 'state' - 'resolved_by_id')
       IS DISTINCT FROM (to_jsonb(OLD) - 'state' - 'resolved_by_id') THEN
        RAISE EXCEPTION 'ledger transactions are immutable: only a resolution may be recorded'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF OLD.resolved_by_id IS NOT NULL OR NEW.resolved_by_id IS NULL THEN
        RAISE EXCEPTION 'ledger transaction %: resolved once, by a transaction', OLD.id
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    SELECT * INTO resolver FROM transactions WHERE id = NEW.resolved_by_id;
    IF OLD.kind = 'PENDING' AND OLD.state = 'PENDING'
       AND resolver.pending_id IS NOT DISTINCT FROM OLD.id THEN
        expected := CASE resolver.kind WHEN 'POST_PENDING' THEN 'POSTED'
                                       WHEN 'VOID_PENDING' THEN 'VOIDED'
                                       WHEN 'EXPIRE_PENDING' THEN 'EXPIRED' END;
    ELSIF OLD.kind IN ('STANDARD', 'POST_PENDING') AND resolver.kind = 'REVERSAL'
          AND resolver.reversed_id IS NOT DISTINCT FROM OLD.id THEN
        expected := OLD.state;
    END IF;
    IF expected IS NULL OR NEW.state IS DISTINCT FROM expected THEN
        RAISE EXCEPTION 'ledger transaction %: % to % is not an allowed transition',
            OLD.id, OLD.state, NEW.state
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END
$$
"""

_REFUSE_BALANCE_CHANGE = """
CREATE FUNCTION ledger_refuse_balance_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ledger balances change only with new entries: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$
"""


def upgrade() -> None:
    op.execute(_GUARD_TRANSACTIONS)
    op.execute(
        "CREATE TRIGGER transactions_append_only BEFORE UPDATE OR DELETE ON transactions"
        " FOR EACH ROW EXECUTE FUNCTION ledger_guard_transaction_change()"
    )
    op.execute(
        "CREATE TRIGGER transactions_no_truncate BEFORE TRUNCATE ON transactions"
        " FOR EACH STATEMENT EXECUTE FUNCTION ledger_guard_transaction_change()"
    )
    op.execute(_REFUSE_BALANCE_CHANGE)
    # The WHEN clause is evaluated without calling the function: a posting (whose entries
    # grow the chain) pays next to nothing for the check.
    op.execute(
        "CREATE TRIGGER balances_follow_entries BEFORE UPDATE ON balances FOR EACH ROW"
        " WHEN (NEW.entry_count <= OLD.entry_count OR NEW.account_id <> OLD.account_id)"
        " EXECUTE FUNCTION ledger_refuse_balance_change()"
    )
    op.execute(
        "CREATE TRIGGER balances_no_delete BEFORE DELETE ON balances"
        " FOR EACH ROW EXECUTE FUNCTION ledger_refuse_balance_change()"
    )
    op.execute(
        "CREATE TRIGGER balances_no_truncate BEFORE TRUNCATE ON balances"
        " FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_balance_change()"
    )


def downgrade() -> None:
    for trigger, table in (
        ("balances_no_truncate", "balances"),
        ("balances_no_delete", "balances"),
        ("balances_follow_entries", "balances"),
        ("transactions_no_truncate", "transactions"),
        ("transactions_append_only", "transactions"),
    ):
        op.execute(f"DROP TRIGGER {trigger} ON {table}")
    op.execute("DROP FUNCTION ledger_refuse_balance_change()")
    op.execute("DROP FUNCTION ledger_guard_transaction_change()")
