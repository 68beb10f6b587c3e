"""Health statuses driven by readiness probes, polled in the background."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence

from grpc_health.v1 import health_pb2
from grpc_health.v1.health import aio as health_aio
from prometheus_client import Gauge

from keel_runtime.metrics import NULL, NullSeries
from keel_runtime.supervisor import task_name

logger = logging.getLogger("keel.health")

Probe = Callable[[], Awaitable[bool]]

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


class Readiness:
    """Sets every service name and "" to SERVING only while all probes pass."""

    def __init__(
        self,
        health: health_aio.HealthServicer,
        service_names: Sequence[str],
        probes: Sequence[Probe],
        *,
        interval: float,
        serving_gauge: Gauge | NullSeries = NULL,
    ) -> None:
        self._health = health
        self._names = ["", *service_names]
        self._probes = list(probes)
        self._interval = interval
        self.ready: bool | None = None
        self._serving_gauge = serving_gauge
        """``keel_health_serving``: 1 while SERVING."""

    async def check(self) -> bool:
        """Run every probe now (each bounded by the poll interval) and publish the result."""
        results = await asyncio.gather(*(self._run(p) for p in self._probes))
        failing = [task_name(p) for p, ok in zip(self._probes, results, strict=True) if not ok]
        ready = not failing
        if ready != self.ready:
            if ready:
                logger.info("ready: serving")
            else:
                logger.warning("not ready: probes failing", extra={"probes": failing})
            self.ready = ready
            self._serving_gauge.set(1 if ready else 0)
            for name in self._names:
                await self._health.set(name, SERVING if ready else NOT_SERVING)
        return ready

    async def _run(self, probe: Probe) -> bool:
        try:
            return bool(await asyncio.wait_for(probe(), timeout=self._interval))
        except asyncio.CancelledError:
            raise
        except Exception:
            # A probe that raises or times out is a failing dependency, not a crash.
            logger.debug("probe raised", exc_info=True, extra={"probe": task_name(probe)})
            return False

    async def poll(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            await self.check()
