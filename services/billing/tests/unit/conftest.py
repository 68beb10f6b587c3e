"""In-memory fakes of billing's ports, so handlers are tested without I/O."""

from __future__ import annotations

import copy
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Self

import pytest

from billing.app.ports import Wallet
from billing.app.webhook_delivery import Recipient, deliveries_for
from billing.domain.errors import (
    ConcurrentModification,
    LedgerUnavailable,
    PaymentDeclined,
)
from billing.domain.events import DomainEvent
from billing.domain.invoice import Invoice, InvoiceState
from billing.domain.plan import Interval, Plan
from billing.domain.pricing import Aggregation, PerUnit, Price
from billing.domain.subscription import Adjustment, Subscription, SubscriptionState
from billing.domain.usage import MetricUsage, TallyPeriod, UsageRecord, aggregate
from billing.domain.webhook import Delivery, WebhookEndpoint
from billing.events.codec import to_envelope
from keel_runtime.caller import Caller
from keel_runtime.events import Envelope

T0 = datetime(2026, 3, 1, tzinfo=UTC)

FREE = Plan(
    plan_id="free",
    display_name="Free",
    currency="USD",
    interval=Interval.MONTH,
    prices=(Price("items.confirmed", PerUnit(5), included_quantity=100),),
    create_time=T0,
    is_default=True,
)


class FakeClock:
    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


@dataclass
class State:
    """What the fake database holds; copied per unit of work, kept only on commit."""

    plans: dict[str, Plan] = field(default_factory=dict)
    plan_requests: dict[str, tuple[str, str]] = field(
        default_factory=dict
    )  # request -> (plan, fingerprint)
    subscriptions: dict[str, Subscription] = field(default_factory=dict)
    adjustments: list[tuple[str, Adjustment, str | None]] = field(default_factory=list)
    usage: dict[tuple[str, str], UsageRecord] = field(default_factory=dict)
    invoices: dict[str, Invoice] = field(default_factory=dict)
    webhooks: dict[str, tuple[WebhookEndpoint, str]] = field(default_factory=dict)
    keys: dict[tuple[str, str], tuple[str, str, str]] = field(default_factory=dict)
    answers: dict[tuple[str, str], str] = field(default_factory=dict)
    deliveries: dict[tuple[str, str], FakeDeliveryRow] = field(default_factory=dict)


class FakePlans:
    def __init__(self, s: State) -> None:
        self.s = s

    async def get(self, plan_id: str) -> Plan | None:
        return self.s.plans.get(plan_id)

    async def get_default(self) -> Plan | None:
        return next((p for p in self.s.plans.values() if p.is_default), None)

    async def add(
        self, plan: Plan, *, request_id: str | None = None, fingerprint: str | None = None
    ) -> bool:
        if plan.plan_id in self.s.plans or (request_id and request_id in self.s.plan_requests):
            return False
        self.s.plans[plan.plan_id] = plan
        if request_id:
            self.s.plan_requests[request_id] = (plan.plan_id, fingerprint or "")
        return True

    async def get_by_request_id(self, request_id: str) -> tuple[Plan, str] | None:
        if request_id not in self.s.plan_requests:
            return None
        plan_id, fingerprint = self.s.plan_requests[request_id]
        return self.s.plans[plan_id], fingerprint

    async def save(self, plan: Plan) -> None:
        self.s.plans[plan.plan_id] = plan

    async def list(self, *, after: str, limit: int, include_archived: bool) -> list[Plan]:
        plans = sorted(self.s.plans.values(), key=lambda p: p.plan_id)
        return [p for p in plans if p.plan_id > after and (include_archived or not p.archived)][
            :limit
        ]


class FakeSubscriptions:
    def __init__(self, s: State) -> None:
        self.s = s

    async def get(
        self, org_id: str, subscription_id: str, *, for_update: bool = False
    ) -> Subscription | None:
        sub = self.s.subscriptions.get(subscription_id)
        return sub if sub and sub.org_id == org_id else None

    async def get_active(self, org_id: str, *, for_update: bool = False) -> Subscription | None:
        return next(
            (x for x in self.s.subscriptions.values() if x.org_id == org_id and x.active), None
        )

    async def list_due(
        self, now: datetime, *, limit: int, exclude: Sequence[str] = ()
    ) -> list[tuple[str, str]]:
        due = [
            x
            for x in self.s.subscriptions.values()
            if x.active and x.current_period_end <= now and x.subscription_id not in exclude
        ]
        due.sort(key=lambda x: x.current_period_end)
        return [(x.org_id, x.subscription_id) for x in due[:limit]]

    async def lock_due(self, subscription_id: str, now: datetime) -> Subscription | None:
        x = self.s.subscriptions.get(subscription_id)
        return x if x and x.active and x.current_period_end <= now else None

    async def add(self, subscription: Subscription) -> bool:
        if await self.get_active(subscription.org_id):
            return False
        self.s.subscriptions[subscription.subscription_id] = subscription
        return True

    async def save(self, subscription: Subscription) -> Subscription:
        stored = self.s.subscriptions[subscription.subscription_id]
        if stored.version != subscription.version:
            raise ConcurrentModification("stale")
        saved = replace(subscription, version=subscription.version + 1)
        self.s.subscriptions[subscription.subscription_id] = saved
        return saved

    async def list(
        self,
        org_id: str,
        *,
        state: SubscriptionState | None,
        before: tuple[datetime, str] | None,
        limit: int,
    ) -> list[Subscription]:
        rows = sorted(
            (x for x in self.s.subscriptions.values() if x.org_id == org_id),
            key=lambda x: (x.create_time, x.subscription_id),
            reverse=True,
        )
        rows = [x for x in rows if state is None or x.state is state]
        if before:
            rows = [x for x in rows if (x.create_time, x.subscription_id) < before]
        return rows[:limit]

    async def add_adjustments(
        self, subscription_id: str, adjustments: Sequence[Adjustment], now: datetime
    ) -> None:
        self.s.adjustments += [(subscription_id, a, None) for a in adjustments]

    async def pending_adjustments(self, subscription_id: str) -> tuple[Adjustment, ...]:
        return tuple(a for s, a, i in self.s.adjustments if s == subscription_id and i is None)

    async def take_adjustments(
        self, subscription_id: str, invoice_id: str
    ) -> tuple[Adjustment, ...]:
        taken = [a for s, a, i in self.s.adjustments if s == subscription_id and i is None]
        self.s.adjustments = [
            (s, a, invoice_id if s == subscription_id and i is None else i)
            for s, a, i in self.s.adjustments
        ]
        return tuple(taken)


class FakeUsage:
    def __init__(self, s: State) -> None:
        self.s = s

    async def add_many(
        self, records: Sequence[UsageRecord], period: TallyPeriod
    ) -> list[UsageRecord]:
        inserted = []
        for r in records:
            if (r.org_id, r.dedup_key) not in self.s.usage:
                self.s.usage[(r.org_id, r.dedup_key)] = r
                inserted.append(r)
        return inserted

    async def split_totals(self, org_id: str, at: datetime, end: datetime) -> None:
        return None  # no running totals here: summaries aggregate the records

    async def get_by_dedup_key(self, org_id: str, dedup_key: str) -> UsageRecord | None:
        return self.s.usage.get((org_id, dedup_key))

    async def get_by_dedup_keys(
        self, org_id: str, dedup_keys: Sequence[str]
    ) -> dict[str, UsageRecord]:
        return {k: self.s.usage[(org_id, k)] for k in dedup_keys if (org_id, k) in self.s.usage}

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
        rows = [
            r for r in self.s.usage.values() if r.org_id == org_id and start <= r.event_time < end
        ]
        names = sorted(set(metrics) if metrics else {r.metric for r in rows})
        out = []
        for name in names:
            agg = aggregations.get(name, fallback)
            mine = [r for r in rows if r.metric == name]
            value, count = aggregate(mine, agg)
            out.append(MetricUsage(name, agg, value, count, sum(r.quantity for r in mine)))
        return out

    summarize_aggregated = summarize


class FakeInvoices:
    def __init__(self, s: State) -> None:
        self.s = s

    async def add(self, invoice: Invoice) -> None:
        assert all(
            (i.subscription_id, i.period_start) != (invoice.subscription_id, invoice.period_start)
            for i in self.s.invoices.values()
        ), "one invoice per period"
        self.s.invoices[invoice.invoice_id] = invoice

    async def get(
        self, org_id: str, invoice_id: str, *, for_update: bool = False
    ) -> Invoice | None:
        invoice = self.s.invoices.get(invoice_id)
        return invoice if invoice and invoice.org_id == org_id else None

    async def save(self, invoice: Invoice) -> Invoice:
        if self.s.invoices[invoice.invoice_id].version != invoice.version:
            raise ConcurrentModification("stale")
        saved = replace(invoice, version=invoice.version + 1)
        self.s.invoices[invoice.invoice_id] = saved
        return saved

    async def list(
        self,
        org_id: str,
        *,
        state: InvoiceState | None,
        before: tuple[datetime, str] | None,
        limit: int,
    ) -> list[Invoice]:
        rows = sorted(
            (i for i in self.s.invoices.values() if i.org_id == org_id),
            key=lambda i: (i.issue_time, i.invoice_id),
            reverse=True,
        )
        rows = [i for i in rows if state is None or i.state is state]
        if before:
            rows = [i for i in rows if (i.issue_time, i.invoice_id) < before]
        return rows[:limit]

    async def final_of(self, subscription: Subscription) -> Invoice | None:
        return next(
            (
                i
                for i in self.s.invoices.values()
                if i.subscription_id == subscription.subscription_id
                and i.period_end == subscription.cancel_time
            ),
            None,
        )

    async def billed_until(self, org_id: str) -> datetime | None:
        ends = [i.period_end for i in self.s.invoices.values() if i.org_id == org_id]
        return max(ends, default=None)

    async def amount_due(self, org_id: str) -> dict[str, int]:
        due: dict[str, int] = {}
        for i in self.s.invoices.values():
            if i.org_id == org_id and i.state is InvoiceState.OPEN:
                due[i.currency] = due.get(i.currency, 0) + i.total_minor
        return due


class FakeWebhooks:
    def __init__(self, s: State) -> None:
        self.s = s

    async def add(self, endpoint: WebhookEndpoint, signing_secret: str) -> None:
        self.s.webhooks[endpoint.webhook_endpoint_id] = (endpoint, signing_secret)

    async def get(self, org_id: str, endpoint_id: str) -> WebhookEndpoint | None:
        found = self.s.webhooks.get(endpoint_id)
        return found[0] if found and found[0].org_id == org_id else None

    async def delete(self, org_id: str, endpoint_id: str) -> bool:
        if await self.get(org_id, endpoint_id) is None:
            return False
        del self.s.webhooks[endpoint_id]
        return True

    async def list(
        self, org_id: str, *, before: tuple[datetime, str] | None, limit: int
    ) -> list[WebhookEndpoint]:
        rows = sorted(
            (w for w, _ in self.s.webhooks.values() if w.org_id == org_id),
            key=lambda w: (w.create_time, w.webhook_endpoint_id),
            reverse=True,
        )
        if before:
            rows = [w for w in rows if (w.create_time, w.webhook_endpoint_id) < before]
        return rows[:limit]


@dataclass
class FakeDeliveryRow:
    delivery: Delivery
    next_attempt: datetime
    delivered: datetime | None = None
    abandoned: datetime | None = None
    last_error: str = ""


class FakeDeliveries:
    def __init__(self, s: State) -> None:
        self.s = s

    async def enqueue_events(self, envelopes: Sequence[Envelope], now: datetime) -> int:
        """As the unit of work's event sink queues them: the same choice of endpoints."""
        recipients = [
            Recipient(w.webhook_endpoint_id, w.org_id, w.event_types)
            for w, _ in self.s.webhooks.values()
        ]
        count = 0
        for queued in deliveries_for(recipients, envelopes):
            key = (queued.endpoint_id, queued.event_id)
            if key in self.s.deliveries:
                continue
            endpoint, secret = self.s.webhooks[queued.endpoint_id]
            delivery = Delivery(
                f"d-{len(self.s.deliveries)}",
                queued.endpoint_id,
                endpoint.url,
                secret,
                queued.event_id,
                queued.event_type,
                queued.body,
                0,
            )
            self.s.deliveries[key] = FakeDeliveryRow(delivery, now)
            count += 1
        return count

    async def organizations_due(self, now: datetime, limit: int) -> list[str]:
        # The fake keeps no organizations apart: everything due is one batch.
        return [""] if self._due(now) else []

    def _due(self, now: datetime) -> list[FakeDeliveryRow]:
        return [
            r
            for r in self.s.deliveries.values()
            if r.delivered is None and r.abandoned is None and r.next_attempt <= now
        ]

    async def claim_due(self, now: datetime, limit: int, lease_s: float) -> list[Delivery]:
        due = self._due(now)[:limit]
        for r in due:
            r.next_attempt = now + timedelta(seconds=lease_s)
        return [r.delivery for r in due]

    def _row(self, delivery_id: str) -> FakeDeliveryRow:
        return next(r for r in self.s.deliveries.values() if r.delivery.delivery_id == delivery_id)

    async def delivered(self, delivery_id: str, now: datetime) -> None:
        row = self._row(delivery_id)
        row.delivered = now
        row.delivery = replace(row.delivery, attempts=row.delivery.attempts + 1)

    async def failed(
        self, delivery_id: str, error: str, retry_at: datetime | None, now: datetime
    ) -> None:
        row = self._row(delivery_id)
        row.delivery = replace(row.delivery, attempts=row.delivery.attempts + 1)
        row.last_error = error
        if retry_at is None:
            row.abandoned = now
        else:
            row.next_attempt = retry_at


class FakeKeys:
    def __init__(self, s: State) -> None:
        self.s = s

    async def claim(
        self, org_id: str, request_id: str, operation: str, fingerprint: str, resource_id: str
    ) -> tuple[str, str] | None:
        first = self.s.keys.get((org_id, request_id))
        if first is None:
            self.s.keys[(org_id, request_id)] = (operation, fingerprint, resource_id)
            return None
        return first[2], first[1]

    async def save_answer(self, org_id: str, request_id: str, answer: str) -> None:
        self.s.answers[(org_id, request_id)] = answer

    async def answer(self, org_id: str, request_id: str) -> str:
        return self.s.answers.get((org_id, request_id), "")

    async def resolve(self, org_id: str, request_id: str, resource_id: str) -> None:
        operation, fingerprint, _ = self.s.keys[(org_id, request_id)]
        self.s.keys[(org_id, request_id)] = (operation, fingerprint, resource_id)


class FakeDatabase:
    def __init__(self, clock: FakeClock | None = None) -> None:
        # The clock dating what commits queue (webhook deliveries), as billing's does.
        self.now = clock or FakeClock()
        self.state = State(plans={FREE.plan_id: FREE})
        self.published: list[DomainEvent] = []
        self.commits = 0

    def uow(self) -> FakeUnitOfWork:
        return FakeUnitOfWork(self)


class FakeUnitOfWork:
    def __init__(self, db: FakeDatabase) -> None:
        self._db = db
        self._events: list[DomainEvent] = []

    async def __aenter__(self) -> Self:
        self._state = copy.deepcopy(self._db.state)
        self.plans = FakePlans(self._state)
        self.subscriptions = FakeSubscriptions(self._state)
        self.usage = FakeUsage(self._state)
        self.invoices = FakeInvoices(self._state)
        self.webhooks = FakeWebhooks(self._state)
        self.idempotency = FakeKeys(self._state)
        self.deliveries = FakeDeliveries(self._state)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._events.clear()

    def record(self, *events: DomainEvent) -> None:
        self._events.extend(events)

    async def commit(self) -> None:
        if self._events:
            # The event sink of billing's units of work: deliveries committed with the events.
            envelopes = [to_envelope(event) for event in self._events]
            await self.deliveries.enqueue_events(envelopes, self._db.now())
        self._db.state = self._state
        self._db.published.extend(self._events)
        self._db.commits += 1
        self._events.clear()


class FakeLedger:
    """Wallets by org; payments idempotent on invoice id, like the real ledger."""

    def __init__(self) -> None:
        self.wallets: dict[str, Wallet] = {}
        self.payments: dict[str, str] = {}
        self.down = False
        self.calls = 0

    def fund(self, org_id: str, amount: int, currency: str = "USD") -> None:
        self.wallets[org_id] = Wallet(f"acct-{org_id}", currency, 2, amount)

    async def find_wallet(self, org_id: str, currency: str | None) -> Wallet | None:
        self.calls += 1
        if self.down:
            raise LedgerUnavailable("down")
        wallet = self.wallets.get(org_id)
        return wallet if wallet and (currency is None or wallet.currency == currency) else None

    async def pay_invoice(self, invoice: Invoice, wallet: Wallet) -> str:
        self.calls += 1
        if self.down:
            raise LedgerUnavailable("down")
        if invoice.invoice_id in self.payments:
            return self.payments[invoice.invoice_id]
        if wallet.available_minor < invoice.total_minor:
            raise PaymentDeclined("declined", "INSUFFICIENT_FUNDS")
        self.wallets[invoice.org_id] = replace(
            wallet, available_minor=wallet.available_minor - invoice.total_minor
        )
        self.payments[invoice.invoice_id] = f"tx-{invoice.invoice_id}"
        return self.payments[invoice.invoice_id]


@pytest.fixture
def db(clock: FakeClock) -> FakeDatabase:
    return FakeDatabase(clock)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def ledger() -> FakeLedger:
    return FakeLedger()


@pytest.fixture
def ids() -> itertools.count[int]:
    return itertools.count(1)


def id_factory(counter: itertools.count[int]):  # type: ignore[no-untyped-def]
    return lambda: f"00000000-0000-4000-8000-{next(counter):012d}"


def owner(org_id: str = "org-1") -> Caller:
    return Caller(subject="user-1", org_id=org_id, roles=frozenset({"OWNER"}))


def member(org_id: str = "org-1") -> Caller:
    return Caller(subject="user-2", org_id=org_id, roles=frozenset({"MEMBER"}))


def operator() -> Caller:
    return Caller(subject="ops", org_id="", kind="service")


# A public address (documentation ranges are refused as not globally routable).
PUBLIC_ADDRESS = "93.184.215.14"


async def public_dns(host: str, port: int) -> list[str]:
    """A resolver that answers every name with one public address."""
    return [PUBLIC_ADDRESS]
