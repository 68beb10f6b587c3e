"""A migrated ledger database per test, and handlers wired to it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from keel_runtime.db import PLATFORM, TENANT_SETTING, async_url, create_engine
from ledger.app.accounts import AccountHandlers
from ledger.app.queries import QueryHandlers
from ledger.app.tenancy import call_scope
from ledger.app.transactions import TransactionHandlers
from ledger.events.codec import encode
from ledger.storage.uow import SqlUnitOfWork

pytestmark = pytest.mark.integration


def utcnow() -> datetime:
    return datetime.now(UTC)


@pytest.fixture
async def engine(runtime_database_url: str) -> AsyncIterator[AsyncEngine]:
    # A copy of the migrated schema (tests/conftest.py); the service runs as the runtime role.
    engine = create_engine(runtime_database_url, pool_size=8)
    yield engine
    await engine.dispose()


@pytest.fixture
async def owner_engine(engine: AsyncEngine, database_url: str) -> AsyncIterator[AsyncEngine]:
    """The tables' owner: someone with database access, beyond what the service can do.

    Row-level security is FORCEd on the owner too; its sessions act for the platform (as
    anyone with the owner's password could choose to), so they reach every row.
    """
    owner = create_async_engine(
        async_url(database_url), connect_args={"options": f"-c {TENANT_SETTING}={PLATFORM}"}
    )
    yield owner
    await owner.dispose()


@pytest.fixture
def uow(engine: AsyncEngine):  # type: ignore[no-untyped-def]
    # Tests call the handlers as the platform would (no principal is bound), unless they
    # act for an organization (acting_for), as the row-level security tests do.
    return lambda: SqlUnitOfWork(engine, encode, org_id=call_scope() or PLATFORM)


@pytest.fixture
def reads(engine: AsyncEngine):  # type: ignore[no-untyped-def]
    """Units of work for reads, as the server makes them: each statement its own read-only
    transaction acting for the same organization as ``uow``'s."""
    return lambda: SqlUnitOfWork(engine, encode, org_id=call_scope() or PLATFORM, read_only=True)


@pytest.fixture
def engine_uow(engine: AsyncEngine):  # type: ignore[no-untyped-def]
    """The server's factory, without the tests' default: the caller's organization, the
    platform for platform callers, what a job names; nothing otherwise."""
    return lambda: SqlUnitOfWork(engine, encode, org_id=call_scope())


@pytest.fixture
def runtime_url(engine: AsyncEngine, runtime_database_url: str) -> str:
    """The migrated database as the runtime role, for psycopg."""
    return runtime_database_url


@pytest.fixture
def accounts(uow, reads) -> AccountHandlers:  # type: ignore[no-untyped-def]
    return AccountHandlers(uow, utcnow, reads=reads)


@pytest.fixture
def transactions(uow) -> TransactionHandlers:  # type: ignore[no-untyped-def]
    return TransactionHandlers(uow, utcnow)


@pytest.fixture
def queries(uow, reads) -> QueryHandlers:  # type: ignore[no-untyped-def]
    return QueryHandlers(uow, utcnow, reads=reads)
