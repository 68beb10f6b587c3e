"""What the ledger lets each caller do, written in the runtime's caller model.

The platform (the operator, a Keel service) keeps the books of every organization; a
tenant's members and API keys see and move only their organization's money. Which accounts a
customer may open or debit at all is the domain's rule (``ledger.domain.permissions``).
"""

from __future__ import annotations

from keel_runtime.caller import Caller

# Roles that may move money or open accounts in their own organization.
WRITER_ROLES = ("OWNER", "ADMIN")
READ_SCOPE = "ledger:read"
WRITE_SCOPE = "ledger:write"


def require_reader(caller: Caller) -> None:
    """Every member reads; an API key only with a ledger scope."""
    if caller.is_api_key:
        caller.require_scope(READ_SCOPE, WRITE_SCOPE)


def require_writer(caller: Caller) -> None:
    """The platform, OWNER or ADMIN; an API key with the write scope and, when it carries
    roles, one of those too (the intersection: a key without roles acts on its scope)."""
    if caller.is_platform:
        return
    if caller.is_api_key:
        caller.require_scope(WRITE_SCOPE)
        if caller.roles:
            caller.require_role(*WRITER_ROLES)
        return
    if WRITE_SCOPE not in caller.scopes:
        caller.require_role(*WRITER_ROLES)


def sees(caller: Caller, org_id: str) -> bool:
    """Another organization's books do not exist for a tenant; the platform sees them all."""
    return caller.is_platform or org_id == caller.org_id


def idempotency_scope(caller: Caller, org_id: str | None = None) -> str:
    """Whose request ids these are: the organization's, or one platform caller's acting for it.

    Members and API keys of an organization share its keys (a retry may come from either);
    each internal service has its own, so a tenant's ``invoice:<id>`` never collides with
    billing paying that invoice. ``org_id`` is the organization acted for, if not the
    caller's own (a service may act for another).
    """
    org = caller.org_id if org_id is None else org_id
    if caller.is_platform:
        return f"org:{org}/service:{caller.subject}"
    return f"org:{org}"
