"""A migrated identity database per test, and handlers wired to it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from identity.adapters.clock import SystemClock
from identity.adapters.crypto.passwords import Argon2Hasher, Argon2Params
from identity.adapters.crypto.tokens import JwtTokenService
from identity.adapters.throttle import NoThrottle
from identity.app.handlers import Handlers, build_handlers
from identity.app.sessions import SessionPolicy
from identity.storage.signing_keys import SqlSigningKeyStore
from identity.storage.uow import SqlUnitOfWork
from keel_devstack.roles import login_admin
from keel_runtime.db import create_engine

from ..serving import serving

FAST_ARGON2 = Argon2Params(time_cost=1, memory_cost_kib=64, parallelism=1)


@pytest.fixture
async def engine(migrated_database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(migrated_database_url, pool_size=4)
    yield engine
    await engine.dispose()


@pytest.fixture
async def tokens(engine: AsyncEngine) -> JwtTokenService:
    service = JwtTokenService(
        SqlSigningKeyStore(engine),
        SystemClock(),
        issuer="keel-identity",
        audience="keel",
        retired_key_lifetime=timedelta(minutes=20),
    )
    await service.start()
    return service


@pytest.fixture
async def admin_engine(postgres_url: str, migrated_database_url: str) -> AsyncIterator[AsyncEngine]:
    """The database's administrator (a superuser, exempt from row-level security): what the
    database holds, every organization's rows, for assertions only."""
    database = make_url(migrated_database_url).database or ""
    engine = create_engine(login_admin(postgres_url, database), pool_size=1)
    yield engine
    await engine.dispose()


@pytest.fixture
def handlers(engine: AsyncEngine, tokens: JwtTokenService) -> Handlers:
    # Called as the server calls them: the actor's principal bound (tests/serving.py).
    return serving(
        build_handlers(
            uow=lambda: SqlUnitOfWork(engine),
            reads=lambda: SqlUnitOfWork(engine, read_only=True),  # as the server reads
            hasher=Argon2Hasher(FAST_ARGON2),
            tokens=tokens,
            throttle=NoThrottle(),
            clock=SystemClock(),
            policy=SessionPolicy(),
        )
    )
