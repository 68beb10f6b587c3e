"""Units of work over PostgreSQL: one per command, or bound to a consumer's transaction."""

from __future__ import annotations

from collections.abc import Callable

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


class SqlUnitOfWork(_Repositories, CommandUnitOfWork[DomainEvent]):
    """Its own transaction: rolls back unless committed; events go to the outbox on commit.

    With ``read_only``, no transaction: each statement runs in its own read-only one, acting
    for the same organization (for queries that need no single snapshot and take no locks).
    """

    def __init__(self, engine: AsyncEngine, clock: Clock, *, read_only: bool = False) -> None:
        self._clock = clock
        super().__init__(engine, to_envelope, read_only=read_only)


class BoundUnitOfWork(_Repositories, JoinedUnitOfWork[DomainEvent]):
    """Runs inside a transaction someone else owns (an event consumer's, with its inbox row).

    commit() only writes the outbox rows; the owner commits or rolls back.
    """

    def __init__(self, conn: AsyncConnection, clock: Clock) -> None:
        self._clock = clock
        super().__init__(conn, to_envelope)


def sql_unit_of_work_factory(
    engine: AsyncEngine, clock: Clock, *, read_only: bool = False
) -> Callable[[], SqlUnitOfWork]:
    return lambda: SqlUnitOfWork(engine, clock, read_only=read_only)
