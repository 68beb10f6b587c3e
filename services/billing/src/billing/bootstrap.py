"""Composition root: engine, NATS, ledger channel, handlers, servicers -> a ServiceSpec."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from keel.billing.v1 import (
    billing_overview_service_pb2_grpc,
    invoice_service_pb2_grpc,
    plan_service_pb2_grpc,
    subscription_service_pb2_grpc,
    usage_service_pb2_grpc,
    webhook_service_pb2_grpc,
)
from nats.aio.client import Client as NatsClient
from sqlalchemy.ext.asyncio import AsyncEngine

from billing.app.dunning import Dunning
from billing.app.invoices import InvoiceHandlers
from billing.app.overview import OverviewHandlers
from billing.app.payment_reconciler import PaymentReconciler
from billing.app.period_closer import PeriodCloser
from billing.app.plans import PlanHandlers
from billing.app.ports import Clock, Ledger
from billing.app.subscriptions import SubscriptionHandlers
from billing.app.usage import UsageHandlers
from billing.app.webhook_delivery import WebhookDispatcher
from billing.app.webhooks import WebhookHandlers
from billing.config import Config
from billing.domain.invoice import DEFAULT_RETRY_SCHEDULE
from billing.events.subscribers import subscriptions
from billing.storage.unit_of_work import sql_unit_of_work_factory
from billing.transport.errors import ERROR_MAP
from billing.transport.invoices import InvoiceServicer
from billing.transport.ledger_client import GrpcLedger
from billing.transport.overview import BillingOverviewServicer
from billing.transport.plans import PlanServicer
from billing.transport.subscriptions import SubscriptionServicer
from billing.transport.usage import UsageServicer
from billing.transport.webhook_sender import HttpWebhookSender
from billing.transport.webhook_targets import WebhookTargets
from billing.transport.webhooks import WebhookServicer
from keel_runtime import clients, db
from keel_runtime.events import Consumer, OutboxRelay, connect_nats, ensure_stream
from keel_runtime.events.revocation_feed import RevocationFeed
from keel_runtime.ids import new_id
from keel_runtime.metrics import Metrics
from keel_runtime.server import ServiceSpec

SERVICE = "billing"


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Handlers:
    plans: PlanHandlers
    subscriptions: SubscriptionHandlers
    usage: UsageHandlers
    invoices: InvoiceHandlers
    overview: OverviewHandlers
    webhooks: WebhookHandlers


def build_handlers(
    engine: AsyncEngine,
    ledger: Ledger,
    clock: Clock = utc_now,
    ids: Callable[[], str] = new_id,
    *,
    retry_schedule: Sequence[timedelta] = DEFAULT_RETRY_SCHEDULE,
    webhook_targets: WebhookTargets | None = None,
) -> Handlers:
    uow = sql_unit_of_work_factory(engine, clock)
    return Handlers(
        plans=PlanHandlers(uow, clock),
        subscriptions=SubscriptionHandlers(uow, clock, ids),
        usage=UsageHandlers(uow, clock, ids),
        invoices=InvoiceHandlers(uow, ledger, clock, ids, retry_schedule=retry_schedule),
        overview=OverviewHandlers(uow, ledger),
        # No allowed hosts unless the operator names some: every private address refused.
        webhooks=WebhookHandlers(uow, clock, ids, webhook_targets or WebhookTargets()),
    )


def servicers(handlers: Handlers) -> list[tuple[Callable[[Any, Any], None], object]]:
    return [
        (plan_service_pb2_grpc.add_PlanServiceServicer_to_server, PlanServicer(handlers.plans)),
        (
            subscription_service_pb2_grpc.add_SubscriptionServiceServicer_to_server,
            SubscriptionServicer(handlers.subscriptions),
        ),
        (usage_service_pb2_grpc.add_UsageServiceServicer_to_server, UsageServicer(handlers.usage)),
        (
            invoice_service_pb2_grpc.add_InvoiceServiceServicer_to_server,
            InvoiceServicer(handlers.invoices),
        ),
        (
            webhook_service_pb2_grpc.add_WebhookServiceServicer_to_server,
            WebhookServicer(handlers.webhooks),
        ),
        (
            billing_overview_service_pb2_grpc.add_BillingOverviewServiceServicer_to_server,
            BillingOverviewServicer(handlers.overview),
        ),
    ]


def service_spec(
    handlers: Handlers,
    *,
    background: Sequence[Callable[[], Awaitable[None]]] = (),
    closers: Sequence[Callable[[], Awaitable[None]]] = (),
    readiness: Sequence[Callable[[], Awaitable[bool]]] = (),
    database: AsyncEngine | None = None,
    nats: NatsClient | None = None,
    metrics: Metrics | None = None,
    revocations: RevocationFeed | None = None,
) -> ServiceSpec:
    return ServiceSpec(
        name=SERVICE,
        servicers=servicers(handlers),
        error_map=ERROR_MAP,
        background=background,
        closers=closers,
        readiness=readiness,
        database=database,
        nats=nats,
        metrics=metrics,
        revocations=revocations,
    )


async def build(config: Config) -> ServiceSpec:
    """Everything billing runs; nothing connects at import time."""
    engine = db.create_engine(config.database_url)
    # Its own certificate: ledger knows billing is calling from it, not from a header.
    channel = clients.channel(config.ledger_target, config.server.tls)
    ledger = GrpcLedger(
        channel,
        timeout_s=config.ledger_timeout_s,
        revenue_account_id=config.revenue_account_id,
        platform_org_id=config.platform_org_id,
    )
    targets = WebhookTargets(config.webhook_allowed_hosts)
    handlers = build_handlers(
        engine, ledger, retry_schedule=config.dunning_schedule, webhook_targets=targets
    )
    sender = HttpWebhookSender(targets)
    metrics = Metrics(SERVICE)
    dispatcher = WebhookDispatcher(
        sql_unit_of_work_factory(engine, utc_now), sender, utc_now, metrics=metrics
    )
    try:
        nc, js = await connect_nats(config.nats_url, name=SERVICE, tls=config.server.tls)
    except BaseException:
        await channel.close()
        await engine.dispose()
        raise
    await ensure_stream(js, config.streams.service_stream(SERVICE))
    closer = PeriodCloser(
        sql_unit_of_work_factory(engine, utc_now),
        handlers.invoices,
        utc_now,
        new_id,
        metrics=metrics,
    )
    dunning = Dunning(
        sql_unit_of_work_factory(engine, utc_now), handlers.invoices, utc_now, metrics=metrics
    )
    background: list[Callable[[], Awaitable[None]]] = [
        OutboxRelay(engine, js, metrics=metrics).run,
        dispatcher.run,
        functools.partial(closer.run, config.close_interval_s),
        functools.partial(dunning.run, config.dunning_interval_s),
        functools.partial(
            PaymentReconciler(
                sql_unit_of_work_factory(engine, utc_now), ledger, utc_now, metrics=metrics
            ).run,
            config.reconcile_interval_s,
        ),
    ]
    for spec in subscriptions(handlers.subscriptions, handlers.usage, utc_now):
        # The producer owns its stream; declaring the same spec here only lets billing
        # start first (ensure_stream is idempotent for an identical spec).
        await ensure_stream(js, config.streams.service_stream(spec.stream.lower()))
        background.append(
            Consumer(
                engine,
                js,
                spec,
                dead_letter_stream=config.streams.dead_letter_stream(),
                metrics=metrics,
            ).run
        )

    async def close_channel() -> None:
        await channel.close()

    return service_spec(
        handlers,
        background=background,
        closers=[close_channel, sender.close, nc.drain, engine.dispose],
        database=engine,
        nats=nc,
        metrics=metrics,
        revocations=RevocationFeed(js),
    )
