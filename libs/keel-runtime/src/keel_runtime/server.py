"""gRPC server lifecycle: interceptors, health, reflection, background tasks, graceful stop."""

from __future__ import annotations

import asyncio
import functools
import logging
import signal
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

import grpc
from grpc_health.v1 import health as grpc_health
from grpc_health.v1 import health_pb2_grpc
from grpc_reflection.v1alpha import reflection, reflection_pb2_grpc
from nats.aio.client import Client as Nats
from sqlalchemy.ext.asyncio import AsyncEngine

from keel_runtime import clients, tracing
from keel_runtime.errors import ErrorMap
from keel_runtime.events.pruning import run_pruning
from keel_runtime.events.revocation_feed import RevocationFeed
from keel_runtime.health import (
    LIVENESS,
    SERVING,
    Probe,
    Readiness,
    database_probe,
    nats_probe,
)
from keel_runtime.interceptors import server_interceptors
from keel_runtime.metrics import NO_METRICS, NULL, Metrics, MetricsEndpoint
from keel_runtime.process_metrics import watch_event_loop
from keel_runtime.settings import ServerSettings, load
from keel_runtime.supervisor import supervise, task_name
from keel_runtime.tls import TlsSettings, server_credentials
from keel_runtime.tokens import JwksSource, TokenVerifier, identity_jwks
from keel_runtime.tracing import TracingSettings

logger = logging.getLogger("keel.server")

TASK_STOP_SECONDS = 5.0
"""How long cancelled background tasks get to clean up before the closers run."""

AddServicer = Callable[[Any, Any], None]
"""A generated ``add_XServicer_to_server(servicer, server)``."""


@dataclass
class ServiceSpec:
    """Everything a service hands the runtime; built by the service's bootstrap."""

    name: str
    """Short service name, e.g. ``ledger``; ErrorInfo domain is ``ledger.keel``."""
    servicers: Sequence[tuple[AddServicer, object]]
    service_names: Sequence[str] = ()
    """Further full proto service names for health and reflection; the services the
    servicers register are named already (from the generated code)."""
    error_map: ErrorMap = field(default_factory=dict)
    background: Sequence[Callable[[], Awaitable[None]]] = ()
    """Long-running tasks (outbox relay, consumers): supervised, cancelled on stop."""
    closers: Sequence[Callable[[], Awaitable[None]]] = ()
    """Run after the server stopped, in order (drain NATS, dispose engine)."""
    readiness: Sequence[Callable[[], Awaitable[bool]]] = ()
    """Further dependency probes; any False -> health NOT_SERVING (liveness unaffected)."""
    database: AsyncEngine | None = None
    """The service's database: the runtime probes it for readiness and prunes its outbox
    and inbox beyond ``ServerSettings.retention``."""
    nats: Nats | None = None
    """The service's NATS connection: the runtime probes it for readiness (connected and
    answering, so a frozen broker shows too)."""
    public_methods: Collection[str] = ()
    """Further methods (``/pkg.Service/Method``) callable without a principal, for services
    outside the Keel contracts (tests); Keel's own declare it in ``keel.auth.v1.access``."""
    metrics: Metrics | None = None
    """Shared with the service's relay and consumers; by default the server makes its own
    when ``ServerSettings.metrics_bind`` is set, and records nothing otherwise."""
    jwks: JwksSource | None = None
    """Where identity's signing keys are read to verify access tokens; by default identity's
    ``AuthService.GetJwks`` at ``TokenSettings.identity_target`` (identity hands its own)."""
    revocations: RevocationFeed | None = None
    """The deny set of revoked tokens, consulted for every token, and the watch that fills
    it: started before the first readiness check (which waits for its first load, within a
    grace) and run with the server."""


class RunningServer:
    """A started server; ``stop`` runs the graceful shutdown sequence exactly once."""

    def __init__(
        self,
        spec: ServiceSpec,
        server: Any,
        port: int,
        health: grpc_health.aio.HealthServicer,
        readiness: Readiness,
        metrics: Metrics = NO_METRICS,
        metrics_endpoint: MetricsEndpoint | None = None,
        health_server: Any = None,
        health_port: int | None = None,
    ) -> None:
        self.spec = spec
        self.health_server = health_server
        self.health_port = health_port
        """The plaintext health-only listener's port (``HEALTH_BIND``), None when off."""
        self.metrics = metrics
        self.metrics_endpoint = metrics_endpoint
        self.server = server
        self.port = port
        self.health = health
        self.readiness = readiness
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping: asyncio.Task[None] | None = None
        self._drain_over = asyncio.Event()

    @property
    def metrics_port(self) -> int | None:
        """The port ``/metrics`` is served on, None when the endpoint is off."""
        return self.metrics_endpoint.port if self.metrics_endpoint is not None else None

    def _spawn(self, factory: Callable[[], Awaitable[None]], name: str) -> None:
        self._tasks.append(asyncio.create_task(_call(factory), name=name))

    async def stop(self, grace: float | None = None, *, drain: float = 0.0) -> None:
        """NOT_SERVING -> drain -> server.stop(grace) -> cancel background tasks -> closers.

        For ``drain`` seconds the server still takes calls while reporting NOT_SERVING, so
        load balancers and health-checking clients move away before the listener closes;
        ``end_drain()`` cuts it short.
        """
        if self._stopping is None:
            self._stopping = asyncio.create_task(self._shutdown(grace, drain))
        await asyncio.shield(self._stopping)

    def end_drain(self) -> None:
        """Stop taking new calls now rather than at the end of the drain window."""
        self._drain_over.set()

    async def _shutdown(self, grace: float | None, drain: float) -> None:
        logger.info("stopping", extra={"grace_s": grace, "drain_s": drain})
        await self.health.enter_graceful_shutdown()
        self.metrics.serving().set(0)
        if drain > 0:
            try:
                async with asyncio.timeout(drain):
                    await self._drain_over.wait()
            except TimeoutError:
                pass
        await self.server.stop(grace)
        if self.health_server is not None:
            await self.health_server.stop(None)
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            # Bounded: a task that swallows cancellation must not keep the closers from running.
            done, pending = await asyncio.wait(self._tasks, timeout=TASK_STOP_SECONDS)
            for task in pending:
                logger.error(
                    "background task ignored cancellation", extra={"task": task.get_name()}
                )
            for task in done:
                if not task.cancelled() and task.exception() is not None:
                    logger.error(
                        "background task failed while stopping",
                        exc_info=task.exception(),
                        extra={"task": task.get_name()},
                    )
        await _run_closers(self.spec.closers)
        # Last: scrapes can follow the shutdown to its end.
        if self.metrics_endpoint is not None:
            await self.metrics_endpoint.close()
        logger.info("stopped")

    async def wait_for_termination(self) -> None:
        await self.server.wait_for_termination()


async def _call(factory: Callable[[], Awaitable[None]]) -> None:
    await factory()


async def _run_closers(closers: Sequence[Callable[[], Awaitable[None]]]) -> None:
    for closer in closers:
        try:
            await closer()
        except Exception:
            # One failing closer must not keep the next (e.g. engine dispose) from running.
            logger.exception("closer failed", extra={"closer": task_name(closer)})


def build_server(
    spec: ServiceSpec,
    settings: ServerSettings,
    metrics: Metrics = NO_METRICS,
    tokens: TokenVerifier | None = None,
) -> Any:
    """A grpc.aio server with the interceptor chain and message/concurrency limits."""
    return grpc.aio.server(
        interceptors=server_interceptors(
            spec.name,
            spec.error_map,
            spec.public_methods,
            metrics=metrics,
            mtls=settings.tls is not None,
            tokens=tokens,
        ),
        options=[
            ("grpc.max_send_message_length", settings.max_message_bytes),
            ("grpc.max_receive_message_length", settings.max_message_bytes),
            # Two processes must not silently share one port.
            ("grpc.so_reuseport", 0),
        ],
        maximum_concurrent_rpcs=settings.max_concurrent_rpcs,
    )


class GenericRegistrar:
    """The server as generated ``add_XServicer_to_server`` functions see it.

    They register every method twice: as a generic handler and as a "registered method".
    grpc.aio keeps one pending request per registered method and waits on all of them
    (``asyncio.wait``) for every incoming call, so each method of each service, health and
    reflection included, adds to the cost of every RPC. Served through generic handlers
    only, every method behaves the same and a call waits on a single pending request.
    """

    def __init__(self, server: Any) -> None:
        self._server = server
        self._generic_services: dict[str, None] = {}  # an ordered set

    @property
    def services(self) -> list[str]:
        """Full names of the services registered, in order: what health and reflection name."""
        return list(self._generic_services)

    def add_generic_rpc_handlers(self, handlers: Sequence[grpc.GenericRpcHandler]) -> None:
        for handler in handlers:
            service_name = getattr(handler, "service_name", None)
            if callable(service_name):
                self._generic_services[service_name()] = None
        self._server.add_generic_rpc_handlers(handlers)

    def add_registered_method_handlers(
        self, service_name: str, method_handlers: dict[str, grpc.RpcMethodHandler]
    ) -> None:
        # Generated code has already added the same methods as a generic handler; serve them
        # that way only, and generically anyway should generated code ever stop doing so.
        if service_name in self._generic_services:
            return
        generic = grpc.method_handlers_generic_handler(service_name, method_handlers)
        self.add_generic_rpc_handlers((generic,))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._server, name)


async def start(spec: ServiceSpec, settings: ServerSettings) -> RunningServer:
    """Build, bind and start the server, then start readiness polling and background tasks."""
    metrics = server_metrics(spec, settings)
    jwks, closers = key_source(spec, settings)
    if closers:
        spec.closers = [*spec.closers, *closers]
    deny_set = spec.revocations.deny_set if spec.revocations is not None else None
    tokens = TokenVerifier(jwks, settings.tokens, revocations=deny_set)
    server = build_server(spec, settings, metrics, tokens)
    registrar = GenericRegistrar(server)
    for add_servicer, servicer in spec.servicers:
        add_servicer(servicer, registrar)
    # Named by the generated code that registered them, never by a hand-kept list.
    registered = registrar.services
    service_names = [*registered, *(n for n in spec.service_names if n not in registered)]
    health = grpc_health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health, registrar)
    # What reflection.enable_server_reflection does for a grpc.aio server (it picks the
    # servicer by the server's type, which the registrar is not).
    reflection_pb2_grpc.add_ServerReflectionServicer_to_server(
        reflection.aio.ReflectionServicer(
            [*service_names, grpc_health.SERVICE_NAME, reflection.SERVICE_NAME]
        ),
        registrar,
    )
    endpoint: MetricsEndpoint | None = None
    health_server: Any = None
    health_port: int | None = None
    # Before the first readiness round, which waits for the deny set's first load.
    feed = _start_revocation_feed(spec)
    try:
        port = _bind(server, settings.bind, settings.tls)
        if settings.health_bind is not None:
            health_server, health_port = _health_listener(health, settings.health_bind)
        if settings.metrics_bind is not None:
            endpoint = await MetricsEndpoint.start(metrics, settings.metrics_bind)
        readiness = Readiness(
            health,
            service_names,
            probes(spec),
            interval=settings.readiness_interval_seconds,
            serving_gauge=metrics.serving(),
        )
        # The first round runs before start, so no caller ever sees SERVING with a dead dependency.
        await readiness.check()
        await health.set(LIVENESS, SERVING)
        await server.start()
        if health_server is not None:
            await health_server.start()
    except BaseException:
        if feed is not None:
            feed.cancel()
        await server.stop(None)
        if health_server is not None:
            await health_server.stop(None)
        if endpoint is not None:
            await endpoint.close()
        await _run_closers(spec.closers)
        raise
    running = RunningServer(
        spec, server, port, health, readiness, metrics, endpoint, health_server, health_port
    )
    if feed is not None:
        running._tasks.append(feed)
    running._spawn(functools.partial(supervise, readiness.poll, name="readiness"), "readiness")
    # Process and runtime metrics: the pool and NATS client read at scrape, the loop sampled.
    metrics.watch(database=spec.database, nats=spec.nats)
    if (lag := metrics.loop_lag()) is not NULL:
        watcher = functools.partial(watch_event_loop, lag)
        running._spawn(functools.partial(supervise, watcher, name="event-loop"), "event-loop")
    if spec.database is not None:
        pruning = functools.partial(run_pruning, spec.database, settings.retention, metrics=metrics)
        running._spawn(functools.partial(supervise, pruning, name="pruning"), "pruning")
    for factory in spec.background:
        running._spawn(functools.partial(supervise, factory), task_name(factory))
    if settings.tls is None:
        logger.warning(
            "PLAINTEXT: no TLS_CERT_FILE/TLS_KEY_FILE/TLS_CA_FILE given; callers are not"
            " authenticated and no caller has a workload identity (service powers refused)."
            " Only for tests and local experiments.",
            extra={"bind": settings.bind},
        )
    logger.info("serving", extra={"bind": settings.bind, "port": port, "mtls": bool(settings.tls)})
    return running


def key_source(
    spec: ServiceSpec, settings: ServerSettings
) -> tuple[JwksSource | None, list[Callable[[], Awaitable[None]]]]:
    """Where the server reads identity's keys, and what to close on stop."""
    if spec.jwks is not None:
        return spec.jwks, []
    target = settings.tokens.identity_target
    if target is None:
        return None, []
    channel = clients.channel(target, settings.tls)
    return identity_jwks(channel), [channel.close]


def probes(spec: ServiceSpec) -> list[Probe]:
    """Readiness probes: one per dependency the spec names, then the spec's own."""
    found: list[Probe] = []
    if spec.database is not None:
        found.append(database_probe(spec.database))
    if spec.nats is not None:
        found.append(nats_probe(spec.nats))
    if spec.revocations is not None:
        found.append(spec.revocations.ready)
    return [*found, *spec.readiness]


def _start_revocation_feed(spec: ServiceSpec) -> asyncio.Task[None] | None:
    if spec.revocations is None:
        return None
    return asyncio.create_task(
        supervise(spec.revocations.run, name="revocations"), name="revocations"
    )


def server_metrics(spec: ServiceSpec, settings: ServerSettings) -> Metrics:
    """The spec's metrics; else a registry of this server's own while the endpoint is on."""
    if spec.metrics is not None:
        return spec.metrics
    return Metrics(spec.name) if settings.metrics_bind is not None else NO_METRICS


def _bind(server: Any, bind: str, tls: TlsSettings | None = None) -> int:
    try:
        if tls is None:
            port = int(server.add_insecure_port(bind))
        else:
            port = int(server.add_secure_port(bind, server_credentials(tls)))
    except RuntimeError as exc:
        raise OSError(f"cannot listen on {bind}") from exc
    if port == 0:
        raise OSError(f"cannot listen on {bind}")
    return port


def _health_listener(health: grpc_health.aio.HealthServicer, bind: str) -> tuple[Any, int]:
    """A plaintext server with grpc.health.v1 only, sharing the main server's statuses.

    For probes that cannot present a client certificate (the kubelet's gRPC probe): health
    tells nothing secret, and nothing else is served here.
    """
    health_server = grpc.aio.server(options=[("grpc.so_reuseport", 0)])
    health_pb2_grpc.add_HealthServicer_to_server(health, health_server)
    return health_server, _bind(health_server, bind)


async def serve(spec: ServiceSpec, settings: ServerSettings) -> None:
    """Serve until SIGTERM or SIGINT, then shut down gracefully.

    NOT_SERVING first, still taking calls for ``drain_seconds``, then in-flight calls get
    ``grace_seconds``. A second signal ends the drain window at once.

    Traces: the process's spans go where ``TracingSettings`` (read from the environment
    here) says, as ``spec.name``; nowhere when no exporter is configured.
    """
    tracing.configure(spec.name, load(TracingSettings.from_env))
    try:
        await _serve(spec, settings)
    finally:
        tracing.shutdown()  # exports the spans still queued


async def _serve(spec: ServiceSpec, settings: ServerSettings) -> None:
    running = await start(spec, settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    signals = (signal.SIGTERM, signal.SIGINT)

    def on_signal() -> None:
        if stop.is_set():
            running.end_drain()
        stop.set()

    for sig in signals:
        loop.add_signal_handler(sig, on_signal)
    try:
        await stop.wait()
        logger.info("signal received")
        await running.stop(settings.grace_seconds, drain=settings.drain_seconds)
    finally:
        for sig in signals:
            loop.remove_signal_handler(sig)
        await running.stop(settings.grace_seconds)
