"""Who is calling, and what the items service lets them do."""

from __future__ import annotations

from dataclasses import dataclass

from items.domain.errors import NotPermitted

# Roles (identity's RBAC) that may change items and tags; every member of the org may read.
WRITER_ROLES = frozenset({"OWNER", "ADMIN", "MEMBER"})


@dataclass(frozen=True)
class Actor:
    """The caller. An API key's scopes were already checked against the method by the server
    chain (keel_runtime.access, from the contracts); its roles must allow the call here too,
    so a key gets the intersection of both."""

    subject: str
    org_id: str
    roles: frozenset[str] = frozenset()
    scopes: frozenset[str] = frozenset()
    kind: str = "user"

    def _has_role(self, allowed: frozenset[str]) -> bool:
        return any(role.upper() in allowed for role in self.roles)

    def require_read(self) -> None:
        """Users read by organization membership, API keys by any role, services always."""
        if self.kind in ("user", "service") or self.roles:
            return
        raise NotPermitted("reading items needs a role in the organization", subject=self.subject)

    def require_write(self) -> None:
        if self.kind == "service" or self._has_role(WRITER_ROLES):
            return
        raise NotPermitted(
            "changing items needs the OWNER, ADMIN or MEMBER role", subject=self.subject
        )
