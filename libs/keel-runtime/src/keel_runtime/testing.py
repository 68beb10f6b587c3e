"""Test helpers for services built on the runtime: a consumer whose deliveries tests await,
and the schema checks every service's migration tests share."""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import Iterable
from pathlib import Path
from types import ModuleType

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from sqlalchemy import Connection, MetaData, inspect
from sqlalchemy.exc import SAWarning
from sqlalchemy.ext.asyncio import AsyncEngine

from keel_runtime.db import create_engine
from keel_runtime.events.consumer import Consumer, Subscription
from keel_runtime.metrics import NO_METRICS, Metrics
from keel_runtime.migrations import run_migrations_async


class ProbeConsumer(Consumer):
    """A Consumer reporting each finished delivery, so tests await it instead of sleeping."""

    def __init__(
        self,
        engine: AsyncEngine,
        js: JetStreamContext,
        subscription: Subscription,
        *,
        fetch_timeout: float = 1.0,
        metrics: Metrics = NO_METRICS,
    ) -> None:
        super().__init__(engine, js, subscription, fetch_timeout=fetch_timeout, metrics=metrics)
        self.handled: asyncio.Queue[Msg] = asyncio.Queue()

    async def handle(self, msg: Msg) -> None:
        await super().handle(msg)
        self.handled.put_nowait(msg)

    async def deliveries(self, count: int, *, within_s: float = 20.0) -> list[Msg]:
        """The next ``count`` settled deliveries; TimeoutError after ``within_s`` seconds."""
        async with asyncio.timeout(within_s):
            return [await self.handled.get() for _ in range(count)]


def schema_drift(
    connection: Connection, metadata: MetaData, *, compare_type: bool = True
) -> list[object]:
    """How the database's schema differs from ``metadata`` (alembic's autogenerate diff).

    For ``conn.run_sync``: a service's migrations must build exactly what its tables module
    declares. Reflection does not know the outbox's xid8 type (the runtime's table); its
    warning is silenced here.
    """
    context = MigrationContext.configure(connection, opts={"compare_type": compare_type})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SAWarning)
        return list(compare_metadata(context, metadata))


def table_names(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


async def assert_migrations_round_trip(
    database_url: str, migrations: Path, metadata: MetaData, tables: set[str]
) -> None:
    """Upgrade builds ``metadata`` exactly (``tables`` among them); downgrade unwinds it all."""

    def downgrade_to_base(connection: Connection) -> None:
        config = Config()
        config.set_main_option("script_location", str(migrations))
        config.attributes["connection"] = connection
        config.attributes["target_metadata"] = metadata
        command.downgrade(config, "base")

    await run_migrations_async(database_url, migrations, metadata)
    engine = create_engine(database_url, pool_size=1)
    try:
        async with engine.connect() as conn:
            drift = await conn.run_sync(schema_drift, metadata, compare_type=False)
            assert drift == [], drift
            found = await conn.run_sync(table_names)
            assert tables <= found, tables - found
        async with engine.begin() as conn:
            await conn.run_sync(downgrade_to_base)
        async with engine.connect() as conn:
            left = await conn.run_sync(table_names)
            assert left <= {"alembic_version"}, left
    finally:
        await engine.dispose()


def rpc_coverage(test_file: Path, modules: Iterable[ModuleType]) -> tuple[set[str], set[str]]:
    """The RPCs (``Service.Method``) of the contract ``modules``, and those no other
    ``test_*.py`` beside ``test_file`` calls (a static check of the sources: an RPC only
    fakes ever ran is how a broken one ships unseen)."""
    sources = "".join(
        path.read_text() for path in test_file.parent.glob("test_*.py") if path != test_file
    )
    methods = {
        f"{service.name}.{method.name}"
        for module in modules
        for service in module.DESCRIPTOR.services_by_name.values()
        for method in service.methods
    }
    uncalled = {m for m in methods if f".{m.split('.')[1]}(" not in sources}
    return methods, uncalled
