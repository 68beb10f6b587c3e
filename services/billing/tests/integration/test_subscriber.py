"""identity.organization.created starts one default subscription, however often it arrives."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from keel.billing.v1 import events_pb2
from keel.identity.v1 import events_pb2 as identity_events
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from billing.bootstrap import Handlers, utc_now
from billing.events.subscribers import organization_created_handler
from billing.storage.tables import outbox, subscriptions
from billing.storage.uow import BoundUnitOfWork
from keel_runtime.events import (
    Envelope,
    Handler,
    StreamSpec,
    Subscription,
    connect_nats,
    ensure_stream,
    new_event,
    unpack,
)
from keel_runtime.tenancy import set_tenant
from keel_runtime.testing import ProbeConsumer

from ..serving import unwrapped

pytestmark = pytest.mark.integration


def org_created(org_id: str) -> Envelope:
    return new_event(
        type="identity.organization.created",
        source="identity",
        subject=org_id,
        org_id=org_id,
        payload=identity_events.OrganizationCreated(
            organization_id=org_id, display_name="Acme", default_currency="USD"
        ),
    )


async def count(engine: AsyncEngine, table, org_id: str | None = None) -> int:  # type: ignore[no-untyped-def]
    """Rows of every organization (``engine``: the administrator's)."""
    query = select(func.count()).select_from(table)
    if org_id is not None:
        query = query.where(table.c.org_id == org_id)
    async with engine.connect() as conn:
        return int((await conn.execute(query)).scalar_one())


async def deliver(engine: AsyncEngine, handle: Handler, envelope: Envelope) -> None:
    """As the consumer runs a handler: acting for the event's organization."""
    async with engine.begin() as conn:
        await set_tenant(conn, envelope.org_id)
        await handle(conn, envelope)


async def test_handler_twice_starts_one_subscription(
    engine: AsyncEngine, admin_engine: AsyncEngine, handlers: Handlers
) -> None:
    handle = organization_created_handler(unwrapped(handlers.subscriptions), utc_now)
    org_id = str(uuid.uuid4())
    # Two distinct events for one organization (a replay under a new id): the inbox cannot
    # help, the unique index on active subscriptions does.
    for _ in range(2):
        await deliver(engine, handle, org_created(org_id))
    assert await count(admin_engine, subscriptions, org_id) == 1
    async with admin_engine.connect() as conn:
        rows = (await conn.execute(select(outbox.c.subject, outbox.c.payload))).all()
    assert [r.subject for r in rows] == ["billing.subscription.created"]
    created = unpack(Envelope.FromString(rows[0].payload), events_pb2.SubscriptionCreated)
    assert created.subscription.organization_id == org_id and created.subscription.plan_id == "free"


async def test_concurrent_starts_make_one_subscription(
    engine: AsyncEngine, admin_engine: AsyncEngine, handlers: Handlers
) -> None:
    handle = organization_created_handler(unwrapped(handlers.subscriptions), utc_now)
    org_id = str(uuid.uuid4())
    await asyncio.gather(*(deliver(engine, handle, org_created(org_id)) for _ in range(4)))
    assert await count(admin_engine, subscriptions, org_id) == 1
    assert await count(admin_engine, outbox) == 1


async def test_consumer_redelivery_has_no_second_effect(
    engine: AsyncEngine,
    admin_engine: AsyncEngine,
    handlers: Handlers,
    nats_url: str,
    unique_name: str,
) -> None:
    nc, js = await connect_nats(nats_url)
    stream = unique_name.upper()
    subject = f"{unique_name}.identity.organization.created"
    await ensure_stream(js, StreamSpec(name=stream, subjects=[subject]))
    consumer = ProbeConsumer(
        engine,
        js,
        Subscription(
            consumer=f"billing-start-subscription-{unique_name}",
            stream=stream,
            filter_subject=subject,
            handler=organization_created_handler(unwrapped(handlers.subscriptions), utc_now),
        ),
    )
    org_id = str(uuid.uuid4())
    event = org_created(org_id)
    try:
        await consumer.ensure()
        task = asyncio.create_task(consumer.run())
        try:
            # The same event twice (past the broker's de-duplication) and a replay under a new id.
            for data in (event, event, org_created(org_id)):
                await js.publish(subject, data.SerializeToString())
            await consumer.deliveries(3)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        assert await count(admin_engine, subscriptions, org_id) == 1
        assert await count(admin_engine, outbox) == 1
    finally:
        await js.delete_stream(stream)
        await nc.close()


async def _lock_waits(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        query = text(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE wait_event_type = 'Lock' AND datname = current_database()"
        )
        return int(await conn.scalar(query) or 0)


@pytest.mark.parametrize("first_commits", [True, False], ids=["first-commits", "first-rolls-back"])
async def test_a_start_racing_an_uncommitted_one_waits_for_it_and_leaves_one_subscription(
    engine: AsyncEngine, admin_engine: AsyncEngine, handlers: Handlers, first_commits: bool
) -> None:
    # Two consumer transactions handle sign-ups of one organization (under different event
    # ids): the second insert meets the unique index on active subscriptions while the first
    # is not committed. It waits; then starts nothing (the first committed) or its own (the
    # first rolled back), without an error either way.
    subscriptions_ = unwrapped(handlers.subscriptions)
    org_id = str(uuid.uuid4())
    started: list[object] = []
    async with engine.connect() as first:
        await first.begin()
        await set_tenant(first, org_id)
        uow = BoundUnitOfWork(first, utc_now)
        assert await subscriptions_.start_default(uow, org_id) is not None
        await uow.commit()

        async def second_start() -> None:
            async with engine.begin() as second:
                await set_tenant(second, org_id)
                uow = BoundUnitOfWork(second, utc_now)
                started.append(await subscriptions_.start_default(uow, org_id))
                await uow.commit()

        racing = asyncio.create_task(second_start())
        async with asyncio.timeout(10):
            while await _lock_waits(admin_engine) == 0:
                assert not racing.done(), racing.result()
                await asyncio.sleep(0.02)
        if first_commits:
            await first.commit()
        else:
            await first.rollback()
    await asyncio.wait_for(racing, timeout=10)
    assert (started[0] is None) is first_commits
    assert await count(admin_engine, subscriptions, org_id) == 1
    assert await count(admin_engine, outbox) == 1
