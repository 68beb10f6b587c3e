"""Units of work over PostgreSQL: repositories on one transaction, events to the outbox."""

from __future__ import annotations

from types import TracebackType
from typing import Self

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from items.domain.events import DomainEvent
from items.events.codec import EventCodec
from items.storage.repositories import SqlItemRepository, SqlTagRepository
from keel_runtime import db
from keel_runtime.events import append


class SqlUnitOfWork:
    """A command's own transaction: rolls back unless committed."""

    items: SqlItemRepository
    tags: SqlTagRepository

    def __init__(self, engine: AsyncEngine, codec: EventCodec) -> None:
        self._uow = db.UnitOfWork(engine)
        self._codec = codec

    async def __aenter__(self) -> Self:
        await self._uow.__aenter__()
        self.items = SqlItemRepository(self._uow.connection)
        self.tags = SqlTagRepository(self._uow.connection)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._uow.__aexit__(exc_type, exc, tb)

    def record(self, *events: DomainEvent) -> None:
        self._uow.publish(*(self._codec.to_envelope(event) for event in events))

    async def commit(self) -> None:
        await self._uow.commit()


class ConnectionUnitOfWork:
    """Work inside a transaction someone else owns: an event consumer's, which commits the
    effect together with its inbox row. ``commit()`` only writes the recorded events."""

    def __init__(self, connection: AsyncConnection, codec: EventCodec) -> None:
        self._conn = connection
        self._codec = codec
        self._events: list[DomainEvent] = []
        self.items = SqlItemRepository(connection)
        self.tags = SqlTagRepository(connection)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._events.clear()

    def record(self, *events: DomainEvent) -> None:
        self._events.extend(events)

    async def commit(self) -> None:
        events, self._events = self._events, []
        await append(self._conn, [self._codec.to_envelope(event) for event in events])
