"""Webhook deliveries are written in the transaction that commits billing's events: there as
soon as the call returns (no consumer runs here), never without the events, never to another
organization's endpoints, and never failing the recording when an endpoint goes away."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from keel.items.v1 import events_pb2 as items_events
from nats.aio.msg import Msg
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from billing.app import webhook_delivery
from billing.app.commands import CreateWebhookEndpoint, RecordUsageBatch, UsageInput
from billing.bootstrap import Handlers, utc_now
from billing.events.codec import USAGE_RECORDED
from billing.events.subscribers import item_confirmed_handler
from billing.storage.repositories import WebhookRepository
from billing.storage.tables import outbox, webhook_deliveries
from keel_runtime.caller import Caller
from keel_runtime.events import (
    Envelope,
    StreamSpec,
    Subscription,
    connect_nats,
    ensure_stream,
    new_event,
)
from keel_runtime.tenancy import set_tenant
from keel_runtime.testing import ProbeConsumer

from ..serving import unwrapped

pytestmark = pytest.mark.integration

N = 5


def owner(org_id: str) -> Caller:
    return Caller(subject="u1", org_id=org_id, roles=frozenset({"OWNER"}))


async def endpoint(handlers: Handlers, org_id: str, event_types: list[str]) -> str:
    created, _ = await handlers.webhooks.create(
        CreateWebhookEndpoint(
            owner(org_id),
            url=f"https://hooks.example/{org_id}",
            event_types=event_types,
            description="",
            request_id=str(uuid.uuid4()),
        )
    )
    return created.webhook_endpoint_id


def batch(org_id: str, n: int = N) -> RecordUsageBatch:
    at = datetime.now(UTC) - timedelta(minutes=1)
    return RecordUsageBatch(
        owner(org_id), tuple(UsageInput("api.calls", 1, f"k{i}", at) for i in range(n))
    )


async def deliveries_by_endpoint(admin_engine: AsyncEngine) -> dict[str, int]:
    """Every organization's deliveries, counted per endpoint (the administrator's view)."""
    d = webhook_deliveries.c
    async with admin_engine.connect() as conn:
        rows = await conn.execute(
            select(d.webhook_endpoint_id, func.count()).group_by(d.webhook_endpoint_id)
        )
        return {str(endpoint_id): count for endpoint_id, count in rows}


async def usage_events(admin_engine: AsyncEngine) -> int:
    async with admin_engine.connect() as conn:
        query = select(func.count()).select_from(outbox).where(outbox.c.subject == USAGE_RECORDED)
        return int((await conn.execute(query)).scalar_one())


async def test_a_batch_queues_one_delivery_per_event_before_the_call_returns(
    handlers: Handlers, admin_engine: AsyncEngine
) -> None:
    org, other_org = str(uuid.uuid4()), str(uuid.uuid4())
    usage_hook = await endpoint(handlers, org, [USAGE_RECORDED])
    await endpoint(handlers, org, ["billing.invoice.paid"])  # wants none of these
    elsewhere = await endpoint(handlers, other_org, [])  # wants every event of its own org

    assert await handlers.usage.record_batch(batch(org)) == (N, 0)

    # Written with the events, in their transaction: nothing consumes anything here.
    assert await deliveries_by_endpoint(admin_engine) == {usage_hook: N}
    assert elsewhere not in await deliveries_by_endpoint(admin_engine)
    assert await usage_events(admin_engine) == N
    d = webhook_deliveries.c
    async with admin_engine.connect() as conn:
        events = (await conn.execute(select(d.event_id, d.event_type))).all()
        outbox_ids = (await conn.scalars(select(outbox.c.id))).all()
    assert {str(e.event_id) for e in events} == {str(i) for i in outbox_ids}
    assert {e.event_type for e in events} == {USAGE_RECORDED}


async def test_without_endpoints_the_events_are_written_and_no_body_is_built(
    handlers: Handlers, admin_engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    built: list[str] = []
    build = webhook_delivery.webhook_body

    def counting(envelope: Envelope) -> bytes:
        built.append(envelope.id)
        return build(envelope)

    monkeypatch.setattr(webhook_delivery, "webhook_body", counting)
    org, other_org = str(uuid.uuid4()), str(uuid.uuid4())
    elsewhere = await endpoint(handlers, other_org, [])

    assert await handlers.usage.record_batch(batch(org)) == (N, 0)

    assert await usage_events(admin_engine) == N
    assert await deliveries_by_endpoint(admin_engine) == {}
    assert built == []

    # The same path does build them once an endpoint wants the events.
    await handlers.usage.record_batch(batch(other_org, 2))
    assert await deliveries_by_endpoint(admin_engine) == {elsewhere: 2}
    assert len(built) == 2


def confirmed(org_id: str) -> Envelope:
    return new_event(
        type="items.item.confirmed",
        source="items",
        subject="item-1",
        org_id=org_id,
        payload=items_events.ItemConfirmed(item_id=str(uuid.uuid4()), organization_id=org_id),
    )


async def test_a_transaction_rolled_back_leaves_neither_events_nor_deliveries(
    engine: AsyncEngine, handlers: Handlers, admin_engine: AsyncEngine
) -> None:
    org = str(uuid.uuid4())
    hook = await endpoint(handlers, org, [])
    handle = item_confirmed_handler(unwrapped(handlers.usage), utc_now)
    event = confirmed(org)

    # A consumer's transaction (billing's unit of work joined to it), failing after the work.
    with pytest.raises(LookupError):
        async with engine.begin() as conn:
            await set_tenant(conn, org)
            await handle(conn, event)
            queued = await conn.scalar(select(func.count()).select_from(webhook_deliveries))
            assert queued == 1  # queued in this transaction, with the event
            raise LookupError("the consumer failed after the work")

    assert await usage_events(admin_engine) == 0
    assert await deliveries_by_endpoint(admin_engine) == {}

    async with engine.begin() as conn:
        await set_tenant(conn, org)
        await handle(conn, event)
    assert await usage_events(admin_engine) == 1
    assert await deliveries_by_endpoint(admin_engine) == {hook: 1}


async def _lock_waits(admin_engine: AsyncEngine) -> int:
    async with admin_engine.connect() as conn:
        query = text(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE wait_event_type = 'Lock' AND datname = current_database()"
        )
        return int(await conn.scalar(query) or 0)


async def test_an_endpoint_deleted_meanwhile_gets_nothing_and_fails_nothing(
    engine: AsyncEngine, handlers: Handlers, admin_engine: AsyncEngine
) -> None:
    org = str(uuid.uuid4())
    doomed = await endpoint(handlers, org, [])
    kept = await endpoint(handlers, org, [USAGE_RECORDED])

    async with engine.connect() as deleting:
        await deleting.begin()
        await set_tenant(deleting, org)
        assert await WebhookRepository(deleting).delete(org, doomed)
        # The recording sees the endpoint (its DELETE is not committed yet) and queues a
        # delivery for it: it has to wait for the DELETE, whose commit then removes the row.
        recording = asyncio.create_task(handlers.usage.record_batch(batch(org, 2)))
        async with asyncio.timeout(10):
            while await _lock_waits(admin_engine) == 0:
                assert not recording.done(), recording.result()
                await asyncio.sleep(0.02)
        await deleting.commit()

    assert await recording == (2, 0)
    assert await deliveries_by_endpoint(admin_engine) == {kept: 2}
    assert await usage_events(admin_engine) == 2


class _TogetherProbe(ProbeConsumer):
    """Records how many events each shared transaction took."""

    shared: list[int]

    async def _handle_together(self, run: list[tuple[Msg, Envelope]]) -> bool:
        self.shared = [*getattr(self, "shared", []), len(run)]
        return await super()._handle_together(run)


async def test_an_event_failing_after_its_commit_in_a_shared_transaction_loses_its_deliveries(
    engine: AsyncEngine,
    handlers: Handlers,
    admin_engine: AsyncEngine,
    nats_url: str,
    unique_name: str,
) -> None:
    # The item-usage consumer handles a fetch in one transaction, each event in a savepoint.
    # The middle event records its usage and commits its unit of work (outbox rows and
    # deliveries written), then fails: rolling back to its savepoint must take its
    # deliveries with its events, while the events around it keep both.
    org, other_org = str(uuid.uuid4()), str(uuid.uuid4())
    ours = await endpoint(handlers, org, [USAGE_RECORDED])
    theirs = await endpoint(handlers, other_org, [USAGE_RECORDED])
    real = item_confirmed_handler(unwrapped(handlers.usage), utc_now)
    failing = confirmed(org)

    async def handle(conn: AsyncConnection, envelope: Envelope) -> None:
        await real(conn, envelope)  # records, and commits the unit of work
        if envelope.id == failing.id:
            raise RuntimeError("failed after recording")

    nc, js = await connect_nats(nats_url)
    stream = unique_name.upper()
    subject = f"{unique_name}.items.item.confirmed"
    await ensure_stream(js, StreamSpec(name=stream, subjects=[subject]))
    consumer = _TogetherProbe(
        engine,
        js,
        Subscription(
            consumer=f"billing-item-usage-{unique_name}",
            stream=stream,
            filter_subject=subject,
            handler=handle,
            max_deliver=1,  # the failed event is dead-lettered, not redelivered meanwhile
        ),
    )
    try:
        await consumer.ensure()
        # Published before the consumer runs: one fetch, one shared transaction.
        for envelope in (confirmed(org), failing, confirmed(other_org)):
            await js.publish(subject, envelope.SerializeToString())
        task = asyncio.create_task(consumer.run())
        try:
            await consumer.deliveries(3)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    finally:
        await js.delete_stream(stream)
        await nc.close()

    assert consumer.shared == [3]
    assert await usage_events(admin_engine) == 2
    assert await deliveries_by_endpoint(admin_engine) == {ours: 1, theirs: 1}
    d = webhook_deliveries.c
    async with admin_engine.connect() as conn:
        delivered = set((await conn.execute(select(d.event_id))).scalars())
        usage_ids = set(
            (
                await conn.execute(select(outbox.c.id).where(outbox.c.subject == USAGE_RECORDED))
            ).scalars()
        )
    # Each delivery is of an event in the outbox: none is left of the rolled-back one.
    assert {str(event_id) for event_id in delivered} == {str(e) for e in usage_ids}


async def test_an_event_naming_another_organization_records_nothing_and_queues_nothing(
    engine: AsyncEngine, handlers: Handlers, admin_engine: AsyncEngine
) -> None:
    # The sink sees only the endpoints of the organization the transaction acts for, so an
    # event of another organization recorded there would silently miss its deliveries. No
    # billing flow can record one: every event follows the write of its own row, which
    # row-level security confines to the organization acted for. Here an item event whose
    # payload names another organization than its envelope (the consumer acts for the
    # envelope's) is refused at that write, before anything is recorded.
    attacker, victim = str(uuid.uuid4()), str(uuid.uuid4())
    await endpoint(handlers, attacker, [])
    await endpoint(handlers, victim, [])
    handle = item_confirmed_handler(unwrapped(handlers.usage), utc_now)
    hostile = new_event(
        type="items.item.confirmed",
        source="items",
        subject="item-1",
        org_id=attacker,
        payload=items_events.ItemConfirmed(item_id=str(uuid.uuid4()), organization_id=victim),
    )
    with pytest.raises(Exception, match="row-level security"):
        async with engine.begin() as conn:
            await set_tenant(conn, hostile.org_id)
            await handle(conn, hostile)

    assert await usage_events(admin_engine) == 0
    assert await deliveries_by_endpoint(admin_engine) == {}


async def test_recordings_of_one_organization_at_once_share_its_endpoints_without_waiting(
    handlers: Handlers, admin_engine: AsyncEngine
) -> None:
    # Each recording locks the endpoints it queues for FOR KEY SHARE: shared locks, which
    # neither block each other nor deadlock, whatever order the endpoints are joined in.
    org = str(uuid.uuid4())
    every = await endpoint(handlers, org, [])
    usage = await endpoint(handlers, org, [USAGE_RECORDED])
    at = datetime.now(UTC) - timedelta(minutes=1)
    batches = [
        RecordUsageBatch(
            owner(org), tuple(UsageInput("api.calls", 1, f"b{b}k{i}", at) for i in range(3))
        )
        for b in range(6)
    ]
    async with asyncio.timeout(20):
        results = await asyncio.gather(
            *(handlers.usage.record_batch(b) for b in batches), return_exceptions=True
        )
    assert [r for r in results if isinstance(r, BaseException)] == []
    assert await usage_events(admin_engine) == 18
    assert await deliveries_by_endpoint(admin_engine) == {every: 18, usage: 18}


async def test_an_endpoint_whose_delete_rolls_back_meanwhile_gets_its_deliveries(
    engine: AsyncEngine, handlers: Handlers, admin_engine: AsyncEngine
) -> None:
    # The recording waits on the in-flight DELETE (its FOR KEY SHARE lock); the DELETE rolls
    # back, so the endpoint is still there and gets the events like any other.
    org = str(uuid.uuid4())
    spared = await endpoint(handlers, org, [])
    async with engine.connect() as deleting:
        await deleting.begin()
        await set_tenant(deleting, org)
        assert await WebhookRepository(deleting).delete(org, spared)
        recording = asyncio.create_task(handlers.usage.record_batch(batch(org, 2)))
        async with asyncio.timeout(10):
            while await _lock_waits(admin_engine) == 0:
                assert not recording.done(), recording.result()
                await asyncio.sleep(0.02)
        await deleting.rollback()

    assert await recording == (2, 0)
    assert await deliveries_by_endpoint(admin_engine) == {spared: 2}
