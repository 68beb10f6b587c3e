"""Fixtures for items integration tests: a migrated keel_items database and its engine."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from items.events.codec import EventCodec
from items.storage.uow import SqlUnitOfWork
from keel_runtime.db import create_engine, current_tenant


@pytest.fixture
def migrated_url(runtime_database_url: str) -> str:
    """A copy of the migrated schema (tests/conftest.py), as the runtime role."""
    return runtime_database_url


@pytest.fixture
async def engine(migrated_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(migrated_url, pool_size=4)
    yield engine
    await engine.dispose()


@pytest.fixture
def codec(unique_name: str) -> EventCodec:
    return EventCodec(unique_name)


# What a call's principal would be: tests call handlers and repositories directly, acting
# for this organization unless they say ``acting_for`` another.
DEFAULT_ORG = "org-a"


@pytest.fixture
def sql_uow(engine: AsyncEngine, codec: EventCodec) -> Callable[[], SqlUnitOfWork]:
    return lambda: SqlUnitOfWork(engine, codec, org_id=current_tenant() or DEFAULT_ORG)


@pytest.fixture
def sql_reads(engine: AsyncEngine, codec: EventCodec) -> Callable[[], SqlUnitOfWork]:
    """Units of work for reads, as the server makes them (read_only)."""
    return lambda: SqlUnitOfWork(
        engine, codec, org_id=current_tenant() or DEFAULT_ORG, read_only=True
    )
