"""Fixtures for items integration tests: a migrated keel_items database and its engine."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from items.bootstrap import MIGRATIONS
from items.events.codec import EventCodec
from items.storage.tables import metadata
from items.storage.uow import SqlUnitOfWork
from keel_runtime.db import create_engine
from keel_runtime.migrations import run_migrations_async


@pytest.fixture
async def migrated_url(database_url: str) -> str:
    await run_migrations_async(database_url, MIGRATIONS, metadata)
    return database_url


@pytest.fixture
async def engine(migrated_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(migrated_url, pool_size=4)
    yield engine
    await engine.dispose()


@pytest.fixture
def codec(unique_name: str) -> EventCodec:
    return EventCodec(unique_name)


@pytest.fixture
def sql_uow(engine: AsyncEngine, codec: EventCodec) -> Callable[[], SqlUnitOfWork]:
    return lambda: SqlUnitOfWork(engine, codec)
