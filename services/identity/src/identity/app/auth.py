"""Handlers for sessions: login, refresh, logout, JWKS and token introspection."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from identity.app import audit_trail
from identity.app.api_keys import KEY_PREFIX, ApiKeyVerifier
from identity.app.commands import (
    IntrospectToken,
    Login,
    Logout,
    RefreshSession,
    RotateSigningKey,
)
from identity.app.ports import (
    AccessClaims,
    Clock,
    KeyRotation,
    LoginThrottle,
    PasswordHasher,
    TokenService,
    UnitOfWork,
    UnitOfWorkFactory,
)
from identity.app.sessions import REFRESH_TOKEN_PREFIX, SessionIssuer, TokenGrant
from identity.app.support import sha256_hex
from identity.domain import events
from identity.domain.errors import (
    AuthenticationFailed,
    InvalidCredentials,
    InvalidRefreshToken,
    RefreshTokenReused,
)
from identity.domain.model import RefreshToken, User, normalize_email
from keel_runtime.tenancy import acting_for

log = logging.getLogger(__name__)


def unknown_account(email: str, organization_id: str) -> str:
    """Throttle key of a login that targets no account: throttled like a real one, so the
    throttle does not tell which emails exist."""
    return "unknown:" + sha256_hex(f"{organization_id}|{email}")


@dataclass(frozen=True)
class Introspection:
    active: bool
    subject: str = ""
    organization_id: str = ""
    roles: tuple[str, ...] = ()
    scopes: tuple[str, ...] = ()
    kind: str = ""
    token_id: str = ""
    expires_at: datetime | None = None


class AuthHandlers:
    """Sessions and tokens: login, refresh, logout, JWKS, introspection, key rotation."""

    def __init__(
        self,
        *,
        uow: UnitOfWorkFactory,
        hasher: PasswordHasher,
        sessions: SessionIssuer,
        throttle: LoginThrottle,
        clock: Clock,
        tokens: TokenService,
        api_keys: ApiKeyVerifier,
    ) -> None:
        self._uow = uow
        self._hasher = hasher
        self._sessions = sessions
        self._throttle = throttle
        self._clock = clock
        self._audit_writes: set[asyncio.Task[None]] = set()
        self._tokens = tokens
        self._api_keys = api_keys

    async def login(self, cmd: Login) -> TokenGrant:
        """Verifies the password of exactly one account, the one the request targets.

        An email may belong to several organizations (emails are unique per organization),
        and anyone can add a user with any email to their own. So a login names its
        organization, or targets the email's first registered account: never the set of
        accounts with that email, whose passwords would answer for each other (an oracle, a
        failure counter reset by another account's success, and a cost that grows with it).
        """
        email = normalize_email(cmd.email)
        async with self._uow() as uow:
            # Before the organization is known: the one account the login targets, found
            # across organizations (oldest first: a later account under the same email
            # cannot take the default).
            target = await uow.users.login_target(email, cmd.organization_id or None)
        account = target.id if target else unknown_account(email, cmd.organization_id)
        await self._throttle.admit(account, cmd.client_address)
        # Verify outside any transaction: argon2 is slow on purpose. Without a target the
        # dummy verify costs the same, so timing does not tell which emails exist.
        if target is None:
            await self._hasher.burn(cmd.password)
            raise InvalidCredentials()
        verified = await self._hasher.verify(target.password_hash, cmd.password)
        # A deactivated account answers like a wrong password: its state is nobody's business.
        if not (verified and target.is_active):
            self._record_failure_later(target, cmd.client_address)
            raise InvalidCredentials()
        user = target
        await self._throttle.succeeded(account, cmd.client_address)
        rehash = self._hasher.needs_rehash(user.password_hash)
        new_hash = await self._hasher.hash(cmd.password) if rehash else None
        with acting_for(user.organization_id):
            return await self._grant(user, new_hash, cmd.client_address)

    async def _grant(self, user: User, new_hash: str | None, address: str) -> TokenGrant:
        async with self._uow() as uow:
            if new_hash is not None:
                user.password_hash = new_hash
                await uow.users.update(user)
            grant = await self._sessions.grant(uow, user)
            await uow.audit.append(
                audit_trail.entry(
                    organization_id=user.organization_id,
                    action="user.login",
                    target_type="user",
                    target_id=user.id,
                    at=self._clock.now(),
                    actor_subject=user.id,
                    actor_kind="user",
                    address=address,
                )
            )
            await uow.commit()
        return grant

    def _record_failure_later(self, user: User, address: str) -> None:
        # Written after the reply: an insert only known accounts pay for would tell them
        # apart from unknown emails by timing.
        task = asyncio.create_task(self._record_failure(user, address))
        self._audit_writes.add(task)
        task.add_done_callback(self._audit_writes.discard)

    async def settled(self) -> None:
        """Waits for failed-login audit entries still being written (shutdown, tests)."""
        await asyncio.gather(*self._audit_writes, return_exceptions=True)

    async def _record_failure(self, user: User, address: str) -> None:
        """Failed attempts on a known account go to its organization's audit log."""
        try:
            await self._append_failure(user, address)
        except Exception:
            log.warning("failed login not audited", exc_info=True)

    async def _append_failure(self, user: User, address: str) -> None:
        with acting_for(user.organization_id):
            await self._append_failure_for_org(user, address)

    async def _append_failure_for_org(self, user: User, address: str) -> None:
        async with self._uow() as uow:
            await uow.audit.append(
                audit_trail.entry(
                    organization_id=user.organization_id,
                    action="user.login_failed",
                    target_type="user",
                    target_id=user.id,
                    at=self._clock.now(),
                    address=address,
                )
            )
            await uow.commit()

    async def refresh(self, cmd: RefreshSession) -> TokenGrant:
        if not cmd.refresh_token.startswith(REFRESH_TOKEN_PREFIX):
            raise InvalidRefreshToken()
        token_hash = sha256_hex(cmd.refresh_token)
        async with self._uow() as uow:
            # Before the organization is known: the presented token's, found by its hash
            # across organizations; the rest of the transaction acts for it.
            organization_id = await uow.refresh_tokens.organization_of(token_hash)
            if organization_id is None:
                raise InvalidRefreshToken()
            await uow.act_for(organization_id)
            now = self._clock.now()
            token = await uow.refresh_tokens.get_for_update(token_hash)
            if token is None or token.revoked_at is not None or now >= token.expires_at:
                raise InvalidRefreshToken()
            if token.used_at is not None:
                await self._spent_token_presented(uow, token, now)
            user = await uow.users.get(token.organization_id, token.user_id)
            if user is None or not user.is_active:
                await uow.refresh_tokens.revoke_family(token.family_id, now)
                await uow.commit()  # the revocation stands, though the call fails
                raise InvalidRefreshToken()
            grant = await self._sessions.grant(uow, user, family_id=token.family_id)
            await uow.refresh_tokens.mark_used(
                token_hash, now, replaced_by=sha256_hex(grant.refresh_token)
            )
            await uow.commit()
        return grant

    async def _spent_token_presented(
        self, uow: UnitOfWork, token: RefreshToken, now: datetime
    ) -> None:
        """Within the grace, a lost response: retire the unseen successor and carry on.

        Otherwise someone replays a spent token (stolen, or a stale copy): the whole
        family is revoked, committed, and the call fails.
        """
        successor = (
            await uow.refresh_tokens.get_for_update(token.replaced_by)
            if token.replaced_by
            else None
        )
        grace = self._sessions.policy.refresh_grace
        if token.within_grace(now, grace) and successor is not None and successor.is_usable(now):
            await uow.refresh_tokens.revoke(successor.token_hash, now)
            return
        await uow.refresh_tokens.revoke_family(token.family_id, now)
        uow.record(
            events.SessionRevoked(
                token.family_id,
                token.user_id,
                token.organization_id,
                events.SessionRevocationReason.REFRESH_TOKEN_REUSED,
                now,
            )
        )
        await uow.audit.append(
            audit_trail.entry(
                organization_id=token.organization_id,
                action="session.refresh_token_reused",
                target_type="user",
                target_id=token.user_id,
                at=now,
                family=token.family_id,
            )
        )
        await uow.commit()
        raise RefreshTokenReused()

    async def logout(self, cmd: Logout) -> None:
        async with self._uow() as uow:
            token = await uow.refresh_tokens.get_for_update(sha256_hex(cmd.refresh_token))
            # Someone else's token is treated as unknown: logout must not reveal sessions.
            if token is None or token.user_id != cmd.caller.subject:
                raise InvalidRefreshToken()
            now = self._clock.now()
            await uow.refresh_tokens.revoke_family(token.family_id, now)
            # Its access tokens too, in every service (through the revocation bucket).
            uow.record(
                events.SessionRevoked(
                    token.family_id,
                    token.user_id,
                    token.organization_id,
                    events.SessionRevocationReason.LOGOUT,
                    now,
                )
            )
            await uow.audit.append(
                audit_trail.entry(
                    organization_id=token.organization_id,
                    action="user.logout",
                    target_type="user",
                    target_id=token.user_id,
                    at=now,
                    caller=cmd.caller,
                )
            )
            await uow.commit()

    async def jwks(self) -> dict[str, Any]:
        return await self._tokens.jwks()

    async def introspect(self, cmd: IntrospectToken) -> Introspection:
        """Checks an access token, or an API key (recognised by its prefix), for the mesh."""
        cmd.caller.require_platform()
        try:
            if cmd.token.startswith(KEY_PREFIX):
                key = await self._api_keys.verify(cmd.token)
                return Introspection(
                    active=True,
                    subject=key.id,
                    organization_id=key.organization_id,
                    roles=tuple(sorted(key.roles)),
                    scopes=tuple(sorted(key.scopes)),
                    kind="api_key",
                    token_id=key.id,
                    expires_at=key.expires_at,
                )
            claims = await self._tokens.verify(cmd.token)
        except AuthenticationFailed:
            return Introspection(active=False)
        if claims.kind == "user" and not await self._user_active(claims):
            # A signature outlives its user: introspection also answers for revocation.
            return Introspection(active=False)
        return Introspection(
            active=True,
            subject=claims.subject,
            organization_id=claims.organization_id,
            roles=claims.roles,
            scopes=claims.scopes,
            kind=claims.kind,
            token_id=claims.token_id,
            expires_at=claims.expires_at,
        )

    async def _user_active(self, claims: AccessClaims) -> bool:
        # The caller is a Keel service; the token's organization is the one to look in.
        with acting_for(claims.organization_id):
            async with self._uow() as uow:
                user = await uow.users.get(claims.organization_id, claims.subject)
        return user is not None and user.is_active

    async def rotate_signing_key(self, cmd: RotateSigningKey) -> KeyRotation:
        # The signing key is every tenant's: a platform power, never an OWNER's. The server
        # chain refuses tenants first (keel.auth.v1.access); this keeps the rule here too.
        cmd.caller.require_platform()
        return await self._tokens.rotate()
