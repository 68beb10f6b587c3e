"""Prometheus metrics of one server, in a registry of its own, and the `/metrics` endpoint."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any, Final

import grpc
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.registry import Collector

from keel_runtime import process_metrics

logger = logging.getLogger("keel.metrics")

CONSUMER_OUTCOMES: Final = ("handled", "duplicate", "failed", "dead_lettered")
JOB_OUTCOMES: Final = ("succeeded", "failed")
REDRIVE_OUTCOMES: Final = ("redriven", "failed", "exhausted")

# Unary RPCs of these services take ~1 ms to a few seconds (ledger postings, billing runs).
RPC_BUCKETS: Final = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


class NullSeries:
    """A series that records nothing: what metrics-off code paths hold instead of a child."""

    def inc(self, amount: float = 1) -> None:
        pass

    def set(self, value: float) -> None:
        pass

    def observe(self, amount: float) -> None:
        pass


NULL: Final = NullSeries()


class RpcMetrics:
    """One method's series, resolved once when the chain wraps the method."""

    __slots__ = ("_by_code", "_duration", "_method", "_requests", "_service")

    def __init__(
        self, service: str, method: str, requests: Counter | None, duration: Histogram | None
    ) -> None:
        self._service = service
        self._method = method
        self._requests = requests
        self._duration = duration.labels(service, method) if duration is not None else NULL
        # Children per status code, made on first use: the label child lookup costs more
        # than the increment itself, and most methods only ever see a few codes.
        self._by_code: dict[grpc.StatusCode, Counter | NullSeries] = {}

    def record(self, code: grpc.StatusCode, seconds: float) -> None:
        counter = self._by_code.get(code)
        if counter is None:
            counter = self._resolve(code)
        counter.inc()
        self._duration.observe(seconds)

    def _resolve(self, code: grpc.StatusCode) -> Counter | NullSeries:
        counter: Counter | NullSeries = NULL
        if self._requests is not None:
            counter = self._requests.labels(self._service, self._method, code.name)
        self._by_code[code] = counter
        return counter


class OutboxMetrics:
    """The outbox relay's series."""

    def __init__(
        self,
        published: Counter | NullSeries,
        unpublished: Gauge | NullSeries,
        oldest: Gauge | NullSeries,
    ) -> None:
        self.published = published
        """Events acknowledged by JetStream and marked published."""
        self.unpublished = unpublished
        """Rows still waiting in the outbox (sampled)."""
        self.oldest_unpublished_age = oldest
        """Seconds since the oldest waiting row was written (sampled; 0 when none waits)."""

    @property
    def enabled(self) -> bool:
        return self.unpublished is not NULL


class ConsumerMetrics:
    """One consumer's outcome counters and backlog gauges."""

    def __init__(
        self,
        children: dict[str, Counter | NullSeries],
        pending: Gauge | NullSeries = NULL,
        ack_pending: Gauge | NullSeries = NULL,
    ) -> None:
        self.pending = pending
        """Messages on the consumer's subjects not yet delivered to it (sampled)."""
        self.ack_pending = ack_pending
        """Messages delivered and not yet acknowledged: in the handler, or waiting to be
        redelivered (sampled)."""
        self.handled = children["handled"]
        """The handler ran and committed with its inbox row."""
        self.duplicate = children["duplicate"]
        """The inbox already had the event: a redelivery, acknowledged without running."""
        self.failed = children["failed"]
        """The handler or its transaction raised: retried, or dead-lettered at max_deliver."""
        self.dead_lettered = children["dead_lettered"]
        """Moved to the dead-letter subject (deliveries exhausted or undecodable)."""


class RedriveMetrics:
    """One consumer's redrive counters (``keel_runtime.events.redrive``)."""

    def __init__(self, children: dict[str, Counter | NullSeries]) -> None:
        self.redriven = children["redriven"]
        """Dead letters sent back to their stream by the redrive policy."""
        self.failed = children["failed"]
        """Redrives that could not be published or removed (tried again on a later pass)."""
        self.exhausted = children["exhausted"]
        """Dead letters left for operators: their class qualifies, their redrives are spent."""


class JobMetrics:
    """One periodic job's series (see ``keel_runtime.periodic``)."""

    def __init__(
        self,
        runs: dict[str, Counter | NullSeries],
        items: dict[str, Counter | NullSeries],
        backing_off: Gauge | NullSeries,
    ) -> None:
        self.runs_succeeded = runs["succeeded"]
        """Passes of the job that returned."""
        self.runs_failed = runs["failed"]
        """Passes that raised (logged; the next pass runs on schedule)."""
        self.items_succeeded = items["succeeded"]
        """Items processed without an error."""
        self.items_failed = items["failed"]
        """Items whose processing raised (logged, retried on a later pass)."""
        self.items_backing_off = backing_off
        """Items currently skipped until their backoff expires."""


class Metrics:
    """A server's metrics; ``Metrics(service)`` makes a registry of its own.

    Handed explicitly to the server (``ServiceSpec.metrics``), the outbox relay and the
    consumers; ``NO_METRICS`` records nothing and is their default. Several servers in one
    process (tests) keep separate registries, so their series never mix.
    """

    def __init__(self, service: str, registry: CollectorRegistry | None = None) -> None:
        self.service = service
        self.registry = registry if registry is not None else CollectorRegistry(auto_describe=True)
        r = self.registry
        self._requests = Counter(
            "keel_rpc_requests",
            "RPCs handled, by final status code.",
            ("service", "method", "code"),
            registry=r,
        )
        self._duration = Histogram(
            "keel_rpc_duration_seconds",
            "RPC handling time in the server, from the chain's start to the final status.",
            ("service", "method"),
            buckets=RPC_BUCKETS,
            registry=r,
        )
        self._published = Counter(
            "keel_outbox_published",
            "Outbox events acknowledged by JetStream and marked published.",
            ("service",),
            registry=r,
        )
        self._unpublished = Gauge(
            "keel_outbox_unpublished",
            "Outbox rows not yet published (sampled by the relay).",
            ("service",),
            registry=r,
        )
        self._oldest = Gauge(
            "keel_outbox_oldest_unpublished_age_seconds",
            "Age of the oldest unpublished outbox row; the relay's lag (sampled).",
            ("service",),
            registry=r,
        )
        self._consumed = Counter(
            "keel_consumer_messages",
            "Deliveries settled by a consumer, by outcome: " + "|".join(CONSUMER_OUTCOMES) + ".",
            ("service", "consumer", "outcome"),
            registry=r,
        )
        self._redrives = Counter(
            "keel_consumer_redrives",
            "Dead letters the redrive policy handled, by outcome: "
            + "|".join(REDRIVE_OUTCOMES)
            + ".",
            ("service", "consumer", "outcome"),
            registry=r,
        )
        self._job_runs = Counter(
            "keel_job_runs",
            "Passes of a periodic job, by outcome: " + "|".join(JOB_OUTCOMES) + ".",
            ("service", "job", "outcome"),
            registry=r,
        )
        self._job_items = Counter(
            "keel_job_items",
            "Items a periodic job processed, by outcome: " + "|".join(JOB_OUTCOMES) + ".",
            ("service", "job", "outcome"),
            registry=r,
        )
        self._job_backing_off = Gauge(
            "keel_job_items_backing_off",
            "Items of a periodic job that failed and wait for their backoff to expire.",
            ("service", "job"),
            registry=r,
        )
        self._principal_refused = Counter(
            "keel_principal_refused",
            "Calls refused UNAUTHENTICATED: no credential, or one that does not verify (reason).",
            ("service", "reason", "peer"),
            registry=r,
        )
        self._serving = Gauge(
            "keel_health_serving",
            "1 while the server reports SERVING (all readiness probes pass), else 0.",
            ("service",),
            registry=r,
        )
        self._consumer_pending = Gauge(
            "keel_consumer_pending_messages",
            "Messages on a consumer's subjects not yet delivered to it (sampled): its lag.",
            ("service", "consumer"),
            registry=r,
        )
        self._consumer_ack_pending = Gauge(
            "keel_consumer_ack_pending_messages",
            "Messages delivered to a consumer and not yet acknowledged (sampled).",
            ("service", "consumer"),
            registry=r,
        )
        # Process and runtime: process_*, python_gc_*, the event loop, pool and NATS client.
        for collector in process_metrics.process_collectors(service):
            r.register(collector)
        self._loop_lag = Histogram(
            "keel_event_loop_lag_seconds",
            "How late the event loop woke a sleeper (sampled every"
            f" {process_metrics.LOOP_LAG_INTERVAL_S} s): time other work held the loop.",
            ("service",),
            buckets=process_metrics.LOOP_LAG_BUCKETS,
            registry=r,
        )
        self._dependencies: list[Collector] = []

    def rpc(self, method: str) -> RpcMetrics:
        return RpcMetrics(self.service, method, self._requests, self._duration)

    def outbox(self) -> OutboxMetrics:
        return OutboxMetrics(
            self._published.labels(self.service),
            self._unpublished.labels(self.service),
            self._oldest.labels(self.service),
        )

    def consumer(self, consumer: str) -> ConsumerMetrics:
        return ConsumerMetrics(
            {o: self._consumed.labels(self.service, consumer, o) for o in CONSUMER_OUTCOMES},
            self._consumer_pending.labels(self.service, consumer),
            self._consumer_ack_pending.labels(self.service, consumer),
        )

    def redrive(self, consumer: str) -> RedriveMetrics:
        return RedriveMetrics(
            {o: self._redrives.labels(self.service, consumer, o) for o in REDRIVE_OUTCOMES}
        )

    def job(self, job: str) -> JobMetrics:
        return JobMetrics(
            {o: self._job_runs.labels(self.service, job, o) for o in JOB_OUTCOMES},
            {o: self._job_items.labels(self.service, job, o) for o in JOB_OUTCOMES},
            self._job_backing_off.labels(self.service, job),
        )

    def serving(self) -> Gauge | NullSeries:
        return self._serving.labels(self.service)

    def loop_lag(self) -> Histogram | NullSeries:
        return self._loop_lag.labels(self.service)

    def watch(self, *, database: Any = None, nats: Any = None) -> None:
        """Serve the pool gauges of ``database`` (an AsyncEngine) and the client figures of
        ``nats`` (a connected client), read at each scrape; replaces earlier ones."""
        for collector in self._dependencies:
            self.registry.unregister(collector)
        self._dependencies = []
        if database is not None:
            self._dependencies.append(process_metrics.DatabasePool(database, self.service))
        if nats is not None:
            self._dependencies.append(process_metrics.NatsClient(nats, self.service))
        for collector in self._dependencies:
            self.registry.register(collector)

    def principal_refused(self, reason: str, peer: str | None) -> None:
        """Count a refused principal; ``peer`` is a workload name (a few values) or none."""
        self._principal_refused.labels(self.service, reason, peer or "none").inc()

    def render(self) -> bytes:
        """The registry in the Prometheus text format."""
        return generate_latest(self.registry)


class _NoMetrics(Metrics):
    """Records nothing; no registry, no series."""

    def __init__(self) -> None:
        self.service = ""
        self.registry = CollectorRegistry(auto_describe=True)

    def rpc(self, method: str) -> RpcMetrics:
        return RpcMetrics("", method, None, None)

    def outbox(self) -> OutboxMetrics:
        return OutboxMetrics(NULL, NULL, NULL)

    def consumer(self, consumer: str) -> ConsumerMetrics:
        return ConsumerMetrics(dict.fromkeys(CONSUMER_OUTCOMES, NULL))

    def redrive(self, consumer: str) -> RedriveMetrics:
        return RedriveMetrics(dict.fromkeys(REDRIVE_OUTCOMES, NULL))

    def job(self, job: str) -> JobMetrics:
        return JobMetrics(
            dict.fromkeys(JOB_OUTCOMES, NULL), dict.fromkeys(JOB_OUTCOMES, NULL), NULL
        )

    def serving(self) -> Gauge | NullSeries:
        return NULL

    def loop_lag(self) -> Histogram | NullSeries:
        return NULL

    def watch(self, *, database: Any = None, nats: Any = None) -> None:
        return None

    def principal_refused(self, reason: str, peer: str | None) -> None:
        return None


NO_METRICS: Final[Metrics] = _NoMetrics()
"""The default of every ``metrics`` parameter: counts nothing."""


class MetricsEndpoint:
    """``GET /metrics`` over plain HTTP/1.1 on the server's event loop.

    On the loop rather than prometheus_client's thread server: it binds port 0 and closes
    at once, and rendering a few hundred series takes well under a millisecond.
    """

    def __init__(self, metrics: Metrics, server: asyncio.Server) -> None:
        self.metrics = metrics
        self._server = server
        self.port: int = server.sockets[0].getsockname()[1]

    @classmethod
    async def start(cls, metrics: Metrics, bind: str) -> MetricsEndpoint:
        host, _, port = bind.rpartition(":")
        host = host.strip("[]")
        holder: list[MetricsEndpoint] = []

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await holder[0]._handle(reader, writer)

        try:
            server = await asyncio.start_server(handle, host, int(port))
        except OSError as exc:
            raise OSError(f"cannot listen on {bind} (METRICS_BIND): {exc}") from exc
        endpoint = cls(metrics, server)
        holder.append(endpoint)
        logger.info("metrics endpoint serving", extra={"bind": bind, "port": endpoint.port})
        return endpoint

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(10):
                request_line = await reader.readline()
                while (await reader.readline()) not in (b"\r\n", b"\n", b""):
                    pass  # headers: nothing in them changes the answer
            parts = request_line.split()
            path = parts[1].split(b"?", 1)[0] if len(parts) >= 2 else b""
            if parts[:1] not in ([b"GET"], [b"HEAD"]):
                status, body, ctype = "405 Method Not Allowed", b"", "text/plain"
            elif path != b"/metrics":
                status, body, ctype = "404 Not Found", b"see /metrics\n", "text/plain"
            else:
                status, body, ctype = "200 OK", self.metrics.render(), CONTENT_TYPE_LATEST
            head = (
                f"HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
            ).encode()
            writer.write(head if parts[:1] == [b"HEAD"] else head + body)
            await writer.drain()
        except (TimeoutError, ConnectionError):
            pass
        except Exception:
            logger.exception("metrics request failed")
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def close(self) -> None:
        self._server.close()
        await self._server.wait_closed()
