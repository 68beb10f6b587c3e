"""Migrations build exactly the schema the tables module describes."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from items.storage.tables import metadata
from keel_runtime.testing import schema_drift

pytestmark = pytest.mark.integration


async def test_schema_matches_tables(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        assert await conn.run_sync(schema_drift, metadata) == []
        tables = set(
            (await conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname='public'")))
            .scalars()
            .all()
        )
    assert {"items", "tags", "outbox", "inbox", "alembic_version"} <= tables
