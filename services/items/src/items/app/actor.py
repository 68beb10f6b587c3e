"""Who is calling, and what the items service lets them do."""

from __future__ import annotations

from dataclasses import dataclass

from items.domain.errors import NotPermitted

# Roles (identity's RBAC) that may change items and tags; every member of the org may read.
WRITER_ROLES = frozenset({"OWNER", "ADMIN", "MEMBER"})
READ_SCOPES = frozenset({"items:read", "items:write"})
WRITE_SCOPES = frozenset({"items:write"})


@dataclass(frozen=True)
class Actor:
    subject: str
    org_id: str
    roles: frozenset[str] = frozenset()
    scopes: frozenset[str] = frozenset()
    kind: str = "user"

    def _has_role(self, allowed: frozenset[str]) -> bool:
        return any(role.upper() in allowed for role in self.roles)

    def _limited_by_scopes(self) -> bool:
        # An API key that names scopes is limited to them, whatever role it also carries:
        # a key made for reading must not write because its owner's role could.
        return self.kind == "api_key" and bool(self.scopes)

    def require_read(self) -> None:
        if self._limited_by_scopes():
            if self.scopes & READ_SCOPES:
                return
            raise NotPermitted("reading items needs the items:read scope", subject=self.subject)
        # Users read by org membership; API keys and services need an items scope or a role.
        if self.kind == "user" or self.roles or self.scopes & READ_SCOPES:
            return
        raise NotPermitted("reading items needs the items:read scope", subject=self.subject)

    def require_write(self) -> None:
        if self._limited_by_scopes():
            if self.scopes & WRITE_SCOPES:
                return
            raise NotPermitted("changing items needs the items:write scope", subject=self.subject)
        if self._has_role(WRITER_ROLES) or self.scopes & WRITE_SCOPES:
            return
        raise NotPermitted(
            "changing items needs the OWNER, ADMIN or MEMBER role or the items:write scope",
            subject=self.subject,
        )
