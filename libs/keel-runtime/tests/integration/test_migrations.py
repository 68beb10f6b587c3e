"""run_migrations and the env.py helper against PostgreSQL, with a throwaway migration tree."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import text

from keel_runtime.db import create_engine
from keel_runtime.migrations import run_migrations, run_migrations_async

pytestmark = pytest.mark.integration

ENV = '''\
"""Alembic environment of a test service."""

from keel_runtime.migrations import run_env

run_env()
'''

INITIAL = '''\
"""initial"""

import sqlalchemy as sa
from alembic import op

from keel_runtime.migrations import create_event_tables, drop_event_tables

revision = "0001"
down_revision = None


def upgrade() -> None:
    op.create_table("widgets", sa.Column("id", sa.Integer, primary_key=True))
    create_event_tables()


def downgrade() -> None:
    drop_event_tables()
    op.drop_table("widgets")
'''


@pytest.fixture
def script_location(tmp_path: Path) -> Path:
    (tmp_path / "versions").mkdir()
    (tmp_path / "env.py").write_text(ENV)
    (tmp_path / "script.py.mako").write_text(textwrap.dedent("# unused\n"))
    (tmp_path / "versions" / "0001_initial.py").write_text(INITIAL)
    return tmp_path


async def test_upgrade_to_head_creates_tables_and_is_repeatable(
    database_url: str, script_location: Path
) -> None:
    # Blocking form, called from inside a running loop as a test fixture would.
    run_migrations(database_url, script_location, None)
    await run_migrations_async(database_url, script_location)

    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:
            version = await conn.scalar(text("SELECT version_num FROM alembic_version"))
            tables = set(
                await conn.scalars(
                    text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
                )
            )
            txid_type = await conn.scalar(
                text(
                    "SELECT data_type FROM information_schema.columns"
                    " WHERE table_name = 'outbox' AND column_name = 'txid'"
                )
            )
            indexes = set(
                await conn.scalars(
                    text("SELECT indexname FROM pg_indexes WHERE tablename = 'outbox'")
                )
            )
    finally:
        await engine.dispose()
    assert version == "0001"
    assert {"widgets", "outbox", "inbox", "alembic_version"} <= tables
    assert txid_type == "xid8"
    assert indexes == {"pk_outbox", "ix_outbox_unpublished"}


async def test_replicas_migrating_at_once_take_turns(
    database_url: str, script_location: Path
) -> None:
    # Without the advisory lock, the losers of this race fail with a duplicate table.
    import asyncio

    await asyncio.gather(*(run_migrations_async(database_url, script_location) for _ in range(4)))
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        cursor = await conn.execute("SELECT version_num FROM alembic_version")
        assert await cursor.fetchall() == [("0001",)]


def test_env_runs_under_the_alembic_command_line(
    database_url: str, script_location: Path, tmp_path: Path
) -> None:
    ini = tmp_path / "alembic.ini"
    ini.write_text(f"[alembic]\nscript_location = {script_location}\n")
    env = {**os.environ, "DATABASE_URL": database_url}
    alembic = [sys.executable, "-m", "alembic", "-c", str(ini)]

    offline = subprocess.run(
        [*alembic, "upgrade", "head", "--sql"], env=env, capture_output=True, text=True, check=True
    )
    assert "CREATE TABLE outbox" in offline.stdout
    assert "txid xid8 DEFAULT pg_current_xact_id() NOT NULL" in offline.stdout

    subprocess.run([*alembic, "upgrade", "head"], env=env, capture_output=True, check=True)
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    assert row == ("0001",)
