"""Consumer: the events of one fetch in one transaction, a savepoint each."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest
from google.protobuf.wrappers_pb2 import StringValue
from nats.js import JetStreamContext
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from keel_runtime.events import Consumer, Envelope, StreamSpec, Subscription, new_event, unpack
from keel_runtime.migrations import tenant_rls_statements
from keel_runtime.testing import ProbeConsumer

pytestmark = pytest.mark.integration

Handler = Callable[[AsyncConnection, Envelope], Awaitable[None]]


def _event(unique_name: str, value: str, org_id: str = "org-1") -> Envelope:
    return new_event(
        type=f"{unique_name}.thing.happened",
        source="test",
        subject="thing-1",
        org_id=org_id,
        payload=StringValue(value=value),
    )


def _subscription(unique_name: str, stream: StreamSpec, handler: Handler) -> Subscription:
    return Subscription(
        consumer=unique_name,
        stream=stream.name,
        filter_subject=f"{unique_name}.>",
        handler=handler,
        backoff_s=(0.05,),
    )


async def _publish(js: JetStreamContext, *events: Envelope) -> None:
    for number, event in enumerate(events):
        # A message id of its own: the same event twice passes the broker's de-duplication.
        await js.publish(
            event.type, event.SerializeToString(), headers={"Nats-Msg-Id": f"{number}"}
        )


async def _consume(consumer: ProbeConsumer, deliveries: int) -> list[int]:
    """Run the consumer over events published before it started (so that one fetch takes
    them all) until ``deliveries`` are settled; their delivery counts."""
    await consumer.ensure()
    task = asyncio.create_task(consumer.run())
    try:
        settled = await consumer.deliveries(deliveries)
        await _all_acknowledged(consumer)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    return [msg.metadata.num_delivered or 0 for msg in settled]


async def _all_acknowledged(consumer: Consumer) -> None:
    sub = consumer.subscription
    async with asyncio.timeout(10):
        while True:
            info = await consumer.js.consumer_info(sub.stream, sub.consumer)
            if info.num_ack_pending == 0 and info.num_pending == 0:
                return
            await asyncio.sleep(0.02)


async def _rows(engine: AsyncEngine, query: str) -> list[tuple[object, ...]]:
    async with engine.connect() as conn:
        return [tuple(row) for row in await conn.execute(text(query))]


@pytest.fixture
async def effects(engine: AsyncEngine) -> AsyncEngine:
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE effects (value text NOT NULL)"))
    return engine


async def test_a_failing_event_is_retried_alone_while_the_rest_of_its_fetch_commits(
    effects: AsyncEngine, js: JetStreamContext, stream: StreamSpec, unique_name: str
) -> None:
    transactions: dict[str, list[int]] = {}

    async def handler(conn: AsyncConnection, envelope: Envelope) -> None:
        value = unpack(envelope, StringValue).value
        txid = int(await conn.scalar(text("SELECT txid_current()")) or 0)
        transactions.setdefault(value, []).append(txid)
        await conn.execute(text("INSERT INTO effects VALUES (:value)"), {"value": value})
        if value == "poison" and len(transactions[value]) == 1:
            raise RuntimeError("poison")

    consumer = ProbeConsumer(effects, js, _subscription(unique_name, stream, handler))
    await consumer.ensure()
    await _publish(js, *(_event(unique_name, v) for v in ("a", "b", "poison", "c")))

    delivered = await _consume(consumer, 5)

    # The good ones were acknowledged at their first delivery; the poison one came back.
    assert sorted(delivered) == [1, 1, 1, 1, 2]
    assert sorted(await _rows(effects, "SELECT value FROM effects")) == [
        ("a",),
        ("b",),
        ("c",),
        ("poison",),  # its first attempt rolled back to its savepoint, the second committed
    ]
    assert len(await _rows(effects, "SELECT * FROM inbox")) == 4
    # One transaction for the fetch, the failed event's savepoint inside it.
    first_tries = {transactions[v][0] for v in ("a", "b", "poison", "c")}
    assert len(first_tries) == 1
    assert transactions["poison"][1] not in first_tries


async def test_each_event_of_a_fetch_sees_only_its_own_organization(
    engine: AsyncEngine, js: JetStreamContext, stream: StreamSpec, unique_name: str
) -> None:
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE notes (org_id text NOT NULL, value text)"))
        for statement in tenant_rls_statements("notes", "org_id", "text"):
            await conn.execute(text(statement))
    seen: list[tuple[str, str, list[str]]] = []
    failures: list[str] = []

    async def handler(conn: AsyncConnection, envelope: Envelope) -> None:
        value = unpack(envelope, StringValue).value
        visible = [row[0] for row in await conn.execute(text("SELECT org_id FROM notes"))]
        seen.append((envelope.org_id, value, visible))
        if value == "fail" and not failures:
            failures.append(value)
            raise RuntimeError("rolled back to its savepoint")
        await conn.execute(
            text("INSERT INTO notes VALUES (:org, :value)"),
            {"org": envelope.org_id, "value": value},
        )

    consumer = ProbeConsumer(engine, js, _subscription(unique_name, stream, handler))
    await consumer.ensure()
    await _publish(
        js,
        _event(unique_name, "first", org_id="org-a"),
        # Would see org-a's note if org-a's setting outlived its event.
        _event(unique_name, "second", org_id="org-b"),
        _event(unique_name, "fail", org_id="org-a"),
        # After a rollback to the savepoint, the setting is org-b's again: not enough.
        _event(unique_name, "third", org_id="org-c"),
        _event(unique_name, "fourth", org_id="org-a"),
    )

    await _consume(consumer, 6)

    assert seen[:5] == [
        ("org-a", "first", []),
        ("org-b", "second", []),
        ("org-a", "fail", ["org-a"]),
        ("org-c", "third", []),
        ("org-a", "fourth", ["org-a"]),
    ]
    assert seen[5] == ("org-a", "fail", ["org-a", "org-a"])  # its retry, alone


async def test_the_events_of_one_fetch_are_handled_in_order_and_a_duplicate_once(
    effects: AsyncEngine, js: JetStreamContext, stream: StreamSpec, unique_name: str
) -> None:
    calls: list[str] = []

    async def handler(conn: AsyncConnection, envelope: Envelope) -> None:
        calls.append(unpack(envelope, StringValue).value)
        await conn.execute(text("INSERT INTO effects VALUES (:value)"), {"value": calls[-1]})

    events = [_event(unique_name, f"e{n}") for n in range(10)]
    consumer = ProbeConsumer(effects, js, _subscription(unique_name, stream, handler))
    await consumer.ensure()
    await _publish(js, *events[:5], events[2], *events[5:])

    delivered = await _consume(consumer, 11)

    assert delivered == [1] * 11
    assert calls == [f"e{n}" for n in range(10)]
    assert len(await _rows(effects, "SELECT * FROM effects")) == 10
    assert len(await _rows(effects, "SELECT * FROM inbox")) == 10
