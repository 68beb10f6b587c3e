"""A service as the runtime assembles it: the settings every service reads, its definition
(name, schema, settings, build), and the assembly a bootstrap asks for what it needs.

A bootstrap wires its own handlers and nothing else::

    async def build(config: ItemsConfig) -> ServiceSpec:
        async with Assembly("items", config) as service:
            handlers = ItemHandlers(lambda: SqlUnitOfWork(service.engine, codec))
            for subscription in enrichment_subscriptions(...):
                service.consume(subscription)
            service.every(job, interval_s=60, name="sweep")
            return service.spec(servicers, ERROR_MAP)

The runtime connects PostgreSQL and NATS, declares the one stream the service publishes to
(a consumer waits for its producer's stream instead of declaring it), relays the outbox,
runs each consumer with the dead-letter stream and each job on the periodic helper, follows
every dependency in readiness, watches revocations, prunes the outbox and inbox
(``ServerSettings.retention``), and closes everything in order on stop, or at once when
wiring fails halfway. ``keel_runtime.cli.main`` is every service's ``python -m <svc>``.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Generic, Self, TypeVar

from nats.aio.client import Client as Nats
from nats.js import JetStreamContext
from sqlalchemy.ext.asyncio import AsyncEngine

from keel_runtime import clients, db
from keel_runtime.errors import ErrorMap
from keel_runtime.events import (
    Consumer,
    OutboxRelay,
    StreamSettings,
    Subscription,
    connect_nats,
    ensure_stream,
)
from keel_runtime.events.revocation_feed import RevocationFeed
from keel_runtime.metrics import Metrics
from keel_runtime.migrations import Schema
from keel_runtime.periodic import run_periodically
from keel_runtime.server import AddServicer, ServiceSpec
from keel_runtime.settings import env_float, env_str, env_url, tls_from_env
from keel_runtime.tls import TlsSettings
from keel_runtime.tokens import JwksSource

logger = logging.getLogger("keel.service")

Task = Callable[[], Awaitable[None]]
R = TypeVar("R")

DATABASE_SCHEMES = ("postgresql", "postgres")
NATS_SCHEMES = ("nats", "tls")
FIRST_PASS_SPREAD_S = 2.0
"""A service's periodic jobs make their first pass within this, at random, not all at start."""


@dataclass(frozen=True, kw_only=True)
class ServiceConfig:
    """What every service reads the same way; a service's own settings subclass it."""

    database_url: str
    """The service's own database (``DATABASE_URL``), as its runtime role."""
    nats_url: str | None = None
    """JetStream (``NATS_URL``). None: no events; the outbox fills, nothing relays it and no
    consumer runs (component tests of the gRPC surface alone)."""
    tls: TlsSettings | None = None
    """This workload's certificate (``TLS_CERT_FILE``, ``TLS_KEY_FILE``, ``TLS_CA_FILE``), the
    one its gRPC server uses; presented to a ``tls://`` NATS_URL and to the services it calls."""
    streams: StreamSettings = field(default_factory=StreamSettings)
    """Replicas of the streams the service declares (``NATS_STREAM_REPLICAS``)."""
    outbox_poll_interval_s: float = 0.2
    """How often the relay looks for new outbox rows (``OUTBOX_POLL_INTERVAL_SECONDS``)."""
    log_level: str = "INFO"
    """``LOG_LEVEL``."""

    @classmethod
    def read_env(cls, *, nats_required: bool = True, **own: Any) -> Self:
        """The shared settings from the environment, plus ``own`` (the subclass's fields).

        Call it inside ``keel_runtime.settings.load`` so every problem is reported at once.
        """
        nats_url: str | None = None
        if nats_required or env_str("NATS_URL", ""):
            nats_url = env_url("NATS_URL", schemes=NATS_SCHEMES)
        return cls(
            database_url=env_url("DATABASE_URL", schemes=DATABASE_SCHEMES),
            nats_url=nats_url,
            tls=tls_from_env(),
            streams=StreamSettings.from_env(),
            outbox_poll_interval_s=env_float("OUTBOX_POLL_INTERVAL_SECONDS", 0.2, min=0.01, max=60),
            log_level=env_str("LOG_LEVEL", "INFO"),
            **own,
        )


C = TypeVar("C", bound=ServiceConfig)


@dataclass(frozen=True)
class ServiceDefinition(Generic[C]):
    """What a service declares to be run by ``keel_runtime.cli.main``."""

    name: str
    schema: Schema
    config: Callable[[], C]
    """Reads the service's settings from the environment."""
    build: Callable[[C], Awaitable[ServiceSpec]]
    """Its composition root: an ``Assembly`` and the service's own handlers."""


class Assembly:
    """The runtime's half of a bootstrap: connections, streams, relay, consumers, jobs.

    ``async with`` it: leaving the block by an exception closes whatever was opened, so a
    start that fails halfway (NATS unreachable, a key that cannot load) leaks nothing. On a
    normal exit ``spec()`` has handed everything to the server, which closes it on stop.
    """

    def __init__(self, name: str, config: ServiceConfig, *, publishes: str | None = None) -> None:
        self.name = name
        self.config = config
        self.metrics = Metrics(name)
        """Shared by the server, the relay, the consumers and the jobs."""
        self.engine: AsyncEngine = db.create_engine(config.database_url)
        self.nats: Nats | None = None
        self._js: JetStreamContext | None = None
        self._stream = publishes or name
        self._background: list[Task] = []
        self._closers: list[Task] = []
        self._revocations: RevocationFeed | None = None

    async def __aenter__(self) -> Self:
        if self.config.nats_url is None:
            return self
        try:
            self.nats, self._js = await connect_nats(
                self.config.nats_url, name=self.name, tls=self.config.tls
            )
            # The producer owns its stream: declared here, by no consumer.
            await ensure_stream(self._js, self.config.streams.service_stream(self._stream))
        except BaseException:
            await self.close()
            raise
        relay = OutboxRelay(
            self.engine,
            self._js,
            poll_interval=self.config.outbox_poll_interval_s,
            metrics=self.metrics,
        )
        self._background.append(relay.run)
        self._revocations = RevocationFeed(self._js)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is not None:
            await self.close()

    @property
    def events(self) -> bool:
        """Whether the service is connected to JetStream (``nats_url`` set)."""
        return self._js is not None

    @property
    def jetstream(self) -> JetStreamContext:
        if self._js is None:
            raise RuntimeError(f"{self.name} runs without NATS (NATS_URL unset)")
        return self._js

    def consume(self, subscription: Subscription) -> None:
        """Run a durable consumer for ``subscription`` (dead letters to the DLQ stream).

        Without NATS nothing is consumed.
        """
        if self._js is None:
            return
        consumer = Consumer(
            self.engine,
            self._js,
            subscription,
            dead_letter_stream=self.config.streams.dead_letter_stream(),
            metrics=self.metrics,
        )
        self._background.append(consumer.run)

    def every(
        self,
        job: Callable[[], Awaitable[R]],
        *,
        interval_s: float,
        name: str,
        again: Callable[[R], bool] | None = None,
    ) -> None:
        """Run ``job`` every ``interval_s``; a failing pass is logged and counted, never
        stops the next (``keel_runtime.periodic``; ``ItemRunner`` isolates items within one).
        The first pass comes within ``FIRST_PASS_SPREAD_S`` (or the interval, if shorter)."""
        self._background.append(
            functools.partial(
                run_periodically,
                job,
                interval_s=interval_s,
                name=name,
                metrics=self.metrics,
                again=again,
                first_within_s=min(interval_s, FIRST_PASS_SPREAD_S),
            )
        )

    def run(self, task: Task) -> None:
        """Run ``task`` for the server's lifetime, restarted after a crash."""
        self._background.append(task)

    def close_with(self, closer: Task) -> None:
        """Run ``closer`` on stop, before NATS drains and the engine is disposed."""
        self._closers.append(closer)

    def channel(self, target: str) -> Any:
        """A channel to another Keel service under this workload's certificate, closed on stop."""
        channel = clients.channel(target, self.config.tls)
        self.close_with(channel.close)
        return channel

    def spec(
        self,
        servicers: Sequence[tuple[AddServicer, object]],
        error_map: ErrorMap,
        *,
        jwks: JwksSource | None = None,
        readiness: Sequence[Callable[[], Awaitable[bool]]] = (),
    ) -> ServiceSpec:
        """Everything the server runs: the servicers, and all this assembly opened."""
        return ServiceSpec(
            name=self.name,
            servicers=servicers,
            error_map=error_map,
            background=list(self._background),
            closers=self._all_closers(),
            readiness=readiness,
            database=self.engine,
            nats=self.nats,
            metrics=self.metrics,
            jwks=jwks,
            revocations=self._revocations,
        )

    def _all_closers(self) -> list[Task]:
        closers = list(self._closers)
        if self.nats is not None:
            closers.append(self.nats.drain)
        closers.append(self.engine.dispose)
        return closers

    async def close(self) -> None:
        """Close what was opened, now (a failed start)."""
        for closer in self._closers:
            try:
                await closer()
            except Exception:
                # The start already failed with the error that matters; note this one only.
                logger.warning("closer failed after a failed start", exc_info=True)
        if self.nats is not None:
            await self.nats.close()
        await self.engine.dispose()
