"""Units of work: one per command, and one inside an event consumer's transaction."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from keel_runtime.db import CommandUnitOfWork, JoinedUnitOfWork
from ledger.domain.events import DomainEvent
from ledger.storage.accounts import SqlAccounts
from ledger.storage.checkpoints import SqlCheckpoints
from ledger.storage.hot import SqlPostings
from ledger.storage.transactions import SqlTransactions


class _Repositories:
    """The ledger repositories, on the unit of work's connection."""

    accounts: SqlAccounts
    transactions: SqlTransactions
    checkpoints: SqlCheckpoints
    postings: SqlPostings

    def bind_repositories(self, connection: AsyncConnection) -> None:
        self.accounts = SqlAccounts(connection)
        self.transactions = SqlTransactions(connection)
        self.checkpoints = SqlCheckpoints(connection)
        self.postings = SqlPostings(connection)


class SqlUnitOfWork(_Repositories, CommandUnitOfWork[DomainEvent]):
    """One database transaction per command; events go to the outbox on commit."""


class ConnectionUnitOfWork(_Repositories, JoinedUnitOfWork[DomainEvent]):
    """A unit of work inside a transaction someone else commits (an event consumer's, which
    writes its inbox row in the same transaction); events are appended to the outbox there."""
