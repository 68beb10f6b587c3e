"""A migrated billing database per test, and handlers wired to it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from billing.bootstrap import Handlers, build_handlers
from billing.storage.migrate import migrate
from keel_runtime.db import create_engine

from ..unit.conftest import FakeLedger


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    migrate(database_url)
    engine = create_engine(database_url, pool_size=4)
    yield engine
    await engine.dispose()


@pytest.fixture
def ledger() -> FakeLedger:
    return FakeLedger()


@pytest.fixture
def handlers(engine: AsyncEngine, ledger: FakeLedger) -> Handlers:
    return build_handlers(engine, ledger)
