"""Units of work over PostgreSQL: one per command, or bound to a consumer's transaction."""

from __future__ import annotations

from collections.abc import Callable, Sequence

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
from keel_runtime.db import CommandUnitOfWork, JoinedUnitOfWork
from keel_runtime.events import Envelope


class _Repositories:
    """The billing repositories, on the unit of work's connection."""

    _clock: Clock

    def bind_repositories(self, connection: AsyncConnection) -> None:
        self.plans = PlanRepository(connection)
        self.subscriptions = SubscriptionRepository(connection)
        self.usage = UsageRepository(connection)
        self.invoices = InvoiceRepository(connection)
        self.webhooks = WebhookRepository(connection)
        self.idempotency = IdempotencyRepository(connection, self._clock())
        self.deliveries = DeliveryRepository(connection)

    async def _queue_webhook_deliveries(
        self, connection: AsyncConnection, envelopes: Sequence[Envelope]
    ) -> None:
        """The event sink: the webhook deliveries of the events a transaction commits, written
        in that transaction (exactly once with them, and never without them). ``connection``
        is the one the repositories were bound to."""
        await self.deliveries.enqueue_events(envelopes, self._clock())


class SqlUnitOfWork(_Repositories, CommandUnitOfWork[DomainEvent]):
    """Its own transaction: rolls back unless committed; events go to the outbox on commit,
    with their webhook deliveries.

    With ``read_only``, no transaction: each statement runs in its own read-only one, acting
    for the same organization (for queries that need no single snapshot and take no locks).
    """

    def __init__(self, engine: AsyncEngine, clock: Clock, *, read_only: bool = False) -> None:
        self._clock = clock
        super().__init__(
            engine, to_envelope, read_only=read_only, event_sink=self._queue_webhook_deliveries
        )


class BoundUnitOfWork(_Repositories, JoinedUnitOfWork[DomainEvent]):
    """Runs inside a transaction someone else owns (an event consumer's, with its inbox row).

    commit() only writes the outbox rows and their webhook deliveries; the owner commits or
    rolls back.
    """

    def __init__(self, conn: AsyncConnection, clock: Clock) -> None:
        self._clock = clock
        super().__init__(conn, to_envelope, event_sink=self._queue_webhook_deliveries)


def sql_unit_of_work_factory(
    engine: AsyncEngine, clock: Clock, *, read_only: bool = False
) -> Callable[[], SqlUnitOfWork]:
    return lambda: SqlUnitOfWork(engine, clock, read_only=read_only)
