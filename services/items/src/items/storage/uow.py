"""Units of work over PostgreSQL: the runtime's transaction plus the items repositories."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from items.domain.events import DomainEvent
from items.events.codec import EventCodec
from items.storage.repositories import SqlItemRepository, SqlTagRepository
from keel_runtime.db import CommandUnitOfWork, JoinedUnitOfWork


class _Repositories:
    """The items repositories, on the unit of work's connection."""

    items: SqlItemRepository
    tags: SqlTagRepository

    def bind_repositories(self, connection: AsyncConnection) -> None:
        self.items = SqlItemRepository(connection)
        self.tags = SqlTagRepository(connection)


class SqlUnitOfWork(_Repositories, CommandUnitOfWork[DomainEvent]):
    """A command's own transaction: rolls back unless committed; acts for ``org_id``, by
    default the organization of the call's principal (row-level security)."""

    def __init__(
        self,
        engine: AsyncEngine,
        codec: EventCodec,
        *,
        org_id: str | None = None,
        read_only: bool = False,
    ) -> None:
        super().__init__(engine, codec.to_envelope, org_id=org_id, read_only=read_only)


class ConnectionUnitOfWork(_Repositories, JoinedUnitOfWork[DomainEvent]):
    """Work inside an event consumer's transaction, which commits it with its inbox row."""

    def __init__(self, connection: AsyncConnection, codec: EventCodec) -> None:
        super().__init__(connection, codec.to_envelope)
