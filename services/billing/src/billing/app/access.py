"""Who may change what in billing, written in the runtime's caller model."""

from __future__ import annotations

from keel_runtime.caller import Caller

BILLING_MANAGER_ROLES = ("OWNER", "ADMIN", "BILLING")


def require_billing_manager(caller: Caller) -> str:
    """Subscription, invoice and webhook changes: OWNER, ADMIN or BILLING, or a Keel service
    (billing's own jobs pay invoices as ``billing``); returns the organization."""
    org_id = caller.require_org()
    if not caller.is_service:
        caller.require_role(*BILLING_MANAGER_ROLES)
    return org_id


def require_usage_reporter(caller: Caller) -> str:
    """Recording usage: services, API keys and billing managers; returns the organization."""
    org_id = caller.require_org()
    if not (caller.is_service or caller.is_api_key):
        caller.require_role(*BILLING_MANAGER_ROLES)
    return org_id
