"""Composition root: engine, NATS, handlers, worker and servicers as one ServiceSpec."""

from __future__ import annotations

from pathlib import Path

from keel.items.v1 import item_service_pb2_grpc, tag_service_pb2_grpc

from items.app.enrichment import EnrichItem
from items.app.items import ItemHandlers
from items.app.ports import EnrichmentProvider
from items.app.tags import TagHandlers
from items.config import ItemsConfig
from items.enrichment import provider_named
from items.events.codec import EventCodec
from items.events.worker import enrichment_subscriptions
from items.storage.attempts import SqlAttemptCounter
from items.storage.uow import SqlUnitOfWork
from items.transport.errors import ERROR_MAP
from items.transport.item_servicer import ItemServicer
from items.transport.tag_servicer import TagServicer
from keel_runtime import db
from keel_runtime.events import Consumer, OutboxRelay, connect_nats, ensure_stream
from keel_runtime.events.revocation_feed import RevocationFeed
from keel_runtime.metrics import Metrics
from keel_runtime.server import ServiceSpec

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"


async def build(
    config: ItemsConfig,
    *,
    provider: EnrichmentProvider | None = None,
    relay_poll_interval: float = 0.2,
) -> ServiceSpec:
    """Connect to PostgreSQL and NATS and wire the service; nothing runs until started."""
    metrics = Metrics("items")
    engine = db.create_engine(config.database_url)
    try:
        nc, js = await connect_nats(config.nats_url, name="items", tls=config.tls)
    except BaseException:
        await engine.dispose()
        raise
    codec = EventCodec(config.event_namespace)
    await ensure_stream(js, config.streams.service_stream(codec.namespace))

    def unit_of_work() -> SqlUnitOfWork:
        return SqlUnitOfWork(engine, codec)

    enrich = EnrichItem(
        provider or provider_named(config.enrichment_provider),
        SqlAttemptCounter(engine),
        max_attempts=config.enrichment_max_attempts,
        timeout_s=config.enrichment_timeout_s,
    )
    consumers = [
        Consumer(
            engine,
            js,
            subscription,
            dead_letter_stream=config.streams.dead_letter_stream(),
            metrics=metrics,
        )
        for subscription in enrichment_subscriptions(
            enrich,
            codec,
            max_attempts=config.enrichment_max_attempts,
            backoff_s=config.enrichment_backoff_s,
        )
    ]
    relay = OutboxRelay(engine, js, poll_interval=relay_poll_interval, metrics=metrics)

    return ServiceSpec(
        name="items",
        servicers=[
            (
                item_service_pb2_grpc.add_ItemServiceServicer_to_server,
                ItemServicer(ItemHandlers(unit_of_work)),
            ),
            (
                tag_service_pb2_grpc.add_TagServiceServicer_to_server,
                TagServicer(TagHandlers(unit_of_work)),
            ),
        ],
        error_map=ERROR_MAP,
        background=[relay.run, *(consumer.run for consumer in consumers)],
        closers=[nc.drain, engine.dispose],
        database=engine,
        nats=nc,
        metrics=metrics,
        revocations=RevocationFeed(js),
    )
