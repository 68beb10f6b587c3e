"""Dead letters against PostgreSQL and JetStream: listed without consuming, redelivered once."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from google.protobuf.wrappers_pb2 import StringValue
from nats.js import JetStreamContext
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from keel_runtime.events import (
    DEAD_LETTER_STREAM,
    Consumer,
    Envelope,
    StreamSpec,
    Subscription,
    ensure_stream,
    new_event,
)
from keel_runtime.events.dead_letters import DeadLetterError, get_dead_letter, list_dead_letters
from keel_runtime.events.dead_letters_cli import COLUMNS, run
from keel_runtime.testing import ProbeConsumer

pytestmark = pytest.mark.integration

Handler = Callable[[AsyncConnection, Envelope], Awaitable[None]]


class Cli:
    """The operator command run in this event loop, its output captured."""

    def __init__(self, nats_url: str, capsys: pytest.CaptureFixture[str]) -> None:
        self.nats_url = nats_url
        self.capsys = capsys

    async def __call__(self, *argv: str) -> tuple[int, str, str]:
        self.capsys.readouterr()
        status = await run(["--nats-url", self.nats_url, *argv])
        out, err = self.capsys.readouterr()
        return status, out, err

    async def rows(self, consumer: str) -> list[dict[str, str]]:
        status, out, err = await self("list", "--consumer", consumer)
        assert status == 0, err
        header, *lines = out.splitlines()
        assert header.split("\t") == list(COLUMNS)
        return [dict(zip(COLUMNS, line.split("\t"), strict=True)) for line in lines]


@pytest.fixture
def cli(nats_url: str, capsys: pytest.CaptureFixture[str]) -> Cli:
    return Cli(nats_url, capsys)


@pytest.fixture
async def dlq(js: JetStreamContext) -> AsyncIterator[list[str]]:
    """Consumers whose dead letters the test leaves behind; the DLQ stream itself is shared."""
    await ensure_stream(js, DEAD_LETTER_STREAM)
    consumers: list[str] = []
    yield consumers
    for consumer in consumers:
        with contextlib.suppress(Exception):
            await js.purge_stream(DEAD_LETTER_STREAM.name, subject=f"dlq.{consumer}")


@pytest.fixture
async def effects(engine: AsyncEngine) -> AsyncEngine:
    async with engine.begin() as conn:
        # No unique key on purpose: a second effect of one event would be a second row.
        await conn.execute(text("CREATE TABLE effects (consumer text NOT NULL, event_id uuid)"))
    return engine


async def _effects(engine: AsyncEngine, consumer: str) -> int:
    async with engine.connect() as conn:
        query = text("SELECT count(*) FROM effects WHERE consumer = :c")
        return int(await conn.scalar(query, {"c": consumer}) or 0)


def _envelope(unique_name: str) -> Envelope:
    return new_event(
        type=f"{unique_name}.thing.happened",
        source="test",
        subject="thing-1",
        org_id="org-1",
        payload=StringValue(value="hello"),
    )


def _handler(consumer: str, broken: dict[str, bool]) -> Handler:
    """Writes its effect, then fails while ``broken[consumer]`` (rolling the effect back)."""

    async def handler(conn: AsyncConnection, envelope: Envelope) -> None:
        await conn.execute(
            text("INSERT INTO effects VALUES (:c, :id)"), {"c": consumer, "id": envelope.id}
        )
        if broken[consumer]:
            raise RuntimeError("downstream unavailable")

    return handler


def _consumer(
    engine: AsyncEngine,
    js: JetStreamContext,
    stream: StreamSpec,
    name: str,
    handler: Handler,
) -> ProbeConsumer:
    sub = Subscription(
        consumer=name,
        stream=stream.name,
        filter_subject=f"{stream.subjects[0]}",
        handler=handler,
        max_deliver=2,
        backoff_s=(0.05,),
    )
    return ProbeConsumer(engine, js, sub)


@contextlib.asynccontextmanager
async def _running(*consumers: Consumer) -> AsyncIterator[None]:
    for consumer in consumers:
        await consumer.ensure()
    tasks = [asyncio.create_task(consumer.run()) for consumer in consumers]
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def _settled(js: JetStreamContext, *consumers: Consumer) -> None:
    """Wait until the server has every delivery acknowledged or terminated."""
    async with asyncio.timeout(10):
        for consumer in consumers:
            sub = consumer.subscription
            while True:
                info = await js.consumer_info(sub.stream, sub.consumer)
                if info.num_ack_pending == 0 and info.num_pending == 0:
                    break
                await asyncio.sleep(0.02)


async def test_a_dead_letter_is_listed_then_redelivered_once_the_handler_is_fixed(
    effects: AsyncEngine,
    js: JetStreamContext,
    stream: StreamSpec,
    unique_name: str,
    dlq: list[str],
    cli: Cli,
) -> None:
    broken = {unique_name: True}
    consumer = _consumer(effects, js, stream, unique_name, _handler(unique_name, broken))
    dlq.append(unique_name)
    envelope = _envelope(unique_name)
    async with _running(consumer):
        ack = await js.publish(
            envelope.type,
            envelope.SerializeToString(),
            headers={"Nats-Msg-Id": envelope.id, "X-Request-Id": "req-1"},
        )
        await consumer.deliveries(2)
        await _settled(js, consumer)
        assert await _effects(effects, unique_name) == 0

        rows = await cli.rows(unique_name)
        assert len(rows) == 1
        row = rows[0]
        assert row["CONSUMER"] == unique_name
        assert row["SUBJECT"] == envelope.type
        assert row["EVENT_ID"] == envelope.id
        assert row["TYPE"] == envelope.type
        assert row["ORG"] == "org-1"
        assert row["DELIVERIES"] == "2"
        assert row["ERROR"] == "RuntimeError: downstream unavailable"
        assert row["TIME"] != "-"
        # Listing consumed nothing.
        assert await cli.rows(unique_name) == rows

        broken[unique_name] = False
        status, out, err = await cli("redeliver", "--seq", row["SEQ"])
        assert (status, err) == (0, "")
        assert f"redelivered {row['SEQ']} to {envelope.type}" in out
        await consumer.deliveries(1)
        await _settled(js, consumer)

    assert await _effects(effects, unique_name) == 1
    assert await cli.rows(unique_name) == []
    with pytest.raises(DeadLetterError):
        await get_dead_letter(js, int(row["SEQ"]))
    # The event went out again under a new message id, without the dead-letter headers.
    again = await js.get_msg(stream.name, seq=ack.seq + 1)
    assert again.data == envelope.SerializeToString()
    headers = again.headers or {}
    assert headers["Nats-Msg-Id"] != envelope.id
    assert headers["X-Request-Id"] == "req-1"
    assert not [h for h in headers if h.startswith("Keel-Dlq-")]


async def test_redelivery_is_a_no_op_for_a_consumer_that_already_handled_the_event(
    effects: AsyncEngine,
    js: JetStreamContext,
    stream: StreamSpec,
    unique_name: str,
    dlq: list[str],
    cli: Cli,
) -> None:
    healthy, failing = f"{unique_name}-a", f"{unique_name}-b"
    broken = {healthy: False, failing: True}
    consumers = [
        _consumer(effects, js, stream, name, _handler(name, broken)) for name in (healthy, failing)
    ]
    dlq.extend((healthy, failing))
    envelope = _envelope(unique_name)
    async with _running(*consumers):
        await js.publish(envelope.type, envelope.SerializeToString())
        await consumers[0].deliveries(1)
        await consumers[1].deliveries(2)
        await _settled(js, *consumers)
        assert [await _effects(effects, name) for name in (healthy, failing)] == [1, 0]
        assert await cli.rows(healthy) == []
        assert len(await cli.rows(failing)) == 1

        broken[failing] = False
        status, _, err = await cli("redeliver", "--consumer", failing)
        assert (status, err) == (0, "")
        # The republished event reaches both consumers: the healthy one sees it a second time.
        await consumers[0].deliveries(1)
        await consumers[1].deliveries(1)
        await _settled(js, *consumers)

    assert [await _effects(effects, name) for name in (healthy, failing)] == [1, 1]
    assert await cli.rows(failing) == []


async def test_dry_run_keeps_the_dead_letter_and_the_subject_falls_back_to_the_type(
    js: JetStreamContext, stream: StreamSpec, unique_name: str, dlq: list[str], cli: Cli
) -> None:
    dlq.append(unique_name)
    envelope = _envelope(unique_name)
    # As a consumer older than the subject header would have written it.
    await js.publish(
        f"dlq.{unique_name}",
        envelope.SerializeToString(),
        headers={"Keel-Dlq-Error": "boom", "Keel-Dlq-Consumer": unique_name, "X-Custom": "kept"},
    )
    (letter,) = await list_dead_letters(js, consumer=unique_name)
    assert letter.original_subject == envelope.type

    status, out, _ = await cli("redeliver", "--seq", str(letter.seq), "--dry-run")
    assert status == 0
    assert out == f"would redeliver {letter.seq} to {envelope.type}\n"
    assert (await get_dead_letter(js, letter.seq)).data == envelope.SerializeToString()
    assert (await js.stream_info(stream.name)).state.messages == 0

    status, _, err = await cli("redeliver", "--seq", str(letter.seq))
    assert (status, err) == (0, "")
    republished = await js.get_last_msg(stream.name, envelope.type)
    assert republished.data == envelope.SerializeToString()
    assert (republished.headers or {})["X-Custom"] == "kept"
    assert "Keel-Dlq-Error" not in (republished.headers or {})
    assert await list_dead_letters(js, consumer=unique_name) == []


async def test_failures_exit_non_zero_and_keep_the_dead_letter(
    js: JetStreamContext, unique_name: str, dlq: list[str], cli: Cli
) -> None:
    dlq.append(unique_name)
    # Undecodable and without a subject header: nowhere to redeliver it.
    await js.publish(f"dlq.{unique_name}", b"\xff\x01not an envelope")
    (letter,) = await list_dead_letters(js, consumer=unique_name)
    (row,) = await cli.rows(unique_name)
    assert (row["SEQ"], row["SUBJECT"], row["EVENT_ID"]) == (str(letter.seq), "-", "-")

    for dry_run in (("--dry-run",), ()):
        status, _, err = await cli("redeliver", "--seq", str(letter.seq), *dry_run)
        assert status == 1
        assert "original subject unknown" in err
    assert await list_dead_letters(js, consumer=unique_name) == [letter]

    last = (await js.stream_info(DEAD_LETTER_STREAM.name)).state.last_seq
    status, _, err = await cli("redeliver", "--seq", str(last + 1000))
    assert status == 1
    assert f"no message with sequence {last + 1000}" in err


async def test_the_module_runs_as_a_command(
    nats_url: str, dlq: list[str], unique_name: str
) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "keel_runtime.events.dead_letters_cli",
        "--nats-url",
        nats_url,
        "list",
        "--consumer",
        unique_name,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert process.returncode == 0, err
    assert out.decode().splitlines() == ["\t".join(COLUMNS)]
