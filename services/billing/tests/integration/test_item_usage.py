"""items.item.confirmed records one unit of usage per item, however often it is delivered."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from keel.items.v1 import events_pb2 as items_events
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from billing.app.commands import (
    CloseBillingPeriod,
    CreateSubscription,
)
from billing.bootstrap import Handlers, utc_now
from billing.events.subscribers import ITEMS_METRIC, item_confirmed_handler
from billing.storage.tables import outbox, usage_records
from keel_runtime.caller import Caller
from keel_runtime.events import Envelope, Handler, new_event
from keel_runtime.tenancy import set_tenant

from ..serving import unwrapped

pytestmark = pytest.mark.integration


def confirmed(org_id: str, item_id: str, at: datetime | None = None) -> Envelope:
    when = Timestamp()
    when.FromDatetime(at or datetime(2026, 6, 1, tzinfo=UTC))
    return new_event(
        type="items.item.confirmed",
        source="items",
        subject=item_id,
        org_id=org_id,
        payload=items_events.ItemConfirmed(
            item_id=item_id, organization_id=org_id, confirm_time=when
        ),
    )


async def deliver(engine: AsyncEngine, handle: Handler, envelope: Envelope) -> None:
    """As the consumer runs a handler: acting for the event's organization."""
    async with engine.begin() as conn:
        await set_tenant(conn, envelope.org_id)
        await handle(conn, envelope)


async def test_one_unit_per_confirmed_item(engine: AsyncEngine, handlers: Handlers) -> None:
    handle = item_confirmed_handler(unwrapped(handlers.usage), utc_now)
    org_id, item_id = str(uuid.uuid4()), str(uuid.uuid4())
    # A redelivery past the inbox (new event id for the same confirmation) has no effect.
    for event in (confirmed(org_id, item_id), confirmed(org_id, item_id)):
        await deliver(engine, handle, event)
    await deliver(engine, handle, confirmed(org_id, str(uuid.uuid4())))
    async with engine.connect() as conn:
        await set_tenant(conn, org_id)
        usage = (
            await conn.execute(
                select(usage_records.c.metric, func.sum(usage_records.c.quantity)).group_by(
                    usage_records.c.metric
                )
            )
        ).all()
        events = (await conn.execute(select(func.count()).select_from(outbox))).scalar_one()
    assert [tuple(r) for r in usage] == [(ITEMS_METRIC, 2)]
    assert events == 2  # billing.usage.recorded per recorded unit


async def test_an_item_confirmed_before_a_close_but_delivered_after_is_billed_next(
    engine: AsyncEngine, handlers: Handlers
) -> None:
    handle = item_confirmed_handler(unwrapped(handlers.usage), utc_now)
    org_id = str(uuid.uuid4())
    owner = Caller(subject="u1", org_id=org_id, roles=frozenset({"OWNER"}))
    sub = await handlers.subscriptions.create(CreateSubscription(owner, "free", str(uuid.uuid4())))
    confirmed_at = datetime.now(UTC)
    first = await handlers.invoices.close_period(
        CloseBillingPeriod(owner, sub.subscription_id, str(uuid.uuid4()))
    )
    assert confirmed_at < first.period_end

    # The event arrives after the close.
    await deliver(engine, handle, confirmed(org_id, str(uuid.uuid4()), at=confirmed_at))
    second = await handlers.invoices.close_period(
        CloseBillingPeriod(owner, sub.subscription_id, str(uuid.uuid4()))
    )
    (line,) = [x for x in second.lines if x.metric == ITEMS_METRIC]
    assert line.quantity == 1
