"""Payments reconciled with a real ledger: a payment whose local commit was lost is completed
exactly once, and a paid invoice whose transfer the ledger lacks is flagged."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import grpc
import pytest
from keel.events.v1 import envelope_pb2
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from billing.adapters.ledger_client import GrpcLedger
from billing.app.commands import (
    CloseBillingPeriod,
    CreatePlan,
    CreateSubscription,
    GetInvoice,
    PayInvoice,
    VoidInvoice,
)
from billing.app.payment_reconciler import TRANSFER_MISSING, PaymentReconciler
from billing.bootstrap import Handlers, build_handlers, utc_now
from billing.domain.invoice import Invoice, InvoiceState
from billing.domain.plan import Interval
from billing.domain.pricing import Flat, Price
from billing.storage.tables import invoices, outbox
from billing.storage.uow import sql_unit_of_work_factory
from keel_devstack.certs import MeshCertificates
from keel_runtime import clients
from keel_runtime.caller import Caller
from keel_runtime.tenancy import set_tenant

from ..serving import serving
from .real_ledger import funded_wallet, ledger_target  # noqa: F401  (fixture)

FEE = 1_250


class Crash(Exception):
    """Billing dying right after the ledger answered."""


class CrashAfterPaying(GrpcLedger):
    async def pay_invoice(self, invoice: Any, wallet: Any) -> str:
        await super().pay_invoice(invoice, wallet)
        raise Crash


@pytest.fixture
async def ledger_channel(
    ledger_target: str,  # noqa: F811
    mesh_certs: MeshCertificates,
) -> AsyncIterator[grpc.aio.Channel]:
    channel = clients.channel(ledger_target, mesh_certs["billing"].tls)
    yield channel
    await channel.close()


def owner(org_id: str) -> Caller:
    return Caller(subject="user-1", org_id=org_id, roles=frozenset({"OWNER"}))


async def open_invoice(handlers: Handlers, org_id: str) -> Invoice:
    ops = Caller(subject="ops", org_id="", kind="service")
    plan_id = f"p{uuid.uuid4().hex[:8]}"
    await handlers.plans.create(
        CreatePlan(
            ops,
            plan_id=plan_id,
            display_name="Flat",
            currency="USD",
            interval=Interval.MONTH,
            prices=(Price(metric="", model=Flat(FEE)),),
        ),
    )
    sub = await handlers.subscriptions.create(
        CreateSubscription(owner(org_id), plan_id, str(uuid.uuid4()))
    )
    return await handlers.invoices.close_period(
        CloseBillingPeriod(owner(org_id), sub.subscription_id, str(uuid.uuid4()))
    )


async def paid_events(engine: AsyncEngine, invoice_id: str) -> int:
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(outbox.c.payload).where(outbox.c.subject == "billing.invoice.paid")
        )
        envelopes = [envelope_pb2.Envelope.FromString(row.payload) for row in rows]
    return sum(1 for e in envelopes if e.subject == invoice_id)


async def test_a_payment_whose_commit_was_lost_is_completed_exactly_once(
    engine: AsyncEngine, ledger_channel: grpc.aio.Channel
) -> None:
    org_id = str(uuid.uuid4())
    await funded_wallet(ledger_channel, org_id, 10_000)
    crashing = serving(build_handlers(engine, CrashAfterPaying(ledger_channel, timeout_s=5)))
    invoice = await open_invoice(crashing, org_id)

    with pytest.raises(Crash):
        await crashing.invoices.pay(PayInvoice(owner(org_id), invoice.invoice_id))
    stranded = await crashing.invoices.get(GetInvoice(owner(org_id), invoice.invoice_id))
    assert stranded.state is InvoiceState.OPEN  # the ledger was debited, billing never knew

    ledger = GrpcLedger(ledger_channel, timeout_s=5)
    reconciler = PaymentReconciler(
        sql_unit_of_work_factory(engine, utc_now), ledger, utc_now, grace=timedelta(0)
    )
    assert await reconciler.reconcile() == 1
    assert await reconciler.reconcile() == 0  # nothing left, nothing twice

    paid = await crashing.invoices.get(GetInvoice(owner(org_id), invoice.invoice_id))
    assert paid.state is InvoiceState.PAID
    assert paid.payment_transaction_id == await ledger.find_payment(paid)
    assert await paid_events(engine, invoice.invoice_id) == 1
    # A client retrying the payment now gets the paid invoice, not a second charge or event.
    again = serving(build_handlers(engine, ledger))
    assert (
        await again.invoices.pay(PayInvoice(owner(org_id), invoice.invoice_id))
    ).state is InvoiceState.PAID
    assert (await ledger.find_wallet(org_id, "USD")).available_minor == 10_000 - FEE  # type: ignore[union-attr]
    assert await paid_events(engine, invoice.invoice_id) == 1


async def test_an_attempt_that_never_reached_the_ledger_is_cleared_not_paid(
    engine: AsyncEngine, ledger_channel: grpc.aio.Channel
) -> None:
    org_id = str(uuid.uuid4())
    await funded_wallet(ledger_channel, org_id, 10_000)
    ledger = GrpcLedger(ledger_channel, timeout_s=5)
    handlers = serving(build_handlers(engine, ledger))
    invoice = await open_invoice(handlers, org_id)
    async with engine.begin() as conn:  # an attempt begun, then billing died before the ledger
        await set_tenant(conn, org_id)
        await conn.execute(
            update(invoices)
            .where(invoices.c.invoice_id == invoice.invoice_id)
            .values(payment_started_time=utc_now())
        )
    reconciler = PaymentReconciler(
        sql_unit_of_work_factory(engine, utc_now), ledger, utc_now, grace=timedelta(0)
    )
    assert await reconciler.reconcile() == 0
    after = await handlers.invoices.get(GetInvoice(owner(org_id), invoice.invoice_id))
    assert after.state is InvoiceState.OPEN
    assert after.payment_started_time is None
    assert await paid_events(engine, invoice.invoice_id) == 0


async def test_a_paid_invoice_without_its_ledger_transfer_is_flagged(
    engine: AsyncEngine, ledger_channel: grpc.aio.Channel
) -> None:
    org_id = str(uuid.uuid4())
    await funded_wallet(ledger_channel, org_id, 10_000)
    ledger = GrpcLedger(ledger_channel, timeout_s=5)
    handlers = serving(build_handlers(engine, ledger))
    good = await open_invoice(handlers, org_id)
    await handlers.invoices.pay(PayInvoice(owner(org_id), good.invoice_id))
    other_org = str(uuid.uuid4())
    await funded_wallet(ledger_channel, other_org, 10_000)
    bad = await open_invoice(handlers, other_org)
    async with engine.begin() as conn:  # marked paid with no money moved
        await set_tenant(conn, other_org)
        await conn.execute(
            update(invoices)
            .where(invoices.c.invoice_id == bad.invoice_id)
            .values(state="paid", paid_time=utc_now(), payment_transaction_id=str(uuid.uuid4()))
        )
    reconciler = PaymentReconciler(
        sql_unit_of_work_factory(engine, utc_now), ledger, utc_now, grace=timedelta(0)
    )
    await reconciler.reconcile()

    flagged = await handlers.invoices.get(GetInvoice(owner(other_org), bad.invoice_id))
    assert flagged.reconciliation_issue == TRANSFER_MISSING
    assert flagged.payment_checked_time is not None
    fine = await handlers.invoices.get(GetInvoice(owner(org_id), good.invoice_id))
    assert fine.reconciliation_issue == ""
    assert fine.payment_checked_time is not None


async def test_a_payment_that_went_through_while_the_invoice_was_voided_marks_it_paid(
    engine: AsyncEngine, ledger_channel: grpc.aio.Channel
) -> None:
    org_id = str(uuid.uuid4())
    await funded_wallet(ledger_channel, org_id, 10_000)
    crashing = serving(build_handlers(engine, CrashAfterPaying(ledger_channel, timeout_s=5)))
    invoice = await open_invoice(crashing, org_id)
    with pytest.raises(Crash):
        await crashing.invoices.pay(PayInvoice(owner(org_id), invoice.invoice_id))
    voided = await crashing.invoices.void(VoidInvoice(owner(org_id), invoice.invoice_id))
    assert voided.state is InvoiceState.VOID

    ledger = GrpcLedger(ledger_channel, timeout_s=5)
    reconciler = PaymentReconciler(
        sql_unit_of_work_factory(engine, utc_now), ledger, utc_now, grace=timedelta(0)
    )
    assert await reconciler.reconcile() == 1
    paid = await crashing.invoices.get(GetInvoice(owner(org_id), invoice.invoice_id))
    assert paid.state is InvoiceState.PAID  # the money moved: the invoice says so
    assert await paid_events(engine, invoice.invoice_id) == 1
