"""The runtime prunes every served database: old published outbox rows and old inbox rows."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from keel_runtime.server import ServiceSpec, start
from keel_runtime.settings import RetentionSettings, ServerSettings

pytestmark = pytest.mark.integration

OLD, RECENT = "now() - interval '2 hours'", "now() - interval '10 minutes'"


async def _outbox_row(engine: AsyncEngine, *, created: str, published: str | None) -> uuid.UUID:
    row_id = uuid.uuid4()
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO outbox (id, subject, type, payload, created_at, published_at) "
                f"VALUES (:id, 's.a.b', 't', '\\x00', {created}, {published or 'NULL'})"
            ),
            {"id": row_id},
        )
    return row_id


async def _inbox_row(engine: AsyncEngine, *, processed: str) -> uuid.UUID:
    event_id = uuid.uuid4()
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO inbox (consumer, event_id, processed_at) "
                f"VALUES ('billing-usage', :id, {processed})"
            ),
            {"id": event_id},
        )
    return event_id


async def _ids(engine: AsyncEngine, query: str) -> set[uuid.UUID]:
    async with engine.connect() as conn:
        return set((await conn.scalars(text(query))).all())


async def test_rows_older_than_the_horizon_are_pruned_on_schedule(engine: AsyncEngine) -> None:
    old_published = await _outbox_row(engine, created=OLD, published=OLD)
    recent_published = await _outbox_row(engine, created=RECENT, published=RECENT)
    old_unpublished = await _outbox_row(engine, created=OLD, published=None)
    old_handled = await _inbox_row(engine, processed=OLD)
    recent_handled = await _inbox_row(engine, processed=RECENT)

    hour = 3600.0
    settings = ServerSettings(
        bind="127.0.0.1:0",
        retention=RetentionSettings(outbox_seconds=hour, inbox_seconds=hour, interval_seconds=0.05),
    )
    running = await start(ServiceSpec(name="probe", servicers=[], database=engine), settings)
    try:
        async with asyncio.timeout(20):
            while True:
                outbox = await _ids(engine, "SELECT id FROM outbox")
                inbox = await _ids(engine, "SELECT event_id FROM inbox")
                if old_published not in outbox and old_handled not in inbox:
                    break
                await asyncio.sleep(0.05)
    finally:
        await running.stop(0)

    # What is younger than the horizon, or not yet published, stays.
    assert await _ids(engine, "SELECT id FROM outbox") == {recent_published, old_unpublished}
    assert await _ids(engine, "SELECT event_id FROM inbox") == {recent_handled}
