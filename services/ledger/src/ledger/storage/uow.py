"""Units of work: one per command, and one inside an event consumer's transaction."""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import Self

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from keel_runtime.db import UnitOfWork
from keel_runtime.events import Envelope, append
from ledger.domain.events import DomainEvent
from ledger.storage.accounts import SqlAccounts
from ledger.storage.transactions import SqlTransactions

Encoder = Callable[[DomainEvent], Envelope]


class SqlUnitOfWork:
    """One database transaction per command; events go to the outbox on commit."""

    accounts: SqlAccounts
    transactions: SqlTransactions

    def __init__(self, engine: AsyncEngine, encode: Encoder) -> None:
        self._inner = UnitOfWork(engine)
        self._encode = encode

    async def __aenter__(self) -> Self:
        await self._inner.__aenter__()
        self.accounts = SqlAccounts(self._inner.connection)
        self.transactions = SqlTransactions(self._inner.connection)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._inner.__aexit__(exc_type, exc, tb)

    def record(self, *events: DomainEvent) -> None:
        self._inner.publish(*(self._encode(event) for event in events))

    async def commit(self) -> None:
        await self._inner.commit()


class ConnectionUnitOfWork:
    """A unit of work inside a transaction someone else commits (an event consumer's, which
    writes its inbox row in the same transaction); events are appended to the outbox there."""

    def __init__(self, connection: AsyncConnection, encode: Encoder) -> None:
        self._conn = connection
        self._encode = encode
        self._events: list[Envelope] = []
        self.accounts = SqlAccounts(connection)
        self.transactions = SqlTransactions(connection)

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
        self._events.extend(self._encode(event) for event in events)

    async def commit(self) -> None:
        events, self._events = self._events, []
        await append(self._conn, events)
