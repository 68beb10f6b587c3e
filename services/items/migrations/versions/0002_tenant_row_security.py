"""Row-level security on the tenant-owned tables: items and tags.

Each row is visible to, and writable by, transactions acting for its organization only
(``keel.org_id``, set by the unit of work from the verified principal, or by the
enrichment consumer from the event's organization). FORCEd, so the owner obeys it too.

Not tenant-owned, hence without policies: ``outbox`` and ``inbox`` (the relay and the
consumers read them across organizations; they hold events, never reached by a request).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-03 19:00:00
"""

from collections.abc import Sequence

from keel_runtime.migrations import disable_tenant_rls, enable_tenant_rls

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# org_id is text in this service: the principal's organization, as the caller sent it.
TENANT_TABLES = ("items", "tags")


def upgrade() -> None:
    for table in TENANT_TABLES:
        enable_tenant_rls(table, "org_id", "text")


def downgrade() -> None:
    for table in TENANT_TABLES:
        disable_tenant_rls(table)
