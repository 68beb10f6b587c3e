"""Domain events billing records; the codec turns them into keel.billing.v1 messages."""

from __future__ import annotations

from dataclasses import dataclass

from billing.domain.invoice import Invoice
from billing.domain.money import Money
from billing.domain.subscription import Subscription
from billing.domain.usage import UsageRecord


@dataclass(frozen=True, slots=True)
class SubscriptionCreated:
    subscription: Subscription


@dataclass(frozen=True, slots=True)
class SubscriptionChanged:
    subscription: Subscription
    previous_plan_id: str
    proration: Money


@dataclass(frozen=True, slots=True)
class SubscriptionCanceled:
    subscription: Subscription


@dataclass(frozen=True, slots=True)
class UsageRecorded:
    record: UsageRecord


@dataclass(frozen=True, slots=True)
class InvoiceIssued:
    invoice: Invoice


@dataclass(frozen=True, slots=True)
class InvoicePaid:
    invoice: Invoice


@dataclass(frozen=True, slots=True)
class InvoicePaymentFailed:
    invoice: Invoice
    reason: str


@dataclass(frozen=True, slots=True)
class InvoiceMarkedUncollectible:
    invoice: Invoice


DomainEvent = (
    SubscriptionCreated
    | SubscriptionChanged
    | SubscriptionCanceled
    | UsageRecorded
    | InvoiceIssued
    | InvoicePaid
    | InvoicePaymentFailed
    | InvoiceMarkedUncollectible
)
