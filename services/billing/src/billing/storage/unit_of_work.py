"""Units of work over PostgreSQL: one per command, or bound to a consumer's transaction."""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import Self

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from billing.app.ports import Clock
from billing.domain.events import DomainEvent
from billing.events.codec import to_envelope
from billing.storage.repositories import (
    DeliveryRepository,
    IdempotencyRepository,
    InvoiceRepository,
    PlanRepository,
    SubscriptionRepository,
    UsageRepository,
    WebhookRepository,
)
from keel_runtime import db
from keel_runtime.events import Envelope, append


class _Repositories:
    """Repositories bound to one connection, plus the events recorded meanwhile."""

    def _bind(self, conn: AsyncConnection, clock: Clock) -> None:
        self.plans = PlanRepository(conn)
        self.subscriptions = SubscriptionRepository(conn)
        self.usage = UsageRepository(conn)
        self.invoices = InvoiceRepository(conn)
        self.webhooks = WebhookRepository(conn)
        self.idempotency = IdempotencyRepository(conn, clock())
        self.deliveries = DeliveryRepository(conn)
        self._events: list[DomainEvent] = []

    def record(self, *events: DomainEvent) -> None:
        self._events.extend(events)

    def _envelopes(self) -> list[Envelope]:
        envelopes = [to_envelope(event) for event in self._events]
        self._events.clear()
        return envelopes


class SqlUnitOfWork(_Repositories):
    """Its own transaction: rolls back unless committed; events go to the outbox on commit."""

    def __init__(self, engine: AsyncEngine, clock: Clock) -> None:
        self._runtime = db.UnitOfWork(engine)
        self._clock = clock

    async def __aenter__(self) -> Self:
        await self._runtime.__aenter__()
        self._bind(self._runtime.connection, self._clock)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._runtime.__aexit__(exc_type, exc, tb)

    async def commit(self) -> None:
        self._runtime.publish(*self._envelopes())
        await self._runtime.commit()


class BoundUnitOfWork(_Repositories):
    """Runs inside a transaction someone else owns (an event consumer's, with its inbox row).

    commit() only writes the outbox rows; the owner commits or rolls back.
    """

    def __init__(self, conn: AsyncConnection, clock: Clock) -> None:
        self._conn = conn
        self._bind(conn, clock)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None

    async def commit(self) -> None:
        envelopes = self._envelopes()
        if envelopes:
            await append(self._conn, envelopes)


def sql_unit_of_work_factory(engine: AsyncEngine, clock: Clock) -> Callable[[], SqlUnitOfWork]:
    return lambda: SqlUnitOfWork(engine, clock)
