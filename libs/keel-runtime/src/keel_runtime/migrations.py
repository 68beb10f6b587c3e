"""Alembic, driven from code: upgrade to head, and the body of every service's env.py.

A service's ``migrations/env.py`` is::

    from keel_runtime.migrations import run_env
    from ledger.storage.tables import metadata

    run_env(metadata)

and a migration creates the shared event tables with ``create_event_tables()``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate.api import AutogenContext
from alembic.config import Config
from sqlalchemy import Connection, MetaData, pool, text
from sqlalchemy.ext.asyncio import create_async_engine

from keel_runtime.db import async_url, new_metadata
from keel_runtime.events.tables import Xid8, inbox_table, outbox_table


def _config(database_url: str, script_location: str | Path, metadata: MetaData | None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(script_location))
    # ConfigParser interpolation: a literal % in a password must be doubled.
    config.set_main_option("sqlalchemy.url", async_url(database_url).replace("%", "%%"))
    config.attributes["target_metadata"] = metadata
    return config


# Every replica runs its migrations at start; one transaction-scoped advisory lock makes
# them take turns, so the later ones find the schema at head instead of racing the DDL.
MIGRATION_LOCK_KEY = 0x6B65656C  # "keel"


def _upgrade(connection: Connection, config: Config, revision: str) -> None:
    connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


async def run_migrations_async(
    database_url: str,
    script_location: str | Path,
    metadata: MetaData | None = None,
    *,
    revision: str = "head",
) -> None:
    """Upgrade the database to ``revision`` (all migrations in one transaction)."""
    config = _config(database_url, script_location, metadata)
    engine = create_async_engine(async_url(database_url), poolclass=pool.NullPool)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_upgrade, config, revision)
    finally:
        await engine.dispose()


def run_migrations(
    database_url: str,
    script_location: str | Path,
    metadata: MetaData | None = None,
    *,
    revision: str = "head",
) -> None:
    """Blocking ``alembic upgrade head``; callable with or without a running event loop."""
    coroutine = run_migrations_async(database_url, script_location, metadata, revision=revision)
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(coroutine)
        return
    # Inside a running loop (a test fixture, say) the migration gets a loop of its own.
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool_:
        pool_.submit(asyncio.run, coroutine).result()


def _render_item(type_: str, obj: Any, autogen_context: AutogenContext) -> str | bool:
    # Autogenerate would otherwise write an unimportable type for the outbox's txid column.
    if type_ == "type" and isinstance(obj, Xid8):
        autogen_context.imports.add("from keel_runtime.events.tables import Xid8")
        return "Xid8()"
    return False


def _env_url(config: Config) -> str:
    url = config.get_main_option("sqlalchemy.url") or os.environ.get("DATABASE_URL")
    if not url:
        raise RuntimeError("set DATABASE_URL (or sqlalchemy.url) to run migrations")
    return async_url(url)


def run_env(target_metadata: MetaData | None = None) -> None:
    """The whole of a service's Alembic ``env.py`` (async template, online and offline)."""
    from alembic import context

    config = context.config
    metadata = target_metadata or config.attributes.get("target_metadata")
    options: dict[str, Any] = {
        "target_metadata": metadata,
        "compare_type": True,
        "render_item": _render_item,
    }

    if context.is_offline_mode():
        context.configure(
            url=_env_url(config),
            literal_binds=True,
            dialect_opts={"paramstyle": "named"},
            **options,
        )
        with context.begin_transaction():
            context.run_migrations()
        return

    def run(connection: Connection) -> None:
        context.configure(connection=connection, **options)
        with context.begin_transaction():
            context.run_migrations()

    connection = config.attributes.get("connection")
    if connection is not None:  # run_migrations() passes its connection in
        run(connection)
        return

    async def run_async() -> None:
        engine = create_async_engine(_env_url(config), poolclass=pool.NullPool)
        try:
            async with engine.connect() as async_connection:
                await async_connection.run_sync(run)
        finally:
            await engine.dispose()

    asyncio.run(run_async())


def _event_metadata() -> MetaData:
    metadata = new_metadata()
    outbox_table(metadata)
    inbox_table(metadata)
    return metadata


def create_event_tables() -> None:
    """In a migration's ``upgrade()``: create the outbox and inbox tables."""
    from alembic import op

    _event_metadata().create_all(op.get_bind())


def drop_event_tables() -> None:
    """In a migration's ``downgrade()``: drop the outbox and inbox tables."""
    from alembic import op

    _event_metadata().drop_all(op.get_bind())
