"""Composition root: billing's handlers, jobs, consumers and servicers on the runtime."""

from __future__ import annotations

from collections.abc import Callable, Sequence
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
from sqlalchemy.ext.asyncio import AsyncEngine

from billing.adapters.ledger_client import GrpcLedger
from billing.adapters.webhook_sender import HttpWebhookSender
from billing.adapters.webhook_targets import WebhookTargets
from billing.app.dunning import DUNNING_JOB, Dunning
from billing.app.invoices import InvoiceHandlers
from billing.app.overview import OverviewHandlers
from billing.app.payment_reconciler import COMPLETE_JOB, PaymentReconciler
from billing.app.period_closer import CLOSE_JOB, PeriodCloser
from billing.app.plans import PlanHandlers
from billing.app.ports import Clock, Ledger
from billing.app.subscriptions import SubscriptionHandlers
from billing.app.usage import UsageHandlers
from billing.app.webhook_delivery import DELIVERY_JOB, WebhookDispatcher
from billing.app.webhooks import WebhookHandlers
from billing.config import Config
from billing.domain.invoice import DEFAULT_RETRY_SCHEDULE
from billing.events.subscribers import subscriptions
from billing.storage.schema import SCHEMA
from billing.storage.uow import sql_unit_of_work_factory
from billing.transport.errors import ERROR_MAP
from billing.transport.invoices import InvoiceServicer
from billing.transport.overview import BillingOverviewServicer
from billing.transport.plans import PlanServicer
from billing.transport.subscriptions import SubscriptionServicer
from billing.transport.usage import UsageServicer
from billing.transport.webhooks import WebhookServicer
from keel_runtime.ids import new_id
from keel_runtime.server import ServiceSpec
from keel_runtime.service import Assembly, ServiceDefinition

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
    # The pure reads: each statement its own read-only transaction, in one round trip.
    reads = sql_unit_of_work_factory(engine, clock, read_only=True)
    return Handlers(
        plans=PlanHandlers(uow, clock, reads=reads),
        subscriptions=SubscriptionHandlers(uow, clock, ids, reads=reads),
        usage=UsageHandlers(uow, clock, ids, reads=reads),
        invoices=InvoiceHandlers(
            uow, ledger, clock, ids, retry_schedule=retry_schedule, reads=reads
        ),
        overview=OverviewHandlers(uow, ledger, reads=reads),
        # No allowed hosts unless the operator names some: every private address refused.
        webhooks=WebhookHandlers(uow, clock, ids, webhook_targets or WebhookTargets(), reads=reads),
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


async def build(config: Config) -> ServiceSpec:
    """Everything billing runs; nothing connects at import time."""
    async with Assembly(SERVICE, config) as service:
        # Its own certificate: ledger knows billing is calling from it, not from a header.
        ledger = GrpcLedger(
            service.channel(config.ledger_target),
            timeout_s=config.ledger_timeout_s,
            revenue_account_id=config.revenue_account_id,
            platform_org_id=config.platform_org_id,
        )
        targets = WebhookTargets(config.webhook_allowed_hosts)
        handlers = build_handlers(
            service.engine, ledger, retry_schedule=config.dunning_schedule, webhook_targets=targets
        )
        unit_of_work = sql_unit_of_work_factory(service.engine, utc_now)
        metrics = service.metrics
        sender = HttpWebhookSender(targets)
        service.close_with(sender.close)
        dispatcher = WebhookDispatcher(unit_of_work, sender, utc_now, metrics=metrics)
        # Pauses only when nothing was due: a busy queue is worked through at once.
        service.every(
            dispatcher.dispatch_due,
            interval_s=1.0,
            name=DELIVERY_JOB,
            again=lambda attempted: attempted > 0,
        )
        closer = PeriodCloser(unit_of_work, handlers.invoices, utc_now, new_id, metrics=metrics)
        service.every(closer.close_and_collect, interval_s=config.close_interval_s, name=CLOSE_JOB)
        dunning = Dunning(unit_of_work, handlers.invoices, utc_now, metrics=metrics)
        service.every(dunning.retry_due, interval_s=config.dunning_interval_s, name=DUNNING_JOB)
        reconciler = PaymentReconciler(unit_of_work, ledger, utc_now, metrics=metrics)
        service.every(
            reconciler.reconcile, interval_s=config.reconcile_interval_s, name=COMPLETE_JOB
        )
        for subscription in subscriptions(handlers.subscriptions, handlers.usage, utc_now):
            service.consume(subscription)
        return service.spec(servicers(handlers), ERROR_MAP)


DEFINITION = ServiceDefinition(SERVICE, SCHEMA, Config.from_env, build)
