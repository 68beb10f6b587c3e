"""The identity unit of work: the runtime's transaction plus the identity repositories."""

from __future__ import annotations

from types import TracebackType
from typing import Self

from sqlalchemy.ext.asyncio import AsyncEngine

from identity.domain.events import DomainEvent
from identity.events.codec import to_envelope
from identity.storage.accounts import SqlOrganizations, SqlUsers
from identity.storage.api_keys import SqlApiKeys
from identity.storage.records import SqlAuditLog, SqlIdempotency
from identity.storage.sessions import SqlRefreshTokens
from keel_runtime.db import UnitOfWork as RuntimeUnitOfWork


class SqlUnitOfWork:
    organizations: SqlOrganizations
    users: SqlUsers
    refresh_tokens: SqlRefreshTokens
    api_keys: SqlApiKeys
    idempotency: SqlIdempotency
    audit: SqlAuditLog

    def __init__(self, engine: AsyncEngine) -> None:
        self._inner = RuntimeUnitOfWork(engine)

    async def __aenter__(self) -> Self:
        await self._inner.__aenter__()
        connection = self._inner.connection
        self.organizations = SqlOrganizations(connection)
        self.users = SqlUsers(connection)
        self.refresh_tokens = SqlRefreshTokens(connection)
        self.api_keys = SqlApiKeys(connection)
        self.idempotency = SqlIdempotency(connection)
        self.audit = SqlAuditLog(connection)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._inner.__aexit__(exc_type, exc, tb)

    def publish(self, *events: DomainEvent) -> None:
        # Envelopes are built now, while the request context (request id, trace) is current.
        self._inner.publish(*(to_envelope(e) for e in events))

    async def commit(self) -> None:
        await self._inner.commit()
