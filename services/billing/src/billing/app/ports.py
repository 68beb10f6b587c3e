"""Ports the application layer needs; storage and the adapters implement them."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from billing.domain.events import DomainEvent
from billing.domain.invoice import Invoice, InvoiceState
from billing.domain.plan import Plan
from billing.domain.pricing import Aggregation
from billing.domain.subscription import Adjustment, Subscription, SubscriptionState
from billing.domain.usage import MetricUsage, TallyPeriod, UsageRecord
from billing.domain.webhook import Delivery, DeliveryRecord, WebhookEndpoint
from keel_runtime.ports import TransactionPort

Clock = Callable[[], datetime]
IdFactory = Callable[[], str]


class PlanRepository(Protocol):
    async def get(self, plan_id: str) -> Plan | None: ...
    async def get_default(self) -> Plan | None: ...
    async def add(
        self, plan: Plan, *, request_id: str | None = None, fingerprint: str | None = None
    ) -> bool:
        """Insert, with the request id and payload fingerprint of its create (if any); False
        when the plan id, or the request id, exists already."""
        ...

    async def get_by_request_id(self, request_id: str) -> tuple[Plan, str] | None:
        """The plan created with this request id, and that request's fingerprint."""
        ...

    async def save(self, plan: Plan) -> None: ...
    async def list(self, *, after: str, limit: int, include_archived: bool) -> list[Plan]: ...


class SubscriptionRepository(Protocol):
    async def get(
        self, org_id: str, subscription_id: str, *, for_update: bool = False
    ) -> Subscription | None: ...
    async def get_active(self, org_id: str, *, for_update: bool = False) -> Subscription | None: ...
    async def list_due(
        self, now: datetime, *, limit: int, exclude: Sequence[str] = ()
    ) -> list[tuple[str, str]]:
        """(org id, subscription id) of active subscriptions whose period has ended, oldest
        end first, leaving out the `exclude`d subscription ids."""
        ...

    async def lock_due(self, subscription_id: str, now: datetime) -> Subscription | None:
        """The subscription, locked, if still active and due; None when it is not, or when
        another transaction holds it (another replica is closing it)."""
        ...

    async def add(self, subscription: Subscription) -> bool:
        """Insert; False when the organization already has an active subscription."""
        ...

    async def save(self, subscription: Subscription) -> Subscription:
        """Write back a subscription read with for_update in this transaction; returns it
        at its new version. Raises ConcurrentModification when its version is stale."""
        ...

    async def list(
        self,
        org_id: str,
        *,
        state: SubscriptionState | None,
        before: tuple[datetime, str] | None,
        limit: int,
    ) -> list[Subscription]: ...
    async def add_adjustments(
        self, subscription_id: str, adjustments: Sequence[Adjustment], now: datetime
    ) -> None: ...
    async def pending_adjustments(self, subscription_id: str) -> tuple[Adjustment, ...]:
        """Adjustments no invoice has taken yet (read only)."""
        ...

    async def take_adjustments(
        self, subscription_id: str, invoice_id: str
    ) -> tuple[Adjustment, ...]: ...


class UsageRepository(Protocol):
    async def add_many(
        self, records: Sequence[UsageRecord], period: TallyPeriod
    ) -> list[UsageRecord]:
        """Insert; returns only the records whose (org, dedup key) was new, which move the
        running totals (under `period`) in the same transaction."""
        ...

    async def split_totals(self, org_id: str, at: datetime, end: datetime) -> None:
        """Fit the running totals to a period [at, end) opened by an early close, so that
        its summaries read them (see the repository)."""
        ...

    async def get_by_dedup_key(self, org_id: str, dedup_key: str) -> UsageRecord | None: ...
    async def get_by_dedup_keys(
        self, org_id: str, dedup_keys: Sequence[str]
    ) -> dict[str, UsageRecord]: ...
    async def summarize(
        self,
        org_id: str,
        start: datetime,
        end: datetime,
        *,
        metrics: Sequence[str],
        aggregations: Mapping[str, Aggregation],
        fallback: Aggregation,
    ) -> list[MetricUsage]:
        """Per metric (all with usage when `metrics` is empty), ordered by metric."""
        ...

    async def summarize_aggregated(
        self,
        org_id: str,
        start: datetime,
        end: datetime,
        *,
        metrics: Sequence[str],
        aggregations: Mapping[str, Aggregation],
        fallback: Aggregation,
    ) -> list[MetricUsage]:
        """What `summarize` returns, read from the running totals where they cover the
        range (a row per metric and period rather than every record)."""
        ...


class InvoiceRepository(Protocol):
    async def add(self, invoice: Invoice) -> None: ...
    async def get(
        self, org_id: str, invoice_id: str, *, for_update: bool = False
    ) -> Invoice | None: ...
    async def save(self, invoice: Invoice) -> Invoice:
        """Like SubscriptionRepository.save: version-checked, returns the saved invoice."""
        ...

    async def list(
        self,
        org_id: str,
        *,
        state: InvoiceState | None,
        before: tuple[datetime, str] | None,
        limit: int,
    ) -> list[Invoice]: ...
    async def payments_started_before(self, cutoff: datetime, limit: int) -> Sequence[Invoice]:
        """Unpaid invoices (any organization; open, void or uncollectible) whose payment
        attempt began at or before `cutoff`."""
        ...

    async def retries_due(self, now: datetime, limit: int) -> Sequence[Invoice]:
        """OPEN invoices (any organization) whose next dunning attempt is due."""
        ...

    async def paid_unchecked(self, limit: int) -> Sequence[Invoice]:
        """PAID invoices (any organization) whose ledger transfer was not checked yet."""
        ...

    async def final_of(self, subscription: Subscription) -> Invoice | None:
        """The final invoice of a subscription canceled now (None for any other)."""
        ...

    async def billed_until(self, org_id: str) -> datetime | None:
        """End of the latest period invoiced for the organization (None: none yet)."""
        ...

    async def amount_due(self, org_id: str) -> dict[str, int]:
        """Sum of OPEN invoices per currency."""
        ...


class WebhookRepository(Protocol):
    async def add(self, endpoint: WebhookEndpoint, signing_secret: str) -> None: ...
    async def get(self, org_id: str, endpoint_id: str) -> WebhookEndpoint | None: ...
    async def delete(self, org_id: str, endpoint_id: str) -> bool: ...
    async def list(
        self, org_id: str, *, before: tuple[datetime, str] | None, limit: int
    ) -> list[WebhookEndpoint]: ...


class DeliveryRepository(Protocol):
    """Webhook deliveries after they are queued (the unit of work queues them as it commits
    their events: billing.storage.uow)."""

    async def organizations_due(self, now: datetime, limit: int) -> list[str]:
        """The organizations with deliveries due, across organizations (oldest due first)."""
        ...

    async def claim_due(self, now: datetime, limit: int, lease_s: float) -> list[Delivery]:
        """Due deliveries (of the organization acted for), hidden from other dispatchers
        for `lease_s` seconds."""
        ...

    async def delivered(self, delivery_id: str, now: datetime) -> None: ...
    async def list_for_endpoint(
        self, endpoint_id: str, *, before: tuple[datetime, str] | None, limit: int
    ) -> Sequence[DeliveryRecord]:
        """An endpoint's deliveries, newest first."""
        ...

    async def redeliver(
        self, endpoint_id: str, delivery_id: str, now: datetime
    ) -> DeliveryRecord | None:
        """Make the delivery due now with a fresh retry budget; None when not found."""
        ...

    async def failed(
        self, delivery_id: str, error: str, retry_at: datetime | None, now: datetime
    ) -> None:
        """Record a failed attempt; `retry_at` None abandons the delivery."""
        ...


class WebhookTargets(Protocol):
    async def check(self, url: str) -> None:
        """Raise WebhookUrlRefused for a URL billing must not call (SSRF guard)."""
        ...


class WebhookSender(Protocol):
    async def send(self, url: str, headers: Mapping[str, str], body: bytes) -> None:
        """POST the body; raises DeliveryFailed unless the endpoint answered 2xx."""
        ...


class IdempotencyRepository(Protocol):
    async def claim(
        self, org_id: str, request_id: str, operation: str, fingerprint: str, resource_id: str
    ) -> tuple[str, str] | None:
        """Record the key; None when new, else the first call's resource id and fingerprint
        (the rule is the caller's: ``billing.app.request_ids``)."""
        ...

    async def resolve(self, org_id: str, request_id: str, resource_id: str) -> None:
        """Point a claimed key at the resource the request answered with after all."""
        ...

    async def save_answer(self, org_id: str, request_id: str, answer: str) -> None:
        """Keep what a replay must answer beyond the resource (a claimed key)."""
        ...

    async def answer(self, org_id: str, request_id: str) -> str:
        """The answer kept for the key ("" when none)."""
        ...


class UnitOfWork(TransactionPort[DomainEvent], Protocol):
    """One transaction: repositories plus the events to publish when it commits."""

    # Read-only properties, so adapters may expose their concrete repository classes.
    @property
    def plans(self) -> PlanRepository: ...
    @property
    def subscriptions(self) -> SubscriptionRepository: ...
    @property
    def usage(self) -> UsageRepository: ...
    @property
    def invoices(self) -> InvoiceRepository: ...
    @property
    def webhooks(self) -> WebhookRepository: ...
    @property
    def idempotency(self) -> IdempotencyRepository: ...
    @property
    def deliveries(self) -> DeliveryRepository: ...


UnitOfWorkFactory = Callable[[], UnitOfWork]


@dataclass(frozen=True, slots=True)
class Wallet:
    """An organization's ledger wallet account and its available balance."""

    account_id: str
    currency: str  # the ledger asset code
    scale: int
    available_minor: int


class Ledger(Protocol):
    """The ledger service, as billing needs it (a gRPC client in production)."""

    async def find_wallet(self, org_id: str, currency: str | None) -> Wallet | None:
        """The organization's wallet (in `currency` when given); None when it has none.

        Raises LedgerUnavailable when the ledger cannot answer in time.
        """
        ...

    async def pay_invoice(self, invoice: Invoice, wallet: Wallet) -> str:
        """Move the invoice total from the wallet to billing's revenue account.

        Idempotent on the invoice id; returns the ledger transaction id. Raises
        PaymentDeclined (e.g. INSUFFICIENT_FUNDS) or LedgerUnavailable.
        """
        ...

    async def find_payment(self, invoice: Invoice) -> str | None:
        """The id of the ledger transaction that paid the invoice (by its request id), or
        None when the ledger has none. Raises LedgerUnavailable."""
        ...

    async def payment_exists(self, invoice: Invoice) -> bool:
        """Whether the invoice's recorded payment transaction exists in the ledger, posted,
        under the invoice's request id. Raises LedgerUnavailable."""
        ...
