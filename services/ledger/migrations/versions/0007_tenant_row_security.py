"""Row-level security on the tenant-owned tables: accounts, transactions, balances, entries.

Each row is visible to, and writable by, a transaction acting for its organization
(``keel.org_id``, set by the unit of work from the verified principal, or named by a job),
or acting for the platform ('*'): the ledger's contract gives the platform (the operator and
Keel services, proven by their certificates) every organization's books, e.g. billing moving
money from a tenant's wallet to the platform's revenue account. FORCEd, so the owner obeys
it too.

- ``accounts``: by ``org_id``.
- ``transactions``: by ``org_id``, or when it has an entry the transaction may see, i.e. it
  moved money of an account of the acting organization (a transfer a platform caller made
  into a tenant's wallet is the tenant's history too: the service's own visibility rule).
- ``balances`` and ``entries``: no organization column; by their account's policy.

Not tenant-owned, hence without policies: ``assets`` (the shared table of asset scales),
``checkpoints`` and ``checkpoint_heads`` (the ledger-wide MACed heads of every chain,
written by the checkpointer and read by VerifyLedger, both platform work; no amounts, and
no request of a tenant reaches them), ``outbox`` and ``inbox`` (events, read across
organizations by the relay and the consumers).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 10:00:00
"""

from collections.abc import Sequence

from alembic import op

from keel_runtime.migrations import (
    TENANT_POLICY,
    disable_tenant_rls,
    enable_child_rls,
    enable_tenant_rls,
)

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The last arm sees entries through their own policy (row-level security applies inside a
# policy too), i.e. entries of accounts the transaction may see. It is tried only when the
# first two fail (another organization's transaction), by the entries' transaction index.
_TRANSACTION_VISIBLE = (
    "current_setting('keel.org_id', true) = '*'"
    " OR org_id = NULLIF(NULLIF(current_setting('keel.org_id', true), ''), '*')::uuid"
    " OR EXISTS (SELECT 1 FROM entries e WHERE e.transaction_id = transactions.id)"
)


def upgrade() -> None:
    enable_tenant_rls("accounts", "org_id", "uuid", admit_platform=True)
    op.execute("ALTER TABLE transactions ENABLE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE transactions FORCE ROW LEVEL SECURITY")
    op.execute(
        f"CREATE POLICY {TENANT_POLICY} ON transactions"
        f" USING ({_TRANSACTION_VISIBLE}) WITH CHECK ({_TRANSACTION_VISIBLE})"
    )
    enable_child_rls("balances", "account_id", "accounts", "id", admit_platform=True)
    enable_child_rls("entries", "account_id", "accounts", "id", admit_platform=True)


def downgrade() -> None:
    for table in ("entries", "balances", "transactions", "accounts"):
        disable_tenant_rls(table)
