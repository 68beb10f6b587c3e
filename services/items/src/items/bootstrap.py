"""Composition root: the items handlers, enrichment worker and servicers on the runtime."""

from __future__ import annotations

from keel.items.v1 import item_service_pb2_grpc, tag_service_pb2_grpc

from items.adapters.enrichment import provider_named
from items.app.enrichment import EnrichItem
from items.app.items import ItemHandlers
from items.app.ports import EnrichmentProvider
from items.app.tags import TagHandlers
from items.config import ItemsConfig
from items.events.codec import EventCodec
from items.events.subscribers import enrichment_subscriptions
from items.storage.attempts import SqlAttemptCounter
from items.storage.schema import SCHEMA
from items.storage.uow import SqlUnitOfWork
from items.transport.errors import ERROR_MAP
from items.transport.items import ItemServicer
from items.transport.tags import TagServicer
from keel_runtime.server import ServiceSpec
from keel_runtime.service import Assembly, ServiceDefinition


async def build(config: ItemsConfig, *, provider: EnrichmentProvider | None = None) -> ServiceSpec:
    """Wire the service; nothing runs until the server starts it."""
    codec = EventCodec(config.event_namespace)
    async with Assembly("items", config, publishes=codec.namespace) as service:
        engine = service.engine

        def unit_of_work() -> SqlUnitOfWork:
            return SqlUnitOfWork(engine, codec)

        def read() -> SqlUnitOfWork:
            return SqlUnitOfWork(engine, codec, read_only=True)

        enrich = EnrichItem(
            provider or provider_named(config.enrichment_provider),
            SqlAttemptCounter(engine),
            max_attempts=config.enrichment_max_attempts,
            timeout_s=config.enrichment_timeout_s,
        )
        for subscription in enrichment_subscriptions(
            enrich,
            codec,
            max_attempts=config.enrichment_max_attempts,
            backoff_s=config.enrichment_backoff_s,
        ):
            service.consume(subscription)
        return service.spec(
            [
                (
                    item_service_pb2_grpc.add_ItemServiceServicer_to_server,
                    ItemServicer(ItemHandlers(unit_of_work, reads=read)),
                ),
                (
                    tag_service_pb2_grpc.add_TagServiceServicer_to_server,
                    TagServicer(TagHandlers(unit_of_work, reads=read)),
                ),
            ],
            ERROR_MAP,
        )


DEFINITION = ServiceDefinition("items", SCHEMA, ItemsConfig.from_env, build)
