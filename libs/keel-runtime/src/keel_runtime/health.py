"""Health: readiness driven by dependency probes polled in the background, and liveness.

Readiness ("" and every service name) says whether the service can do its job now: every
dependency it needs answers. Liveness (``LIVENESS``) says whether the process works at all;
it never turns NOT_SERVING because a dependency is down (restarting the process would not
bring the dependency back), only when the server stops.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence

from grpc_health.v1 import health_pb2
from grpc_health.v1.health import aio as health_aio
from nats.aio.client import Client as Nats
from prometheus_client import Gauge
from sqlalchemy.ext.asyncio import AsyncEngine

from keel_runtime import db
from keel_runtime.metrics import NULL, NullSeries
from keel_runtime.supervisor import task_name

logger = logging.getLogger("keel.health")

Probe = Callable[[], Awaitable[bool]]

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING

LIVENESS = "liveness"
"""Health service name for liveness probes (e.g. Kubernetes ``livenessProbe.grpc.service``)."""


def database_probe(engine: AsyncEngine, *, within_s: float = 2.0) -> Probe:
    """Ready while a pooled connection runs ``SELECT 1`` within ``within_s``."""

    async def database_reachable() -> bool:
        return await db.ping(engine, within_s=within_s)

    return database_reachable


# Answered by the server's JetStream subsystem itself: a round trip to what services use.
_JETSTREAM_INFO = "$JS.API.INFO"


def nats_probe(nc: Nats, *, within_s: float = 2.0) -> Probe:
    """Ready while the client is connected and the server answers a request within ``within_s``.

    A frozen server keeps the TCP connection open: only a round trip shows it. (A request,
    not ``flush()``: a flush abandoned on timeout leaves a cancelled future that breaks the
    client's read loop when the late PONG arrives.)
    """

    async def nats_reachable() -> bool:
        if not nc.is_connected:
            return False
        try:
            await nc.request(_JETSTREAM_INFO, b"", timeout=within_s)
        except Exception:
            return False
        return True

    return nats_reachable


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
