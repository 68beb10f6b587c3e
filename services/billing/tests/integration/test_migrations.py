"""The migrations build exactly the schema the tables declare, and unwind cleanly."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import Connection, inspect

from billing.storage.tables import metadata
from keel_runtime.db import create_engine
from keel_runtime.migrations import run_migrations_async

pytestmark = pytest.mark.integration

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"


def _diff(connection: Connection) -> list[object]:
    return list(compare_metadata(MigrationContext.configure(connection), metadata))


def _downgrade_to_base(connection: Connection) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    config.attributes["target_metadata"] = metadata
    command.downgrade(config, "base")


def _tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


# Reflection does not know the outbox's xid8 column type; the comparison still holds.
@pytest.mark.filterwarnings("ignore:Did not recognize type 'xid8'")
async def test_upgrade_matches_metadata_and_downgrade_unwinds(database_url: str) -> None:
    await run_migrations_async(database_url, MIGRATIONS, metadata)
    engine = create_engine(database_url, pool_size=1)
    try:
        async with engine.connect() as conn:
            assert await conn.run_sync(_diff) == []
            tables = await conn.run_sync(_tables)
            assert {"plans", "subscriptions", "invoices", "webhook_deliveries", "outbox"} <= tables
        async with engine.begin() as conn:
            await conn.run_sync(_downgrade_to_base)
        async with engine.connect() as conn:
            assert await conn.run_sync(_tables) <= {"alembic_version"}
    finally:
        await engine.dispose()
