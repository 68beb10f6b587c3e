"""Units of work: one per command, and one inside an event consumer's transaction."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from keel_runtime.db import CommandUnitOfWork, JoinedUnitOfWork
from ledger.domain.events import DomainEvent
from ledger.storage.accounts import SqlAccounts
from ledger.storage.checkpoints import SqlCheckpoints
from ledger.storage.hot import HotPath
from ledger.storage.transactions import SqlTransactions


class _Repositories:
    """The ledger repositories, on the unit of work's connection."""

    accounts: SqlAccounts
    transactions: SqlTransactions
    checkpoints: SqlCheckpoints
    _hot: HotPath

    def bind_repositories(self, connection: AsyncConnection) -> None:
        # One hot path for both: the rows the claim locks are the rows the posting reads.
        self._hot = HotPath(connection)
        self.accounts = SqlAccounts(connection, self._hot)
        self.transactions = SqlTransactions(connection, self._hot)
        self.checkpoints = SqlCheckpoints(connection)


class SqlUnitOfWork(_Repositories, CommandUnitOfWork[DomainEvent]):
    """One database transaction per command; events go to the outbox on commit."""

    async def commit(self) -> None:
        await self._hot.flush()  # balances queued without entries (none today) are not lost
        await super().commit()


class ConnectionUnitOfWork(_Repositories, JoinedUnitOfWork[DomainEvent]):
    """A unit of work inside a transaction someone else commits (an event consumer's, which
    writes its inbox row in the same transaction); events are appended to the outbox there."""

    async def commit(self) -> None:
        await self._hot.flush()
        await super().commit()
