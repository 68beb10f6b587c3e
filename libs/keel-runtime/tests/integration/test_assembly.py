"""The runtime assembles a service: its own stream only, consumers that wait for their
producers, the relay, and a failed start that leaves nothing open."""

from __future__ import annotations

import asyncio
import contextlib

import pytest
from google.protobuf.wrappers_pb2 import StringValue
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from keel_runtime.events import (
    Consumer,
    Envelope,
    OutboxRelay,
    StreamSpec,
    Subscription,
    ensure_stream,
    new_event,
)
from keel_runtime.service import Assembly, ServiceConfig
from keel_runtime.testing import ProbeConsumer

pytestmark = pytest.mark.integration


async def _ignore(conn: AsyncConnection, envelope: Envelope) -> None:
    return None


async def _exists(js: JetStreamContext, stream: str) -> bool:
    try:
        await js.stream_info(stream)
    except NotFoundError:
        return False
    return True


async def test_a_service_declares_the_stream_it_publishes_to_and_no_other(
    database_url: str, nats_url: str, js: JetStreamContext, unique_name: str
) -> None:
    producer = f"{unique_name}_producer".upper()
    config = ServiceConfig(database_url=database_url, nats_url=nats_url)
    async with Assembly(unique_name, config) as service:
        service.consume(Subscription(f"{unique_name}-c", producer, f"{producer}.>", _ignore))
        spec = service.spec([], {})
    try:
        assert await _exists(js, unique_name.upper())
        assert not await _exists(js, producer)
        runs = [getattr(task, "__self__", None) for task in spec.background]
        assert [type(owner) for owner in runs] == [OutboxRelay, Consumer]
        assert spec.revocations is not None and spec.nats is service.nats
        # The server closes them in this order: the service's own, NATS, then the database.
        assert spec.closers[-2:] == [service.nats.drain, service.engine.dispose]  # type: ignore[union-attr]
    finally:
        for close in spec.closers:
            await close()
        await js.delete_stream(unique_name.upper())


async def test_a_consumer_waits_for_its_producers_stream(
    engine: AsyncEngine, js: JetStreamContext, unique_name: str
) -> None:
    stream = StreamSpec(name=unique_name.upper(), subjects=[f"{unique_name}.>"])
    consumer = ProbeConsumer(
        engine, js, Subscription(f"{unique_name}-c", stream.name, f"{unique_name}.>", _ignore)
    )
    task = asyncio.create_task(consumer.run())
    try:
        await asyncio.sleep(0.3)  # the consumer is looking for a stream that is not there
        assert not task.done()
        await ensure_stream(js, stream)
        event = new_event(
            type=f"{unique_name}.thing.happened",
            source="test",
            subject="thing-1",
            org_id="org-1",
            payload=StringValue(value="hello"),
        )
        await js.publish(f"{unique_name}.thing.happened", event.SerializeToString())
        [delivery] = await consumer.deliveries(1)
        assert delivery.data == event.SerializeToString()
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await js.delete_stream(stream.name)


async def test_a_start_that_fails_halfway_closes_what_it_opened(
    database_url: str, nats_url: str, js: JetStreamContext, unique_name: str
) -> None:
    closed: list[str] = []

    async def close_cache() -> None:
        closed.append("cache")

    config = ServiceConfig(database_url=database_url, nats_url=nats_url)
    assembly = Assembly(unique_name, config)
    with pytest.raises(RuntimeError, match="signing key"):
        async with assembly as service:
            service.close_with(close_cache)
            raise RuntimeError("the signing key cannot be read")
    try:
        assert closed == ["cache"]
        assert assembly.nats is not None and assembly.nats.is_closed
    finally:
        await js.delete_stream(unique_name.upper())


async def test_without_nats_a_service_runs_no_events(database_url: str, unique_name: str) -> None:
    async with Assembly(unique_name, ServiceConfig(database_url=database_url)) as service:
        service.consume(Subscription(f"{unique_name}-c", "OTHER", "other.>", _ignore))
        spec = service.spec([], {})
    assert (spec.background, spec.nats, spec.revocations) == ([], None, None)
    assert spec.closers == [service.engine.dispose]
    await service.engine.dispose()
