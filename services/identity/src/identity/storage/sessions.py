"""Repository for refresh tokens (hashed) and their rotation families."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection

from identity.domain.model import RefreshToken
from identity.storage import rows
from identity.storage.tables import refresh_tokens


class SqlRefreshTokens:
    def __init__(self, connection: AsyncConnection) -> None:
        self._c = connection

    async def add(self, token: RefreshToken) -> None:
        await self._c.execute(
            insert(refresh_tokens).values(
                token_hash=token.token_hash,
                family_id=token.family_id,
                user_id=token.user_id,
                organization_id=token.organization_id,
                issued_at=token.issued_at,
                expires_at=token.expires_at,
                used_at=token.used_at,
                replaced_by=token.replaced_by,
                revoked_at=token.revoked_at,
            )
        )

    async def organization_of(self, token_hash: str) -> str | None:
        # Across organizations, before the organization is known: the migration's SECURITY
        # DEFINER function (0002) answers for the token whose hash the caller presents.
        found = await self._c.scalar(
            text("SELECT identity_refresh_token_organization(:h)"), {"h": token_hash}
        )
        return str(found) if found else None

    async def get_for_update(self, token_hash: str) -> RefreshToken | None:
        # Row lock: two concurrent refreshes of one token cannot both rotate it.
        row = (
            await self._c.execute(
                select(refresh_tokens)
                .where(refresh_tokens.c.token_hash == token_hash)
                .with_for_update()
            )
        ).first()
        return rows.refresh_token(row) if row else None

    async def mark_used(self, token_hash: str, at: datetime, replaced_by: str) -> None:
        await self._c.execute(
            update(refresh_tokens)
            .where(refresh_tokens.c.token_hash == token_hash)
            .values(used_at=at, replaced_by=replaced_by)
        )

    async def revoke(self, token_hash: str, at: datetime) -> None:
        await self._c.execute(
            update(refresh_tokens)
            .where(refresh_tokens.c.token_hash == token_hash, refresh_tokens.c.revoked_at.is_(None))
            .values(revoked_at=at)
        )

    async def revoke_family(self, family_id: str, at: datetime) -> None:
        await self._c.execute(
            update(refresh_tokens)
            .where(refresh_tokens.c.family_id == family_id, refresh_tokens.c.revoked_at.is_(None))
            .values(revoked_at=at)
        )

    async def revoke_user(self, user_id: str, at: datetime) -> list[str]:
        revoked = await self._c.execute(
            update(refresh_tokens)
            .where(refresh_tokens.c.user_id == user_id, refresh_tokens.c.revoked_at.is_(None))
            .values(revoked_at=at)
            .returning(refresh_tokens.c.family_id)
        )
        return sorted({str(family) for family in revoked.scalars()})
