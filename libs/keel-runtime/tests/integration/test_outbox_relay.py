"""Outbox relay against PostgreSQL and JetStream: nothing skipped, nothing doubled, replayable."""

from __future__ import annotations

import asyncio
import os
import random
import socket
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from google.protobuf.wrappers_pb2 import StringValue
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from keel_runtime.db import UnitOfWork, create_engine
from keel_runtime.events import (
    OutboxRelay,
    StreamSpec,
    ensure_stream,
    new_event,
    prune_outbox,
    replay,
)
from keel_runtime.events.relay import RELAY_LOCK_KEY
from keel_runtime.events.tables import OUTBOX

pytestmark = pytest.mark.integration


async def _commit_events(engine: AsyncEngine, event_type: str, count: int) -> list[str]:
    events = [
        new_event(
            type=event_type,
            source="t",
            subject=str(n),
            org_id="o",
            payload=StringValue(value=str(n)),
        )
        for n in range(count)
    ]
    async with UnitOfWork(engine) as uow:
        uow.publish(*events)
        await uow.commit()
    return [e.id for e in events]


async def _relay_until(relay: OutboxRelay, expected: int) -> None:
    # Another transaction in this database holds the relay's horizon back for a while;
    # keep relaying until everything got through.
    published = 0
    async with asyncio.timeout(20):
        while published < expected:
            published += await relay.relay_once()
            if published < expected:
                await asyncio.sleep(0.02)


async def _unpublished(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int(
            await conn.scalar(select(func.count()).where(OUTBOX.c.published_at.is_(None))) or 0
        )


async def _until_all_marked(engine: AsyncEngine) -> None:
    while True:
        if await _unpublished(engine) == 0:
            return
        await asyncio.sleep(0.02)


async def _stream_ids(js: JetStreamContext, stream: str) -> list[str]:
    """Nats-Msg-Id of every message in the stream, in stream order."""
    info = await js.stream_info(stream)
    ids = []
    for seq in range(info.state.first_seq, info.state.last_seq + 1):
        msg = await js.get_msg(stream, seq)
        ids.append((msg.headers or {})["Nats-Msg-Id"])
    return ids


async def test_concurrent_writers_with_uneven_transactions_lose_and_double_nothing(
    engine: AsyncEngine, js: JetStreamContext, stream: StreamSpec, unique_name: str
) -> None:
    rng = random.Random(7)
    event_type = f"{unique_name}.thing.happened"
    long_has_xid = asyncio.Event()
    others_done = asyncio.Event()

    async def writer(n: int, *, commit: bool = True) -> list[str]:
        events = [
            new_event(
                type=event_type,
                source="test",
                subject=f"{n}-{k}",
                org_id="org-1",
                payload=StringValue(value=f"{n}-{k}"),
            )
            for k in range(rng.randint(1, 3))
        ]
        hold = rng.uniform(0, 0.25)
        async with UnitOfWork(engine) as uow:
            # Take the transaction id now: its rows appear later, with this (older) txid.
            await uow.connection.execute(text("SELECT pg_current_xact_id()"))
            await asyncio.sleep(hold)
            uow.publish(*events)
            if commit:
                await uow.commit()
        return [e.id for e in events] if commit else []

    async def long_writer() -> list[str]:
        events = [
            new_event(
                type=event_type, source="test", subject="long", org_id="o", payload=StringValue()
            )
        ]
        async with UnitOfWork(engine) as uow:
            await uow.connection.execute(text("SELECT pg_current_xact_id()"))
            long_has_xid.set()
            await others_done.wait()
            uow.publish(*events)
            await uow.commit()
        return [e.id for e in events]

    arrived: set[str] = set()
    expected: set[str] = set()
    all_arrived = asyncio.Event()

    async def on_message(msg: Msg) -> None:
        arrived.add((msg.headers or {})["Nats-Msg-Id"])
        if expected and expected <= arrived:
            all_arrived.set()

    watcher = await js.subscribe(f"{unique_name}.>", ordered_consumer=True, cb=on_message)
    # Two relays on one database: the advisory lock lets one publish at a time.
    relays = [
        asyncio.create_task(OutboxRelay(engine, js, batch=7, poll_interval=0.02).run())
        for _ in range(2)
    ]
    try:
        long_task = asyncio.create_task(long_writer())
        await long_has_xid.wait()
        first_wave = await asyncio.gather(
            *(writer(n, commit=n % 9 != 4) for n in range(20))  # two of them roll back
        )
        # The long transaction holds the snapshot xmin: nothing after it may go out yet.
        assert (await js.stream_info(stream.name)).state.messages == 0
        assert await _unpublished(engine) > 0

        others_done.set()
        long_ids = await long_task
        second_wave = await asyncio.gather(*(writer(n) for n in range(20, 30)))

        expected.update(long_ids, *first_wave, *second_wave)
        if expected <= arrived:
            all_arrived.set()
        async with asyncio.timeout(30):
            await all_arrived.wait()
            # Rows are marked after their PubAck: the last batch may still be committing.
            await _until_all_marked(engine)
    finally:
        for task in relays:
            task.cancel()
        await asyncio.gather(*relays, return_exceptions=True)
        await watcher.unsubscribe()

    in_stream = await _stream_ids(js, stream.name)
    assert len(in_stream) == len(expected) == len(set(in_stream))
    assert set(in_stream) == expected
    assert in_stream[0] == long_ids[0]
    # The stream holds the events in commit-safe transaction order.
    async with engine.connect() as conn:
        in_outbox = [
            str(i)
            for i in (await conn.scalars(select(OUTBOX.c.id).order_by(OUTBOX.c.txid, OUTBOX.c.id)))
        ]
    assert in_stream == in_outbox


async def test_a_long_transaction_in_another_database_delays_nothing(
    engine: AsyncEngine,
    js: JetStreamContext,
    stream: StreamSpec,
    unique_name: str,
    postgres_url: str,
) -> None:
    # A transaction in another database of the same cluster that took an xid and stays open:
    # it holds the cluster-wide snapshot xmin back, but it can never write to this outbox.
    async with await psycopg.AsyncConnection.connect(postgres_url) as elsewhere:
        await elsewhere.execute("SELECT pg_current_xact_id()")
        ids = await _commit_events(engine, f"{unique_name}.thing.happened", 3)
        assert await OutboxRelay(engine, js).relay_once() == 3
        await elsewhere.rollback()
    assert sorted(await _stream_ids(js, stream.name)) == sorted(ids)


async def test_replay_is_a_broker_duplicate(
    engine: AsyncEngine, js: JetStreamContext, stream: StreamSpec, unique_name: str
) -> None:
    event_type = f"{unique_name}.thing.happened"
    ids = await _commit_events(engine, event_type, 5)
    relay = OutboxRelay(engine, js)
    await _relay_until(relay, 5)
    assert (await js.stream_info(stream.name)).state.messages == 5

    by_id = await replay(engine, js, event_ids=ids[:3])
    assert (by_id.republished, by_id.duplicates) == (3, 3)
    now = datetime.now(UTC)
    by_time = await replay(engine, js, since=now - timedelta(minutes=5), until=now + timedelta(1))
    assert (by_time.republished, by_time.duplicates) == (5, 5)

    ack = await js.publish(event_type, b"again", headers={"Nats-Msg-Id": ids[0]})
    assert ack.duplicate is True
    assert (await js.stream_info(stream.name)).state.messages == 5
    # Published rows stay for the replay horizon.
    async with engine.connect() as conn:
        kept = await conn.scalar(select(func.count()).where(OUTBOX.c.published_at.is_not(None)))
    assert kept == 5
    with pytest.raises(ValueError):
        await replay(engine, js)


async def test_replay_command_line(
    database_url: str,
    nats_url: str,
    engine: AsyncEngine,
    js: JetStreamContext,
    stream: StreamSpec,
    unique_name: str,
) -> None:
    ids = await _commit_events(engine, f"{unique_name}.thing.happened", 2)
    await _relay_until(OutboxRelay(engine, js), 2)
    command = [sys.executable, "-m", "keel_runtime.events.replay_cli"]
    env = {**os.environ, "DATABASE_URL": database_url, "NATS_URL": nats_url}
    process = await asyncio.create_subprocess_exec(
        *command, "--id", ids[0], "--id", ids[1], env=env, stdout=asyncio.subprocess.PIPE
    )
    stdout, _ = await process.communicate()
    assert process.returncode == 0
    assert stdout.decode().strip() == "republished 2 events (2 dropped as duplicates)"
    assert (await js.stream_info(stream.name)).state.messages == 2


async def test_rows_are_marked_only_after_their_puback(
    engine: AsyncEngine, js: JetStreamContext, stream: StreamSpec, unique_name: str
) -> None:
    good = await _commit_events(engine, f"{unique_name}.thing.happened", 3)
    # No stream captures this subject: the publish gets no PubAck.
    orphan = await _commit_events(engine, f"nostream{unique_name}.thing.happened", 1)
    relay = OutboxRelay(engine, js, publish_timeout=2)
    await _relay_until(relay, 3)

    async with engine.connect() as conn:
        waiting = [
            str(i)
            for i in await conn.scalars(select(OUTBOX.c.id).where(OUTBOX.c.published_at.is_(None)))
        ]
    assert waiting == orphan
    assert sorted(await _stream_ids(js, stream.name)) == sorted(good)
    # Pruning the replay horizon removes published rows only.
    assert await prune_outbox(engine, older_than=timedelta(hours=1)) == 0
    assert await prune_outbox(engine, older_than=timedelta(0)) == 3
    assert await _unpublished(engine) == 1


async def test_a_row_acknowledged_but_not_marked_is_not_published_again_past_the_window(
    engine: AsyncEngine, js: JetStreamContext, unique_name: str
) -> None:
    # A stream whose duplicate window is short, so "past the window" takes a moment.
    window = 0.2
    stream = StreamSpec(
        name=f"{unique_name.upper()}W", subjects=[f"{unique_name}.>"], duplicate_window_s=window
    )
    await ensure_stream(js, stream)
    try:
        ids = await _commit_events(engine, f"{unique_name}.thing.happened", 3)
        async with engine.begin() as conn:
            # The database goes away between the PubAcks and the marking.
            await conn.execute(
                text(
                    "CREATE FUNCTION refuse_marking() RETURNS trigger LANGUAGE plpgsql AS "
                    "$$ BEGIN RAISE EXCEPTION 'terminating connection' "
                    "USING ERRCODE = '57P01'; END $$"
                )
            )
            await conn.execute(
                text(
                    "CREATE TRIGGER refuse_marking BEFORE UPDATE ON outbox "
                    "FOR EACH STATEMENT EXECUTE FUNCTION refuse_marking()"
                )
            )
        relay = OutboxRelay(engine, js)
        with pytest.raises(Exception, match="terminating connection"):
            await relay.relay_once()
        assert await _unpublished(engine) == 3
        assert sorted(await _stream_ids(js, stream.name)) == sorted(ids)

        async with engine.begin() as conn:
            await conn.execute(text("DROP TRIGGER refuse_marking ON outbox"))
        await asyncio.sleep(window * 3)  # the database comes back after the duplicate window
        await _relay_until(relay, 3)
        assert await _unpublished(engine) == 0
        assert sorted(await _stream_ids(js, stream.name)) == sorted(ids)  # one copy each
    finally:
        await js.delete_stream(stream.name)


async def test_only_the_lock_holder_publishes(
    engine: AsyncEngine, js: JetStreamContext, stream: StreamSpec, unique_name: str
) -> None:
    await _commit_events(engine, f"{unique_name}.thing.happened", 2)
    relay = OutboxRelay(engine, js)
    async with engine.connect() as other:
        await other.execute(select(func.pg_advisory_lock(RELAY_LOCK_KEY)))
        assert await relay.relay_once() == 0
        await other.execute(select(func.pg_advisory_unlock(RELAY_LOCK_KEY)))
        await other.commit()
    await _relay_until(relay, 2)
    assert (await js.stream_info(stream.name)).state.messages == 2


def test_event_ids_are_time_ordered_uuids() -> None:
    from keel_runtime.ids import uuid7

    first, second = uuid7(), uuid7()
    assert first.version == 7 and first.variant == uuid.RFC_4122
    assert str(first)[:8] <= str(second)[:8]


async def test_replay_command_fails_fast_on_an_unreachable_broker(database_url: str) -> None:
    with socket.socket() as probe:  # a port nothing listens on once the probe is closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    nats_url = f"nats://127.0.0.1:{port}"
    command = [sys.executable, "-m", "keel_runtime.events.replay_cli", "--id", str(uuid.uuid4())]
    env = {**os.environ, "DATABASE_URL": database_url, "NATS_URL": nats_url}
    process = await asyncio.create_subprocess_exec(
        *command, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=20)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == 1
    assert stdout == b""
    assert (
        stderr.decode().splitlines()[-1].startswith(f"error: cannot connect to NATS at {nats_url}")
    )


_DROP_LISTENING_CONNECTIONS = text(
    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
    " WHERE datname = current_database() AND query = 'LISTEN keel_outbox'"
)


@asynccontextmanager
async def _relaying(
    relay: OutboxRelay, js: JetStreamContext, unique_name: str
) -> AsyncIterator[asyncio.Queue[Msg]]:
    """``relay`` running, and the messages it publishes under the test's subjects."""
    messages: asyncio.Queue[Msg] = asyncio.Queue()
    watcher = await js.subscribe(f"{unique_name}.>", ordered_consumer=True, cb=messages.put)
    running = asyncio.create_task(relay.run())
    try:
        yield messages
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
        await watcher.unsubscribe()


async def _next_event_id(messages: asyncio.Queue[Msg]) -> str:
    # Far inside the relay's poll interval in the tests below: only a wake-up gets it here.
    async with asyncio.timeout(20):
        msg = await messages.get()
    return (msg.headers or {})["Nats-Msg-Id"]


async def test_a_commit_from_another_process_wakes_the_relay_before_its_poll(
    engine: AsyncEngine,
    database_url: str,
    js: JetStreamContext,
    stream: StreamSpec,
    unique_name: str,
) -> None:
    # Another engine stands for another process: nothing in this one tells the relay.
    writer = create_engine(database_url)
    try:
        async with _relaying(
            OutboxRelay(engine, js, poll_interval=60), js, unique_name
        ) as messages:
            # The first is found by the relay's first look; the second is committed after that
            # look, while the relay waits out a poll interval the test would not outlast.
            first = await _commit_events(writer, f"{unique_name}.thing.happened", 1)
            assert await _next_event_id(messages) == first[0]
            second = await _commit_events(writer, f"{unique_name}.thing.happened", 1)
            assert await _next_event_id(messages) == second[0]
    finally:
        await writer.dispose()


async def test_a_row_whose_notification_was_missed_goes_out_at_the_next_poll(
    engine: AsyncEngine, js: JetStreamContext, stream: StreamSpec, unique_name: str
) -> None:
    async with _relaying(OutboxRelay(engine, js, poll_interval=0.05), js, unique_name) as messages:
        first = await _commit_events(engine, f"{unique_name}.thing.happened", 1)
        assert await _next_event_id(messages) == first[0]
        # A row written without the notification (the listening connection was down when
        # it was sent): nothing wakes the relay, its poll finds the row.
        event_id = uuid.uuid4()
        async with engine.begin() as conn:
            await conn.execute(
                OUTBOX.insert().values(
                    id=event_id,
                    subject=f"{unique_name}.thing.happened",
                    type="t",
                    payload=b"",
                    headers={},
                )
            )
        assert await _next_event_id(messages) == str(event_id)


async def test_the_relay_listens_again_after_losing_its_connection(
    engine: AsyncEngine,
    database_url: str,
    js: JetStreamContext,
    stream: StreamSpec,
    unique_name: str,
) -> None:
    writer = create_engine(database_url)
    relay = OutboxRelay(engine, js, poll_interval=60, max_error_backoff=0.1)
    try:
        async with _relaying(relay, js, unique_name) as messages:
            first = await _commit_events(writer, f"{unique_name}.thing.happened", 1)
            assert await _next_event_id(messages) == first[0]
            # The relay's listening connection goes (a database restart, a network cut).
            dropped = 0
            async with asyncio.timeout(20):
                while not dropped:  # once the relay has listened
                    async with engine.begin() as conn:
                        dropped = await conn.scalar(_DROP_LISTENING_CONNECTIONS)
                    await asyncio.sleep(0.02)
            assert dropped == 1
            second = await _commit_events(writer, f"{unique_name}.thing.happened", 1)
            assert await _next_event_id(messages) == second[0]
    finally:
        await writer.dispose()


class _CountingRelay(OutboxRelay):
    """Tells how many passes have begun and which ones have ended with what result."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.begun = 0
        self.ended: asyncio.Queue[tuple[int, int]] = asyncio.Queue()

    async def relay_once(self) -> int:
        self.begun += 1
        number = self.begun
        published = await super().relay_once()
        self.ended.put_nowait((number, published))
        return published

    async def a_pass_begun_after(self, number: int) -> int:
        async with asyncio.timeout(20):
            while True:
                ended, published = await self.ended.get()
                if ended > number:
                    return published


async def test_a_row_held_back_goes_out_when_the_transaction_holding_it_ends(
    engine: AsyncEngine,
    database_url: str,
    js: JetStreamContext,
    stream: StreamSpec,
    unique_name: str,
) -> None:
    # Commits from another process: one notification each, no second wake-up in this one.
    writer = create_engine(database_url)
    relay = _CountingRelay(engine, js, poll_interval=60)
    try:
        async with _relaying(relay, js, unique_name) as messages:
            first = await _commit_events(writer, f"{unique_name}.thing.happened", 1)
            assert await _next_event_id(messages) == first[0]
            async with engine.connect() as older:
                # An older transaction that writes no event: its commit notifies nobody.
                await older.execute(text("SELECT pg_current_xact_id()"))
                # Committed and notified while the older one runs: the relay's look finds it
                # not ready, and the relay goes back to waiting.
                before = relay.begun
                held = await _commit_events(writer, f"{unique_name}.thing.happened", 1)
                assert await relay.a_pass_begun_after(before) == 0
                await older.commit()
            assert await _next_event_id(messages) == held[0]
    finally:
        await writer.dispose()


async def test_a_commit_beside_the_publishing_relay_wakes_it_without_a_notification(
    engine: AsyncEngine,
    database_url: str,
    js: JetStreamContext,
    stream: StreamSpec,
    unique_name: str,
) -> None:
    relay = OutboxRelay(engine, js, poll_interval=60)
    async with (
        _relaying(relay, js, unique_name) as messages,
        await psycopg.AsyncConnection.connect(database_url, autocommit=True) as listener,
    ):
        await listener.execute("LISTEN keel_outbox")
        first = await _commit_events(engine, f"{unique_name}.thing.happened", 1)
        assert await _next_event_id(messages) == first[0]
        # The relay of this process publishes: a commit here wakes it directly.
        second = await _commit_events(engine, f"{unique_name}.thing.happened", 1)
        assert await _next_event_id(messages) == second[0]
        await listener.execute("NOTIFY keel_outbox, 'marker'")
        heard: list[str] = []
        async with asyncio.timeout(20):
            async for notification in listener.notifies():
                heard.append(notification.payload)
                if notification.payload == "marker":
                    break
        # The first commit may have come before the relay's first pass and notified;
        # the second, beside the publishing relay, did not.
        assert heard.count("") <= 1
