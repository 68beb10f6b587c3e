"""Repositories over one AsyncConnection (SQLAlchemy Core; hot paths stay off the ORM)."""

from billing.storage.repositories.idempotency import IdempotencyRepository
from billing.storage.repositories.invoices import InvoiceRepository
from billing.storage.repositories.plans import PlanRepository
from billing.storage.repositories.subscriptions import SubscriptionRepository
from billing.storage.repositories.usage import UsageRepository
from billing.storage.repositories.webhooks import DeliveryRepository, WebhookRepository

__all__ = [
    "DeliveryRepository",
    "IdempotencyRepository",
    "InvoiceRepository",
    "PlanRepository",
    "SubscriptionRepository",
    "UsageRepository",
    "WebhookRepository",
]
