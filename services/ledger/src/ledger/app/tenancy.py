"""Whom a unit of work acts for in the ledger, as row-level security sees it."""

from __future__ import annotations

from keel_runtime.tenancy import PLATFORM, current_tenant
from ledger.domain.model import Transaction


def call_scope() -> str:
    """A tenant's call acts for its organization; the platform's (the operator or a Keel
    service, proven by its certificate) for every organization (``PLATFORM``, which the
    ledger's policies admit: the platform keeps every organization's books); a job for what
    it names with ``acting_for``. '' (nothing visible) outside all of these."""
    return current_tenant(platform=True)


def maker_scope(tx: Transaction) -> str:
    """Whom a transaction was made for: a tenant's own request ids are scoped ``org:<id>``
    (it moved only that organization's money); any other scope is a platform caller's."""
    return tx.org_id if tx.scope == f"org:{tx.org_id}" else PLATFORM
