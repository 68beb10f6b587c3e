"""Subscribers: the enrichment worker's JetStream work-queue subscriptions feeding EnrichItem."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from keel.items.v1 import events_pb2
from sqlalchemy.ext.asyncio import AsyncConnection

from items.app.enrichment import EnrichItem
from items.events.codec import ENRICHMENT_REQUESTED, ITEM_CREATED, EventCodec
from items.storage.uow import ConnectionUnitOfWork
from keel_runtime.db import set_tenant
from keel_runtime.events import Envelope, Handler, Subscription

# Deliveries beyond the last enrichment attempt: the attempt counter only moves once the
# handler runs, so a delivery lost earlier (say, a database hiccup) must not dead-letter
# the event before the last attempt had its chance to mark the item FAILED.
SPARE_DELIVERIES = 2


def _target(envelope: Envelope) -> tuple[str, UUID]:
    """The org and item an enrichment event is about."""
    for message_cls in (events_pb2.ItemCreated, events_pb2.EnrichmentRequested):
        if envelope.payload.Is(message_cls.DESCRIPTOR):
            message = message_cls()
            envelope.payload.Unpack(message)
            return message.organization_id, UUID(message.item_id)
    raise TypeError(f"event {envelope.id} ({envelope.type}) does not request enrichment")


def enrichment_handler(enrich: EnrichItem, codec: EventCodec) -> Handler:
    async def handle(connection: AsyncConnection, envelope: Envelope) -> None:
        org_id, item_id = _target(envelope)
        # The worker acts for the item's organization (row-level security).
        await set_tenant(connection, org_id)
        # The consumer commits the effect together with its inbox row: a redelivered
        # event finds the row and never runs a second time.
        await enrich(ConnectionUnitOfWork(connection, codec), org_id, item_id)

    return handle


def enrichment_subscriptions(
    enrich: EnrichItem,
    codec: EventCodec,
    *,
    max_attempts: int,
    backoff_s: Sequence[float],
) -> list[Subscription]:
    """Durable "<namespace>-enrich" on item.created, and "<namespace>-enrich-retry" on
    enrichment.requested (RetryEnrichment); both share the handler."""
    handler = enrichment_handler(enrich, codec)
    base = f"{codec.namespace}-enrich"
    return [
        Subscription(
            consumer=consumer,
            stream=codec.stream.name,
            filter_subject=codec.subject(name),
            handler=handler,
            max_deliver=max_attempts + SPARE_DELIVERIES,
            backoff_s=tuple(backoff_s),
        )
        for consumer, name in ((base, ITEM_CREATED), (f"{base}-retry", ENRICHMENT_REQUESTED))
    ]
