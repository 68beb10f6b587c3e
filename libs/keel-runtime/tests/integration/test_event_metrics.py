"""Outbox relay and consumer metrics against PostgreSQL and JetStream."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest
from google.protobuf.wrappers_pb2 import StringValue
from nats.js import JetStreamContext
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from keel_runtime.db import UnitOfWork
from keel_runtime.events import (
    DEAD_LETTER_STREAM,
    Envelope,
    OutboxRelay,
    StreamSpec,
    Subscription,
    new_event,
    unpack,
)
from keel_runtime.metrics import Metrics
from keel_runtime.testing import ProbeConsumer

pytestmark = pytest.mark.integration


def _event(unique_name: str, value: str) -> Envelope:
    return new_event(
        type=f"{unique_name}.thing.happened",
        source="test",
        subject="thing-1",
        org_id="org-1",
        payload=StringValue(value=value),
    )


def _value(metrics: Metrics, name: str, **labels: str) -> float:
    return metrics.registry.get_sample_value(name, {"service": "probe", **labels}) or 0.0


@pytest.fixture
async def dead_letters(js: JetStreamContext, unique_name: str) -> AsyncIterator[str]:
    subject = f"dlq.{unique_name}"
    yield subject
    with contextlib.suppress(Exception):
        await js.purge_stream(DEAD_LETTER_STREAM.name, subject=subject)


async def test_relay_counts_published_events_and_samples_the_backlog(
    engine: AsyncEngine, js: JetStreamContext, stream: StreamSpec, unique_name: str
) -> None:
    metrics = Metrics("probe")
    relay = OutboxRelay(engine, js, metrics=metrics)
    async with UnitOfWork(engine) as uow:
        uow.publish(*(_event(unique_name, str(n)) for n in range(3)))
        await uow.commit()

    await relay._sample_backlog()
    assert _value(metrics, "keel_outbox_unpublished") == 3
    assert _value(metrics, "keel_outbox_oldest_unpublished_age_seconds") >= 0

    published = 0
    async with asyncio.timeout(20):
        while published < 3:  # another transaction may hold the snapshot xmin back a moment
            published += await relay.relay_once()
    assert _value(metrics, "keel_outbox_published_total") == 3

    relay._backlog_sampled = float("-inf")
    await relay._sample_backlog()
    assert _value(metrics, "keel_outbox_unpublished") == 0
    assert _value(metrics, "keel_outbox_oldest_unpublished_age_seconds") == 0


async def test_consumer_counts_each_outcome(
    engine: AsyncEngine,
    js: JetStreamContext,
    stream: StreamSpec,
    unique_name: str,
    dead_letters: str,
) -> None:
    async def handler(conn: AsyncConnection, envelope: Envelope) -> None:
        if unpack(envelope, StringValue).value == "poison":
            raise RuntimeError("cannot handle")

    metrics = Metrics("probe")
    sub = Subscription(
        consumer=unique_name,
        stream=stream.name,
        filter_subject=f"{unique_name}.>",
        handler=handler,
        max_deliver=2,
        backoff_s=(0.05,),
    )
    consumer = ProbeConsumer(engine, js, sub, metrics=metrics)
    await consumer.ensure()
    task = asyncio.create_task(consumer.run())
    try:
        good = _event(unique_name, "good")
        # Twice past the broker's de-duplication: the second is an inbox duplicate.
        for msg_id in ("first", "second"):
            await js.publish(good.type, good.SerializeToString(), headers={"Nats-Msg-Id": msg_id})
        await consumer.deliveries(2)
        poison = _event(unique_name, "poison")
        await js.publish(poison.type, poison.SerializeToString())
        await consumer.deliveries(2)  # failed, then failed and dead-lettered
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    outcomes = {
        name: _value(metrics, "keel_consumer_messages_total", consumer=unique_name, outcome=name)
        for name in ("handled", "duplicate", "failed", "dead_lettered")
    }
    assert outcomes == {"handled": 1, "duplicate": 1, "failed": 2, "dead_lettered": 1}


async def test_consumer_backlog_gauges_follow_the_servers_count(
    engine: AsyncEngine, js: JetStreamContext, stream: StreamSpec, unique_name: str
) -> None:
    async def handler(conn: AsyncConnection, envelope: Envelope) -> None:
        return None

    metrics = Metrics("probe")
    sub = Subscription(
        consumer=unique_name, stream=stream.name, filter_subject=f"{unique_name}.>", handler=handler
    )
    consumer = ProbeConsumer(engine, js, sub, metrics=metrics)
    await consumer.ensure()
    for n in range(3):
        event = _event(unique_name, str(n))
        await js.publish(event.type, event.SerializeToString())

    def backlog() -> tuple[float, float]:
        return (
            _value(metrics, "keel_consumer_pending_messages", consumer=unique_name),
            _value(metrics, "keel_consumer_ack_pending_messages", consumer=unique_name),
        )

    async def sampled(expected: tuple[int, int]) -> tuple[float, float]:
        """Sample until the gauges show ``expected``: the broker updates a consumer's counts
        a moment after a publish or an ack, and the gauges report what it says."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(10):
                while True:
                    await consumer.sample_backlog()
                    if backlog() == expected:
                        break
                    await asyncio.sleep(0.02)
        return backlog()

    assert await sampled((3, 0)) == (3, 0)  # none delivered yet
    pull = await js.pull_subscribe_bind(durable=unique_name, stream=stream.name)
    (taken,) = await pull.fetch(1, timeout=5)  # delivered, not acknowledged
    assert await sampled((2, 1)) == (2, 1)
    await consumer.handle(taken)
    assert await sampled((2, 0)) == (2, 0)
