"""The period closer: ended periods become invoices once, then one payment attempt."""

from __future__ import annotations

import itertools
from datetime import timedelta

from billing.app.commands import (
    RecordUsageBatch,
    UsageInput,
)
from billing.app.invoices import InvoiceHandlers
from billing.app.period_closer import PeriodCloser
from billing.app.subscriptions import SubscriptionHandlers
from billing.app.usage import UsageHandlers
from billing.domain import events as ev
from billing.domain.invoice import InvoiceState
from keel_runtime.caller import Caller

from .conftest import FakeClock, FakeDatabase, FakeLedger, id_factory


async def test_closes_only_ended_periods_and_collects(
    db: FakeDatabase, clock: FakeClock, ledger: FakeLedger, ids: itertools.count[int]
) -> None:
    new_id = id_factory(ids)
    subs = SubscriptionHandlers(db.uow, clock, new_id)
    invoices = InvoiceHandlers(db.uow, ledger, clock, new_id)
    closer = PeriodCloser(db.uow, invoices, clock, new_id)
    for org in ("org-1", "org-2"):
        async with db.uow() as uow:
            await subs.start_default(uow, org)
            await uow.commit()
    assert await closer.close_due() == []

    clock.advance(timedelta(days=32))
    issued = await closer.close_due()
    assert sorted(i.org_id for i in issued) == ["org-1", "org-2"]
    assert await closer.close_due() == []  # the next periods have not ended

    ledger.fund("org-1", 0)
    for invoice in issued:
        await closer.collect(invoice)  # zero totals: paid without moving money
    assert all(i.state is InvoiceState.PAID for i in db.state.invoices.values())
    assert [type(e) for e in db.published].count(ev.InvoiceIssued) == 2


async def test_collect_swallows_declines(
    db: FakeDatabase, clock: FakeClock, ledger: FakeLedger, ids: itertools.count[int]
) -> None:

    new_id = id_factory(ids)
    subs = SubscriptionHandlers(db.uow, clock, new_id)
    invoices = InvoiceHandlers(db.uow, ledger, clock, new_id)
    async with db.uow() as uow:
        await subs.start_default(uow, "org-1")
        await uow.commit()
    await UsageHandlers(db.uow, clock, new_id).record_batch(
        RecordUsageBatch(
            Caller(subject="svc", org_id="org-1", kind="service"),
            [UsageInput("items.confirmed", 1, f"k{i}") for i in range(150)],
        )
    )
    clock.advance(timedelta(days=32))
    closer = PeriodCloser(db.uow, invoices, clock, new_id)
    (invoice,) = await closer.close_due()
    await closer.collect(invoice)  # no wallet: recorded, not raised
    assert isinstance(db.published[-1], ev.InvoicePaymentFailed)
