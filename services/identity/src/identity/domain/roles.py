"""Roles, the coarse scopes they grant, and the roles that manage people and read audits."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum


class Role(StrEnum):
    OWNER = "OWNER"
    ADMIN = "ADMIN"
    MEMBER = "MEMBER"
    BILLING = "BILLING"
    COMPLIANCE = "COMPLIANCE"
    READ_ONLY = "READ_ONLY"


# Coarse scopes carried in access tokens; services refine them per method.
_ROLE_SCOPES: dict[Role, frozenset[str]] = {
    Role.OWNER: frozenset({"read", "write", "admin", "billing", "audit"}),
    Role.ADMIN: frozenset({"read", "write", "admin", "audit"}),
    Role.MEMBER: frozenset({"read", "write"}),
    Role.BILLING: frozenset({"read", "billing"}),
    Role.COMPLIANCE: frozenset({"read", "audit"}),
    Role.READ_ONLY: frozenset({"read"}),
}

USER_ADMINS = frozenset({Role.OWNER, Role.ADMIN})
AUDIT_READERS = frozenset({Role.OWNER, Role.ADMIN, Role.COMPLIANCE})


def scopes_for(roles: Iterable[Role]) -> frozenset[str]:
    """The union of the scopes the roles grant."""
    scopes: set[str] = set()
    for role in roles:
        scopes |= _ROLE_SCOPES[role]
    return frozenset(scopes)


def parse_roles(names: Iterable[str]) -> frozenset[Role]:
    """Roles from their names, ignoring names this version does not know."""
    known = {r.value for r in Role}
    return frozenset(Role(n) for n in names if n in known)
