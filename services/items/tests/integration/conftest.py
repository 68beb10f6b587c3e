"""Fixtures for items integration tests: a migrated keel_items database and its engine."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest
from sqlalchemy import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from items.events.codec import EventCodec
from items.storage.schema import SCHEMA
from items.storage.uow import SqlUnitOfWork
from keel_runtime.db import create_engine, current_tenant
from keel_runtime.migrations import grant_runtime


@pytest.fixture
async def migrated_url(database_url: str, runtime_database_url: str) -> str:
    """Migrated as the owner; the service's connections log in as the runtime role."""
    await SCHEMA.migrate_async(database_url)
    grant_runtime(database_url, make_url(runtime_database_url).username or "")
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
