"""Repositories for idempotency records and the append-only audit log."""

from __future__ import annotations

from sqlalchemy import insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from identity.app.ports import IdempotencyRace, IdempotencyRecord, ListQuery, Page
from identity.domain.model import AuditEntry
from identity.storage import rows
from identity.storage.paging import keyset, page
from identity.storage.tables import audit_events, idempotency_keys
from keel_runtime.context import current_request_id


class SqlIdempotency:
    def __init__(self, connection: AsyncConnection) -> None:
        self._c = connection

    async def get(self, scope: str, request_id: str) -> IdempotencyRecord | None:
        row = (
            await self._c.execute(
                select(idempotency_keys).where(
                    idempotency_keys.c.scope == scope, idempotency_keys.c.request_id == request_id
                )
            )
        ).first()
        if row is None:
            return None
        return IdempotencyRecord(
            scope=row.scope,
            request_id=row.request_id,
            fingerprint=row.fingerprint,
            result=dict(row.result),
            created_at=row.created_at,
        )

    async def add(self, record: IdempotencyRecord) -> None:
        # A concurrent twin blocks here on the unique key until the first commits;
        # DO NOTHING then tells this transaction to replay instead of failing.
        stmt = (
            pg_insert(idempotency_keys)
            .values(
                scope=record.scope,
                request_id=record.request_id,
                fingerprint=record.fingerprint,
                result=record.result,
                created_at=record.created_at,
            )
            .on_conflict_do_nothing()
            .returning(idempotency_keys.c.scope)
        )
        if (await self._c.execute(stmt)).first() is None:
            raise IdempotencyRace(record.request_id)


class SqlAuditLog:
    def __init__(self, connection: AsyncConnection) -> None:
        self._c = connection

    async def append(self, entry: AuditEntry) -> None:
        await self._c.execute(
            insert(audit_events).values(
                id=entry.id,
                organization_id=entry.organization_id,
                actor=entry.actor,
                actor_kind=entry.actor_kind,
                action=entry.action,
                target_type=entry.target_type,
                target_id=entry.target_id,
                request_id=entry.request_id or current_request_id(),
                metadata=entry.metadata,
                created_at=entry.created_at,
            )
        )

    async def list(self, organization_id: str, query: ListQuery) -> Page[AuditEntry]:
        stmt = select(audit_events).where(audit_events.c.organization_id == organization_id)
        if action := query.filters.get("action"):
            stmt = stmt.where(audit_events.c.action == action)
        if actor := query.filters.get("actor"):
            stmt = stmt.where(audit_events.c.actor == actor)
        result = await self._c.execute(keyset(stmt, audit_events, query, newest_first=True))
        return page([rows.audit_entry(r) for r in result], query, lambda e: (e.created_at, e.id))
