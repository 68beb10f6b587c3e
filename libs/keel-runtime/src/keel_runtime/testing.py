"""Test helpers for services built on the runtime: a consumer whose deliveries tests await."""

from __future__ import annotations

import asyncio

from nats.aio.msg import Msg
from nats.js import JetStreamContext
from sqlalchemy.ext.asyncio import AsyncEngine

from keel_runtime.events.consumer import Consumer, Subscription
from keel_runtime.metrics import NO_METRICS, Metrics


class ProbeConsumer(Consumer):
    """A Consumer reporting each finished delivery, so tests await it instead of sleeping."""

    def __init__(
        self,
        engine: AsyncEngine,
        js: JetStreamContext,
        subscription: Subscription,
        *,
        fetch_timeout: float = 1.0,
        metrics: Metrics = NO_METRICS,
    ) -> None:
        super().__init__(engine, js, subscription, fetch_timeout=fetch_timeout, metrics=metrics)
        self.handled: asyncio.Queue[Msg] = asyncio.Queue()

    async def handle(self, msg: Msg) -> None:
        await super().handle(msg)
        self.handled.put_nowait(msg)

    async def deliveries(self, count: int, *, within_s: float = 20.0) -> list[Msg]:
        """The next ``count`` settled deliveries; TimeoutError after ``within_s`` seconds."""
        async with asyncio.timeout(within_s):
            return [await self.handled.get() for _ in range(count)]
