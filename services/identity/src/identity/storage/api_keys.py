"""Repository for API keys (only the secret's hash is stored)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import insert, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection

from identity.app.ports import ListQuery, Page
from identity.domain.model import ApiKey
from identity.storage import rows
from identity.storage.paging import keyset, page
from identity.storage.tables import api_keys

# last_used_at is a hint for humans; writing it on every request would make each
# authentication a write, so it is refreshed at most once per this interval.
TOUCH_INTERVAL = timedelta(minutes=1)


class SqlApiKeys:
    def __init__(self, connection: AsyncConnection) -> None:
        self._c = connection

    async def add(self, key: ApiKey) -> None:
        await self._c.execute(insert(api_keys).values(**rows.api_key_values(key)))

    async def get(self, organization_id: str, api_key_id: str) -> ApiKey | None:
        row = (
            await self._c.execute(
                select(api_keys).where(
                    api_keys.c.organization_id == organization_id, api_keys.c.id == api_key_id
                )
            )
        ).first()
        return rows.api_key(row) if row else None

    async def get_by_prefix(self, prefix: str) -> ApiKey | None:
        # Across organizations, before the organization is known: the migration's SECURITY
        # DEFINER function (0002) returns the one key with this prefix.
        query = text("SELECT * FROM identity_api_key(:prefix)").columns(*api_keys.c)
        row = (await self._c.execute(query, {"prefix": prefix})).first()
        return rows.api_key(row) if row else None

    async def update(self, key: ApiKey) -> None:
        values = rows.api_key_values(key)
        del values["id"], values["created_at"], values["secret_hash"], values["prefix"]
        await self._c.execute(update(api_keys).where(api_keys.c.id == key.id).values(**values))

    async def touch(self, api_key_id: str, at: datetime) -> None:
        await self._c.execute(
            update(api_keys)
            .where(
                api_keys.c.id == api_key_id,
                or_(
                    api_keys.c.last_used_at.is_(None), api_keys.c.last_used_at < at - TOUCH_INTERVAL
                ),
            )
            .values(last_used_at=at)
        )

    async def revoke_by_creator(self, user_id: str, at: datetime) -> list[ApiKey]:
        result = await self._c.execute(
            update(api_keys)
            .where(api_keys.c.creator_user_id == user_id, api_keys.c.revoked_at.is_(None))
            .values(revoked_at=at)
            .returning(*api_keys.c)
        )
        return [rows.api_key(r) for r in result]

    async def list(self, organization_id: str, query: ListQuery) -> Page[ApiKey]:
        stmt = select(api_keys).where(api_keys.c.organization_id == organization_id)
        if not query.include_inactive:
            now = datetime.fromisoformat(query.filters["now"])
            stmt = stmt.where(
                api_keys.c.revoked_at.is_(None),
                or_(api_keys.c.expires_at.is_(None), api_keys.c.expires_at > now),
            )
        result = await self._c.execute(keyset(stmt, api_keys, query, newest_first=True))
        return page([rows.api_key(r) for r in result], query, lambda k: (k.created_at, k.id))
