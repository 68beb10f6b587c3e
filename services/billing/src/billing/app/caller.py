"""The authenticated caller as the application layer sees it, with billing's access rules."""

from __future__ import annotations

from dataclasses import dataclass, field

from billing.domain.errors import NotAllowed

BILLING_MANAGER_ROLES = frozenset({"OWNER", "ADMIN", "BILLING"})


# Principal kinds that are the platform rather than a tenant (see keel_runtime.access).
PLATFORM_KINDS = frozenset({"service", "operator"})


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

    @property
    def is_platform(self) -> bool:
        """A Keel service or the operator: both proven by a workload certificate only."""
        return self.kind in PLATFORM_KINDS

    def org(self) -> str:
        """The caller's organization; tenant-scoped operations need one."""
        if not self.org_id:
            raise NotAllowed("the caller belongs to no organization")
        return self.org_id

    def require_operator(self) -> None:
        """Catalogue changes: the platform only (the catalogue is every tenant's); no tenant
        role, API key or scope reaches them. The server chain refuses them first
        (``keel.auth.v1.access`` platform methods); this keeps the rule in the domain."""
        if not self.is_platform:
            raise NotAllowed("only the platform operator or a Keel service changes plans")

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
