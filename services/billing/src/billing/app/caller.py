"""The authenticated caller as the application layer sees it, with billing's access rules."""

from __future__ import annotations

from dataclasses import dataclass, field

from billing.domain.errors import NotAllowed

BILLING_MANAGER_ROLES = frozenset({"OWNER", "ADMIN", "BILLING"})
OPERATOR_SCOPE = "billing:admin"


@dataclass(frozen=True, slots=True)
class Caller:
    subject: str
    org_id: str
    roles: frozenset[str] = field(default_factory=frozenset)
    scopes: frozenset[str] = field(default_factory=frozenset)
    kind: str = "user"

    @property
    def is_service(self) -> bool:
        return self.kind == "service"

    def org(self) -> str:
        """The caller's organization; tenant-scoped operations need one."""
        if not self.org_id:
            raise NotAllowed("the caller belongs to no organization")
        return self.org_id

    def require_operator(self) -> None:
        """Catalogue changes: internal services or the billing:admin scope."""
        if not (self.is_service or OPERATOR_SCOPE in self.scopes):
            raise NotAllowed("operators only", required_scope=OPERATOR_SCOPE)

    def require_billing_manager(self) -> str:
        """Subscription, invoice and webhook changes: OWNER, ADMIN or BILLING (or a service)."""
        org_id = self.org()
        if not (self.is_service or self.roles & BILLING_MANAGER_ROLES):
            raise NotAllowed("role OWNER, ADMIN or BILLING required")
        return org_id

    def require_usage_reporter(self) -> str:
        """Recording usage: services, API keys and billing managers."""
        org_id = self.org()
        if self.kind in ("service", "api_key") or self.roles & BILLING_MANAGER_ROLES:
            return org_id
        raise NotAllowed("usage is reported by services, API keys or billing managers")
