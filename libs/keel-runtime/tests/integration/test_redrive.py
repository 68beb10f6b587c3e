"""The redrive policy against PostgreSQL and JetStream: dependency-outage dead letters go back."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from google.protobuf.wrappers_pb2 import StringValue
from nats.js import JetStreamContext
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from keel_runtime.db import create_engine
from keel_runtime.events import DEAD_LETTER_STREAM, Envelope, StreamSpec, Subscription, new_event
from keel_runtime.events.dead_letters import DeadLetter, list_dead_letters
from keel_runtime.events.failures import DEPENDENCY, HANDLER, RedrivePolicy
from keel_runtime.events.redrive import Redriver
from keel_runtime.events.streams import ensure_stream
from keel_runtime.metrics import Metrics
from keel_runtime.testing import ProbeConsumer

pytestmark = pytest.mark.integration

Handler = Callable[[AsyncConnection, Envelope], Awaitable[None]]

# Never fires during a test: the tests drive the policy pass by pass.
MANUAL = RedrivePolicy(delays_s=(0.0,), interval_s=3600.0)


class LedgerAway(Exception):
    """An application error wrapping a refused connection, as a handler calling a peer raises."""


@pytest.fixture
async def effects(engine: AsyncEngine) -> AsyncEngine:
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE effects (event_id uuid)"))
    return engine


@pytest.fixture
async def dlq(js: JetStreamContext, unique_name: str) -> AsyncIterator[str]:
    await ensure_stream(js, DEAD_LETTER_STREAM)
    yield unique_name
    with contextlib.suppress(Exception):
        await js.purge_stream(DEAD_LETTER_STREAM.name, subject=f"dlq.{unique_name}")


def _handler(state: dict[str, object]) -> Handler:
    """Writes its effect; while ``state["away"]`` it fails the way ``state["error"]`` says."""

    async def handler(conn: AsyncConnection, envelope: Envelope) -> None:
        await conn.execute(text("INSERT INTO effects VALUES (:id)"), {"id": envelope.id})
        if state["away"]:
            if state.get("error") == "handler":
                raise RuntimeError("refused by the rules")
            try:
                raise ConnectionRefusedError("ledger refused the connection")
            except ConnectionRefusedError as exc:
                raise LedgerAway("cannot post the fee") from exc

    return handler


def _consumer(
    engine: AsyncEngine,
    js: JetStreamContext,
    stream: StreamSpec,
    name: str,
    handler: Handler,
    policy: RedrivePolicy | None,
) -> ProbeConsumer:
    sub = Subscription(
        consumer=name,
        stream=stream.name,
        filter_subject=stream.subjects[0],
        handler=handler,
        max_deliver=1,
        redrive=policy,
    )
    return ProbeConsumer(engine, js, sub)


@contextlib.asynccontextmanager
async def _running(consumer: ProbeConsumer) -> AsyncIterator[None]:
    await consumer.ensure()
    task = asyncio.create_task(consumer.run())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _publish(js: JetStreamContext, unique_name: str) -> Envelope:
    envelope = new_event(
        type=f"{unique_name}.fee.due",
        source="test",
        subject="fee-1",
        org_id="org-1",
        payload=StringValue(value="fee"),
    )
    await js.publish(envelope.type, envelope.SerializeToString())
    return envelope


async def _dead_letters(js: JetStreamContext, consumer: str, count: int) -> list[DeadLetter]:
    """The consumer's dead letters once there are ``count`` of them."""
    async with asyncio.timeout(20):
        while True:
            letters = await list_dead_letters(js, consumer=consumer)
            if len(letters) == count:
                return letters
            await asyncio.sleep(0.05)


async def _dead_letter_redriven(js: JetStreamContext, consumer: str, times: int) -> DeadLetter:
    """The consumer's one dead letter, once it is there after ``times`` redrives."""
    async with asyncio.timeout(20):
        while True:
            letters = await list_dead_letters(js, consumer=consumer)
            if len(letters) == 1 and letters[0].redrives == times:
                return letters[0]
            await asyncio.sleep(0.05)


async def _effects(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int(await conn.scalar(text("SELECT count(*) FROM effects")) or 0)


async def test_a_dependency_outage_dead_letter_is_redriven_when_the_dependency_is_back(
    effects: AsyncEngine, js: JetStreamContext, stream: StreamSpec, dlq: str
) -> None:
    state: dict[str, object] = {"away": True}
    consumer = _consumer(effects, js, stream, dlq, _handler(state), MANUAL)
    metrics = Metrics("test")
    redriver = Redriver(js, dlq, MANUAL, engine=effects, metrics=metrics)
    async with _running(consumer):
        envelope = await _publish(js, dlq)
        [letter] = await _dead_letters(js, dlq, 1)
        assert letter.error_class == DEPENDENCY
        assert letter.error == "LedgerAway: cannot post the fee"
        assert letter.redrives == 0

        state["away"] = False
        assert await redriver.redrive_once() == 1
        await _dead_letters(js, dlq, 0)
        await consumer.deliveries(2)

    assert await _effects(effects) == 1
    info = await js.stream_info(stream.name)
    last = await js.get_msg(stream.name, seq=info.state.last_seq)
    assert last.data == envelope.SerializeToString()
    assert (last.headers or {})["Keel-Redrives"] == "1"
    sample = metrics.registry.get_sample_value(
        "keel_consumer_redrives_total",
        {"service": "test", "consumer": dlq, "outcome": "redriven"},
    )
    assert sample == 1


async def test_redrives_stop_at_the_bound_and_the_letter_stays_for_operators(
    effects: AsyncEngine, js: JetStreamContext, stream: StreamSpec, dlq: str
) -> None:
    state: dict[str, object] = {"away": True}
    consumer = _consumer(effects, js, stream, dlq, _handler(state), MANUAL)
    metrics = Metrics("test")
    redriver = Redriver(js, dlq, MANUAL, engine=effects, metrics=metrics)
    async with _running(consumer):
        await _publish(js, dlq)
        for redrives in range(MANUAL.max_redrives):
            letter = await _dead_letter_redriven(js, dlq, redrives)
            assert await redriver.redrive_once() == 1
            # The redriven event fails again and comes back to the dead letters.
        letter = await _dead_letter_redriven(js, dlq, MANUAL.max_redrives)
        assert letter.redrives == MANUAL.max_redrives
        assert await redriver.redrive_once() == 0
        assert await redriver.redrive_once() == 0

    assert await _effects(effects) == 0
    assert [letter.seq for letter in await list_dead_letters(js, consumer=dlq)] == [letter.seq]
    exhausted = metrics.registry.get_sample_value(
        "keel_consumer_redrives_total",
        {"service": "test", "consumer": dlq, "outcome": "exhausted"},
    )
    assert exhausted == 1  # reported once, not once per pass


async def test_a_handler_error_is_not_redriven(
    effects: AsyncEngine, js: JetStreamContext, stream: StreamSpec, dlq: str
) -> None:
    state: dict[str, object] = {"away": True, "error": "handler"}
    consumer = _consumer(effects, js, stream, dlq, _handler(state), MANUAL)
    async with _running(consumer):
        await _publish(js, dlq)
        [letter] = await _dead_letters(js, dlq, 1)
    assert letter.error_class == HANDLER
    assert await Redriver(js, dlq, MANUAL, engine=effects).redrive_once() == 0
    assert len(await list_dead_letters(js, consumer=dlq)) == 1


async def test_nothing_is_redriven_while_the_database_or_a_dependency_is_away(
    effects: AsyncEngine, js: JetStreamContext, stream: StreamSpec, dlq: str
) -> None:
    state: dict[str, object] = {"away": True}
    consumer = _consumer(effects, js, stream, dlq, _handler(state), MANUAL)
    async with _running(consumer):
        await _publish(js, dlq)
        await _dead_letters(js, dlq, 1)

    with socket.socket() as probe:  # nothing listens on it once the probe is closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    unreachable = create_engine(f"postgresql+psycopg://keel@127.0.0.1:{port}/keel")
    try:
        assert await Redriver(js, dlq, MANUAL, engine=unreachable).redrive_once() == 0
    finally:
        await unreachable.dispose()
    away = Redriver(js, dlq, MANUAL, engine=effects, dependency_away=lambda: True)
    assert await away.redrive_once() == 0
    assert len(await list_dead_letters(js, consumer=dlq)) == 1


async def test_the_consumer_redrives_by_itself_once_the_dependency_is_back(
    effects: AsyncEngine, js: JetStreamContext, stream: StreamSpec, dlq: str
) -> None:
    state: dict[str, object] = {"away": True}
    handler = _handler(state)

    async def fails_once(conn: AsyncConnection, envelope: Envelope) -> None:
        try:
            await handler(conn, envelope)
        finally:
            state["away"] = False  # the dependency is back for the next attempt

    policy = RedrivePolicy(delays_s=(0.0,), interval_s=0.05)
    consumer = _consumer(effects, js, stream, dlq, fails_once, policy)
    async with _running(consumer):
        await _publish(js, dlq)
        await consumer.deliveries(1)  # failed, dead-lettered
        await consumer.deliveries(1)  # redriven by the consumer's own policy, handled
        await _dead_letters(js, dlq, 0)
    assert await _effects(effects) == 1
