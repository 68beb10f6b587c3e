"""Handlers for API keys: create (secret shown once), list, revoke, authenticate."""

from __future__ import annotations

import hmac
import secrets
import string
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from identity.app import audit_trail
from identity.app.access import check_grant
from identity.app.commands import (
    AuthenticateApiKey,
    CreateApiKey,
    ExchangeApiKey,
    ListApiKeys,
    RevokeApiKey,
)
from identity.app.ports import (
    Clock,
    IdempotencyRace,
    IdempotencyRecord,
    ListQuery,
    UnitOfWorkFactory,
)
from identity.app.sessions import SessionIssuer
from identity.app.support import (
    next_page_token,
    page_cursor,
    sha256_hex,
)
from identity.domain import events
from identity.domain.errors import (
    ApiKeyNotFound,
    InvalidApiKey,
    InvalidField,
    InvalidScope,
    RequestIdReused,
)
from identity.domain.model import ApiKey, ApiKeyState, check_display_name
from identity.domain.roles import USER_ADMINS, Role
from keel_runtime import access, paging
from keel_runtime.idempotency import fingerprint, replay
from keel_runtime.ids import new_id

KEY_PREFIX = "keel_"
_ALPHABET = string.digits + string.ascii_letters
_ID_LEN = 8
_BODY_LEN = 32  # 32 base62 characters: about 190 bits of entropy
_CHECK_LEN = 6
API_KEY_TOKEN_TTL = timedelta(minutes=5)


def _base62(number: int, width: int) -> str:
    chars = []
    for _ in range(width):
        number, rem = divmod(number, 62)
        chars.append(_ALPHABET[rem])
    return "".join(reversed(chars))


def _checksum(text: str) -> str:
    return _base62(zlib.crc32(text.encode()), _CHECK_LEN)


def generate_key() -> tuple[str, str]:
    """A new key and its public prefix: ``keel_<id>_<secret><crc32>``.

    The checksum lets typos and foreign strings be rejected without a database lookup,
    and makes keys recognisable to secret scanners.
    """
    key_id = "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(_ID_LEN))
    prefix = KEY_PREFIX + key_id
    body = "".join(secrets.choice(_ALPHABET) for _ in range(_BODY_LEN))
    unchecked = f"{prefix}_{body}"
    return unchecked + _checksum(unchecked), prefix


def parse_key(key: str) -> str | None:
    """The prefix of a well-formed key with a valid checksum, else None."""
    expected_len = len(KEY_PREFIX) + _ID_LEN + 1 + _BODY_LEN + _CHECK_LEN
    if len(key) != expected_len or not key.startswith(KEY_PREFIX):
        return None
    unchecked, check = key[:-_CHECK_LEN], key[-_CHECK_LEN:]
    if not hmac.compare_digest(_checksum(unchecked), check):
        return None
    return unchecked[: len(KEY_PREFIX) + _ID_LEN]


def check_scopes(scopes: Iterable[str]) -> None:
    """Only the tenant scopes the contracts declare; platform powers are never delegated."""
    vocabulary = access.vocabulary()
    for scope in sorted(scopes):
        if scope in vocabulary.platform:
            raise InvalidScope(
                f"scope {scope!r} is a platform scope: no API key may carry it",
                field="scopes",
                scope=scope,
            )
        if scope not in vocabulary.tenant:
            raise InvalidScope(
                f"scope {scope!r} is unknown; API keys carry "
                + ", ".join(sorted(vocabulary.tenant)),
                field="scopes",
                scope=scope,
            )


@dataclass(frozen=True)
class NewApiKey:
    api_key: ApiKey
    secret: str  # empty on an idempotent replay: the secret is never stored


class ApiKeyVerifier:
    """Checks a presented key: format, checksum, stored hash, state; records the use."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def verify(self, presented: str) -> ApiKey:
        prefix = parse_key(presented)
        if prefix is None:
            raise InvalidApiKey()
        async with self._uow() as uow:
            # Before the organization is known: the key with this prefix, found across
            # organizations; once its secret checks out, the transaction acts for its own.
            key = await uow.api_keys.get_by_prefix(prefix)
            now = self._clock.now()
            valid = (
                key is not None
                and hmac.compare_digest(key.secret_hash, sha256_hex(presented))
                and key.state(now) is ApiKeyState.ACTIVE
            )
            if not valid or key is None:
                raise InvalidApiKey()
            await uow.act_for(key.organization_id)
            await uow.api_keys.touch(key.id, now)
            await uow.commit()
        return key


@dataclass(frozen=True)
class ApiKeyAuthentication:
    api_key: ApiKey
    access_token: str
    access_expires_at: datetime
    expires_in: int


class ApiKeyHandlers:
    """API keys: create (secret shown once), list, revoke; authenticate and exchange."""

    def __init__(
        self,
        *,
        uow: UnitOfWorkFactory,
        clock: Clock,
        verifier: ApiKeyVerifier,
        sessions: SessionIssuer,
        reads: UnitOfWorkFactory | None = None,
    ) -> None:
        self._uow = uow
        # Pure reads go through units of work without a transaction of their own (read_only).
        self._reads = reads or uow
        self._clock = clock
        self._verifier = verifier
        self._sessions = sessions

    async def create(self, cmd: CreateApiKey) -> NewApiKey:
        check_scopes(cmd.scopes)
        roles = cmd.roles or frozenset({Role.MEMBER})
        # The same rule as granting roles to a user: admins grant all but OWNER.
        check_grant(cmd.caller, roles)
        if cmd.expires_at is not None and cmd.expires_at <= self._clock.now():
            raise InvalidField("expire_time must be in the future", field="expire_time")
        name = check_display_name(cmd.display_name)
        digest = fingerprint(
            {
                "name": name,
                "scopes": sorted(cmd.scopes),
                "roles": sorted(roles),
                "expires": cmd.expires_at.isoformat() if cmd.expires_at else "",
            }
        )
        try:
            return await self._attempt(cmd, name, roles, digest)
        except IdempotencyRace:
            return await self._attempt(cmd, name, roles, digest)

    async def _attempt(
        self, cmd: CreateApiKey, name: str, roles: frozenset[Role], digest: str
    ) -> NewApiKey:
        org_id = cmd.caller.org_id
        scope = f"create_api_key:{org_id}"
        async with self._uow() as uow:
            if cmd.request_id:
                record = await uow.idempotency.get(scope, cmd.request_id)
                if record is not None:
                    replay(record, record.fingerprint, digest, _reused)
                    existing = await uow.api_keys.get(org_id, record.result["api_key_id"])
                    if existing is None:
                        raise ApiKeyNotFound()
                    return NewApiKey(existing, secret="")
            now = self._clock.now()
            secret, prefix = generate_key()
            key = ApiKey(
                id=new_id(),
                organization_id=org_id,
                display_name=name,
                prefix=prefix,
                secret_hash=sha256_hex(secret),
                scopes=cmd.scopes,
                roles=roles,
                creator_user_id=cmd.caller.subject,
                created_at=now,
                expires_at=cmd.expires_at,
            )
            await uow.api_keys.add(key)
            if cmd.request_id:
                await uow.idempotency.add(
                    IdempotencyRecord(scope, cmd.request_id, digest, {"api_key_id": key.id}, now)
                )
            await uow.audit.append(
                audit_trail.entry(
                    organization_id=org_id,
                    action="api_key.created",
                    target_type="api_key",
                    target_id=key.id,
                    at=now,
                    caller=cmd.caller,
                    prefix=prefix,
                )
            )
            uow.record(
                events.ApiKeyCreated(key.id, org_id, prefix, key.scopes, key.creator_user_id, now)
            )
            await uow.commit()
            return NewApiKey(key, secret)

    async def list(self, query: ListApiKeys) -> tuple[list[ApiKey], str]:
        query.caller.require_role(*USER_ADMINS)
        scope = paging.query_digest("ListApiKeys", query.caller.org_id, query.show_inactive)
        list_query = ListQuery(
            limit=paging.page_size(query.page_size),
            after=page_cursor(query.page_token, scope),
            include_inactive=query.show_inactive,
            filters={"now": self._clock.now().isoformat()},
        )
        async with self._reads() as uow:
            page = await uow.api_keys.list(query.caller.org_id, list_query)
        return list(page.items), next_page_token(page.next_cursor, scope)

    async def revoke(self, cmd: RevokeApiKey) -> ApiKey:
        cmd.caller.require_role(*USER_ADMINS)
        async with self._uow() as uow:
            key = await uow.api_keys.get(cmd.caller.org_id, cmd.api_key_id)
            if key is None:
                raise ApiKeyNotFound(api_key_id=cmd.api_key_id)
            now = self._clock.now()
            key.revoke(now)
            await uow.api_keys.update(key)
            await uow.audit.append(
                audit_trail.entry(
                    organization_id=key.organization_id,
                    action="api_key.revoked",
                    target_type="api_key",
                    target_id=key.id,
                    at=now,
                    caller=cmd.caller,
                )
            )
            uow.record(events.ApiKeyRevoked(key.id, key.organization_id, now))
            await uow.commit()
            return key

    async def authenticate(self, cmd: AuthenticateApiKey) -> ApiKeyAuthentication:
        """Exchanges a key for a short-lived access token: for the mesh (service principals,
        ``__call__``) and for external clients without any token (``exchange``, public).
        """
        cmd.caller.require_platform()
        return await self.exchange(ExchangeApiKey(api_key=cmd.api_key))

    async def exchange(self, cmd: ExchangeApiKey) -> ApiKeyAuthentication:
        # Unknown, revoked, expired and malformed keys all fail alike (InvalidApiKey).
        key = await self._verifier.verify(cmd.api_key)
        token, claims = await self._sessions.access_token(
            subject=key.id,
            organization_id=key.organization_id,
            roles=tuple(sorted(key.roles)),
            scopes=tuple(sorted(key.scopes)),
            kind="api_key",
            ttl=API_KEY_TOKEN_TTL,
        )
        expires_in = int((claims.expires_at - claims.issued_at).total_seconds())
        return ApiKeyAuthentication(key, token, claims.expires_at, expires_in)


def _reused(first: IdempotencyRecord) -> RequestIdReused:
    return RequestIdReused()
