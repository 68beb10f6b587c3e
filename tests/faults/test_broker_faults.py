"""Faults of the event path itself, on infrastructure of this module's own.

- The broker case, after Watermill's reconnect test (10,000 events from 100 publishers with
  NATS restarted twice), scaled to run in about a minute on two shared cores: 4,000 events
  from 40 publishers under `make faults`, 400 from 10 in `make test`'s quick run
  (``KEEL_FAULTS_BROKER_EVENTS`` / ``_PUBLISHERS`` change it), NATS killed with SIGKILL twice
  while they publish and two consumer instances consume. Every event must have exactly one
  effect.
- Events dead-lettered while a peer their handler calls is away: redriven when it returns.
- A poison event that kills its consumer process every time it is handled: it must end in
  the dead letters (class ``crash``), and every other event must have exactly one effect.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import psycopg
import pytest
from faults_support import Outcome, converge, record, stream_copies, table, until
from google.protobuf.wrappers_pb2 import StringValue
from nats.js import JetStreamContext
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from keel_devstack.embedded import EmbeddedInfra
from keel_devstack.process import ManagedProcess
from keel_devstack.stack import database_url_for
from keel_devstack.supervisor import Supervisor
from keel_runtime.db import create_engine, new_metadata
from keel_runtime.events import (
    DEAD_LETTER_STREAM,
    Consumer,
    Envelope,
    StreamSpec,
    Subscription,
    connect_nats,
    ensure_stream,
    inbox_table,
    new_event,
    outbox_table,
)
from keel_runtime.events.dead_letters import list_dead_letters
from keel_runtime.events.failures import RedrivePolicy
from keel_runtime.metrics import Metrics

pytestmark = [pytest.mark.faults, pytest.mark.integration, pytest.mark.timeout(600)]

_FULL = os.environ.get("KEEL_FAULTS") == "1"
EVENTS = int(os.environ.get("KEEL_FAULTS_BROKER_EVENTS", "4000" if _FULL else "400"))
PUBLISHERS = int(os.environ.get("KEEL_FAULTS_BROKER_PUBLISHERS", "40" if _FULL else "10"))


class Infra:
    def __init__(self, root: Path) -> None:
        self.embedded = EmbeddedInfra(root / "infra", log_dir=root / "log")
        self.postgres_url = self.embedded.postgres_url()
        self.nats_url = self.embedded.nats_url()
        self.supervisor = Supervisor(lambda line: print(f"[faults] {line}", file=sys.stderr))
        assert self.embedded.nats is not None
        self.nats: ManagedProcess = self.embedded.nats.process
        self.supervisor.watch(self.nats)
        self.supervisor.start()
        self.root = root

    def database(self, name: str) -> str:
        with psycopg.connect(self.postgres_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return database_url_for(self.postgres_url, name)

    def close(self) -> None:
        self.supervisor.stop()
        self.embedded.close()


@pytest.fixture(scope="module")
def infra() -> Iterator[Infra]:
    root = Path(tempfile.mkdtemp(prefix="keel-faults-broker-"))
    root.chmod(0o755)
    infra = Infra(root)
    try:
        yield infra
    finally:
        infra.close()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
async def effects_db(infra: Infra, unique_name: str) -> AsyncIterator[tuple[str, AsyncEngine]]:
    url = infra.database(unique_name)
    engine = create_engine(url)
    metadata = new_metadata()
    outbox_table(metadata)
    inbox_table(metadata)
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
        # No unique key on purpose: a second effect of one event is a second row.
        await conn.execute(text("CREATE TABLE effects (event_id uuid NOT NULL)"))
    yield url, engine
    await engine.dispose()


async def _effects(engine: AsyncEngine) -> tuple[int, int]:
    async with engine.connect() as conn:
        row = (
            await conn.execute(text("SELECT count(*), count(DISTINCT event_id) FROM effects"))
        ).one()
    return int(row[0]), int(row[1])


async def _record_effect(conn: AsyncConnection, envelope: Envelope) -> None:
    await conn.execute(text("INSERT INTO effects VALUES (:id)"), {"id": envelope.id})


def _event(stream: str, n: int, subject: str = "thing") -> Envelope:
    return new_event(
        type=f"{stream.lower()}.thing.happened",
        source="faults",
        subject=subject,
        org_id="org-faults",
        payload=StringValue(value=str(n)),
    )


async def _publish_until_acked(js: JetStreamContext, envelope: Envelope) -> None:
    """Publish with the event id as message id, again until acknowledged (the broker may be
    down or restarting): a retry of a stored event is dropped as a duplicate."""
    while True:
        try:
            await js.publish(
                envelope.type,
                envelope.SerializeToString(),
                headers={"Nats-Msg-Id": envelope.id},
                timeout=2.0,
            )
            return
        except Exception:
            await asyncio.sleep(0.2)


async def _restarted(infra: Infra, old_pid: int, within: float = 60.0) -> None:
    await until(lambda: infra.nats.alive and infra.nats.pid != old_pid, within=within)


@contextlib.asynccontextmanager
async def _consuming(
    url: str, nats_url: str, sub: Subscription, instances: int
) -> AsyncIterator[None]:
    engines, clients, tasks = [], [], []
    for _ in range(instances):
        engine = create_engine(url)
        nc, js = await connect_nats(nats_url, name=sub.consumer)
        consumer = Consumer(engine, js, sub)
        await consumer.ensure()
        engines.append(engine)
        clients.append(nc)
        tasks.append(asyncio.create_task(consumer.run()))
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for nc in clients:
            with contextlib.suppress(Exception):
                await nc.close()
        for engine in engines:
            await engine.dispose()


@pytest.mark.quick
async def test_many_publishers_with_nats_killed_twice_deliver_every_event_once(
    infra: Infra, effects_db: tuple[str, AsyncEngine], unique_name: str
) -> None:
    url, engine = effects_db
    began = time.monotonic()
    name = unique_name.upper()
    spec = StreamSpec(name=name, subjects=[f"{unique_name}.>"])
    admin_nc, admin = await connect_nats(infra.nats_url, name="faults-admin")
    await ensure_stream(admin, spec)
    sub = Subscription(
        consumer=f"{unique_name}-effects",
        stream=name,
        filter_subject=f"{unique_name}.>",
        handler=_record_effect,
    )
    per_publisher = EVENTS // PUBLISHERS
    acknowledged = 0

    async def publisher(index: int) -> None:
        nonlocal acknowledged
        nc, js = await connect_nats(infra.nats_url, name=f"publisher-{index}")
        try:
            for n in range(per_publisher):
                await _publish_until_acked(js, _event(unique_name, index * per_publisher + n))
                acknowledged += 1
        finally:
            await nc.close()

    try:
        async with _consuming(url, infra.nats_url, sub, instances=2):
            publishing = asyncio.gather(*(publisher(i) for i in range(PUBLISHERS)))
            try:
                for share in (3, 3 / 2):  # after a third, then two thirds of the events
                    await until(lambda s=share: acknowledged >= EVENTS / s, within=120)
                    pid = infra.nats.pid
                    assert pid is not None
                    os.kill(pid, signal.SIGKILL)
                    await _restarted(infra, pid)
            finally:
                await publishing
            total = per_publisher * PUBLISHERS

            async def measure() -> Outcome:
                effects, distinct = await _effects(engine)
                duplicated, _ = await stream_copies(admin, name, 0)
                info = await admin.stream_info(name)
                return Outcome(
                    case=f"broker: {total} events, {PUBLISHERS} publishers, nats kill -9 x2",
                    acknowledged=acknowledged,
                    present=int(info.state.messages) - duplicated,
                    expected=total,
                    delivered=distinct,
                    lost=total - distinct,
                    duplicated=duplicated,
                    double_effects=effects - distinct,
                )

            outcome = await converge(measure)
    finally:
        with contextlib.suppress(Exception):
            await admin.delete_stream(name)
        await admin_nc.close()
    outcome.seconds = time.monotonic() - began
    record(outcome)
    assert outcome.acknowledged == outcome.present == total, "\n" + table([outcome])
    assert outcome.ok, "\n" + table([outcome])


@pytest.mark.quick
async def test_a_poison_event_that_kills_its_consumer_ends_in_the_dead_letters(
    infra: Infra, effects_db: tuple[str, AsyncEngine], unique_name: str
) -> None:
    url, engine = effects_db
    began = time.monotonic()
    name = unique_name.upper()
    consumer = f"{unique_name}-poisoned"
    admin_nc, js = await connect_nats(infra.nats_url, name="faults-admin")
    await ensure_stream(js, StreamSpec(name=name, subjects=[f"{unique_name}.>"]))
    await ensure_stream(js, DEAD_LETTER_STREAM)
    worker = ManagedProcess(
        consumer,
        [
            sys.executable,
            str(Path(__file__).with_name("poison_worker.py")),
            url,
            infra.nats_url,
            name,
            consumer,
        ],
        log_path=infra.root / "log" / f"{consumer}.log",
    )
    supervisor = Supervisor(lambda line: print(f"[faults] {line}", file=sys.stderr))
    good = [_event(unique_name, n) for n in range(20)]
    poison = _event(unique_name, -1, subject="poison")
    try:
        for envelope in [*good[:10], poison, *good[10:]]:
            await _publish_until_acked(js, envelope)
        worker.start()
        supervisor.watch(worker)
        supervisor.start()

        async def measure() -> Outcome:
            effects, distinct = await _effects(engine)
            letters = await list_dead_letters(js, consumer=consumer)
            dead = [
                letter for letter in letters if letter.envelope and letter.envelope.id == poison.id
            ]
            outcome = Outcome(
                case="poison event kills its consumer",
                acknowledged=len(good) + 1,
                present=len(good) + 1,
                expected=len(good) + 1,  # every good event's effect, the poison's dead letter
                delivered=distinct + len(dead),
                lost=len(good) - distinct + (1 - min(len(dead), 1)),
                double_effects=effects - distinct + max(len(dead) - 1, 0),
            )
            if dead:
                restarts = supervisor.restarts.get(consumer, 0)
                outcome.notes.append(
                    f"dead letter class {dead[0].error_class}, {restarts} restarts"
                )
                if dead[0].error_class != "crash":
                    outcome.lost += 1
            return outcome

        outcome = await converge(measure, within=180)
    finally:
        supervisor.stop()
        worker.stop(timeout=2)
        with contextlib.suppress(Exception):
            await js.purge_stream(DEAD_LETTER_STREAM.name, subject=f"dlq.{consumer}")
            await js.delete_stream(name)
        await admin_nc.close()
    outcome.seconds = time.monotonic() - began
    record(outcome)
    assert outcome.ok, "\n" + table([outcome])


class PeerAway(Exception):
    """What a handler raises when the peer it calls refuses: the application's own error."""


async def test_events_dead_lettered_during_a_peer_outage_are_redriven_when_it_returns(
    infra: Infra, effects_db: tuple[str, AsyncEngine], unique_name: str
) -> None:
    """A handler that calls a peer wraps the refused connection into its own error, so the
    consumer dead-letters (class ``dependency``) instead of waiting. Once the peer listens
    again, the consumer's redrive policy sends every one of them back: each has one effect."""
    _, engine = effects_db
    began = time.monotonic()
    name = unique_name.upper()
    consumer = f"{unique_name}-fees"
    with socket.socket() as probe:  # nothing listens on it until the peer comes back
        probe.bind(("127.0.0.1", 0))
        peer_port = probe.getsockname()[1]

    async def call_peer_then_record(conn: AsyncConnection, envelope: Envelope) -> None:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", peer_port)
        except ConnectionRefusedError as exc:
            raise PeerAway("the fee service refused the connection") from exc
        writer.close()
        await _record_effect(conn, envelope)

    metrics = Metrics("faults")
    sub = Subscription(
        consumer=consumer,
        stream=name,
        filter_subject=f"{unique_name}.>",
        handler=call_peer_then_record,
        max_deliver=2,
        backoff_s=(0.1,),
        redrive=RedrivePolicy(delays_s=(5.0,), interval_s=0.5),
    )
    events = [_event(unique_name, n) for n in range(50)]
    admin_nc, js = await connect_nats(infra.nats_url, name="faults-admin")
    await ensure_stream(js, StreamSpec(name=name, subjects=[f"{unique_name}.>"]))
    await ensure_stream(js, DEAD_LETTER_STREAM)
    nc, consumer_js = await connect_nats(infra.nats_url, name=consumer)
    running = asyncio.create_task(Consumer(engine, consumer_js, sub, metrics=metrics).run())
    peer: asyncio.Server | None = None
    try:
        for envelope in events:
            await _publish_until_acked(js, envelope)

        def dead_lettered() -> float:
            value = metrics.registry.get_sample_value(
                "keel_consumer_messages_total",
                {"service": "faults", "consumer": consumer, "outcome": "dead_lettered"},
            )
            return value or 0.0

        # Every event dead-lettered once while the peer is away (a counter: some may be
        # redriven, and fail again, before the last one gets there).
        await until(lambda: dead_lettered() >= len(events), within=60)
        classes = {x.error_class for x in await list_dead_letters(js, consumer=consumer)}
        assert classes <= {"dependency"}, classes

        async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writer.close()

        peer = await asyncio.start_server(answer, "127.0.0.1", peer_port)

        async def measure() -> Outcome:
            effects, distinct = await _effects(engine)
            left = await list_dead_letters(js, consumer=consumer)
            redriven = metrics.registry.get_sample_value(
                "keel_consumer_redrives_total",
                {"service": "faults", "consumer": consumer, "outcome": "redriven"},
            )
            return Outcome(
                case="peer outage dead-letters, redriven on return",
                acknowledged=len(events),
                present=len(events),
                expected=len(events),
                delivered=distinct,
                lost=len(events) - distinct + len(left),
                double_effects=effects - distinct,
                notes=[
                    f"{len(events)} dead-lettered (classes {sorted(map(str, classes))}), "
                    f"{redriven or 0:.0f} redrives"
                ],
            )

        outcome = await converge(measure, within=120)
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running
        if peer is not None:
            peer.close()
        await nc.close()
        with contextlib.suppress(Exception):
            await js.purge_stream(DEAD_LETTER_STREAM.name, subject=f"dlq.{consumer}")
            await js.delete_stream(name)
        await admin_nc.close()
    outcome.seconds = time.monotonic() - began
    record(outcome)
    assert outcome.ok, "\n" + table([outcome])
