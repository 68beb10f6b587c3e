"""Consumer against PostgreSQL and JetStream: one effect per event, retries, dead letters."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

import pytest
from google.protobuf.wrappers_pb2 import StringValue
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from keel_runtime.db import create_engine
from keel_runtime.events import (
    DEAD_LETTER_STREAM,
    Consumer,
    Envelope,
    StreamSpec,
    Subscription,
    new_event,
    unpack,
)
from keel_runtime.testing import ProbeConsumer

pytestmark = pytest.mark.integration


@pytest.fixture
async def effects(engine: AsyncEngine) -> AsyncEngine:
    async with engine.begin() as conn:
        # No unique key on purpose: a second effect of one event would be a second row.
        await conn.execute(text("CREATE TABLE effects (event_id uuid NOT NULL, value text)"))
    return engine


@pytest.fixture
async def dead_letters(js: JetStreamContext, unique_name: str) -> AsyncIterator[str]:
    subject = f"dlq.{unique_name}"
    yield subject
    with contextlib.suppress(Exception):
        await js.purge_stream(DEAD_LETTER_STREAM.name, subject=subject)


async def _count(engine: AsyncEngine, query: str) -> int:
    async with engine.connect() as conn:
        return int(await conn.scalar(text(query)) or 0)


def _envelope(unique_name: str, value: str = "hello") -> Envelope:
    return new_event(
        type=f"{unique_name}.thing.happened",
        source="test",
        subject="thing-1",
        org_id="org-1",
        payload=StringValue(value=value),
    )


def _recording_handler(
    calls: list[str], *, failures: int = 0
) -> Callable[[AsyncConnection, Envelope], Awaitable[None]]:
    async def handler(conn: AsyncConnection, envelope: Envelope) -> None:
        calls.append(envelope.id)
        value = unpack(envelope, StringValue).value
        await conn.execute(
            text("INSERT INTO effects VALUES (:id, :value)"), {"id": envelope.id, "value": value}
        )
        if len(calls) <= failures:
            raise RuntimeError(f"failure {len(calls)}")

    return handler


async def _running(consumer: Consumer) -> asyncio.Task[None]:
    await consumer.ensure()
    return asyncio.create_task(consumer.run())


async def _stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def _settled(js: JetStreamContext, sub: Subscription) -> None:
    """Wait until the server has every delivery of the consumer acknowledged or terminated."""
    async with asyncio.timeout(10):
        while True:
            info = await js.consumer_info(sub.stream, sub.consumer)
            if info.num_ack_pending == 0 and info.num_pending == 0:
                return
            await asyncio.sleep(0.02)


def _subscription(
    unique_name: str,
    stream: StreamSpec,
    handler: Callable[[AsyncConnection, Envelope], Awaitable[None]],
    *,
    max_deliver: int = 5,
    backoff_s: Sequence[float] = (0.05,),
    **options: Any,
) -> Subscription:
    return Subscription(
        consumer=unique_name,
        stream=stream.name,
        filter_subject=f"{unique_name}.>",
        handler=handler,
        max_deliver=max_deliver,
        backoff_s=backoff_s,
        **options,
    )


async def test_a_redelivered_event_has_one_effect(
    effects: AsyncEngine, js: JetStreamContext, stream: StreamSpec, unique_name: str
) -> None:
    calls: list[str] = []
    sub = _subscription(unique_name, stream, _recording_handler(calls))
    consumer = ProbeConsumer(effects, js, sub)
    task = await _running(consumer)
    try:
        envelope = _envelope(unique_name)
        # The same event twice past the broker's de-duplication (as after the window).
        for msg_id in ("first", "second"):
            await js.publish(
                envelope.type, envelope.SerializeToString(), headers={"Nats-Msg-Id": msg_id}
            )
        await consumer.deliveries(2)
        await _settled(js, sub)
    finally:
        await _stop(task)

    assert calls == [envelope.id]
    assert await _count(effects, "SELECT count(*) FROM effects") == 1
    assert await _count(effects, "SELECT count(*) FROM inbox") == 1


async def test_a_failed_handler_is_rolled_back_and_retried(
    effects: AsyncEngine, js: JetStreamContext, stream: StreamSpec, unique_name: str
) -> None:
    calls: list[str] = []
    sub = _subscription(unique_name, stream, _recording_handler(calls, failures=2))
    consumer = ProbeConsumer(effects, js, sub)
    task = await _running(consumer)
    try:
        envelope = _envelope(unique_name)
        await js.publish(envelope.type, envelope.SerializeToString())
        deliveries = await consumer.deliveries(3)
        await _settled(js, sub)
    finally:
        await _stop(task)

    assert [m.metadata.num_delivered for m in deliveries] == [1, 2, 3]
    assert calls == [envelope.id] * 3
    assert await _count(effects, "SELECT count(*) FROM effects") == 1
    assert await _count(effects, "SELECT count(*) FROM inbox") == 1


async def test_a_handler_failing_every_time_is_dead_lettered_after_max_deliver(
    effects: AsyncEngine,
    js: JetStreamContext,
    stream: StreamSpec,
    unique_name: str,
    dead_letters: str,
) -> None:
    calls: list[str] = []
    sub = _subscription(unique_name, stream, _recording_handler(calls, failures=99), max_deliver=3)
    assert sub.dead_letter_subject == dead_letters
    consumer = ProbeConsumer(effects, js, sub)
    task = await _running(consumer)
    try:
        envelope = _envelope(unique_name)
        await js.publish(
            envelope.type,
            envelope.SerializeToString(),
            headers={"Nats-Msg-Id": envelope.id, "X-Request-Id": "req-1"},
        )
        await consumer.deliveries(3)
        await _settled(js, sub)
    finally:
        await _stop(task)

    assert len(calls) == 3
    assert await _count(effects, "SELECT count(*) FROM effects") == 0
    assert await _count(effects, "SELECT count(*) FROM inbox") == 0
    dead = await js.get_last_msg(DEAD_LETTER_STREAM.name, dead_letters)
    assert dead.data == envelope.SerializeToString()
    headers = dead.headers or {}
    assert headers["Keel-Dlq-Error"] == "RuntimeError: failure 3"
    assert headers["Keel-Dlq-Deliveries"] == "3"
    assert headers["Keel-Dlq-Subject"] == envelope.type
    assert headers["Keel-Dlq-Stream"] == stream.name
    assert headers["X-Request-Id"] == "req-1"
    info = await js.stream_info(DEAD_LETTER_STREAM.name, subjects_filter=dead_letters)
    assert info.state.subjects == {dead_letters: 1}


@pytest.mark.parametrize("data", [b"\xff\x01not an envelope", b"\x0a\x03abc"])
async def test_an_unusable_message_is_dead_lettered_at_once(
    effects: AsyncEngine,
    js: JetStreamContext,
    stream: StreamSpec,
    unique_name: str,
    dead_letters: str,
    data: bytes,
) -> None:
    calls: list[str] = []
    sub = _subscription(unique_name, stream, _recording_handler(calls))
    consumer = ProbeConsumer(effects, js, sub)
    task = await _running(consumer)
    try:
        await js.publish(f"{unique_name}.thing.happened", data)
        await consumer.deliveries(1)
        await _settled(js, sub)
    finally:
        await _stop(task)

    assert calls == []
    dead = await js.get_last_msg(DEAD_LETTER_STREAM.name, dead_letters)
    assert dead.data == data
    assert (dead.headers or {})["Keel-Dlq-Deliveries"] == "1"


class _Crash(BaseException):
    """Stands for the process dying inside the handler: nothing is acked, nacked or undone."""


async def _dead_letter_count(js: JetStreamContext, subject: str) -> int:
    info = await js.stream_info(DEAD_LETTER_STREAM.name, subjects_filter=subject)
    return (info.state.subjects or {}).get(subject, 0)


async def _all_settled(js: JetStreamContext, sub: Subscription) -> None:
    while True:
        info = await js.consumer_info(sub.stream, sub.consumer)
        if info.num_ack_pending == 0 and info.num_pending == 0:
            return
        await asyncio.sleep(0.05)


async def test_an_event_that_kills_its_consumer_every_time_ends_in_the_dead_letters(
    effects: AsyncEngine,
    js: JetStreamContext,
    stream: StreamSpec,
    unique_name: str,
    dead_letters: str,
) -> None:
    calls: list[str] = []

    async def handler(conn: AsyncConnection, envelope: Envelope) -> None:
        value = unpack(envelope, StringValue).value
        calls.append(value)
        if value == "poison":
            raise _Crash()
        await conn.execute(
            text("INSERT INTO effects VALUES (:id, :value)"), {"id": envelope.id, "value": value}
        )

    sub = _subscription(unique_name, stream, handler, max_deliver=3, ack_wait_s=1.0)
    poison, innocent = _envelope(unique_name, "poison"), _envelope(unique_name, "innocent")
    for envelope in (poison, innocent):
        await js.publish(envelope.type, envelope.SerializeToString())

    crashes = 0
    async with asyncio.timeout(60):
        while True:
            # Each round is a fresh process: it dies in the handler or drains the stream.
            task = await _running(Consumer(effects, js, sub))
            settled = asyncio.create_task(_all_settled(js, sub))
            await asyncio.wait({task, settled}, return_when=asyncio.FIRST_COMPLETED)
            if settled.done():
                await _stop(task)
                break
            settled.cancel()
            with pytest.raises(_Crash):
                await task
            crashes += 1

    assert crashes == 3
    assert calls.count("poison") == 3
    assert calls.count("innocent") == 1
    assert await _count(effects, "SELECT count(*) FROM effects") == 1
    assert await _dead_letter_count(js, dead_letters) == 1
    dead = await js.get_last_msg(DEAD_LETTER_STREAM.name, dead_letters)
    assert dead.data == poison.SerializeToString()
    headers = dead.headers or {}
    assert headers["Keel-Dlq-Failed-Attempts"] == "3"
    assert headers["Keel-Dlq-Deliveries"] == "4"
    assert "stopped while handling delivery 3" in headers["Keel-Dlq-Error"]


def _refused_port() -> int:
    with socket.socket() as probe:  # nothing listens on it once the probe is closed
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_a_dependency_away_for_longer_than_the_budget_costs_no_attempt(
    effects: AsyncEngine,
    js: JetStreamContext,
    stream: StreamSpec,
    unique_name: str,
    dead_letters: str,
) -> None:
    # A database nobody serves: connecting fails as during an outage (connection refused).
    away = create_engine(f"postgresql+psycopg://keel@127.0.0.1:{_refused_port()}/gone")
    outage = 8  # failures in a row, more than max_deliver
    calls: list[str] = []

    async def handler(conn: AsyncConnection, envelope: Envelope) -> None:
        calls.append(envelope.id)
        if len(calls) <= outage:
            async with away.connect():
                pass
        await conn.execute(text("INSERT INTO effects VALUES (:id, 'x')"), {"id": envelope.id})

    sub = _subscription(unique_name, stream, handler, max_deliver=3, transient_backoff_s=(0.01,))
    consumer = ProbeConsumer(effects, js, sub)
    task = await _running(consumer)
    try:
        envelope = _envelope(unique_name)
        await js.publish(envelope.type, envelope.SerializeToString())
        [delivery] = await consumer.deliveries(1)
        await _settled(js, sub)
    finally:
        await _stop(task)
        await away.dispose()

    assert len(calls) == outage + 1
    assert delivery.metadata.num_delivered == 1
    assert await _count(effects, "SELECT count(*) FROM effects") == 1
    assert await _dead_letter_count(js, dead_letters) == 0


async def test_a_handler_longer_than_the_ack_wait_is_not_handed_to_another_instance(
    effects: AsyncEngine, js: JetStreamContext, stream: StreamSpec, unique_name: str
) -> None:
    calls: list[int] = []
    started, release = asyncio.Event(), asyncio.Event()

    async def slow(conn: AsyncConnection, envelope: Envelope) -> None:
        calls.append(1)
        started.set()
        # Held for several ack waits: without heartbeats the broker would redeliver it (and
        # the redelivery would wait on this inbox row, then find it handled).
        await release.wait()

    sub = _subscription(unique_name, stream, slow, ack_wait_s=1.0)
    instances = [ProbeConsumer(effects, js, sub) for _ in range(2)]
    tasks = [await _running(consumer) for consumer in instances]
    try:
        envelope = _envelope(unique_name)
        await js.publish(envelope.type, envelope.SerializeToString())
        await asyncio.wait_for(started.wait(), timeout=20)
        # Three ack waits: any redelivery would reach the idle instance and start again.
        await asyncio.sleep(3 * sub.ack_wait_s)
        release.set()
        await _settled(js, sub)
    finally:
        for task in tasks:
            await _stop(task)

    assert calls == [1]
    # One delivery in all: the idle instance was never handed the event.
    assert sum(consumer.handled.qsize() for consumer in instances) == 1


async def test_a_consumer_made_by_an_earlier_version_stops_dropping_events(
    effects: AsyncEngine, js: JetStreamContext, stream: StreamSpec, unique_name: str
) -> None:
    sub = _subscription(unique_name, stream, _recording_handler([]))
    # As earlier versions declared it: the broker dropped an event at max_deliver.
    await js.add_consumer(
        stream.name,
        config=ConsumerConfig(
            durable_name=sub.consumer,
            filter_subject=sub.filter_subject,
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=30,
            max_deliver=5,
            backoff=[30, 30, 30],
        ),
    )
    await Consumer(effects, js, sub).ensure()
    config = (await js.consumer_info(stream.name, sub.consumer)).config
    assert config.max_deliver == -1
    assert config.ack_wait == sub.ack_wait_s
    assert not config.backoff


def test_subscription_defaults() -> None:
    async def handler(conn: AsyncConnection, envelope: Envelope) -> None:
        return None

    sub = Subscription(
        consumer="billing-usage", stream="ITEMS", filter_subject="items.>", handler=handler
    )
    assert sub.dead_letter_subject == "dlq.billing-usage"
    assert [sub.retry_delay(n) for n in (1, 2, 3, 4)] == [1, 5, 30, 30]
    config = sub.consumer_config()
    # The broker never drops an event: the consumer counts failed attempts itself.
    assert config.max_deliver == -1 and config.ack_wait == 5
    assert config.backoff is None
    with pytest.raises(ValueError):
        Subscription(consumer="c", stream="S", filter_subject="s.>", handler=handler, max_deliver=0)


async def test_an_event_on_an_idle_consumer_is_handled_without_waiting_for_a_batch(
    effects: AsyncEngine, js: JetStreamContext, stream: StreamSpec, unique_name: str
) -> None:
    # The consumer pulls batches of 16; a pull that held the first event until 15 more came
    # or the pull expired (here 30 s) would make every event of a trickle wait that long.
    calls: list[str] = []
    sub = _subscription(unique_name, stream, _recording_handler(calls))
    consumer = ProbeConsumer(effects, js, sub, fetch_timeout=30.0)
    task = await _running(consumer)
    try:
        async with asyncio.timeout(10):  # until the consumer waits on the broker
            while True:
                if (await js.consumer_info(sub.stream, sub.consumer)).num_waiting:
                    break
                await asyncio.sleep(0.02)
        envelope = _envelope(unique_name)
        await js.publish(envelope.type, envelope.SerializeToString())
        async with asyncio.timeout(10):  # far below the pull's 30 s
            await consumer.deliveries(1)
    finally:
        await _stop(task)
    assert calls == [envelope.id]


async def test_a_consumer_on_several_subjects_is_delivered_only_those(
    effects: AsyncEngine, js: JetStreamContext, stream: StreamSpec, unique_name: str
) -> None:
    calls: list[str] = []
    wanted = (f"{unique_name}.wanted.one", f"{unique_name}.wanted.two")
    sub = _subscription(unique_name, stream, _recording_handler(calls))
    sub.filter_subject, sub.filter_subjects = wanted[0], wanted[1:]
    # As declared before it named its subjects: the whole stream, an inbox row per event.
    await js.add_consumer(
        stream.name,
        config=ConsumerConfig(
            durable_name=sub.consumer,
            filter_subject=f"{unique_name}.>",
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=sub.ack_wait_s,
            max_deliver=-1,
        ),
    )
    consumer = ProbeConsumer(effects, js, sub)
    task = await _running(consumer)
    try:
        events = [
            new_event(
                type=subject,
                source="test",
                subject="thing-1",
                org_id="org-1",
                payload=StringValue(value=subject),
            )
            for subject in (wanted[0], f"{unique_name}.ignored", wanted[1])
        ]
        for event in events:
            await js.publish(event.type, event.SerializeToString())
        await consumer.deliveries(2)
        await _settled(js, sub)
    finally:
        await _stop(task)

    assert calls == [events[0].id, events[2].id]
    assert await _count(effects, "SELECT count(*) FROM inbox") == 2
