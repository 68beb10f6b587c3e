"""Fixtures for the runtime's data-side integration tests: a migrated database and a stream."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from nats.aio.client import Client
from nats.js import JetStreamContext
from sqlalchemy.ext.asyncio import AsyncEngine

from keel_runtime.db import create_engine, new_metadata
from keel_runtime.events import StreamSpec, connect_nats, ensure_stream, inbox_table, outbox_table


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    metadata = new_metadata()
    outbox_table(metadata)
    inbox_table(metadata)
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    yield engine
    await engine.dispose()


@pytest.fixture
async def nats_client(nats_url: str) -> AsyncIterator[tuple[Client, JetStreamContext]]:
    nc, js = await connect_nats(nats_url, name="keel-runtime-tests")
    yield nc, js
    await nc.close()


@pytest.fixture
def js(nats_client: tuple[Client, JetStreamContext]) -> JetStreamContext:
    return nats_client[1]


@pytest.fixture
async def stream(js: JetStreamContext, unique_name: str) -> AsyncIterator[StreamSpec]:
    spec = StreamSpec(name=unique_name.upper(), subjects=[f"{unique_name}.>"])
    await ensure_stream(js, spec)
    yield spec
    await js.delete_stream(spec.name)
