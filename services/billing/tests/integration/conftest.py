"""A migrated billing database per test, and handlers wired to it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from billing.bootstrap import Handlers, build_handlers
from keel_runtime.db import create_engine

from ..serving import serving
from ..unit.conftest import FakeLedger


@pytest.fixture
async def engine(runtime_database_url: str) -> AsyncIterator[AsyncEngine]:
    # A copy of the migrated schema (tests/conftest.py); the service runs as the runtime role.
    engine = create_engine(runtime_database_url, pool_size=4)
    yield engine
    await engine.dispose()


@pytest.fixture
def ledger() -> FakeLedger:
    return FakeLedger()


@pytest.fixture
async def admin_engine(admin_database_url: str) -> AsyncIterator[AsyncEngine]:
    """The database's administrator (a superuser, exempt from row-level security): what the
    database holds, every organization's rows, for assertions only."""
    engine = create_engine(admin_database_url, pool_size=1)
    yield engine
    await engine.dispose()


@pytest.fixture
def handlers(engine: AsyncEngine, ledger: FakeLedger) -> Handlers:
    # Called as the server calls them: the caller's principal bound (tests/serving.py).
    return serving(build_handlers(engine, ledger))
