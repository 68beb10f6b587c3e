"""Outbox relay events/s against a raw JetStream publish loop with the same concurrency."""

from __future__ import annotations

import asyncio
import os
import time

from google.protobuf.wrappers_pb2 import StringValue
from nats.js import JetStreamContext
from sqlalchemy.ext.asyncio import AsyncEngine

from keel_devstack.bench.env import Env, scratch_database, server_settings, token
from keel_devstack.bench.measure import Outcome, Rates, Round, RowSpec, interleave, judge
from keel_runtime.db import create_engine, new_metadata
from keel_runtime.events import (
    Envelope,
    OutboxRelay,
    StreamSpec,
    append,
    connect_nats,
    ensure_stream,
    new_event,
    outbox_table,
)
from keel_runtime.events.outbox import HEADER_MSG_ID, event_headers

NAME = "relay"
# The relay puts a whole batch in flight at once; the raw loop gets the same concurrency.
BATCH = 256
EVENTS = 3000
QUICK_EVENTS = 1000

BASELINE = f"JetStream publish, {BATCH} in flight"
SUBJECT = f"OutboxRelay, batch {BATCH}"

ROWS = (
    RowSpec(
        "P4 relay: outbox -> JetStream",
        BASELINE,
        SUBJECT,
        target=0.5,
        why="the relay adds one SELECT and one UPDATE per batch to the publishes",
    ),
)


def run(env: Env) -> Outcome:
    events = QUICK_EVENTS if env.settings.quick else EVENTS
    with scratch_database(env, NAME) as url:
        rounds = asyncio.run(_rounds(env, url, env.infra.nats_url(), events))
        notes: dict[str, object] = {
            "nats": "NATS_URL" if os.environ.get("NATS_URL") else "embedded, sync_interval: always",
            "events_per_measurement": events,
            "postgres": server_settings(url),
        }
    return Outcome([judge(NAME, spec, rounds) for spec in ROWS], notes)


async def _rounds(env: Env, url: str, nats_url: str, events: int) -> list[Round]:
    engine = create_engine(url, pool_size=2)
    try:
        metadata = new_metadata()
        outbox_table(metadata)
        async with engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
        nc, js = await connect_nats(nats_url, name="bench")
        try:
            name = token()
            stream = StreamSpec(name=f"BENCH_{name.upper()}", subjects=[f"bench{name}.>"])
            await ensure_stream(js, stream)
            try:
                return await _interleaved(env, engine, js, f"bench{name}.item.created", events)
            finally:
                await js.delete_stream(stream.name)
        finally:
            await nc.drain()
    finally:
        await engine.dispose()


async def _interleaved(
    env: Env, engine: AsyncEngine, js: JetStreamContext, subject: str, events: int
) -> list[Round]:
    relay = OutboxRelay(engine, js, batch=BATCH)
    # One batch each way first: the new stream's files and the pool's connections.
    await _publish_raw(js, subject, BATCH)
    await _fill_outbox(engine, subject, BATCH)
    await _drain(relay, BATCH)

    async def baseline() -> Rates:
        return {BASELINE: await _publish_raw(js, subject, events)}

    async def relayed() -> Rates:
        await _fill_outbox(engine, subject, events)  # before the clock starts
        return {SUBJECT: await _drain(relay, events)}

    return await interleave(baseline, relayed, env.settings, env.say)


def _envelopes(subject: str, events: int) -> list[Envelope]:
    payload = StringValue(value="x" * 64)
    return [
        new_event(type=subject, source="bench", subject=str(n), org_id="bench", payload=payload)
        for n in range(events)
    ]


async def _publish_raw(js: JetStreamContext, subject: str, events: int) -> float:
    """What the relay does minus the database: batches of BATCH publishes awaited together."""
    # Serialized before the clock starts (the relay reads ready bytes from its table), with
    # the same headers the relay sends.
    messages = [
        ({**event_headers(e), HEADER_MSG_ID: e.id}, e.SerializeToString())
        for e in _envelopes(subject, events)
    ]
    started = time.monotonic()
    for first in range(0, events, BATCH):
        await asyncio.gather(
            *(
                js.publish(subject, payload, headers=headers)
                for headers, payload in messages[first : first + BATCH]
            )
        )
    return events / (time.monotonic() - started)


async def _fill_outbox(engine: AsyncEngine, subject: str, events: int) -> None:
    async with engine.begin() as conn:
        await append(conn, _envelopes(subject, events))


async def _drain(relay: OutboxRelay, events: int) -> float:
    """Batches back to back, as `run()` does while `published >= batch`."""
    published = 0
    started = time.monotonic()
    deadline = started + 60
    while published < events:
        published += await relay.relay_once()
        if time.monotonic() > deadline:
            raise TimeoutError(f"relay published {published} of {events} events in 60s")
    return published / (time.monotonic() - started)
