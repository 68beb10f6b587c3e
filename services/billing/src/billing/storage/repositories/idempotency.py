"""Request-id idempotency keys (AIP-155) in PostgreSQL."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from billing.storage.tables import idempotency_keys


class IdempotencyRepository:
    def __init__(self, conn: AsyncConnection, clock_now: datetime) -> None:
        self._conn = conn
        self._now = clock_now

    async def claim(
        self, org_id: str, request_id: str, operation: str, fingerprint: str, resource_id: str
    ) -> tuple[str, str] | None:
        k = idempotency_keys.c
        inserted = await self._conn.execute(
            insert(idempotency_keys)
            .values(
                org_id=org_id,
                request_id=request_id,
                operation=operation,
                fingerprint=fingerprint,
                resource_id=resource_id,
                create_time=self._now,
            )
            .on_conflict_do_nothing(index_elements=[k.org_id, k.request_id])
            .returning(k.resource_id)
        )
        if inserted.first() is not None:
            return None
        row = (
            await self._conn.execute(
                select(k.fingerprint, k.resource_id).where(
                    k.org_id == org_id, k.request_id == request_id
                )
            )
        ).one()
        return str(row.resource_id), str(row.fingerprint)

    async def resolve(self, org_id: str, request_id: str, resource_id: str) -> None:
        k = idempotency_keys.c
        await self._conn.execute(
            update(idempotency_keys)
            .where(k.org_id == org_id, k.request_id == request_id)
            .values(resource_id=resource_id)
        )

    async def save_answer(self, org_id: str, request_id: str, answer: str) -> None:
        k = idempotency_keys.c
        await self._conn.execute(
            update(idempotency_keys)
            .where(k.org_id == org_id, k.request_id == request_id)
            .values(answer=answer)
        )

    async def answer(self, org_id: str, request_id: str) -> str:
        k = idempotency_keys.c
        found = (
            await self._conn.execute(
                select(k.answer).where(k.org_id == org_id, k.request_id == request_id)
            )
        ).scalar_one_or_none()
        return str(found or "")
