"""All handlers of the service, one object per topic, built once in bootstrap and handed to
the servicers."""

from __future__ import annotations

from dataclasses import dataclass

from identity.app.api_keys import ApiKeyHandlers, ApiKeyVerifier
from identity.app.audit import AuditHandlers
from identity.app.auth import AuthHandlers
from identity.app.organizations import OrganizationHandlers
from identity.app.ports import (
    Clock,
    LoginThrottle,
    PasswordHasher,
    TokenService,
    UnitOfWorkFactory,
)
from identity.app.sessions import SessionIssuer, SessionPolicy
from identity.app.users import UserHandlers


@dataclass(frozen=True)
class Handlers:
    organizations: OrganizationHandlers
    users: UserHandlers
    auth: AuthHandlers
    api_keys: ApiKeyHandlers
    audit: AuditHandlers


def build_handlers(
    *,
    uow: UnitOfWorkFactory,
    hasher: PasswordHasher,
    tokens: TokenService,
    throttle: LoginThrottle,
    clock: Clock,
    policy: SessionPolicy,
    reads: UnitOfWorkFactory | None = None,
) -> Handlers:
    """``reads`` makes the units of work of the pure reads (read_only), ``uow`` every other
    one's; without it, reads take a transaction too."""
    reads = reads or uow
    sessions = SessionIssuer(tokens, clock, policy)
    verifier = ApiKeyVerifier(uow, clock)
    return Handlers(
        organizations=OrganizationHandlers(uow=uow, reads=reads, hasher=hasher, clock=clock),
        users=UserHandlers(uow=uow, reads=reads, hasher=hasher, clock=clock),
        auth=AuthHandlers(
            uow=uow,
            hasher=hasher,
            sessions=sessions,
            throttle=throttle,
            clock=clock,
            tokens=tokens,
            api_keys=verifier,
        ),
        api_keys=ApiKeyHandlers(
            uow=uow, reads=reads, clock=clock, verifier=verifier, sessions=sessions
        ),
        audit=AuditHandlers(uow=uow, reads=reads),
    )
