"""Row-level security on the tenant-owned tables, and the jobs' narrow ways across them.

Each row is visible to, and writable by, a transaction acting for its organization only
(``keel.org_id``: set by the unit of work from the verified principal, from the event's
organization in a consumer, or named by a job for each organization in turn). FORCEd, so
the owner obeys it too.

- by ``org_id``: subscriptions, usage_records, invoices, idempotency_keys, webhook_endpoints;
- through their parent's policy (no organization column): adjustments (their subscription),
  webhook_deliveries (their endpoint).

Not tenant-owned, hence without policies: ``plans`` (the shared catalogue every organization
subscribes from, changed by the platform only), ``outbox`` and ``inbox`` (events, read across
organizations by the relay and the consumers).

The periodic jobs find their work across organizations through SECURITY DEFINER functions
(keel_runtime.migrations.create_cross_org_function) that return only what each job needs;
each item is then handled acting for its own organization:

- ``billing_due_subscriptions``: the period closer's ended periods (organization, id);
- ``billing_invoices_due_for_retry``: dunning's open invoices whose next attempt is due;
- ``billing_payments_started_before`` / ``billing_paid_unchecked``: the payment
  reconciler's invoices;
- ``billing_organizations_with_due_deliveries``: the organizations the webhook dispatcher
  has deliveries to send for (the organization ids alone).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04 10:00:00
"""

from collections.abc import Sequence

from keel_runtime.migrations import (
    admit_cross_org_functions,
    create_cross_org_function,
    disable_tenant_rls,
    drop_cross_org_function,
    enable_child_rls,
    enable_tenant_rls,
)

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# org_id is text in this service.
TENANT_TABLES = (
    "subscriptions",
    "usage_records",
    "invoices",
    "idempotency_keys",
    "webhook_endpoints",
)
CHILD_TABLES = (
    ("adjustments", "subscription_id", "subscriptions", "subscription_id"),
    ("webhook_deliveries", "webhook_endpoint_id", "webhook_endpoints", "webhook_endpoint_id"),
)
# What the functions below read across organizations (SELECT only: every change is made
# acting for the row's organization).
CROSS_ORG_TABLES = ("subscriptions", "invoices", "webhook_endpoints", "webhook_deliveries")

FUNCTIONS = {
    "billing_due_subscriptions(due_at timestamptz, max_rows integer, skipped uuid[])": (
        "TABLE (org_id text, subscription_id uuid)",
        "SELECT s.org_id, s.subscription_id FROM subscriptions s"
        " WHERE s.state = 'active' AND s.current_period_end <= due_at"
        " AND NOT s.subscription_id = ANY(skipped)"
        " ORDER BY s.current_period_end LIMIT max_rows",
    ),
    "billing_invoices_due_for_retry(due_at timestamptz, max_rows integer)": (
        "SETOF invoices",
        "SELECT * FROM invoices WHERE state = 'open' AND next_payment_attempt_time <= due_at"
        " ORDER BY next_payment_attempt_time LIMIT max_rows",
    ),
    "billing_payments_started_before(cutoff timestamptz, max_rows integer)": (
        "SETOF invoices",
        # Voided (or given up on) while the payment went through: the money moved.
        "SELECT * FROM invoices WHERE state <> 'paid' AND payment_started_time <= cutoff"
        " ORDER BY payment_started_time LIMIT max_rows",
    ),
    "billing_paid_unchecked(max_rows integer)": (
        "SETOF invoices",
        # Nothing moved for a zero invoice.
        "SELECT * FROM invoices WHERE state = 'paid' AND payment_checked_time IS NULL"
        " AND total_minor > 0 ORDER BY paid_time LIMIT max_rows",
    ),
    "billing_organizations_with_due_deliveries(due_at timestamptz, max_rows integer)": (
        "SETOF text",
        "SELECT e.org_id FROM webhook_deliveries d"
        " JOIN webhook_endpoints e ON e.webhook_endpoint_id = d.webhook_endpoint_id"
        " WHERE d.delivered_time IS NULL AND d.abandon_time IS NULL"
        " AND d.next_attempt_time <= due_at"
        " GROUP BY e.org_id ORDER BY min(d.next_attempt_time) LIMIT max_rows",
    ),
}


def upgrade() -> None:
    for table in TENANT_TABLES:
        enable_tenant_rls(table, "org_id", "text")
    for table, column, parent, key in CHILD_TABLES:
        enable_child_rls(table, column, parent, key)
    for table in CROSS_ORG_TABLES:
        admit_cross_org_functions(table, "SELECT")
    for signature, (returns, body) in FUNCTIONS.items():
        create_cross_org_function(signature, returns, body)


def downgrade() -> None:
    for signature in FUNCTIONS:
        drop_cross_org_function(signature)
    for table, *_ in CHILD_TABLES:
        disable_tenant_rls(table)
    for table in TENANT_TABLES:
        disable_tenant_rls(table)
