"""Background task: ensure the IDENTITY stream exists, then relay the outbox to it."""

from __future__ import annotations

from nats.js import JetStreamContext
from sqlalchemy.ext.asyncio import AsyncEngine

from identity.events.codec import SOURCE
from keel_runtime.events import OutboxRelay, StreamSettings, ensure_stream
from keel_runtime.metrics import NO_METRICS, Metrics


async def run_relay(
    engine: AsyncEngine,
    js: JetStreamContext,
    streams: StreamSettings,
    metrics: Metrics = NO_METRICS,
) -> None:
    """Publish outbox rows to JetStream until cancelled (supervised by the runtime)."""
    await ensure_stream(js, streams.service_stream(SOURCE))
    await OutboxRelay(engine, js, metrics=metrics).run()
