"""pytest plugin: real PostgreSQL, Redis and NATS for the tests.

Fixture contract (used by every test suite in the repo):

- ``postgres_url`` (session): admin URL of a PostgreSQL server (``postgresql://.../postgres``).
- ``redis_url`` (session), ``nats_url`` (session): server URLs.
- ``database_url`` (function): a fresh, empty database for one test, dropped afterwards.
- ``unique_name`` (function): a short random lowercase token for stream/subject/consumer names.

TEMPORARY: servers come from DATABASE_URL / REDIS_URL / NATS_URL only; the embedded
launchers replace this.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator

import psycopg
import pytest
from psycopg import sql


@pytest.fixture(scope="session")
def postgres_url() -> str:
    return os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


@pytest.fixture(scope="session")
def redis_url() -> str:
    return os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture(scope="session")
def nats_url() -> str:
    return os.environ.get("NATS_URL", "nats://127.0.0.1:4222")


@pytest.fixture
def unique_name() -> str:
    return "t" + secrets.token_hex(6)


@pytest.fixture
async def database_url(postgres_url: str, unique_name: str) -> AsyncIterator[str]:
    name = f"test_{unique_name}"
    async with await psycopg.AsyncConnection.connect(postgres_url, autocommit=True) as conn:
        await conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    base, _, _ = postgres_url.rpartition("/")
    yield f"{base}/{name}"
    async with await psycopg.AsyncConnection.connect(postgres_url, autocommit=True) as conn:
        await conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
