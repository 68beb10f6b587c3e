"""Issues token grants: a signed access token plus a rotating refresh token."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from identity.app.ports import AccessClaims, Clock, TokenService, UnitOfWork
from identity.app.support import sha256_hex
from identity.domain.model import RefreshToken, User
from keel_runtime.ids import new_id

REFRESH_TOKEN_PREFIX = "krt_"


@dataclass(frozen=True)
class SessionPolicy:
    access_ttl: timedelta = timedelta(minutes=15)
    refresh_ttl: timedelta = timedelta(days=30)
    # A spent refresh token presented again within this window is taken as a lost
    # response (client retry), not as theft.
    refresh_grace: timedelta = timedelta(seconds=10)


@dataclass(frozen=True)
class TokenGrant:
    access_token: str
    access_expires_at: datetime
    expires_in: int
    refresh_token: str
    refresh_expires_at: datetime
    user_id: str
    organization_id: str


def new_refresh_secret() -> str:
    return REFRESH_TOKEN_PREFIX + secrets.token_urlsafe(32)


class SessionIssuer:
    def __init__(self, tokens: TokenService, clock: Clock, policy: SessionPolicy) -> None:
        self._tokens = tokens
        self._clock = clock
        self.policy = policy

    async def access_token(
        self,
        *,
        subject: str,
        organization_id: str,
        roles: tuple[str, ...],
        scopes: tuple[str, ...],
        kind: str,
        ttl: timedelta | None = None,
        session_id: str = "",
    ) -> tuple[str, AccessClaims]:
        now = self._clock.now()
        claims = AccessClaims(
            subject=subject,
            organization_id=organization_id,
            roles=roles,
            scopes=scopes,
            kind=kind,
            issued_at=now,
            expires_at=now + (ttl or self.policy.access_ttl),
            token_id=new_id(),
            session_id=session_id,
        )
        return await self._tokens.sign(claims), claims

    async def grant(self, uow: UnitOfWork, user: User, family_id: str | None = None) -> TokenGrant:
        """Sign an access token and store a new refresh token (in ``uow``'s transaction).

        The refresh-token family is the session: the access token names it (``sid``), so
        revoking the family refuses the access tokens it issued too.
        """
        session_id = family_id or new_id()
        token, claims = await self.access_token(
            subject=user.id,
            organization_id=user.organization_id,
            roles=tuple(sorted(user.roles)),
            scopes=tuple(sorted(user.scopes)),
            kind="user",
            session_id=session_id,
        )
        secret = new_refresh_secret()
        refresh = RefreshToken(
            token_hash=sha256_hex(secret),
            family_id=session_id,
            user_id=user.id,
            organization_id=user.organization_id,
            issued_at=claims.issued_at,
            expires_at=claims.issued_at + self.policy.refresh_ttl,
        )
        await uow.refresh_tokens.add(refresh)
        return TokenGrant(
            access_token=token,
            access_expires_at=claims.expires_at,
            expires_in=int((claims.expires_at - claims.issued_at).total_seconds()),
            refresh_token=secret,
            refresh_expires_at=refresh.expires_at,
            user_id=user.id,
            organization_id=user.organization_id,
        )
