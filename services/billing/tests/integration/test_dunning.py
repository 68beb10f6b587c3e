"""Dunning against PostgreSQL: retries on schedule, each an event, then UNCOLLECTIBLE; one
failing invoice delays no other."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from keel.billing.v1 import events_pb2
from keel.events.v1 import envelope_pb2
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from billing.app.commands import (
    CloseBillingPeriod,
    CreatePlan,
    CreateSubscription,
    GetInvoice,
    PayInvoice,
)
from billing.app.dunning import Dunning
from billing.bootstrap import Handlers, build_handlers
from billing.domain.errors import PaymentDeclined
from billing.domain.invoice import Invoice, InvoiceState
from billing.domain.plan import Interval
from billing.domain.pricing import Flat, Price
from billing.storage.tables import outbox
from billing.storage.uow import sql_unit_of_work_factory
from keel_runtime.caller import Caller

from ..serving import serving, unwrapped
from ..unit.conftest import FakeClock, FakeLedger

pytestmark = pytest.mark.integration

DAY = timedelta(days=1)
FEE = 1_000


def owner(org_id: str) -> Caller:
    return Caller(subject="u1", org_id=org_id, roles=frozenset({"OWNER"}))


class BrokenForOneOrg(FakeLedger):
    """A ledger whose answers for one organization make billing's code fail."""

    broken = ""

    async def pay_invoice(self, invoice: Invoice, wallet: object) -> str:
        if invoice.org_id == self.broken:
            raise RuntimeError("unexpected")
        return await super().pay_invoice(invoice, wallet)  # type: ignore[arg-type]


async def unpaid_invoice(handlers: Handlers, ledger: FakeLedger, clock: FakeClock) -> Invoice:
    """A fresh organization with an empty wallet, its first period closed and collected once."""
    ops = Caller(subject="ops", org_id="", kind="service")
    plan_id = f"p{uuid.uuid4().hex[:8]}"
    await handlers.plans.create(
        CreatePlan(
            ops, plan_id, "Flat", "USD", Interval.MONTH, (Price(metric="", model=Flat(FEE)),)
        ),
    )
    org_id = str(uuid.uuid4())
    ledger.fund(org_id, 0)
    sub = await handlers.subscriptions.create(
        CreateSubscription(owner(org_id), plan_id, str(uuid.uuid4()))
    )
    clock.advance(timedelta(hours=1))  # a period of some length to close
    invoice = await handlers.invoices.close_period(
        CloseBillingPeriod(owner(org_id), sub.subscription_id, str(uuid.uuid4()))
    )
    with pytest.raises(PaymentDeclined):
        await handlers.invoices.pay(PayInvoice(owner(org_id), invoice.invoice_id))
    return await handlers.invoices.get(GetInvoice(owner(org_id), invoice.invoice_id))


async def events(engine: AsyncEngine, invoice_id: str) -> list[tuple[str, int]]:
    """(event type, attempt) of the invoice's payment events, in order (the outbox holds
    every organization's events, with no policy)."""
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(outbox.c.subject, outbox.c.payload)
            .where(outbox.c.subject.like("billing.invoice.%"))
            .order_by(outbox.c.created_at)
        )
        found = []
        for row in rows:
            envelope = envelope_pb2.Envelope.FromString(row.payload)
            if envelope.subject != invoice_id or row.subject == "billing.invoice.issued":
                continue
            attempt = 0
            if row.subject == "billing.invoice.payment_failed":
                failed = events_pb2.InvoicePaymentFailed()
                envelope.payload.Unpack(failed)
                attempt = failed.attempt
            found.append((row.subject, attempt))
        return found


async def test_a_declined_invoice_is_retried_on_schedule_then_uncollectible(
    engine: AsyncEngine,
) -> None:
    ledger = FakeLedger()
    t0 = datetime.now(UTC)
    clock = FakeClock(t0)
    handlers = serving(build_handlers(engine, ledger, clock))
    dunning = Dunning(sql_unit_of_work_factory(engine, clock), unwrapped(handlers.invoices), clock)
    invoice = await unpaid_invoice(handlers, ledger, clock)
    t0 = clock()  # the first failed collection
    assert invoice.payment_attempts == 1
    assert invoice.next_payment_attempt_time == t0 + DAY

    clock.advance(DAY - timedelta(seconds=1))
    assert await dunning.retry_due() == 0  # not due yet
    for due in (1, 3, 5):  # days after the first failure
        clock.now = t0 + due * DAY
        assert await dunning.retry_due() == 1
        assert await dunning.retry_due() == 0  # one attempt per due time
    final = await handlers.invoices.get(GetInvoice(owner(invoice.org_id), invoice.invoice_id))
    assert final.state is InvoiceState.UNCOLLECTIBLE
    assert final.payment_attempts == 4
    assert final.next_payment_attempt_time is None
    clock.advance(30 * DAY)
    assert await dunning.retry_due() == 0

    assert await events(engine, invoice.invoice_id) == [
        ("billing.invoice.payment_failed", 1),
        ("billing.invoice.payment_failed", 2),
        ("billing.invoice.payment_failed", 3),
        ("billing.invoice.payment_failed", 4),
        ("billing.invoice.marked_uncollectible", 0),
    ]
    # Nothing retries it any more, but it can still be paid by hand once funded.
    ledger.fund(invoice.org_id, FEE)
    paid = await handlers.invoices.pay(PayInvoice(owner(invoice.org_id), invoice.invoice_id))
    assert paid.state is InvoiceState.PAID


async def test_a_retry_that_succeeds_pays_and_stops_dunning(engine: AsyncEngine) -> None:
    ledger = FakeLedger()
    t0 = datetime.now(UTC)
    clock = FakeClock(t0)
    handlers = serving(build_handlers(engine, ledger, clock, retry_schedule=(timedelta(hours=2),)))
    dunning = Dunning(sql_unit_of_work_factory(engine, clock), unwrapped(handlers.invoices), clock)
    invoice = await unpaid_invoice(handlers, ledger, clock)
    assert invoice.next_payment_attempt_time == clock() + timedelta(hours=2)

    ledger.fund(invoice.org_id, FEE)
    clock.advance(timedelta(hours=2))
    assert await dunning.retry_due() == 1
    paid = await handlers.invoices.get(GetInvoice(owner(invoice.org_id), invoice.invoice_id))
    assert paid.state is InvoiceState.PAID
    assert paid.next_payment_attempt_time is None
    assert [e for e, _ in await events(engine, invoice.invoice_id)] == [
        "billing.invoice.payment_failed",
        "billing.invoice.paid",
    ]


async def test_one_failing_invoice_does_not_stop_the_others(engine: AsyncEngine) -> None:
    ledger = BrokenForOneOrg()
    t0 = datetime.now(UTC)
    clock = FakeClock(t0)
    handlers = serving(build_handlers(engine, ledger, clock))
    dunning = Dunning(sql_unit_of_work_factory(engine, clock), unwrapped(handlers.invoices), clock)
    broken, fine = [await unpaid_invoice(handlers, ledger, clock) for _ in range(2)]
    ledger.broken = broken.org_id

    clock.advance(DAY)
    assert await dunning.retry_due() == 1  # the fine one; the broken one failed on its own
    retried = await handlers.invoices.get(GetInvoice(owner(fine.org_id), fine.invoice_id))
    assert retried.payment_attempts == 2
    assert fine.first_payment_failure_time is not None
    assert retried.next_payment_attempt_time == fine.first_payment_failure_time + 3 * DAY
    stuck = await handlers.invoices.get(GetInvoice(owner(broken.org_id), broken.invoice_id))
    assert stuck.state is InvoiceState.OPEN
    assert stuck.payment_attempts == 1  # leased, then tried again after the lease
