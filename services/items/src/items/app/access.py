"""Who may read and change items and tags, written in the runtime's caller model.

An API key's scopes were checked against the method by the server chain
(keel_runtime.access, from the contracts); its roles must allow the call here too, so a key
gets the intersection of both, and a key carrying no role does nothing.
"""

from __future__ import annotations

from keel_runtime.caller import Caller

# Roles (identity's RBAC) that may change items and tags.
WRITER_ROLES = ("OWNER", "ADMIN", "MEMBER")
# Every role of identity's RBAC: any role in the organization reads.
READER_ROLES = (*WRITER_ROLES, "BILLING", "COMPLIANCE", "READ_ONLY")


def require_read(caller: Caller) -> None:
    """Users read by organization membership, Keel services always, API keys by any role."""
    if caller.is_user or caller.is_service:
        return
    caller.require_role(*READER_ROLES)


def require_write(caller: Caller) -> None:
    """OWNER, ADMIN or MEMBER (a user's or a key's role), or a Keel service."""
    if caller.is_service:
        return
    caller.require_role(*WRITER_ROLES)
