"""Enrichment attempt counter, committed on its own so failed attempts still count."""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine

from items.domain.model import ItemState
from items.storage.tables import items
from keel_runtime.db import set_tenant


class SqlAttemptCounter:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def next_attempt(self, org_id: str, item_id: UUID) -> int:
        async with self._engine.begin() as conn:
            await set_tenant(conn, org_id)  # the item's organization (row-level security)
            attempt = await conn.scalar(
                update(items)
                .where(
                    items.c.org_id == org_id,
                    items.c.id == item_id,
                    items.c.state == ItemState.ENRICHING.value,
                )
                .values(enrichment_attempts=items.c.enrichment_attempts + 1)
                .returning(items.c.enrichment_attempts)
            )
        return int(attempt or 0)
