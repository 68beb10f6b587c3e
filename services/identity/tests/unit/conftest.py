"""In-memory fakes of identity's ports, so handlers are tested without I/O."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any, Self

import jwt
import pytest

from identity.adapters.crypto.keys import SigningKey, signer_of
from identity.adapters.crypto.passwords import Argon2Hasher, Argon2Params
from identity.adapters.crypto.tokens import JwtTokenService
from identity.adapters.throttle import NoThrottle
from identity.app.handlers import Handlers, build_handlers
from identity.app.ports import IdempotencyRace, IdempotencyRecord, ListQuery, Page
from identity.app.sessions import SessionPolicy
from identity.domain.events import DomainEvent
from identity.domain.model import (
    ApiKey,
    AuditEntry,
    Organization,
    RefreshToken,
    User,
    UserState,
)
from identity.domain.roles import Role

ISSUER = "keel-identity-test"
AUDIENCE = "keel-test"
# Cheap argon2id parameters: the real algorithm, a fraction of the cost.
FAST_ARGON2 = Argon2Params(time_cost=1, memory_cost_kib=64, parallelism=1)


class FixedClock:
    def __init__(self, now: datetime | None = None) -> None:
        self.current = now or datetime.now(UTC).replace(microsecond=0)

    def now(self) -> datetime:
        return self.current

    def advance(self, **delta: float) -> None:
        self.current += timedelta(**delta)


@dataclass
class State:
    """What the fake database holds; copied per unit of work, kept only on commit."""

    organizations: dict[str, Organization] = field(default_factory=dict)
    users: dict[str, User] = field(default_factory=dict)
    refresh_tokens: dict[str, RefreshToken] = field(default_factory=dict)
    api_keys: dict[str, ApiKey] = field(default_factory=dict)
    idempotency: dict[tuple[str, str], IdempotencyRecord] = field(default_factory=dict)
    audit: list[AuditEntry] = field(default_factory=list)
    events: list[DomainEvent] = field(default_factory=list)


def _page(items: list[Any], query: ListQuery, newest_first: bool) -> Page[Any]:
    items.sort(key=lambda x: (x.created_at, x.id), reverse=newest_first)
    if query.after is not None:
        after = (datetime.fromisoformat(query.after[0]), query.after[1])
        items = [
            x
            for x in items
            if ((x.created_at, x.id) < after if newest_first else (x.created_at, x.id) > after)
        ]
    if len(items) <= query.limit:
        return Page(items)
    kept = items[: query.limit]
    return Page(kept, (kept[-1].created_at.isoformat(), kept[-1].id))


class FakeOrganizations:
    def __init__(self, s: State) -> None:
        self.s = s

    async def add(self, organization: Organization) -> None:
        self.s.organizations[organization.id] = copy.deepcopy(organization)

    async def get(self, organization_id: str) -> Organization | None:
        return copy.deepcopy(self.s.organizations.get(organization_id))

    async def update(self, organization: Organization) -> None:
        self.s.organizations[organization.id] = copy.deepcopy(organization)


class FakeUsers:
    def __init__(self, s: State) -> None:
        self.s = s

    async def add(self, user: User) -> None:
        if any(
            u.organization_id == user.organization_id and u.email == user.email
            for u in self.s.users.values()
        ):
            raise AssertionError("unique (organization_id, email) violated")
        self.s.users[user.id] = copy.deepcopy(user)

    async def get(self, organization_id: str, user_id: str) -> User | None:
        user = self.s.users.get(user_id)
        return copy.deepcopy(user) if user and user.organization_id == organization_id else None

    async def find_by_email(self, email: str, organization_id: str | None = None) -> list[User]:
        return [
            copy.deepcopy(u)
            for u in self.s.users.values()
            if u.email == email
            and (organization_id is None or u.organization_id == organization_id)
        ]

    async def login_target(self, email: str, organization_id: str | None) -> User | None:
        found = sorted(
            await self.find_by_email(email, organization_id), key=lambda u: (u.created_at, u.id)
        )
        return found[0] if found else None

    async def email_registered(self, email: str) -> bool:
        return bool(await self.find_by_email(email))

    async def lock_email(self, email: str) -> None:
        return None

    async def update(self, user: User) -> None:
        self.s.users[user.id] = copy.deepcopy(user)

    async def list(self, organization_id: str, query: ListQuery) -> Page[User]:
        users = [
            copy.deepcopy(u)
            for u in self.s.users.values()
            if u.organization_id == organization_id
            and (query.include_inactive or u.state is UserState.ACTIVE)
        ]
        return _page(users, query, newest_first=False)

    async def count_active_owners(self, organization_id: str) -> int:
        return sum(
            1
            for u in self.s.users.values()
            if u.organization_id == organization_id and u.is_active and Role.OWNER in u.roles
        )


class FakeRefreshTokens:
    def __init__(self, s: State) -> None:
        self.s = s

    async def add(self, token: RefreshToken) -> None:
        self.s.refresh_tokens[token.token_hash] = copy.deepcopy(token)

    async def organization_of(self, token_hash: str) -> str | None:
        token = self.s.refresh_tokens.get(token_hash)
        return token.organization_id if token else None

    async def get_for_update(self, token_hash: str) -> RefreshToken | None:
        return copy.deepcopy(self.s.refresh_tokens.get(token_hash))

    async def mark_used(self, token_hash: str, at: datetime, replaced_by: str) -> None:
        token = self.s.refresh_tokens[token_hash]
        token.used_at, token.replaced_by = at, replaced_by

    async def revoke(self, token_hash: str, at: datetime) -> None:
        token = self.s.refresh_tokens[token_hash]
        token.revoked_at = token.revoked_at or at

    async def revoke_family(self, family_id: str, at: datetime) -> None:
        for token in self.s.refresh_tokens.values():
            if token.family_id == family_id:
                token.revoked_at = token.revoked_at or at

    async def revoke_user(self, user_id: str, at: datetime) -> list[str]:
        families = set()
        for token in self.s.refresh_tokens.values():
            if token.user_id == user_id and token.revoked_at is None:
                token.revoked_at = at
                families.add(token.family_id)
        return sorted(families)


class FakeApiKeys:
    def __init__(self, s: State) -> None:
        self.s = s

    async def add(self, key: ApiKey) -> None:
        self.s.api_keys[key.id] = copy.deepcopy(key)

    async def get(self, organization_id: str, api_key_id: str) -> ApiKey | None:
        key = self.s.api_keys.get(api_key_id)
        return copy.deepcopy(key) if key and key.organization_id == organization_id else None

    async def get_by_prefix(self, prefix: str) -> ApiKey | None:
        return next(
            (copy.deepcopy(k) for k in self.s.api_keys.values() if k.prefix == prefix), None
        )

    async def update(self, key: ApiKey) -> None:
        self.s.api_keys[key.id] = copy.deepcopy(key)

    async def touch(self, api_key_id: str, at: datetime) -> None:
        self.s.api_keys[api_key_id].last_used_at = at

    async def revoke_by_creator(self, user_id: str, at: datetime) -> list[ApiKey]:
        revoked = []
        for key in self.s.api_keys.values():
            if key.creator_user_id == user_id and key.revoked_at is None:
                key.revoked_at = at
                revoked.append(copy.deepcopy(key))
        return revoked

    async def list(self, organization_id: str, query: ListQuery) -> Page[ApiKey]:
        keys = [
            copy.deepcopy(k)
            for k in self.s.api_keys.values()
            if k.organization_id == organization_id
        ]
        if not query.include_inactive:
            keys = [k for k in keys if k.revoked_at is None]
        return _page(keys, query, newest_first=True)


class FakeIdempotency:
    def __init__(self, s: State, shared: State) -> None:
        self.s = s
        self.shared = shared

    async def get(self, scope: str, request_id: str) -> IdempotencyRecord | None:
        return self.s.idempotency.get((scope, request_id))

    async def add(self, record: IdempotencyRecord) -> None:
        # A record committed by another unit of work meanwhile is the race the port reports.
        if (record.scope, record.request_id) in self.shared.idempotency:
            raise IdempotencyRace(record.request_id)
        self.s.idempotency[(record.scope, record.request_id)] = record


class FakeAuditLog:
    def __init__(self, s: State) -> None:
        self.s = s

    async def append(self, entry: AuditEntry) -> None:
        self.s.audit.append(entry)

    async def list(self, organization_id: str, query: ListQuery) -> Page[AuditEntry]:
        entries = [
            e
            for e in self.s.audit
            if e.organization_id == organization_id
            and all(getattr(e, k) == v for k, v in query.filters.items())
        ]
        return _page(entries, query, newest_first=True)


class FakeUnitOfWork:
    def __init__(self, db: FakeDatabase) -> None:
        self._db = db
        self.committed = False
        self.acting_for = ""

    async def __aenter__(self) -> Self:
        self._work = copy.deepcopy(self._db.state)
        self.organizations = FakeOrganizations(self._work)
        self.users = FakeUsers(self._work)
        self.refresh_tokens = FakeRefreshTokens(self._work)
        self.api_keys = FakeApiKeys(self._work)
        self.idempotency = FakeIdempotency(self._work, self._db.state)
        self.audit = FakeAuditLog(self._work)
        self._pending: list[DomainEvent] = []
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._pending.clear()

    def record(self, *events: DomainEvent) -> None:
        self._pending.extend(events)

    async def act_for(self, organization_id: str) -> None:
        self.acting_for = organization_id  # the fake has no row-level security: only noted

    async def commit(self) -> None:
        if self._db.fail_next_commit:
            self._db.fail_next_commit = False
            raise RuntimeError("commit failed")
        self._work.events.extend(self._pending)
        self._db.state = self._work
        self._work = copy.deepcopy(self._work)
        self.committed = True


@dataclass
class FakeDatabase:
    state: State = field(default_factory=State)
    fail_next_commit: bool = False

    def uow(self) -> FakeUnitOfWork:
        return FakeUnitOfWork(self)


class MemoryKeyStore:
    def __init__(self) -> None:
        self.keys: list[SigningKey] = []

    async def load(self, retired_since: datetime) -> list[SigningKey]:
        keep = [k for k in self.keys if k.retired_at is None or k.retired_at > retired_since]
        return sorted(keep, key=lambda k: k.created_at, reverse=True)

    async def ensure_active(self, make: Callable[[], SigningKey]) -> SigningKey:
        active = [k for k in self.keys if k.retired_at is None]
        if active:
            return active[-1]
        key = make()
        self.keys.append(key)
        return key

    async def rotate(
        self, make: Callable[[], SigningKey], now: datetime, lead: timedelta
    ) -> tuple[SigningKey, SigningKey | None]:
        live = [k for k in self.keys if k.retired_at is None]
        current = signer_of(live, now, lead)
        for key in live:
            if key is not current:
                self.keys.remove(key)
                self.keys.append(replace(key, retired_at=now))
        key = make()
        self.keys.append(key)
        return key, current


class RecordingThrottle(NoThrottle):
    def __init__(self) -> None:
        self.admitted: list[tuple[str, str]] = []
        self.successes: list[tuple[str, str]] = []

    async def admit(self, account: str, address: str) -> None:
        self.admitted.append((account, address))

    async def succeeded(self, account: str, address: str) -> None:
        self.successes.append((account, address))


@dataclass
class World:
    db: FakeDatabase
    clock: FixedClock
    keys: MemoryKeyStore
    tokens: JwtTokenService
    throttle: RecordingThrottle
    handlers: Handlers

    async def decode(self, token: str) -> dict[str, Any]:
        """Verify a token the way a relying party does: against the published JWKS only."""
        key_set = jwt.PyJWKSet.from_dict(await self.handlers.auth.jwks())
        kid = jwt.get_unverified_header(token)["kid"]
        key = next(k for k in key_set.keys if k.key_id == kid)
        claims: dict[str, Any] = jwt.decode(
            token, key, algorithms=["EdDSA"], audience=AUDIENCE, issuer=ISSUER
        )
        return claims


@pytest.fixture
async def world() -> World:
    db = FakeDatabase()
    clock = FixedClock()
    keys = MemoryKeyStore()
    tokens = JwtTokenService(
        keys,
        clock,
        issuer=ISSUER,
        audience=AUDIENCE,
        retired_key_lifetime=timedelta(minutes=20),
        cache_ttl=timedelta(0),
    )
    await tokens.start()
    throttle = RecordingThrottle()
    handlers = build_handlers(
        uow=db.uow,
        hasher=Argon2Hasher(FAST_ARGON2),
        tokens=tokens,
        throttle=throttle,
        clock=clock,
        policy=SessionPolicy(),
    )
    return World(db, clock, keys, tokens, throttle, handlers)
