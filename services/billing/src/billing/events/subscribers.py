"""Event subscribers: default subscription on sign-up, item usage.

Billing does not consume its own stream: the webhook deliveries of its events are written in
the transaction that commits them (billing.storage.uow)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from keel.identity.v1 import events_pb2 as identity_events
from keel.items.v1 import events_pb2 as items_events
from sqlalchemy.ext.asyncio import AsyncConnection

from billing.app.commands import UsageInput
from billing.app.ports import Clock
from billing.app.subscriptions import SubscriptionHandlers
from billing.app.usage import Late, UsageHandlers
from billing.storage.uow import BoundUnitOfWork
from keel_runtime.errors import ValidationFailed
from keel_runtime.events import Envelope, Handler, Subscription, unpack
from keel_runtime.timestamps import field_time

START_SUBSCRIPTION_CONSUMER = "billing-start-subscription"
ORGANIZATION_CREATED = "identity.organization.created"
ITEM_USAGE_CONSUMER = "billing-item-usage"
ITEM_CONFIRMED = "items.item.confirmed"
ITEMS_METRIC = "items.confirmed"


def _occurred(envelope: Envelope) -> datetime | None:
    """When the producer committed the event; None when unset or not a valid time (a sign-up
    still starts its subscription, then dated by billing's clock)."""
    try:
        return field_time(envelope, "occurred_at")
    except ValidationFailed:
        return None


def organization_created_handler(handlers: SubscriptionHandlers, clock: Clock) -> Handler:
    async def handle(conn: AsyncConnection, envelope: Envelope) -> None:
        event = unpack(envelope, identity_events.OrganizationCreated)
        org_id = event.organization_id or envelope.org_id
        uow = BoundUnitOfWork(conn, clock)
        # Idempotent twice over: the consumer's inbox row, and one active subscription per org.
        await handlers.start_default(uow, org_id, since=_occurred(envelope))
        await uow.commit()

    return handle


def item_confirmed_handler(handlers: UsageHandlers, clock: Clock) -> Handler:
    async def handle(conn: AsyncConnection, envelope: Envelope) -> None:
        event = unpack(envelope, items_events.ItemConfirmed)
        uow = BoundUnitOfWork(conn, clock)
        usage = UsageInput(
            metric=ITEMS_METRIC,
            quantity=1,
            # One unit per item, even if a replay carried the confirmation under a new id.
            dedup_key=f"{ITEM_CONFIRMED}:{event.item_id}",
            event_time=field_time(event, "confirm_time"),
        )
        # An item confirmed before its period closed (a late delivery) is still billed: in
        # the open period, rather than refused and dead-lettered.
        await handlers.record_in(
            uow, event.organization_id or envelope.org_id, [usage], late=Late.CARRY
        )
        await uow.commit()

    return handle


def subscriptions(
    subscription_handlers: SubscriptionHandlers,
    usage_handlers: UsageHandlers,
    clock: Clock,
    *,
    name: Callable[[str], str] = lambda consumer: consumer,
) -> list[Subscription]:
    """The durable consumers billing runs (`name` lets tests isolate consumer names)."""
    return [
        Subscription(
            consumer=name(START_SUBSCRIPTION_CONSUMER),
            stream="IDENTITY",
            filter_subject=ORGANIZATION_CREATED,
            handler=organization_created_handler(subscription_handlers, clock),
        ),
        Subscription(
            consumer=name(ITEM_USAGE_CONSUMER),
            stream="ITEMS",
            filter_subject=ITEM_CONFIRMED,
            handler=item_confirmed_handler(usage_handlers, clock),
        ),
    ]
