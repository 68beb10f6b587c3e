"""Ports the application layer needs; storage, crypto and Redis adapters implement them."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, Protocol, TypeVar

from identity.domain.events import DomainEvent
from identity.domain.model import ApiKey, AuditEntry, Organization, RefreshToken, User
from keel_runtime.ports import TransactionPort

T = TypeVar("T")


class IdempotencyRace(Exception):
    """Another transaction recorded the same request id first; retry to replay it."""


class Clock(Protocol):
    def now(self) -> datetime: ...


class PasswordHasher(Protocol):
    async def hash(self, password: str) -> str: ...

    async def verify(self, password_hash: str, password: str) -> bool: ...

    def needs_rehash(self, password_hash: str) -> bool: ...

    async def burn(self, password: str) -> None:
        """Spend the time of one verification, so unknown emails answer as slowly."""
        ...


@dataclass(frozen=True)
class AccessClaims:
    subject: str
    organization_id: str
    roles: tuple[str, ...]
    scopes: tuple[str, ...]
    kind: str
    issued_at: datetime
    expires_at: datetime
    token_id: str
    session_id: str = ""
    """The session (refresh-token family) a user token belongs to, JWT ``sid``: revoking the
    session refuses its tokens everywhere. Empty for API-key tokens."""


@dataclass(frozen=True)
class KeyRotation:
    active_key_id: str
    retired_key_id: str | None
    retired_key_unpublish_at: datetime | None
    active_from: datetime | None = None
    """When the new key starts signing; it is in the JWKS from the rotation on."""


class TokenService(Protocol):
    """Signs and verifies access tokens with the current signing keys."""

    async def sign(self, claims: AccessClaims) -> str: ...

    async def verify(self, token: str) -> AccessClaims:
        """Raise identity.domain.errors.AuthenticationFailed when invalid."""
        ...

    async def jwks(self) -> dict[str, Any]: ...

    async def rotate(self) -> KeyRotation: ...


class LoginThrottle(Protocol):
    """Counts login attempts per targeted account and client address.

    ``account`` is the targeted user's id (or a stand-in for a login that targets none),
    never the email: accounts sharing an email never share a count.
    """

    async def admit(self, account: str, address: str) -> None:
        """Raise TooManyLoginAttempts while this address must wait for this account;
        otherwise count the attempt as a failure until ``succeeded`` says otherwise."""
        ...

    async def succeeded(self, account: str, address: str) -> None:
        """The admitted attempt logged in: forget its failures, for this account only."""
        ...


@dataclass(frozen=True)
class IdempotencyRecord:
    scope: str
    request_id: str
    fingerprint: str
    result: dict[str, str]
    created_at: datetime


@dataclass(frozen=True)
class Page(Generic[T]):
    items: Sequence[T]
    next_cursor: tuple[str, str] | None = None


@dataclass(frozen=True)
class ListQuery:
    """Keyset pagination: rows strictly after ``after`` = (ISO time, id) in list order."""

    limit: int
    after: tuple[str, str] | None = None
    include_inactive: bool = False
    filters: dict[str, str] = field(default_factory=dict)


class OrganizationRepository(Protocol):
    async def add(self, organization: Organization) -> None: ...

    async def get(self, organization_id: str) -> Organization | None: ...

    async def update(self, organization: Organization) -> None: ...


class UserRepository(Protocol):
    async def add(self, user: User) -> None: ...

    async def get(self, organization_id: str, user_id: str) -> User | None: ...

    async def find_by_email(self, email: str, organization_id: str | None = None) -> list[User]: ...

    async def login_target(self, email: str, organization_id: str | None) -> User | None:
        """Across organizations: the one account a login targets (the email's account in
        the named organization, else its first registered one)."""

    async def email_registered(self, email: str) -> bool:
        """Across organizations: whether any account has this email."""

    async def lock_email(self, email: str) -> None:
        """Serialize concurrent registrations of one email until the transaction ends."""
        ...

    async def update(self, user: User) -> None: ...

    async def list(self, organization_id: str, query: ListQuery) -> Page[User]: ...

    async def count_active_owners(self, organization_id: str) -> int: ...


class RefreshTokenRepository(Protocol):
    async def add(self, token: RefreshToken) -> None: ...

    async def organization_of(self, token_hash: str) -> str | None:
        """Across organizations: the organization of the token with this hash."""

    async def get_for_update(self, token_hash: str) -> RefreshToken | None: ...

    async def mark_used(self, token_hash: str, at: datetime, replaced_by: str) -> None: ...

    async def revoke(self, token_hash: str, at: datetime) -> None: ...

    async def revoke_family(self, family_id: str, at: datetime) -> None: ...

    async def revoke_user(self, user_id: str, at: datetime) -> list[str]:
        """Revoke every live refresh token of the user; the families (sessions) it ended."""
        ...


class ApiKeyRepository(Protocol):
    async def add(self, key: ApiKey) -> None: ...

    async def get(self, organization_id: str, api_key_id: str) -> ApiKey | None: ...

    async def get_by_prefix(self, prefix: str) -> ApiKey | None:
        """Across organizations: the key with this (unique, public) prefix."""

    async def update(self, key: ApiKey) -> None: ...

    async def touch(self, api_key_id: str, at: datetime) -> None:
        """Record a use; cheap and rate-limited by the adapter."""
        ...

    async def revoke_by_creator(self, user_id: str, at: datetime) -> list[ApiKey]: ...

    async def list(self, organization_id: str, query: ListQuery) -> Page[ApiKey]: ...


class IdempotencyRepository(Protocol):
    async def get(self, scope: str, request_id: str) -> IdempotencyRecord | None: ...

    async def add(self, record: IdempotencyRecord) -> None:
        """Raise IdempotencyRace if the key was recorded concurrently."""
        ...


class AuditLog(Protocol):
    async def append(self, entry: AuditEntry) -> None: ...

    async def list(self, organization_id: str, query: ListQuery) -> Page[AuditEntry]: ...


class UnitOfWork(TransactionPort[DomainEvent], Protocol):
    """One transaction; leaving without commit() rolls everything back."""

    # Read-only properties, so implementations may narrow the repository types.
    @property
    def organizations(self) -> OrganizationRepository: ...

    @property
    def users(self) -> UserRepository: ...

    @property
    def refresh_tokens(self) -> RefreshTokenRepository: ...

    @property
    def api_keys(self) -> ApiKeyRepository: ...

    @property
    def idempotency(self) -> IdempotencyRepository: ...

    @property
    def audit(self) -> AuditLog: ...

    async def act_for(self, organization_id: str) -> None:
        """Act for the organization (row-level security) for the rest of the transaction:
        once a lookup across organizations has found whose the request is."""


UnitOfWorkFactory = Callable[[], UnitOfWork]
