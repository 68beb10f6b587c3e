"""Background task: ensure the IDENTITY stream exists, then relay the outbox to it."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from identity.events.codec import SOURCE
from keel_runtime.events import OutboxRelay, StreamSettings, connect_nats, ensure_stream
from keel_runtime.metrics import NO_METRICS, Metrics


async def run_relay(
    engine: AsyncEngine, nats_url: str, streams: StreamSettings, metrics: Metrics = NO_METRICS
) -> None:
    """Publish outbox rows to JetStream until cancelled (supervised by the runtime)."""
    nc, js = await connect_nats(nats_url, name="identity-outbox")
    try:
        await ensure_stream(js, streams.service_stream(SOURCE))
        await OutboxRelay(engine, js, metrics=metrics).run()
    finally:
        await nc.drain()
