"""Traces across PostgreSQL and JetStream: statements, the outbox publish and the consumer's
handling continue the trace of the request that wrote the event."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from google.protobuf.wrappers_pb2 import StringValue
from nats.js import JetStreamContext
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from keel_runtime import context
from keel_runtime.db import UnitOfWork, set_tenant
from keel_runtime.events import Consumer, Envelope, OutboxRelay, StreamSpec, Subscription, new_event
from keel_runtime.testing import ProbeConsumer
from keel_runtime.tracing.local import local_traces

pytestmark = pytest.mark.integration

TRACE_ID = "a1" * 16
REQUEST_SPAN = "b2" * 8
REQUEST = f"00-{TRACE_ID}-{REQUEST_SPAN}-01"


def _by_start(spans: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(spans, key=lambda s: s["start_ns"])


async def test_statements_of_a_traced_request_get_spans_without_values(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    with local_traces(tmp_path) as spans:
        with context.bound(request_id="req-db", traceparent=REQUEST):
            async with engine.begin() as conn:
                await set_tenant(conn, "org-secret-value")  # on the driver connection
                await conn.execute(text("SELECT :word AS echoed"), {"word": "bound-secret-value"})
        async with engine.connect() as conn:  # outside any request, as the relay polls
            await conn.execute(text("SELECT 2"))
        found = _by_start(spans())

    assert [s["name"] for s in found] == ["SET", "SELECT"]
    for span in found:
        assert (span["trace_id"], span["parent_id"]) == (TRACE_ID, REQUEST_SPAN)
        assert span["kind"] == "CLIENT"
        assert span["attributes"]["db.system.name"] == "postgresql"
        assert span["attributes"]["db.namespace"] == engine.url.database
    set_local, select = found
    assert set_local["attributes"]["db.query.text"] == "SET LOCAL keel.org_id TO '?'"
    assert select["attributes"]["db.query.text"].startswith("SELECT %(word)s")
    assert "secret-value" not in json.dumps(found)


async def test_an_event_continues_the_trace_of_the_request_that_wrote_it(
    engine: AsyncEngine, js: JetStreamContext, stream: StreamSpec, unique_name: str, tmp_path: Path
) -> None:
    handled_under: list[str | None] = []

    async def handler(conn: AsyncConnection, envelope: Envelope) -> None:
        handled_under.append(context.current_traceparent())
        await conn.execute(text("SELECT 1"))

    subject = f"{unique_name}.thing.happened"
    subscription = Subscription(
        consumer=unique_name, stream=stream.name, filter_subject=f"{unique_name}.>", handler=handler
    )
    consumer = Consumer(engine, js, subscription)
    await consumer.ensure()
    with local_traces(tmp_path) as spans:
        with context.bound(request_id="req-event", traceparent=REQUEST):
            async with UnitOfWork(engine) as uow:
                uow.publish(
                    new_event(
                        type=subject,
                        source="test",
                        subject="thing-1",
                        org_id="org-1",
                        payload=StringValue(value="v"),
                    )
                )
                await uow.commit()
        relay = OutboxRelay(engine, js)
        published = 0
        async with asyncio.timeout(20):
            while not published:
                published = await relay.relay_once()
                if not published:  # another test's transaction holds the horizon back
                    await asyncio.sleep(0.02)
        pull = await js.pull_subscribe_bind(durable=unique_name, stream=stream.name)
        (msg,) = await pull.fetch(1, timeout=5)
        await consumer.handle(msg)
        found = _by_start(spans())

    assert {span["trace_id"] for span in found} == {TRACE_ID}
    (publish,) = [s for s in found if s["kind"] == "PRODUCER"]
    (consume,) = [s for s in found if s["kind"] == "CONSUMER"]
    assert publish["name"] == f"publish {subject}"
    assert publish["parent_id"] == REQUEST_SPAN  # the request wrote the event
    assert consume["name"] == f"process {subject}"
    assert consume["parent_id"] == publish["span_id"]
    assert consume["attributes"]["keel.consumer.outcome"] == "handled"
    assert consume["attributes"]["messaging.consumer.group.name"] == unique_name
    for span in (publish, consume):
        assert span["attributes"]["keel.request_id"] == "req-event"
    # The handler ran under the consumer's span: its statements are children of it.
    assert handled_under == [f"00-{TRACE_ID}-{consume['span_id']}-01"]
    under_consume = [s["name"] for s in found if s["parent_id"] == consume["span_id"]]
    assert under_consume == ["SET", "INSERT inbox", "SELECT"]
    # The request's own statements (the outbox row) are under the request's span.
    assert "INSERT outbox" in [s["name"] for s in found if s["parent_id"] == REQUEST_SPAN]


async def test_each_event_of_a_shared_transaction_runs_under_its_own_span(
    engine: AsyncEngine, js: JetStreamContext, stream: StreamSpec, unique_name: str, tmp_path: Path
) -> None:
    handled_under: dict[str, str | None] = {}

    async def handler(conn: AsyncConnection, envelope: Envelope) -> None:
        handled_under[envelope.request_id] = context.current_traceparent()
        await conn.execute(text("SELECT 1"))

    subscription = Subscription(
        consumer=unique_name, stream=stream.name, filter_subject=f"{unique_name}.>", handler=handler
    )
    consumer = ProbeConsumer(engine, js, subscription)
    await consumer.ensure()
    traces = {"req-one": "c3" * 16, "req-two": "d4" * 16}
    for request_id, trace_id in traces.items():  # both in the stream before the first fetch
        with context.bound(request_id=request_id):
            event = new_event(
                type=f"{unique_name}.thing.happened",
                source="test",
                subject="thing-1",
                org_id="org-1",
                payload=StringValue(value=request_id),
            )
        await js.publish(
            event.type,
            event.SerializeToString(),
            headers={"traceparent": f"00-{trace_id}-{REQUEST_SPAN}-01"},
        )
    with local_traces(tmp_path) as spans:
        task = asyncio.create_task(consumer.run())
        try:
            await consumer.deliveries(2)
        finally:
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
        found = spans()

    consumes = {s["attributes"]["keel.request_id"]: s for s in found if s["kind"] == "CONSUMER"}
    assert set(consumes) == set(traces)
    for request_id, span in consumes.items():
        assert span["trace_id"] == traces[request_id]
        assert span["attributes"]["keel.consumer.outcome"] == "handled"
        assert handled_under[request_id] == f"00-{span['trace_id']}-{span['span_id']}-01"
