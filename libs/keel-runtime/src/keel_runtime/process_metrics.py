"""Process and runtime metrics of a service: CPU, memory, file descriptors, garbage
collection, event-loop lag, the database pool and the NATS client.

All carry the ``service`` label like the runtime's own series, so one selector covers a
service's every series. The pool and NATS figures are read when Prometheus scrapes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any, Final, Protocol

from prometheus_client import CollectorRegistry
from prometheus_client.gc_collector import GCCollector
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector

LOOP_LAG_INTERVAL_S: Final = 0.25
"""How often the event loop is asked to wake a sleeper; how late it does is the lag."""
LOOP_LAG_BUCKETS: Final = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)


class ServiceLabelled(Collector):
    """Another collector's series with ``service="<name>"`` added to each sample."""

    def __init__(self, inner: Collector, service: str) -> None:
        self._inner = inner
        self._service = service

    def collect(self) -> Iterable[Metric]:
        for family in self._inner.collect():
            labelled = Metric(family.name, family.documentation, family.type, family.unit)
            for sample in family.samples:
                labelled.add_sample(
                    sample.name,
                    {**sample.labels, "service": self._service},
                    sample.value,
                    sample.timestamp,
                    sample.exemplar,
                )
            yield labelled


def process_collectors(service: str) -> list[Collector]:
    """``process_*`` (CPU seconds, RSS, virtual memory, open and max fds, start time) and
    ``python_gc_*`` (collections, collected and uncollectable objects per generation)."""
    # Both register themselves when made; a registry of their own keeps them out of ours
    # until wrapped.
    return [
        ServiceLabelled(ProcessCollector(registry=None), service),
        ServiceLabelled(GCCollector(registry=CollectorRegistry()), service),
    ]


class DatabasePool(Collector):
    """``keel_db_pool_{size,checked_out,idle}`` of a SQLAlchemy engine's queue pool."""

    def __init__(self, engine: Any, service: str) -> None:
        self._pool = engine.pool
        self._service = service

    def collect(self) -> Iterable[Metric]:
        families = (
            ("keel_db_pool_size", "Connections the pool keeps (its configured size).", "size"),
            ("keel_db_pool_checked_out", "Connections in use right now.", "checkedout"),
            ("keel_db_pool_idle", "Open connections waiting in the pool.", "checkedin"),
        )
        for name, documentation, reading in families:
            read = getattr(self._pool, reading, None)
            if read is None:  # a pool without that figure (NullPool in tools)
                continue
            family = GaugeMetricFamily(name, documentation, labels=["service"])
            family.add_metric([self._service], float(read()))
            yield family


class NatsClient(Collector):
    """``keel_nats_*``: bytes the client holds unsent, whether it is connected, reconnects."""

    def __init__(self, client: Any, service: str) -> None:
        self._client = client
        self._service = service

    def collect(self) -> Iterable[Metric]:
        client, labels = self._client, [self._service]
        pending = GaugeMetricFamily(
            "keel_nats_pending_bytes",
            "Bytes published but not yet written to the NATS server (the client's buffer).",
            labels=["service"],
        )
        pending.add_metric(labels, float(client.pending_data_size))
        connected = GaugeMetricFamily(
            "keel_nats_connected", "1 while the NATS connection is up.", labels=["service"]
        )
        connected.add_metric(labels, 1.0 if client.is_connected else 0.0)
        reconnects = Metric("keel_nats_reconnects", "Reconnections to NATS.", "counter")
        reconnects.add_sample(
            "keel_nats_reconnects_total",
            {"service": self._service},
            float(client.stats.get("reconnects", 0)),
        )
        return [pending, connected, reconnects]


class Observer(Protocol):
    def observe(self, amount: float) -> None: ...


async def watch_event_loop(lag: Observer, interval: float = LOOP_LAG_INTERVAL_S) -> None:
    """Observe, every ``interval``, how late the loop wakes a sleeper: time other callbacks
    held it (CPU-bound work, blocking calls) and every request waited with them."""
    loop = asyncio.get_running_loop()
    while True:
        asked = loop.time()
        await asyncio.sleep(interval)
        lag.observe(max(0.0, loop.time() - asked - interval))
