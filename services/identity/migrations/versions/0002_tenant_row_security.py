"""Row-level security on the tenant-owned tables, and the narrow lookups that precede an org.

Each row is visible to, and writable by, a transaction acting for its organization only
(``keel.org_id``: set by the unit of work from the verified principal, or named by the
handler once it knows the organization). FORCEd, so the owner obeys it too.

- ``organizations`` by ``id``; ``users``, ``refresh_tokens``, ``api_keys``, ``audit_events``
  by ``organization_id``.

Not tenant-owned, hence without policies: ``signing_keys`` (the platform's keys, which sign
every organization's tokens), ``idempotency_keys`` (request ids under scopes that name their
organization, and sign-up's, which runs before any organization exists; they hold ids, no
tenant data), ``outbox`` and ``inbox`` (events, read across organizations by the relay).

Some calls run before their organization is known. They go through SECURITY DEFINER
functions (keel_runtime.migrations.create_cross_org_function), each returning only the one
row (or fact) the call needs, found by what the caller presents; the handler then acts for
that row's organization:

- ``identity_login_target(email, org)``: the one account a login targets (the email's
  account in the named organization, else its first registered one), to verify the
  password against. An email is no secret, but the function returns nothing an anonymous
  caller sees: the login answers alike for a wrong password and an unknown email.
- ``identity_email_registered(email)``: whether a sign-up's owner email is taken anywhere
  (a yes or no).
- ``identity_api_key(prefix)``: the key with that public prefix; the caller then checks the
  presented secret against its hash.
- ``identity_refresh_token_organization(token_hash)``: the organization of the refresh token
  whose sha256 the caller presents (only the token's holder can compute it).
- ``identity_purge_refresh_tokens(cutoff)``: the retention job deletes the tokens expired or
  revoked before the cutoff, in every organization; it returns how many.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04 10:00:00
"""

from collections.abc import Sequence

from keel_runtime.migrations import (
    admit_cross_org_functions,
    create_cross_org_function,
    disable_tenant_rls,
    drop_cross_org_function,
    enable_tenant_rls,
)

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TENANT_TABLES = {
    "organizations": "id",
    "users": "organization_id",
    "refresh_tokens": "organization_id",
    "api_keys": "organization_id",
    "audit_events": "organization_id",
}
# What the functions below reach across organizations.
CROSS_ORG = {
    "users": ("SELECT",),
    "api_keys": ("SELECT",),
    "refresh_tokens": ("SELECT", "DELETE"),
}

FUNCTIONS = {
    "identity_login_target(login_email text, org uuid)": (
        "SETOF users",
        "SELECT * FROM users WHERE email = login_email"
        " AND (org IS NULL OR organization_id = org)"
        " ORDER BY created_at, id LIMIT 1",
    ),
    "identity_email_registered(login_email text)": (
        "boolean",
        "SELECT EXISTS (SELECT 1 FROM users WHERE email = login_email)",
    ),
    "identity_api_key(key_prefix text)": (
        "SETOF api_keys",
        "SELECT * FROM api_keys WHERE prefix = key_prefix",
    ),
    "identity_refresh_token_organization(presented_hash text)": (
        "uuid",
        "SELECT organization_id FROM refresh_tokens WHERE token_hash = presented_hash",
    ),
    "identity_purge_refresh_tokens(cutoff timestamptz)": (
        "bigint",
        "WITH gone AS (DELETE FROM refresh_tokens"
        " WHERE expires_at < cutoff OR revoked_at < cutoff RETURNING 1)"
        " SELECT count(*) FROM gone",
    ),
}


def upgrade() -> None:
    for table, column in TENANT_TABLES.items():
        enable_tenant_rls(table, column, "uuid")
    for table, commands in CROSS_ORG.items():
        admit_cross_org_functions(table, *commands)
    for signature, (returns, body) in FUNCTIONS.items():
        create_cross_org_function(signature, returns, body)


def downgrade() -> None:
    for signature in FUNCTIONS:
        drop_cross_org_function(signature)
    for table in TENANT_TABLES:
        disable_tenant_rls(table)
