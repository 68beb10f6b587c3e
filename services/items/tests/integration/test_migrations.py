"""Migrations build exactly the schema the tables module describes."""

from __future__ import annotations

import warnings

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, text
from sqlalchemy.exc import SAWarning
from sqlalchemy.ext.asyncio import AsyncEngine

from items.storage.tables import metadata

pytestmark = pytest.mark.integration


def _diff(connection: Connection) -> list[object]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    with warnings.catch_warnings():
        # Reflection does not know the outbox's xid8 column type; it is the runtime's table.
        warnings.simplefilter("ignore", SAWarning)
        return list(compare_metadata(context, metadata))


async def test_schema_matches_tables(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        assert await conn.run_sync(_diff) == []
        tables = set(
            (await conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname='public'")))
            .scalars()
            .all()
        )
    assert {"items", "tags", "outbox", "inbox", "alembic_version"} <= tables
