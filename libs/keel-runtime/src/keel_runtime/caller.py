"""The caller of an operation, as every service's application layer sees it.

One model for the four services, built from the verified principal of the call
(``keel_runtime.context.Principal``): who (subject, kind), for which organization, holding
which roles and scopes. Its ``require_*`` checks are the vocabulary services write their
rules in (``billing.app.access``, ``ledger.app.access``, ...); each refusal is one error
type, ``CallerRefused``, whose reason names what was missing:

- ``ORGANIZATION_REQUIRED``: a tenant-scoped operation, and the caller acts for none;
- ``ROLE_REQUIRED``: none of the roles named (identity's RBAC) is held;
- ``SCOPE_REQUIRED``: none of the scopes named (``keel.auth.v1.Scope``) is held;
- ``SERVICE_REQUIRED``: the caller is not one of the Keel services named;
- ``PLATFORM_REQUIRED``: the caller is a tenant, not a Keel service or the operator.

An API key's principal carries the key's own roles and scopes, so the same checks give a key
the intersection of both: the server chain admits it by scope (``keel_runtime.access``), then
a rule that needs a role needs it among the key's roles. Whether a key without roles may act
on its scopes alone is a service's rule, stated in its own policy (the ledger's writers).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from keel_runtime.context import PLATFORM_KINDS, PRINCIPAL_KINDS, Principal, require_principal
from keel_runtime.errors import CallerRefused

ORGANIZATION_REQUIRED = "ORGANIZATION_REQUIRED"
ROLE_REQUIRED = "ROLE_REQUIRED"
SCOPE_REQUIRED = "SCOPE_REQUIRED"
SERVICE_REQUIRED = "SERVICE_REQUIRED"
PLATFORM_REQUIRED = "PLATFORM_REQUIRED"


@dataclass(frozen=True, slots=True)
class Caller:
    """Who calls: a user or an API key of one organization, a Keel service or the operator.

    Roles are held upper-case (``OWNER``), so role checks ignore case; scopes are compared
    as the contracts spell them (``ledger:write``).
    """

    subject: str
    """The user id, the API key id, or the workload name (``billing``, ``operator``)."""
    org_id: str = ""
    """The organization acted for; '' for a platform caller acting for none."""
    roles: frozenset[str] = field(default_factory=frozenset)
    scopes: frozenset[str] = field(default_factory=frozenset)
    kind: str = "user"
    """One of ``keel_runtime.context.PRINCIPAL_KINDS``."""

    def __post_init__(self) -> None:
        if not self.subject:
            raise ValueError("a caller's subject must not be empty")
        if self.kind not in PRINCIPAL_KINDS:
            raise ValueError(f"a caller's kind must be one of {sorted(PRINCIPAL_KINDS)}")
        # A frozen dataclass: the one place its fields are normalised is here.
        object.__setattr__(self, "roles", frozenset(role.upper() for role in self.roles))
        object.__setattr__(self, "scopes", frozenset(self.scopes))

    @classmethod
    def from_principal(cls, principal: Principal) -> Caller:
        """The caller a verified principal is (the credential stays with the principal)."""
        return cls(
            subject=principal.subject,
            org_id=principal.org_id,
            roles=principal.roles,
            scopes=principal.scopes,
            kind=principal.kind,
        )

    @property
    def is_user(self) -> bool:
        return self.kind == "user"

    @property
    def is_api_key(self) -> bool:
        return self.kind == "api_key"

    @property
    def is_service(self) -> bool:
        """A Keel service calling as itself (its workload certificate)."""
        return self.kind == "service"

    @property
    def is_operator(self) -> bool:
        return self.kind == "operator"

    @property
    def is_platform(self) -> bool:
        """A Keel service or the operator: the platform rather than a tenant."""
        return self.kind in PLATFORM_KINDS

    def require_org(self) -> str:
        """The organization the caller acts for; refused when it acts for none."""
        if not self.org_id:
            raise CallerRefused("the caller acts for no organization", reason=ORGANIZATION_REQUIRED)
        return self.org_id

    def require_role(self, *roles: str) -> None:
        """Refused unless the caller holds one of ``roles`` (any case).

        Roles only: a platform caller or an API key is admitted by the roles it carries like
        anyone else; a service's policy decides first whether the platform needs a role.
        """
        wanted = _named("role", roles, str.upper)
        if self.roles.isdisjoint(wanted):
            raise CallerRefused(
                f"this needs the {_one_of(wanted)} role",
                reason=ROLE_REQUIRED,
                metadata={"required_roles": " ".join(sorted(wanted))},
            )

    def require_scope(self, *scopes: str) -> None:
        """Refused unless the caller holds one of ``scopes``."""
        wanted = _named("scope", scopes, str)
        if self.scopes.isdisjoint(wanted):
            raise CallerRefused(
                f"this needs the {_one_of(wanted)} scope",
                reason=SCOPE_REQUIRED,
                metadata={"required_scopes": " ".join(sorted(wanted))},
            )

    def require_service(self, *names: str) -> None:
        """Refused unless the caller is one of the Keel services named (any, if none is)."""
        if self.is_service and (not names or self.subject in names):
            return
        which = _one_of(frozenset(names)) if names else "a Keel"
        raise CallerRefused(
            f"only the {which} service may do this",
            reason=SERVICE_REQUIRED,
            metadata={"required_services": " ".join(sorted(names))},
        )

    def require_platform(self) -> None:
        """Refused unless the caller is the platform (a Keel service or the operator)."""
        if not self.is_platform:
            raise CallerRefused(
                "only the platform operator or a Keel service may do this",
                reason=PLATFORM_REQUIRED,
            )


def current_caller() -> Caller:
    """The caller of the current RPC; ``Unauthenticated`` when the call carries no principal."""
    return Caller.from_principal(require_principal())


def _named(what: str, names: tuple[str, ...], spell: Callable[[str], str]) -> frozenset[str]:
    if not names:
        # Nothing could satisfy it: a rule written without its roles is a mistake.
        raise ValueError(f"name at least one {what}")
    return frozenset(spell(name) for name in names)


def _one_of(names: frozenset[str]) -> str:
    return " or ".join(sorted(names))
