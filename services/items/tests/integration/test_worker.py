"""Enrichment worker on JetStream and PostgreSQL: one effect per event, retries, FAILED."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

import pytest
from nats.js import JetStreamContext
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from items.app import commands
from items.app.enrichment import EnrichItem
from items.app.items import ItemHandlers
from items.domain.errors import EnrichmentError
from items.domain.model import Enrichment, ItemState, Source
from items.events.codec import EventCodec
from items.events.subscribers import enrichment_subscriptions
from items.storage.attempts import SqlAttemptCounter
from items.storage.tables import inbox, outbox
from items.storage.uow import SqlUnitOfWork
from keel_runtime.caller import Caller
from keel_runtime.events import Envelope, connect_nats, decode, ensure_stream
from keel_runtime.testing import ProbeConsumer

pytestmark = pytest.mark.integration

MEMBER = Caller(subject="user-1", org_id="org-a", roles=frozenset({"MEMBER"}))


class CountingProvider:
    name = "counting"

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.calls = 0

    async def enrich(self, source: Source) -> Enrichment:
        self.calls += 1
        if self.calls <= self.failures:
            raise EnrichmentError("provider unavailable")
        return Enrichment("Title", "Summary", ("tag",))


@pytest.fixture
async def js(nats_url: str, codec: EventCodec) -> AsyncIterator[JetStreamContext]:
    nc, js = await connect_nats(nats_url, name="items-tests")
    await ensure_stream(js, codec.stream)
    yield js
    await js.delete_stream(codec.stream.name)
    await nc.close()


@pytest.fixture
def handlers(sql_uow: Callable[[], SqlUnitOfWork]) -> ItemHandlers:
    return ItemHandlers(sql_uow)


@contextlib.asynccontextmanager
async def run_worker(
    engine: AsyncEngine,
    js: JetStreamContext,
    codec: EventCodec,
    provider: CountingProvider,
    *,
    max_attempts: int = 3,
) -> AsyncIterator[list[ProbeConsumer]]:
    enrich = EnrichItem(provider, SqlAttemptCounter(engine), max_attempts=max_attempts)
    subscriptions = enrichment_subscriptions(
        enrich, codec, max_attempts=max_attempts, backoff_s=(0.05,)
    )
    consumers = [ProbeConsumer(engine, js, s, fetch_timeout=0.2) for s in subscriptions]
    for consumer in consumers:
        await consumer.ensure()
    tasks = [asyncio.create_task(c.run()) for c in consumers]
    try:
        yield consumers
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def published(engine: AsyncEngine) -> list[Envelope]:
    async with engine.connect() as conn:
        rows = await conn.execute(select(outbox.c.payload).order_by(outbox.c.created_at))
        return [decode(row.payload) for row in rows]


async def relay_by_hand(js: JetStreamContext, envelope: Envelope, times: int = 1) -> None:
    # No Nats-Msg-Id: JetStream stores every copy, as an at-least-once redelivery would.
    for _ in range(times):
        await js.publish(envelope.type, envelope.SerializeToString())


async def test_event_delivered_twice_enriches_once(
    engine: AsyncEngine, js: JetStreamContext, codec: EventCodec, handlers: ItemHandlers
) -> None:
    item = await handlers.create_item(commands.CreateItem(MEMBER, Source(note="hello")))
    [created] = await published(engine)
    provider = CountingProvider()
    async with run_worker(engine, js, codec, provider) as consumers:
        await relay_by_hand(js, created, times=2)
        await consumers[0].deliveries(2)
    enriched = await handlers.get_item(MEMBER, item.id)
    assert (enriched.state, enriched.title, enriched.enrichment_attempts) == (
        ItemState.READY_TO_CONFIRM,
        "Title",
        1,
    )
    assert provider.calls == 1
    assert [e.type for e in await published(engine)] == [
        codec.subject("item.created"),
        codec.subject("item.enriched"),
    ]
    async with engine.connect() as conn:
        assert await conn.scalar(select(func.count()).select_from(inbox)) == 1


async def test_retries_then_fails_after_the_last_attempt_then_retry_enrichment(
    engine: AsyncEngine, js: JetStreamContext, codec: EventCodec, handlers: ItemHandlers
) -> None:
    item = await handlers.create_item(commands.CreateItem(MEMBER, Source(url="https://a.example/")))
    [created] = await published(engine)
    provider = CountingProvider(failures=2)
    async with run_worker(engine, js, codec, provider, max_attempts=2) as consumers:
        await relay_by_hand(js, created)
        first, second = await consumers[0].deliveries(2)
        assert (first.metadata.num_delivered, second.metadata.num_delivered) == (1, 2)
        failed = await handlers.get_item(MEMBER, item.id)
        assert (failed.state, failed.enrichment_attempts, failed.failure_reason) == (
            ItemState.FAILED,
            2,
            "provider unavailable",
        )
        assert (await published(engine))[-1].type == codec.subject("enrichment.failed")

        retried = await handlers.retry_enrichment(commands.ChangeState(MEMBER, item.id))
        assert (retried.state, retried.enrichment_attempts) == (ItemState.ENRICHING, 0)
        requested = (await published(engine))[-1]
        assert requested.type == codec.subject("enrichment.requested")
        await relay_by_hand(js, requested)
        await consumers[1].deliveries(1)
    ready = await handlers.get_item(MEMBER, item.id)
    assert (ready.state, ready.enrichment_attempts) == (ItemState.READY_TO_CONFIRM, 1)
    assert provider.calls == 3
