"""The identity unit of work: the runtime's transaction plus the identity repositories."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from identity.domain.events import DomainEvent
from identity.events.codec import to_envelope
from identity.storage.accounts import SqlOrganizations, SqlUsers
from identity.storage.api_keys import SqlApiKeys
from identity.storage.records import SqlAuditLog, SqlIdempotency
from identity.storage.sessions import SqlRefreshTokens
from keel_runtime.db import CommandUnitOfWork


class SqlUnitOfWork(CommandUnitOfWork[DomainEvent]):
    """One transaction per command; events go to the outbox on commit.

    With ``read_only``, no transaction: each statement runs in its own read-only one, acting
    for the same organization (for queries that need no single snapshot and take no locks).
    """

    organizations: SqlOrganizations
    users: SqlUsers
    refresh_tokens: SqlRefreshTokens
    api_keys: SqlApiKeys
    idempotency: SqlIdempotency
    audit: SqlAuditLog

    def __init__(self, engine: AsyncEngine, *, read_only: bool = False) -> None:
        super().__init__(engine, to_envelope, read_only=read_only)

    def bind_repositories(self, connection: AsyncConnection) -> None:
        self.organizations = SqlOrganizations(connection)
        self.users = SqlUsers(connection)
        self.refresh_tokens = SqlRefreshTokens(connection)
        self.api_keys = SqlApiKeys(connection)
        self.idempotency = SqlIdempotency(connection)
        self.audit = SqlAuditLog(connection)
