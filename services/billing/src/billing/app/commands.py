"""Commands and queries billing handles, one per call; each carries its caller."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from billing.domain.invoice import InvoiceState
from billing.domain.plan import Interval
from billing.domain.pricing import Aggregation, Price
from billing.domain.subscription import SubscriptionState
from keel_runtime.caller import Caller
from keel_runtime.idempotency import fingerprint

# Plans: the catalogue is every tenant's; changing it is the platform's.


@dataclass(frozen=True, slots=True)
class CreatePlan:
    caller: Caller
    plan_id: str
    display_name: str
    currency: str
    interval: Interval
    prices: tuple[Price, ...]
    # Idempotency key (AIP-155); empty for none.
    request_id: str = ""

    def fingerprint(self) -> str:
        """Identifies the payload, to tell a retry from a reused request id."""
        return fingerprint(
            {
                "plan_id": self.plan_id,
                "display_name": self.display_name,
                "currency": self.currency,
                "interval": self.interval.value,
                "prices": [repr(p) for p in self.prices],
            }
        )


@dataclass(frozen=True, slots=True)
class GetPlan:
    caller: Caller
    plan_id: str


@dataclass(frozen=True, slots=True)
class ListPlans:
    caller: Caller
    show_archived: bool = False
    page_size: int = 0
    page_token: str = ""


@dataclass(frozen=True, slots=True)
class ArchivePlan:
    caller: Caller
    plan_id: str


# Subscriptions.


@dataclass(frozen=True, slots=True)
class CreateSubscription:
    caller: Caller
    plan_id: str
    request_id: str = ""


@dataclass(frozen=True, slots=True)
class GetSubscription:
    caller: Caller
    subscription_id: str


@dataclass(frozen=True, slots=True)
class ListSubscriptions:
    caller: Caller
    state: SubscriptionState | None = None
    page_size: int = 0
    page_token: str = ""


@dataclass(frozen=True, slots=True)
class ChangePlan:
    caller: Caller
    subscription_id: str
    plan_id: str
    request_id: str = ""


@dataclass(frozen=True, slots=True)
class CancelSubscription:
    caller: Caller
    subscription_id: str
    at_period_end: bool = False


# Invoices.


@dataclass(frozen=True, slots=True)
class CloseBillingPeriod:
    caller: Caller
    subscription_id: str
    request_id: str = ""


@dataclass(frozen=True, slots=True)
class GetInvoice:
    caller: Caller
    invoice_id: str


@dataclass(frozen=True, slots=True)
class ListInvoices:
    caller: Caller
    state: InvoiceState | None = None
    page_size: int = 0
    page_token: str = ""


@dataclass(frozen=True, slots=True)
class PayInvoice:
    caller: Caller
    invoice_id: str


@dataclass(frozen=True, slots=True)
class VoidInvoice:
    caller: Caller
    invoice_id: str


# Usage.


@dataclass(frozen=True, slots=True)
class UsageInput:
    """One usage event as reported (a part of a command, not one itself)."""

    metric: str
    quantity: int
    dedup_key: str
    event_time: datetime | None = None
    distinct_value: str = ""


@dataclass(frozen=True, slots=True)
class RecordUsage:
    caller: Caller
    usage: UsageInput


@dataclass(frozen=True, slots=True)
class RecordUsageBatch:
    caller: Caller
    usages: tuple[UsageInput, ...]


@dataclass(frozen=True, slots=True)
class GetUsageSummary:
    caller: Caller
    metrics: tuple[str, ...] = ()
    # Either bound left out: the active subscription's open period's.
    start: datetime | None = None
    end: datetime | None = None
    # None: each metric's plan aggregation (sum for metrics the plan does not price).
    aggregation: Aggregation | None = None


# Webhooks.


@dataclass(frozen=True, slots=True)
class CreateWebhookEndpoint:
    caller: Caller
    url: str
    event_types: tuple[str, ...] = ()
    description: str = ""
    request_id: str = ""


@dataclass(frozen=True, slots=True)
class ListWebhookEndpoints:
    caller: Caller
    page_size: int = 0
    page_token: str = ""


@dataclass(frozen=True, slots=True)
class DeleteWebhookEndpoint:
    caller: Caller
    webhook_endpoint_id: str


@dataclass(frozen=True, slots=True)
class ListWebhookDeliveries:
    caller: Caller
    webhook_endpoint_id: str
    page_size: int = 0
    page_token: str = ""


@dataclass(frozen=True, slots=True)
class RedeliverWebhook:
    caller: Caller
    webhook_endpoint_id: str
    delivery_id: str


# The overview.


@dataclass(frozen=True, slots=True)
class GetBillingOverview:
    caller: Caller
